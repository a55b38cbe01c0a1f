"""Stage 2's windows: partials merged into the open windows of their models, closed once every
source partition's mark has passed them.

:class:`OpenWindows` adds each partial's window parts to the window of the same (key, start)
(exact: counts are integers), buffers its detector values, and keeps its late counts. Marks go
to :class:`~monitor.exchange.completeness.Completeness`; :meth:`OpenWindows.close_ready` closes
the windows ending at or before its horizon, in report order (start, then key), each overall
window with its prediction scores and pair errors in (time, tie-break) order
(``WindowCounts.values``). A part of a window closed already (possible only when an idle source
partition wakes up) counts as late events of its model and is otherwise dropped. Every event a
partial covers is counted once in :attr:`OpenWindows.events` (its model's overall window parts
and its late events): the model's ``driftwarden_events_total``, exactly once however its source
partitions moved.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from monitor.exchange.completeness import Completeness
from monitor.exchange.records import Mark, Partial
from monitor.state.parts import sorted_counts
from monitor.window.grid import WindowGrid
from monitor.window.value_buffers import ValueBuffers
from monitor.window.windower import LateCounts, WindowCounts, WindowKey

NEVER = int(np.iinfo(np.int64).min)
"""``closed_through`` before any window closed."""


class OpenWindows:
    """The merged open windows of the models whose partials arrive here."""

    def __init__(
        self,
        grid: WindowGrid,
        allowed_lateness_ms: int,
        *,
        score_streams: Sequence[str] = (),
        error_streams: Sequence[str] = (),
    ) -> None:
        self.grid = grid
        self.completeness = Completeness(allowed_lateness_ms)
        self.open: dict[tuple[WindowKey, int], WindowCounts] = {}
        self.events = LateCounts()  # every event of every partial taken, late or not
        self.late = LateCounts()
        self.late_labels = LateCounts()
        self.score_values = ValueBuffers(score_streams, grid)
        self.error_values = ValueBuffers(error_streams, grid)

    @property
    def closed_through(self) -> int:
        """Windows ending at or before this are closed (:data:`NEVER` before the first)."""
        closed = self.completeness.closed_through()
        return NEVER if closed is None else closed

    def receive(
        self, partials: Iterable[Partial], sources: set[int] | None, marks: Iterable[Mark]
    ) -> None:
        """Merge partials, then take the source partitions (None: unchanged) and their marks."""
        closed_through = self.closed_through
        for partial in partials:
            model = partial.model
            self.late.add(model, partial.late_events)
            self.late_labels.add(model, partial.late_pairs)
            overall = sum(part.events for part in partial.windows if not part.segment)
            self.events.add(model, partial.late_events + overall)
            self._merge(partial, closed_through, self.late)
        self.completeness.apply(sources, marks)

    def refill(self, partial: Partial) -> None:
        """Put back what a partial read again gave the windows still open (a stage-2 snapshot
        leaves them out): its parts of windows ending after :attr:`closed_through` and its
        values; nothing is counted (the counts are in the snapshot). Call :meth:`refilled`
        after the last."""
        self._merge(partial, self.closed_through, None)

    def refilled(self) -> None:
        """Drop the values refilled into windows closed already."""
        self.score_values.discard_through(self.closed_through)
        self.error_values.discard_through(self.closed_through)

    def _merge(self, partial: Partial, closed_through: int, late: LateCounts | None) -> None:
        """Add a partial's window parts and values; the events of parts of windows closed
        already count in ``late`` (when given) and are otherwise dropped."""
        model = partial.model
        for part in partial.windows:
            if part.end_ms <= closed_through:
                if late is not None:
                    late.add(model, part.events)
                continue
            key = WindowKey(model, part.model_version, part.segment)
            found = self.open.get((key, part.start_ms))
            if found is None:  # copies: the windows are added to in place from now on
                self.open[(key, part.start_ms)] = WindowCounts(
                    key,
                    part.start_ms,
                    part.end_ms,
                    part.events,
                    part.counts.copy(),
                    part.performance.copy(),
                )
            else:
                found.events += part.events
                np.add(found.counts, part.counts, out=found.counts)
                np.add(found.performance, part.performance, out=found.performance)
        for run in partial.values:
            buffers = self.score_values if run.feed == "prediction" else self.error_values
            buffers.add(model, run.model_version, run.time, run.tie, run.values)

    def state(self) -> dict[str, Any]:
        """Its counters and the last mark of every source partition, as JSON data: all but
        the open windows' contents, which :meth:`refill` rebuilds."""
        return {
            "events": sorted_counts(self.events.by_model),
            "late": sorted_counts(self.late.by_model),
            "late_labels": sorted_counts(self.late_labels.by_model),
            "completeness": self.completeness.state(),
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        """Take back what :meth:`state` saved; raises KeyError, TypeError or ValueError on a
        malformed state."""
        events, late, late_labels = (
            {str(m): int(n) for m, n in state[name].items()}
            for name in ("events", "late", "late_labels")
        )
        self.completeness.restore(state["completeness"])
        self.events.by_model, self.late.by_model, self.late_labels.by_model = (
            events,
            late,
            late_labels,
        )

    def close_ready(self) -> list[WindowCounts]:
        """Close the windows every source partition has passed; in report order."""
        through = self.completeness.closed_through()
        return [] if through is None else self._close(through)

    def flush(self) -> list[WindowCounts]:
        """Close every open window (end of input)."""
        return self._close(None)

    def _close(self, through: int | None) -> list[WindowCounts]:
        ready = sorted(
            (k for k, w in self.open.items() if through is None or w.end_ms <= through),
            key=lambda k: (k[1], k[0]),
        )
        closed = [self.open.pop(k) for k in ready]
        for window in closed:
            if not window.key.segment:
                key = window.key
                for buffers in (self.score_values, self.error_values):
                    window.values.update(
                        buffers.take(key.model, key.model_version, window.start_ms)
                    )
        self.score_values.discard_through(self.closed_through)
        if closed:
            self.error_values.discard_through(self.closed_through)
        return closed
