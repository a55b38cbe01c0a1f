"""One process: stage 1 and stage 2 joined in memory, the windows a replay or one daemon uses.

:class:`Windower` folds capped values (:class:`~monitor.window.caps.Caps`), counts each source
partition with its own counter (:class:`~monitor.window.source_counters.SourceCounters`) and
hands what they counted to :class:`~monitor.exchange.open_windows.OpenWindows` as the same
partials and marks a scaled-out group sends through Kafka (:mod:`monitor.exchange.handover`),
without encoding them; the windows that closes come back in report order. Its output depends
only on the partials and marks, so the in-memory and the Kafka exchange give the same windows.

The marks go to stage 2 after every batch; the partials only when the watermark they move
crosses a window boundary (a window may close) or at the end of input, since the counters add
up in place meanwhile and no partial can be late in one process (each counter takes no event
for a window stage 2 closed). Whatever reads stage 2's state (:attr:`Windower.windows`: a
snapshot; a revoke) first takes every partial pending, so it sees what a hand-over after every
batch would have left there. The late counts add stage 2's and the counters' without changing
either: the HTTP endpoints read them from their own thread while a batch is being counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from functools import partial

import numpy as np

from monitor.batches import EventBatch
from monitor.exchange import handover
from monitor.exchange.completeness import Completeness
from monitor.exchange.open_windows import NEVER, OpenWindows
from monitor.join.label_join import Pairs
from monitor.window.caps import Caps, SegmentValues
from monitor.window.grid import WindowGrid, as_grid
from monitor.window.slot_layout import ModelLayout
from monitor.window.source_counters import SourceCounters
from monitor.window.windower import LateCounts, WindowCounter, WindowCounts

IN_MEMORY = "in-memory"
"""The ``config`` of partials that never leave the process (nothing to check them against)."""


class Windower:
    """Count batches, return the windows each closes: the two stages in one process."""

    def __init__(
        self,
        layouts: Mapping[str, ModelLayout],
        *,
        size_ms: int | None = None,
        grid: WindowGrid | None = None,
        allowed_lateness_ms: int,
        segment_fields: tuple[str, ...] = (),
        max_segment_values: int = 20,
        max_versions: int = 20,
        preferred_versions: Mapping[str, tuple[str, ...]] | None = None,
        buffer_scores: bool = False,
        error_streams: tuple[str, ...] = (),
    ) -> None:
        self.grid = as_grid(size_ms if grid is None else grid)
        self.allowed_lateness_ms = allowed_lateness_ms
        self.caps = Caps(
            layouts,
            segment_fields=segment_fields,
            max_segment_values=max_segment_values,
            max_versions=max_versions,
            preferred_versions=preferred_versions,
        )
        self.counters = SourceCounters(
            partial(
                WindowCounter,
                self.caps,
                grid=self.grid,
                allowed_lateness_ms=allowed_lateness_ms,
                buffer_scores=buffer_scores,
                error_streams=error_streams,
            )
        )
        self._windows = OpenWindows(
            self.grid,
            allowed_lateness_ms,
            score_streams=("score",) if buffer_scores else (),
            error_streams=error_streams,
        )

    def add(self, batch: EventBatch, pairs: Pairs | None = None) -> list[WindowCounts]:
        """Count predictions (and the label pairs they completed); the windows this closed."""
        self.counters.add(batch, pairs)
        return self.hand_over()

    def add_labels(self, labels: EventBatch, pairs: Pairs | None) -> list[WindowCounts]:
        """Count the pairs label events completed; the windows this closed."""
        self.counters.add_labels(labels, pairs)
        return self.hand_over()

    def fold(self, batch: EventBatch) -> EventBatch:
        """``batch`` with versions and segment values past their caps as ``__other__``."""
        return self.caps.fold(batch)

    def flush(self) -> list[WindowCounts]:
        """Close every open window (end of input)."""
        self._send()
        return self._windows.flush()

    @property
    def windows(self) -> OpenWindows:
        """Stage 2's open windows, holding everything the counters counted."""
        self.settle()
        return self._windows

    def settle(self) -> None:
        """Hand stage 2 what the counters counted since the last hand-over; nothing closes (the
        partials are never late: see the module docstring)."""
        self._windows.receive(handover.drain(self.counters, IN_MEMORY), None, ())

    def watermark(self) -> int | None:
        """The watermark over every source partition now, as stage 2 closes windows by it
        (None while a partition holds or none has delivered)."""
        return self._windows.completeness.watermark()

    @property
    def late(self) -> LateCounts:
        """Events dropped as late, per model, since start: a copy, read without changing
        anything (the endpoints read it from their own thread)."""
        return _summed(self._windows.late, [c.late for c in list(self.counters.counters.values())])

    @property
    def late_labels(self) -> LateCounts:
        """Label pairs dated in a closed window, per model, since start (a copy, as
        :attr:`late`)."""
        counters = list(self.counters.counters.values())
        return _summed(self._windows.late_labels, [c.late_labels for c in counters])

    @property
    def capped(self) -> Counter[str]:
        """Events counted under ``__other__`` past a cap, by cap."""
        return self.caps.capped

    @property
    def segment_values(self) -> dict[tuple[str, str], SegmentValues]:
        """Per (model, segment field), the values with windows of their own."""
        return self.caps.segment_values

    @property
    def version_values(self) -> dict[str, SegmentValues]:
        """Per model, the versions with windows of their own."""
        return self.caps.version_values

    @property
    def closed_through(self) -> int:
        """Windows ending at or before this are closed (``NEVER`` before the first)."""
        return self._windows.closed_through

    def restore(self, seen: dict[int, int], closed_through: int) -> None:
        """Continue from a snapshot: each partition's largest event time, and the windows that
        closed before it (stage 1 takes no event for them, stage 2 never reopens them)."""
        self.counters.counters = {}
        self.counters.closed_through = NEVER
        for source, time in seen.items():
            self.counters.counter(source).watermarks.seen = {source: time}
        self.counters.closed(closed_through)
        self._windows.completeness = Completeness(
            self.allowed_lateness_ms,
            closed_through=None if closed_through == NEVER else closed_through,
        )

    def hand_over(self) -> list[WindowCounts]:
        """Hand the counters' marks to the open windows, and what they counted when that may
        close a window; the windows that closes."""
        sources, marks = handover.marks(self.counters, IN_MEMORY)
        completeness = self._windows.completeness
        if self._crosses(completeness.closed_through(), completeness.preview(sources, marks)):
            self._windows.receive(handover.drain(self.counters, IN_MEMORY), sources, marks)
            closed = self._windows.close_ready()
        else:
            completeness.apply(sources, marks)
            closed = []
        self.counters.closed(self._windows.closed_through)
        return closed

    def _crosses(self, before: int | None, after: int | None) -> bool:
        """Whether windows ending after ``before`` and at or before ``after`` may exist (each
        None: no window closed)."""
        if after is None:
            return False
        if before is None:
            return True
        return bool(np.diff(self.grid.index(np.array([before, after], dtype=np.int64)))[0] > 0)

    def _send(self) -> None:
        sources, marks = handover.marks(self.counters, IN_MEMORY)
        self._windows.receive(handover.drain(self.counters, IN_MEMORY), sources, marks)


def _summed(handed_over: LateCounts, pending: list[LateCounts]) -> LateCounts:
    """Stage 2's late counts plus those the counters have not handed over yet."""
    total = LateCounts(dict(handed_over.by_model))
    for counts in pending:
        for model, n in dict(counts.by_model).items():
            total.add(model, n)
    return total
