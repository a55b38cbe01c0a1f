"""The stages chained: stage 1 (decode → join → count) and stage 2 (close → evaluate → sinks),
joined in memory, for replay and for one daemon.

``Pipeline`` builds :class:`~monitor.stage_one.StageOne` and :class:`~monitor.stage_two.StageTwo`
around one :class:`~monitor.exchange.local.Windower` (the caps and source counters of stage 1,
the open windows of stage 2) and, after every batch stage 1 counts, hands its progress over
(what it counted too when a window may close) and gives stage 2 the windows that closed; the
label join then gives up on what the new watermark leaves behind. It offers the drivers what
they need (running totals, raised checks, which partitions hold the watermark) through its own
methods; the objects around it are built by the composition root, :mod:`monitor.app`. Sources
hand it raw records (Kafka, JSON Lines) or columnar record batches (Parquet, CSV); sinks receive
the records of closed windows and level transitions in a deterministic order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import pyarrow as pa

from baselines.values import Baseline
from monitor.batches import RawRecords, Reject
from monitor.config import Settings
from monitor.evaluate.levels import CheckState
from monitor.exchange.local import Windower
from monitor.gc_pause import collector_paused
from monitor.sinks.base import RejectSink, Sink
from monitor.stage_one import StageOne, Totals
from monitor.stage_two import StageTwo
from monitor.window.slot_layout import ModelLayout
from monitor.window.windower import WindowCounts, WindowKey

if TYPE_CHECKING:
    from monitor.sinks.collector import RunningTotals


class Pipeline:
    """Every stage wired together for one set of models; feed it batches, read its sinks."""

    def __init__(
        self,
        settings: Settings,
        baselines: Mapping[str, Baseline],
        sinks: Sequence[Sink],
        reject_sinks: Sequence[RejectSink] = (),
        versions: Mapping[str, Mapping[str, Baseline]] | None = None,
        join_labels: bool | None = None,
    ) -> None:
        self.settings = settings
        self.baselines = baselines
        self.versions = {} if versions is None else versions
        self.windower = windows_for(settings, baselines)
        self.layouts = self.windower.caps.layouts
        self.totals = Totals()
        self.stage2 = StageTwo(settings, baselines, self.layouts, sinks, self.totals, versions)
        self.stage1 = StageOne(
            settings,
            baselines,
            self.windower.caps,
            self.windower.counters,
            self.totals,
            self._hand_over,
            reject_sinks,
            join_labels,
        )

    @property
    def sinks(self) -> list[Sink]:
        """Where closed windows and alerts go, in order."""
        return self.stage2.sinks

    def process_records(self, records: RawRecords, now_ms: int) -> None:
        """Decode raw messages and count them into windows; emit what closes."""
        self.stage1.process_records(records, now_ms)

    def process_labels(self, records: RawRecords, now_ms: int) -> None:
        """Decode raw label events, join them to their predictions and count the pairs into the
        performance of their windows; emit what closes."""
        self.stage1.process_labels(records, now_ms)

    def process_table(
        self, table: pa.RecordBatch | pa.Table, first_offset: int, now_ms: int
    ) -> None:
        """Count a columnar batch of flat-file rows; emit what closes."""
        self.stage1.process_table(table, first_offset, now_ms)

    @collector_paused()
    def finish(self) -> None:
        """Close every open window (end of input) and emit them."""
        self._emit(self.windower.flush())

    def _hand_over(self) -> None:
        self._emit(self.windower.hand_over())

    def _emit(self, closed: list[WindowCounts]) -> None:
        self.stage2.emit(closed)
        if closed:
            current = self.windower.watermark()
            if current is not None:
                self.stage1.join.expire(current)

    def running_totals(self) -> RunningTotals:
        """Copies of every count since start: events, rejects, late events and labels, windows,
        the label join's counters and the state caps' overflow."""
        from monitor.sinks.collector import RunningTotals  # only the daemon's endpoints read them

        return RunningTotals(
            dict(self.totals.events),
            dict(self.totals.rejected),
            dict(self.windower.late.by_model),
            self.totals.windows,
            self.stage1.join.stats.copy(),
            dict(self.windower.late_labels.by_model),
            self.cap_overflow(),
        )

    def cap_overflow(self) -> dict[str, int]:
        """Events past a state cap since start, by cap (counted under ``__other__`` instead):
        ``model_versions``, ``segment_values``, ``unknown_features``."""
        return self.stage1.cap_overflow()

    def raised(self) -> list[tuple[str, str, str, str, str, str]]:
        """Checks now in warning or intervention, sorted: (model, version, segment, subject,
        check, level)."""
        return self.stage2.raised()

    @property
    def check_states(self) -> dict[tuple[WindowKey, str, str], CheckState]:
        """The alert state of every check ever stepped, by (window key, subject, check)."""
        return self.stage2.check_states

    def read_times(self) -> dict[int, int]:
        """The largest event time read so far per source partition id (what label pacing
        compares, :mod:`monitor.sources.label_pacing`)."""
        return self.windower.counters.seen()

    def hold_partitions(self, partitions: set[int]) -> None:
        """Source partitions now owned: the watermark waits for them until they deliver."""
        self.stage1.hold_partitions(partitions)

    def idle_partitions(self, partitions: set[int]) -> None:
        """Owned partitions read to their end for a while: they stop holding the watermark."""
        self.stage1.idle_partitions(partitions)

    def forget_partitions(self, partitions: set[int]) -> None:
        """Partitions owned no more: they take no part in the watermark (what they counted
        stays in the open windows)."""
        self.windower.settle()
        self.stage1.forget_partitions(partitions)

    def keep_partitions(self, owned: set[int]) -> None:
        """After a restore: partitions seen but not in ``owned`` take no part in the watermark
        until given back (:meth:`hold_partitions`), with the largest event time they had."""
        self.stage1.keep_partitions(owned)

    def reject_internal(self, records: RawRecords, detail: str) -> None:
        """Reject every message of ``records`` as ``internal_error`` with ``detail``: counted,
        logged and dead-lettered like any reject (a driver's last line of defence)."""
        self.stage1.reject_internal(records, detail)

    def reject(self, rejects: list[Reject]) -> None:
        """Count, log (rate-limited) and dead-letter rejected messages."""
        self.stage1.reject(rejects)


def windows_for(settings: Settings, baselines: Mapping[str, Baseline]) -> Windower:
    """The window state of one process for these settings: stage 1's caps and source
    counters, stage 2's open windows."""
    return Windower(
        {name: ModelLayout(b) for name, b in baselines.items()},
        grid=settings.windows.grid(),
        allowed_lateness_ms=settings.windows.allowed_lateness,
        segment_fields=settings.segments.fields,
        max_segment_values=settings.segments.max_values,
        max_versions=settings.windows.max_versions,
        preferred_versions=_named_versions(settings),
        buffer_scores=bool(settings.detectors.prediction),
        error_streams=tuple(sorted({d.stream for d in settings.detectors.errors})),
    )


def _named_versions(settings: Settings) -> dict[str, tuple[str, ...]]:
    """Per model, the versions the configuration names: the stable one, then those with a
    baseline of their own (they keep windows of their own whatever the version cap)."""
    named = {}
    for model in settings.models:
        stable = [model.stable_version] if model.stable_version else []
        named[model.name] = tuple(dict.fromkeys([*stable, *model.versions]))
    return named
