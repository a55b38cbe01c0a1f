"""One process: stage 1 and stage 2 joined in memory, the windows a replay or one daemon uses.

:class:`Windower` counts with a :class:`~monitor.window.windower.WindowCounter` and, after every
batch, hands what it counted to :class:`~monitor.exchange.open_windows.OpenWindows` as the same
partials and marks a scaled-out group sends through Kafka (:mod:`monitor.exchange.stage1`),
without encoding them; the windows that closes come back in report order. Its output depends
only on the partials and marks, so the in-memory and the Kafka exchange give the same windows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from monitor.batches import EventBatch
from monitor.exchange import stage1
from monitor.exchange.completeness import Completeness
from monitor.exchange.open_windows import NEVER, OpenWindows
from monitor.join.label_join import Pairs
from monitor.window.grid import WindowGrid
from monitor.window.slot_layout import ModelLayout
from monitor.window.watermark import Watermarks
from monitor.window.windower import (
    LateCounts,
    SegmentValues,
    WindowCounter,
    WindowCounts,
)

IN_MEMORY = "in-memory"
"""The ``config`` of partials that never leave the process (nothing to check them against)."""


class Windower:
    """Count batches, return the windows each closes: the two stages in one process.

    Takes :class:`~monitor.window.windower.WindowCounter`'s keyword arguments.
    """

    def __init__(
        self,
        layouts: Mapping[str, ModelLayout],
        *,
        size_ms: int | None = None,
        grid: WindowGrid | None = None,
        **options: Any,
    ) -> None:
        self.counter = WindowCounter(layouts, size_ms=size_ms, grid=grid, **options)
        self.windows = OpenWindows(
            self.counter.grid,
            self.counter.allowed_lateness_ms,
            score_streams=self.counter.score_values.streams,
            error_streams=self.counter.error_values.streams,
        )

    def add(self, batch: EventBatch, pairs: Pairs | None = None) -> list[WindowCounts]:
        """Count predictions (and the label pairs they completed); the windows this closed."""
        self.counter.add(batch, pairs)
        return self._hand_over()

    def add_labels(self, labels: EventBatch, pairs: Pairs | None) -> list[WindowCounts]:
        """Count the pairs label events completed; the windows this closed."""
        self.counter.add_labels(labels, pairs)
        return self._hand_over()

    def fold(self, batch: EventBatch) -> EventBatch:
        """``batch`` with versions and segment values past their caps as ``__other__``."""
        return self.counter.fold(batch)

    def flush(self) -> list[WindowCounts]:
        """Close every open window (end of input)."""
        self._send()
        return self.windows.flush()

    @property
    def late(self) -> LateCounts:
        """Events dropped as late, per model, since start."""
        return self.windows.late

    @property
    def late_labels(self) -> LateCounts:
        """Label pairs dated in a closed window, per model, since start."""
        return self.windows.late_labels

    @property
    def capped(self) -> Counter[str]:
        """Events counted under ``__other__`` past a cap, by cap."""
        return self.counter.capped

    @property
    def watermarks(self) -> Watermarks:
        """The largest event time per source partition, and which take part."""
        return self.counter.watermarks

    @property
    def segment_values(self) -> dict[tuple[str, str], SegmentValues]:
        """Per (model, segment field), the values with windows of their own."""
        return self.counter.segment_values

    @property
    def version_values(self) -> dict[str, SegmentValues]:
        """Per model, the versions with windows of their own."""
        return self.counter.version_values

    @property
    def closed_through(self) -> int:
        """Windows ending at or before this are closed (``NEVER`` before the first)."""
        return self.windows.closed_through

    @closed_through.setter
    def closed_through(self, closed_through: int) -> None:
        """Restored: stage 1 takes no event for those windows, stage 2 never reopens them."""
        self.counter.passed_through = closed_through
        self.windows.completeness = Completeness(
            self.counter.allowed_lateness_ms,
            closed_through=None if closed_through == NEVER else closed_through,
        )

    def _hand_over(self) -> list[WindowCounts]:
        self._send()
        return self.windows.close_ready()

    def _send(self) -> None:
        sources, marks = stage1.marks(self.counter, IN_MEMORY)
        self.windows.receive(stage1.drain(self.counter, IN_MEMORY), sources, marks)
