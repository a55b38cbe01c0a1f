"""The union of report files: what several processes wrote, as the report one process writes.

Each process of a scaled-out group writes the report lines of the models its stage 2 owns, and a
line written after a process's last commit is written again, byte for byte, by whoever continues
its work (docs/scale-out.md, "Commit order: exactly once"). :func:`merge_reports` gives the union:
every line once, ordered by :class:`LineKey`, which is the order of one process's report:

- ``window_end``: the ``end`` of a window line, the ``window_end`` of an alert line (as instants);
- ``model``, ``model_version``, ``segment`` (text order, ``""`` first);
- ``kind``: a window line before the alert lines of its window;
- alert lines of one window in the order their file lists them after the window's line, the
  writer's check order (each subject's checks, features in baseline order, then the prediction,
  then performance, then the canary checks); ``subject`` and ``check`` name an alert within its
  window.

A line is known by (``window_end``, ``model``, ``model_version``, ``segment``, ``kind``,
``subject``, ``check``); exact copies are dropped, and two files holding different lines, or the
same alert at different places among its window's alerts, are refused: they are not reports of
one input. Only the keys, a digest and the place of each line are kept in memory; the lines are
copied from their files when the union is written. A last line without its newline that is not
JSON was cut short by a process killed while writing; it is ignored and named in the summary
(whoever continued wrote it again).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, NamedTuple

import orjson

from monitor.errors import ReportError
from monitor.sinks.report import epoch_seconds, iso_ms

KIND_ORDER = {"window": 0, "alert": 1}
"""The line kinds a report holds, in the order they come within one window."""


class LineKey(NamedTuple):
    """Where a line belongs in the union; a window line has position 0, subject and check ``""``."""

    window_end_ms: int
    model: str
    model_version: str
    segment: str
    kind: int
    position: int
    subject: str
    check: str

    def identity(self) -> tuple[int, str, str, str, int, str, str]:
        """The key without the position: what names one line."""
        return (*self[:5], self.subject, self.check)

    def describe(self) -> str:
        """The key as the user reads it.

        >>> LineKey(3_600_000, "m", "v1", "", 0, 0, "", "").describe()
        "window_end=1970-01-01T01:00:00Z model='m' model_version='v1' segment='' kind=window"
        """
        kind = next(name for name, rank in KIND_ORDER.items() if rank == self.kind)
        text = (
            f"window_end={iso_ms(self.window_end_ms)} model={self.model!r} "
            f"model_version={self.model_version!r} segment={self.segment!r} kind={kind}"
        )
        return text if kind == "window" else f"{text} subject={self.subject!r} check={self.check!r}"


@dataclass(frozen=True, slots=True)
class _Place:
    """Where a line is: its file (index), byte offset and length without the newline, digest."""

    file: int
    offset: int
    length: int
    digest: bytes


@dataclass(frozen=True)
class MergeSummary:
    """What a merge wrote: lines, exact copies dropped, and the files whose torn last line was
    ignored."""

    lines: int
    duplicates: int
    torn: tuple[Path, ...]


def line_key(line: Any) -> LineKey:
    """The key of one parsed report line, at position 0 (the caller places an alert among its
    window's alerts). Raises ``ValueError`` naming what is wrong with the line.

    >>> line_key({"kind": "window", "model": "m", "model_version": "", "segment": "",
    ...           "end": "1970-01-01T01:00:00Z"})[:6]
    (3600000, 'm', '', '', 0, 0)
    >>> line_key({"kind": "alert", "model": "m"})
    Traceback (most recent call last):
    ValueError: its field 'model_version' is missing or not text
    """
    if not isinstance(line, dict):
        raise ValueError("it is not a JSON object")
    kind = line.get("kind")
    if kind not in KIND_ORDER:
        raise ValueError(f"its kind {kind!r} is none of {', '.join(KIND_ORDER)}")
    window = kind == "window"
    names = ["model", "model_version", "segment", "end" if window else "window_end"]
    names += [] if window else ["subject", "check"]
    for name in names:
        if not isinstance(line.get(name), str):
            raise ValueError(f"its field {name!r} is missing or not text")
    end = line[names[3]]
    try:
        end_ms = round(epoch_seconds(end) * 1000)
    except ValueError:
        raise ValueError(f"its {names[3]} {end!r} is not an RFC 3339 instant") from None
    head = (end_ms, line["model"], line["model_version"], line["segment"], KIND_ORDER[kind])
    if window:
        return LineKey(*head, 0, "", "")
    return LineKey(*head, 0, line["subject"], line["check"])


def _lines(stream: IO[bytes]) -> Iterator[tuple[int, bytes, bool]]:
    """(offset, line without its newline, whether it ended with one) of each line of a file."""
    offset = 0
    for raw in stream:
        ended = raw.endswith(b"\n")
        yield offset, raw[:-1] if ended else raw, ended
        offset += len(raw)


class _Index:
    """Every line's key and place, one file after the other; refuses conflicting files."""

    def __init__(self, paths: Sequence[Path]) -> None:
        self.paths = paths
        self.places: dict[tuple[int, str, str, str, int, str, str], tuple[LineKey, _Place]] = {}
        self.duplicates = 0
        self.torn: list[Path] = []

    def add(self, file: int, stream: IO[bytes]) -> None:
        path = self.paths[file]
        alerts: dict[tuple[int, str, str, str], int] = {}  # per window: alerts since its line
        for number, (offset, text, ended) in enumerate(_lines(stream), start=1):
            try:
                parsed = orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                if not ended:
                    self.torn.append(path)
                    continue
                raise ReportError(
                    f"{path} line {number} is not JSON ({exc}); give report files "
                    "(JSON Lines) written by driftwarden"
                ) from None
            try:
                key = line_key(parsed)
            except ValueError as exc:
                raise ReportError(
                    f"{path} line {number} is not a driftwarden report line: {exc}; "
                    "give report files written by driftwarden"
                ) from None
            window = key[:4]
            if key.kind:
                key = key._replace(position=alerts.get(window, 0))
            alerts[window] = key.position + key.kind  # a window line starts its alerts at 0
            digest = hashlib.blake2b(text, digest_size=16).digest()
            self._keep(key, _Place(file, offset, len(text), digest))

    def _keep(self, key: LineKey, place: _Place) -> None:
        seen = self.places.setdefault(key.identity(), (key, place))
        if seen[1] is place:
            return
        first, other = seen[1], self.paths[place.file]
        if first.digest != place.digest or seen[0].position != key.position:
            what = "different lines" if first.digest != place.digest else "the line at other places"
            raise ReportError(
                f"{self.paths[first.file]} and {other} hold {what} for {key.describe()}; merge "
                "only the report files of one group's processes, run on the same input and config"
            )
        self.duplicates += 1


def merge_reports(paths: Sequence[Path], output: Path) -> MergeSummary:
    """Write the union of the report files ``paths`` to ``output`` (replaced only when the merge
    succeeds); see the module docstring for the order and the rules."""
    with contextlib.ExitStack() as stack:
        streams = [stack.enter_context(path.open("rb")) for path in paths]
        index = _Index(paths)
        for file, stream in enumerate(streams):
            index.add(file, stream)
        ordered = sorted(index.places.values(), key=lambda entry: entry[0])
        partial = output.with_name(f".{output.name}.partial")
        try:
            with partial.open("wb") as out:
                for _, place in ordered:
                    stream = streams[place.file]
                    stream.seek(place.offset)
                    out.write(stream.read(place.length) + b"\n")
            os.replace(partial, output)
        finally:
            partial.unlink(missing_ok=True)
    return MergeSummary(len(ordered), index.duplicates, tuple(index.torn))
