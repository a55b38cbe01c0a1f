"""Where windows start and end: event times (int64 ms) → window numbers → start instants.

A grid numbers its windows with consecutive integers; window ``k`` holds the times from
``start(k)`` up to ``start(k + 1)``. Two kinds:

- :class:`FixedGrid` — windows of one length on the Unix epoch's grid, shifted by an offset:
  ``k = (t - offset) // size``. Without an offset this is ``t // size * size``, the arithmetic
  every window has always had.
- :class:`CalendarGrid` — ``count`` calendar days, ISO weeks (from Monday) or months in a time
  zone, starting ``offset`` after local midnight. Their length follows the calendar: a day is
  23 or 25 hours on daylight-saving changes, a month 28 to 31 days.

Whole arrays at a time: the local wall clock comes from ``pyarrow.compute.local_timestamp``,
instants from wall-clock times from ``assume_timezone`` (a wall-clock time that happens twice
means the first; one skipped by a spring-forward change means the instant of the change),
months from numpy's ``datetime64[M]``. Start instants are computed once per window a batch
spans, and a batch's times are found among them by ``np.searchsorted``.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from monitor.batches import IntArray

DAY_MS = 86_400_000
UTC = "UTC"
CalendarUnit = Literal["day", "week", "month"]
_MONDAY_BEFORE_EPOCH = -3  # 1970-01-01 was a Thursday; day -3 is Monday 1969-12-29


class WindowGrid(ABC):
    """Window numbers of event times, and where each numbered window starts."""

    @abstractmethod
    def index(self, times_ms: IntArray) -> IntArray:
        """The number of the window holding each time."""

    @abstractmethod
    def start(self, index: IntArray) -> IntArray:
        """The first instant (ms) of each numbered window; window ``k`` ends at ``start(k+1)``."""

    def bounds(self, times_ms: IntArray) -> tuple[IntArray, IntArray]:
        """Start and end (ms) of the window holding each time.

        >>> [a.tolist() for a in FixedGrid(10).bounds(np.array([3, 10, 25]))]
        [[0, 10, 20], [10, 20, 30]]
        """
        index = self.index(times_ms)
        return self.start(index), self.start(index + 1)


@dataclass(frozen=True)
class FixedGrid(WindowGrid):
    """Windows of ``size_ms`` on the epoch's grid, shifted by ``offset_ms``.

    >>> grid = FixedGrid(3_600_000, offset_ms=1_800_000)
    >>> grid.index(np.array([0, 1_800_000, 5_400_000])).tolist()
    [-1, 0, 1]
    >>> grid.start(np.array([-1, 0, 1])).tolist()
    [-1800000, 1800000, 5400000]
    """

    size_ms: int
    offset_ms: int = 0

    def index(self, times_ms: IntArray) -> IntArray:
        if self.offset_ms:
            return (times_ms - self.offset_ms) // self.size_ms
        return times_ms // self.size_ms

    def start(self, index: IntArray) -> IntArray:
        if self.offset_ms:
            return index * self.size_ms + self.offset_ms
        return index * self.size_ms


@dataclass(frozen=True)
class CalendarGrid(WindowGrid):
    """``count`` calendar days, ISO weeks or months of the time zone ``timezone``, each
    starting ``offset_ms`` after local midnight. Days are numbered from 1970-01-01, weeks from
    Monday 1969-12-29, months from January 1970 (so ``3`` months are quarters, ``12`` years).

    >>> berlin = CalendarGrid("day", timezone="Europe/Berlin")
    >>> spring = np.array([1_711_839_600_000])  # 2024-03-31 00:00 in Berlin (CET)
    >>> start, end = berlin.bounds(spring)
    >>> (end - start).tolist()  # the day clocks go forward is 23 hours long
    [82800000]
    >>> months = CalendarGrid("month")
    >>> start, end = months.bounds(np.array([1_709_164_800_000]))  # 2024-02-29 00:00 UTC
    >>> np.array([start, end]).astype("datetime64[ms]").ravel().tolist()
    [datetime.datetime(2024, 2, 1, 0, 0), datetime.datetime(2024, 3, 1, 0, 0)]
    >>> monday = CalendarGrid("week").start(np.array([0]))
    >>> monday.astype("datetime64[ms]").tolist()
    [datetime.datetime(1969, 12, 29, 0, 0)]
    """

    unit: CalendarUnit
    count: int = 1
    timezone: str = UTC
    offset_ms: int = 0

    def index(self, times_ms: IntArray) -> IntArray:
        if not len(times_ms):
            return times_ms
        low, high = self._index(np.array([times_ms.min(), times_ms.max()])).tolist()
        if high - low > 4 * len(times_ms) + 1024:  # few times over a long span
            return self._index(times_ms)
        starts = self._start(np.arange(low, high + 2, dtype=np.int64))
        found: IntArray = np.searchsorted(starts, times_ms, side="right") - 1 + low
        return found

    def _index(self, times_ms: IntArray) -> IntArray:
        """``index`` from each time's own wall clock, without a table of the windows between."""
        guess = self._wall_index(_wall_clock(times_ms, self.timezone) - self.offset_ms)
        if self.timezone == UTC:
            return guess
        # The wall clock repeats or skips an hour on daylight-saving changes; where a window
        # starts inside such an hour, a time near that start may belong to its neighbour.
        starts = _on_distinct(guess, self._start)
        index = guess - (times_ms < starts)
        ends = _on_distinct(index + 1, self._start)
        return index + (times_ms >= ends)

    def start(self, index: IntArray) -> IntArray:
        return _on_distinct(index, self._start)

    def _start(self, index: IntArray) -> IntArray:
        """``start`` of each of a few distinct window numbers."""
        if self.unit == "month":
            months = (index * self.count).astype("datetime64[M]")
            wall = months.astype("datetime64[ms]").astype(np.int64)
        elif self.unit == "week":
            wall = (index * 7 * self.count + _MONDAY_BEFORE_EPOCH) * DAY_MS
        else:
            wall = index * self.count * DAY_MS
        return _instant(wall + self.offset_ms, self.timezone)

    def _wall_index(self, wall_ms: IntArray) -> IntArray:
        """The window number of each wall-clock time (ms since 1970-01-01 00:00 local)."""
        if self.unit == "month":
            months = wall_ms.astype("datetime64[ms]").astype("datetime64[M]").astype(np.int64)
            return months // self.count
        days = wall_ms // DAY_MS
        if self.unit == "week":
            return (days - _MONDAY_BEFORE_EPOCH) // (7 * self.count)
        return days // self.count


def as_grid(grid: WindowGrid | int | None) -> WindowGrid:
    """``grid`` itself, or for a size in ms the epoch's grid of that size.

    >>> as_grid(60_000)
    FixedGrid(size_ms=60000, offset_ms=0)
    """
    if isinstance(grid, WindowGrid):
        return grid
    if grid is None:
        raise ValueError("a window grid or a window size in ms is required")
    return FixedGrid(grid)


def window_grid(size: int | str, timezone: str = UTC, offset_ms: int = 0) -> WindowGrid:
    """The grid of ``windows.size`` (ms, or ``Nw`` / ``Nmo``) in ``timezone``, shifted by
    ``offset_ms``; ``ValueError`` with the fix when they do not go together.

    Fixed sizes in UTC keep the epoch's grid; whole days in another zone are calendar days.

    >>> window_grid(3_600_000)
    FixedGrid(size_ms=3600000, offset_ms=0)
    >>> window_grid("1mo", "Europe/Berlin").unit
    'month'
    >>> window_grid(3_600_000, "Europe/Berlin")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: windows.timezone applies to windows of whole days, weeks or months; ...
    """
    check_timezone(timezone)
    grid: WindowGrid
    if isinstance(size, str):
        count, unit = _calendar_size(size)
        grid = CalendarGrid(unit, count, timezone, offset_ms)
        shortest = 28 * DAY_MS * count if unit == "month" else 7 * DAY_MS * count
    elif timezone == UTC:
        grid, shortest = FixedGrid(size, offset_ms), size
    elif size % DAY_MS == 0:
        grid, shortest = CalendarGrid("day", size // DAY_MS, timezone, offset_ms), size
    else:
        raise ValueError(
            "windows.timezone applies to windows of whole days, weeks or months; "
            f"{_duration_text(size)} windows are elapsed time on the UTC grid: remove "
            "windows.timezone (windows.offset shifts them)"
        )
    if not 0 <= offset_ms < shortest:
        raise ValueError(
            "windows.offset must be shorter than the shortest window "
            f"({_duration_text(shortest)}); write the time of day a window starts, e.g. 6h"
        )
    return grid


_CALENDAR_SIZE = re.compile(r"^\s*([1-9]\d*)\s*(w|mo)\s*$")


def calendar_size(value: str) -> str | None:
    """``value`` as a calendar window size (``Nw``, ``Nmo``) in its canonical spelling; None
    when it is not one.

    >>> calendar_size(" 1 mo"), calendar_size("2w"), calendar_size("7d")
    ('1mo', '2w', None)
    """
    match = _CALENDAR_SIZE.match(value)
    return None if match is None else f"{int(match.group(1))}{match.group(2)}"


def _calendar_size(size: str) -> tuple[int, CalendarUnit]:
    canonical = calendar_size(size)
    if canonical is None:
        raise ValueError(f"{size!r} is not a calendar window size; write 1w or 1mo")
    if canonical.endswith("mo"):
        return int(canonical[:-2]), "month"
    return int(canonical[:-1]), "week"


def _duration_text(ms: int) -> str:
    """A duration in its largest whole unit.

    >>> _duration_text(3_600_000), _duration_text(2_419_200_000), _duration_text(90_000)
    ('1h', '28d', '90s')
    """
    for unit, length in (("d", DAY_MS), ("h", 3_600_000), ("m", 60_000), ("s", 1_000)):
        if ms % length == 0:
            return f"{ms // length}{unit}"
    return f"{ms}ms"


def check_timezone(name: str) -> None:
    """Raise ``ValueError`` unless the time-zone database knows ``name``.

    >>> check_timezone("Europe/Berlin")
    >>> check_timezone("Europe/Atlantis")
    Traceback (most recent call last):
    ...
    ValueError: unknown time zone 'Europe/Atlantis'; write an IANA name such as Europe/Berlin or UTC
    """
    try:
        _instant(np.zeros(1, dtype=np.int64), name)
    except pa.ArrowInvalid:
        raise ValueError(
            f"unknown time zone {name!r}; write an IANA name such as Europe/Berlin or UTC"
        ) from None


def _wall_clock(times_ms: IntArray, timezone: str) -> IntArray:
    """Each instant's local wall-clock time, as ms since 1970-01-01 00:00 in that zone."""
    if timezone == UTC:
        return times_ms
    instants = pa.array(times_ms, pa.timestamp("ms", tz=timezone))
    local: IntArray = pc.local_timestamp(instants).cast(pa.int64()).to_numpy()
    return local


def _instant(wall_ms: IntArray, timezone: str) -> IntArray:
    """The instant (ms) of each wall-clock time in ``timezone``: the first of a repeated one,
    the change itself for one the clocks skip."""
    if timezone == UTC:
        return wall_ms
    wall = pa.array(wall_ms, pa.timestamp("ms"))
    found = pc.assume_timezone(wall, timezone=timezone, ambiguous="earliest", nonexistent="latest")
    instants: IntArray = found.cast(pa.int64()).to_numpy()
    return instants


def _on_distinct(index: IntArray, compute: Callable[[IntArray], IntArray]) -> IntArray:
    """``compute(index)``, evaluated once per distinct window number (a batch spans few)."""
    if not len(index):
        return index
    low, high = int(index.min()), int(index.max())
    if high - low <= 4 * len(index) + 1024:
        table: IntArray = compute(np.arange(low, high + 1, dtype=np.int64))
        return table[index - low]
    distinct, where = np.unique(index, return_inverse=True)
    found: IntArray = compute(distinct)
    return found[where.reshape(-1)]
