"""The stages chained: decode → join → window → evaluate → levels → sinks, for replay and live.

``Pipeline`` owns every stage's state and offers the drivers what they need of it (running
totals, raised checks, which partitions hold the watermark) through its own methods; the
objects around it are built by the composition root, :mod:`monitor.app`. Sources hand it raw
records (Kafka, JSON Lines) or columnar record batches (Parquet, CSV); sinks receive the records
of closed windows and level transitions in a deterministic order.

No message stops it. The decoder names what is wrong with a bad message (a reject reason); if
decoding a batch still raises, the batch is decoded again in halves until the messages that
raise on their own are found (:mod:`monitor.decode.isolate`), and those are rejected as
``internal_error`` (counted, logged once per batch with the traceback, dead-lettered) while the
rest of the batch goes on as if they had never been sent. Only decoding is retried, because only
decoding is sure to have changed nothing when it raises. The steps after it (label join,
windows, scores, levels, sinks) change state as they go and are never re-run on part of a
batch: they see no message, only the decoded columns, whose domains decoding guarantees (event
times inside 1970-2200, finite or missing numbers, UTF-8 text, configured model names). An
exception there is a defect of the pipeline itself and propagates.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from baselines.values import PREDICTION_NAME, PREDICTION_SUBJECT, Baseline
from detectors.online import DriftDetector, make_detector
from detectors.thresholds import NullSummary
from monitor.batches import DecodeResult, EventBatch, IntArray, RawRecords, Reject
from monitor.columns import text_codes
from monitor.config import Settings
from monitor.decode import DecodeLimits, EventDecoder, EventSchema, FieldMapping
from monitor.decode.decoder import row_json
from monitor.decode.isolate import INTERNAL_ERROR, Failure, decode_isolating
from monitor.errors import ConfigError
from monitor.evaluate.check_states import CheckStates
from monitor.evaluate.checks import Versus, drift_statistic
from monitor.evaluate.closing import CheckGroup, check_groups, step_groups
from monitor.evaluate.detector_feed import DetectorFeed
from monitor.evaluate.levels import LEVELS, CheckInput, CheckState, Level, Step, Steps
from monitor.evaluate.scoring import (
    FlatReferences,
    ModelColumns,
    compare_windows,
    score_window_columns,
)
from monitor.gc_pause import collector_paused
from monitor.join.label_join import LabelJoin, Pairs
from monitor.logs import RateLimitedLog
from monitor.sinks.base import AlertRecord, JsonReport, RejectSink, Sink, WindowRecord
from monitor.sinks.report import alert_record, firings, performance_report, versus_report
from monitor.sinks.window_lines import SubjectLines, window_line
from monitor.window.slot_layout import ModelLayout
from monitor.window.value_buffers import ValueBuffers
from monitor.window.windower import WindowCounts, Windower, WindowKey

if TYPE_CHECKING:
    from monitor.sinks.collector import RunningTotals

#: Where message ``i`` of a batch came from: (partition, offset, its bytes or a function of them).
Origin = Callable[[int], tuple[int, int, bytes | Callable[[], bytes]]]


@dataclass
class Totals:
    """Running counts a summary or a metrics endpoint reads."""

    events: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    windows: int = 0


def event_schema(settings: Settings, baselines: Mapping[str, Baseline]) -> EventSchema:
    """What the decoder must extract: the union of every model's features and kinds."""
    numeric: dict[str, None] = {}
    categorical: dict[str, None] = {}
    prediction_kinds, label_kinds = set(), set()
    for baseline in baselines.values():
        for name, feature in baseline.features.items():
            (numeric if feature.kind == "numeric" else categorical)[name] = None
        if baseline.prediction is not None:
            prediction_kinds.add("classes" if baseline.classes else baseline.prediction.kind)
        if baseline.label is not None:
            label_kinds.add(baseline.label.kind)
    return EventSchema(
        models=frozenset(baselines),
        numeric_features=tuple(numeric),
        categorical_features=tuple(n for n in categorical if n not in numeric),
        prediction_kind=_one_kind(prediction_kinds),
        label_kind=_one_kind(label_kinds),
        segment_fields=settings.segments.fields,
        positive_class=None,
        prediction_classes=tuple(sorted({c for b in baselines.values() for c in b.classes})),
    )


def _one_kind(kinds: Collection[str]) -> Any:
    """The kind that reads every model's values: classes, else numbers, else text."""
    return next((kind for kind in ("classes", "numeric", "categorical") if kind in kinds), None)


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
        self.stable = {m.name: m.stable_version for m in settings.models if m.stable_version}
        if join_labels is None:
            join_labels = settings.kafka is not None and bool(settings.kafka.label_topics)
        self.join_labels = join_labels  # keep predictions waiting for labels from label topics
        self.sinks = list(sinks)
        self.reject_sinks = list(reject_sinks)
        _check_epsilon(settings, baselines)
        self.layouts = {name: ModelLayout(b) for name, b in baselines.items()}
        self.layout_models = {id(layout): name for name, layout in self.layouts.items()}
        self.references: FlatReferences = {}
        f = settings.fields
        self.decoder = EventDecoder(
            event_schema(settings, baselines),
            FieldMapping(
                event_id=f.event_id,
                model=f.model,
                model_version=f.model_version,
                timestamp=f.timestamp,
                features=f.features,
                prediction=f.prediction,
                label=f.label,
                segments=f.segments,
                schema_version=f.schema_version,
                timestamp_fallback=f.timestamp_fallback,
                default_model=f.default_model,
                columns={str(part): column for part, column in f.columns.items()},
            ),
            DecodeLimits(
                max_message_bytes=settings.decode.max_message_bytes,
                max_future_ms=settings.decode.max_future,
                max_unknown_features=settings.decode.max_unknown_features,
            ),
            threads=settings.decode.threads,
        )
        self.windower = Windower(
            self.layouts,
            grid=settings.windows.grid(),
            allowed_lateness_ms=settings.windows.allowed_lateness,
            segment_fields=settings.segments.fields,
            max_segment_values=settings.segments.max_values,
            max_versions=settings.windows.max_versions,
            preferred_versions=_named_versions(settings),
            buffer_scores=bool(settings.detectors.prediction),
        )
        schema = self.decoder.schema
        self.join = LabelJoin(
            horizon_ms=settings.labels.horizon,
            max_pending=settings.labels.max_pending,
            max_orphans=settings.labels.max_orphans,
            segment_fields=settings.segments.fields,
            prediction_kind=schema.prediction_kind,
            label_kind=schema.label_kind,
            classes=schema.prediction_classes,
        )
        self.score_detectors = DetectorFeed(
            tuple(("score", d.name, dict(d.params)) for d in settings.detectors.prediction),
            prefixed=False,
        )
        self.error_detectors = DetectorFeed(
            tuple((d.stream, d.name, d.params) for d in settings.detectors.errors), prefixed=True
        )
        self.error_values = ValueBuffers(self.error_detectors.streams, self.windower.grid)
        self.critical = {m.name: frozenset(m.critical_features) for m in settings.models}
        self.calibration = {(name, ""): _calibration(b) for name, b in baselines.items()}
        for name, by_version in self.versions.items():
            for version, b in by_version.items():
                self.calibration[(name, version)] = _calibration(b)
        self.levels = CheckStates()
        self.subject_lines = SubjectLines()
        self.series: dict[tuple[WindowKey, str], DriftDetector] = {}
        self.totals = Totals()
        self.reject_log = RateLimitedLog("event rejected", per_minute=10)

    def process_records(self, records: RawRecords, now_ms: int) -> None:
        """Decode raw messages and count them into windows; emit what closes."""
        for result in self._decode_records(records, now_ms):
            self._accept(result)

    def process_labels(self, records: RawRecords, now_ms: int) -> None:
        """Decode raw label events, join them to their predictions and count the pairs into the
        performance of their windows; emit what closes."""
        for result in self._decode_records(records, now_ms):
            self._accept_labels(records, result)

    def process_table(
        self, table: pa.RecordBatch | pa.Table, first_offset: int, now_ms: int
    ) -> None:
        """Count a columnar batch of flat-file rows; emit what closes."""

        def decode(start: int, stop: int) -> DecodeResult:
            rows = table if stop - start == table.num_rows else table.slice(start, stop - start)
            return self.decoder.decode_table(rows, first_offset=first_offset + start, now_ms=now_ms)

        def origin(row: int) -> tuple[int, int, Callable[[], bytes]]:
            return 0, first_offset + row, partial(row_json, table, row)

        for result in self._isolated(decode, table.num_rows, origin):
            self._accept(result)

    def _decode_records(self, records: RawRecords, now_ms: int) -> Iterator[DecodeResult]:
        def decode(start: int, stop: int) -> DecodeResult:
            return self.decoder.decode_records(records.slice(start, stop), now_ms)

        def origin(i: int) -> tuple[int, int, bytes]:
            return int(records.partition[i]), int(records.offset[i]), records.values[i]

        return self._isolated(decode, len(records.values), origin)

    def _isolated(
        self, decode: Callable[[int, int], DecodeResult], size: int, origin: Origin
    ) -> Iterator[DecodeResult]:
        """The decoded parts of a batch, in order; a message whose decoding raises is rejected
        as ``internal_error`` in its place (see the module docstring)."""
        parts = decode_isolating(decode, size)
        failures = [part for part in parts if isinstance(part, Failure)]
        if failures:
            import structlog  # only now: a replay that logs nothing never loads it

            structlog.get_logger().error(
                "decoding raised; the messages that raise are rejected as internal_error",
                messages=len(failures),
                batch=size,
                first=failures[0].detail,
                exc_info=failures[0].error,
            )
        for part in parts:
            if isinstance(part, Failure):
                partition, offset, message = origin(part.position)
                self.reject([Reject(INTERNAL_ERROR, part.detail, partition, offset, message)])
            else:
                yield part

    @collector_paused()
    def _accept_labels(self, records: RawRecords, result: DecodeResult) -> None:
        labels = result.events
        unusable = pc.is_null(labels.event_id).to_numpy(zero_copy_only=False)
        if labels.label is None:
            unusable[:] = True
        elif isinstance(labels.label, pa.Array):
            unusable |= pc.is_null(labels.label).to_numpy(zero_copy_only=False)
        else:
            unusable |= np.isnan(labels.label)
        self.reject([*result.rejects, *_unusable_labels(records, labels, unusable)])
        pairs = self.join.add_labels(labels)
        self._joined(pairs)
        self._emit(self.windower.add_labels(labels, pairs))

    def finish(self) -> None:
        """Close every open window (end of input) and emit them."""
        self._emit(self.windower.flush())

    def running_totals(self) -> RunningTotals:
        """Copies of every count since start: events, rejects, late events and labels, windows,
        the label join's counters and the state caps' overflow."""
        from monitor.sinks.collector import RunningTotals  # only the daemon's endpoints read them

        return RunningTotals(
            dict(self.totals.events),
            dict(self.totals.rejected),
            dict(self.windower.late.by_model),
            self.totals.windows,
            self.join.stats.copy(),
            dict(self.windower.late_labels.by_model),
            self.cap_overflow(),
        )

    def raised(self) -> list[tuple[str, str, str, str, str, str]]:
        """Checks now in warning or intervention, sorted: (model, version, segment, subject,
        check, level)."""
        return sorted(
            (key.model, key.model_version, key.segment, subject, check, state.level.value)
            for (key, subject, check), state in self.check_states.items()
            if state.level in (Level.WARNING, Level.INTERVENTION)
        )

    def hold_partitions(self, partitions: set[int]) -> None:
        """Source partitions now owned: the watermark waits for them until they deliver."""
        self.windower.watermarks.hold(partitions)

    def idle_partitions(self, partitions: set[int]) -> None:
        """Owned partitions read to their end for a while: they stop holding the watermark."""
        self.windower.watermarks.set_idle(partitions)

    def forget_partitions(self, partitions: set[int]) -> None:
        """Partitions owned no more: they take no part in the watermark."""
        self.windower.watermarks.forget(partitions)

    def keep_partitions(self, owned: set[int]) -> None:
        """After a restore: partitions seen but not in ``owned`` take no part in the watermark
        until given back (:meth:`hold_partitions`), with the largest event time they had."""
        watermarks = self.windower.watermarks
        watermarks.set_away(set(watermarks.seen) - owned)

    def cap_overflow(self) -> dict[str, int]:
        """Events past a state cap since start, by cap (counted under ``__other__`` instead):
        ``model_versions``, ``segment_values``, ``unknown_features``."""
        return {**self.decoder.capped, **self.windower.capped}

    @collector_paused()
    def _accept(self, result: DecodeResult) -> None:
        self.reject(result.rejects)
        events = self.windower.fold(result.events)
        if len(events):
            codes, names = text_codes(events.model)
            self.totals.events.update(dict(zip(names, np.bincount(codes).tolist(), strict=True)))
        pairs = self.join.add_predictions(events) if self.join_labels and len(events) else None
        self._joined(pairs)
        self._emit(self.windower.add(events, pairs))

    def _joined(self, pairs: Pairs | None) -> None:
        if pairs is not None:
            self.error_values.add_pairs(pairs.batch, self.layouts)

    def reject_internal(self, records: RawRecords, detail: str) -> None:
        """Reject every message of ``records`` as ``internal_error`` with ``detail``: counted,
        logged and dead-lettered like any reject (a driver's last line of defence)."""
        self.reject(
            [
                Reject(INTERNAL_ERROR, detail, int(partition), int(offset), value)
                for value, partition, offset in zip(
                    records.values, records.partition, records.offset, strict=True
                )
            ]
        )

    def reject(self, rejects: list[Reject]) -> None:
        """Count, log (rate-limited) and dead-letter rejected messages."""
        for reject in rejects:
            self.totals.rejected[reject.reason] += 1
            self.reject_log.warning(
                reason=reject.reason,
                detail=reject.detail,
                partition=reject.partition,
                offset=reject.offset,
            )
            for sink in self.reject_sinks:
                sink.reject(reject)

    @collector_paused()
    def _emit(self, closed: list[WindowCounts]) -> None:
        for window in closed:
            if not window.key.segment:
                self._feed_detectors(window)
        if closed:
            self._close(closed)
            self.error_values.discard_through(self.windower.closed_through)
            current = self.windower.watermarks.current()
            if current is not None:
                self.join.expire(current)

    def _close(self, closed: list[WindowCounts]) -> None:
        """Score, check and step the windows closing together, all at once, and hand the sinks
        each window's record followed by the alerts it caused, in window order."""
        scored = score_window_columns(
            [
                (
                    self.layouts[w.key.model],
                    w,
                    self.versions.get(w.key.model, {}).get(w.key.model_version),
                )
                for w in closed
            ],
            epsilon=self.settings.epsilon,
            references=self.references,
        )
        versus = self._versus(closed)
        alerts_config = self.settings.alerts
        groups = check_groups(
            scored,
            versus,
            alerts_config,
            lambda i: self._calibration_of(closed[i].key),
            lambda layout: self.critical.get(self.layout_models[id(layout)], frozenset()),
        )
        stepped = step_groups(
            groups,
            [w.key for w in closed],
            self.levels,
            consecutive=alerts_config.consecutive,
            hysteresis=alerts_config.hysteresis,
        )
        scored_at = {i: (m, row) for m in scored.models for row, i in enumerate(m.members)}
        # in window order: a key's window-series detectors see its windows as they close
        detectors = [self._detectors(w, *scored_at[i]) for i, w in enumerate(closed)]
        out: dict[int, tuple[WindowRecord, list[AlertRecord]]] = {}
        for group, steps in zip(groups, stepped, strict=True):
            parts, levels = self.subject_lines.lines(
                group, steps.reported, group.warning, group.intervention
            )
            transitions = self._transitions(closed, group, steps)
            performance = [c for c, (position, _) in enumerate(group.checks) if position < 0]
            for r, (i, part, by_check) in enumerate(zip(group.members, parts, levels, strict=True)):
                window = closed[i]
                tail: dict[str, Any] = {}
                if scored.performance[i]:
                    tail["performance"] = performance_report(
                        scored.performance[i],
                        scored.reference_performance[i],
                        {group.checks[c][1]: LEVELS[steps.reported[r, c]] for c in performance},
                        {
                            group.checks[c][1]: (
                                group.warning[r, c].item(),
                                group.intervention[r, c].item(),
                            )
                            for c in performance
                        },
                    )
                compared = versus[i]
                if compared is not None:
                    tail["versus"] = versus_report(compared)
                tail["detectors"] = detectors[i]
                record = WindowRecord(
                    window.key,
                    window.start_ms,
                    window.end_ms,
                    window.events,
                    by_check,
                    firings(detectors[i]),
                    JsonReport(window_line(window, part, tail)),
                )
                out[i] = (record, transitions.get(r, []))
        for i in range(len(closed)):
            record, alerts = out[i]
            self.totals.windows += 1
            for sink in self.sinks:
                sink.write(record)
                for alert in alerts:
                    sink.write(alert)

    def _transitions(
        self, closed: list[WindowCounts], group: CheckGroup, steps: Steps
    ) -> dict[int, list[AlertRecord]]:
        """The alert records of the level changes of ``group``'s windows, by row."""
        out: dict[int, list[AlertRecord]] = {}
        at = np.nonzero(steps.after != steps.before)
        which = group.model.model_of[group.rows[at[0]]].tolist()
        for r, c, k, *values in zip(
            *(part.tolist() for part in at),
            which,
            *(part[at].tolist() for part in (steps.reported, steps.before, steps.after)),
            steps.threshold[at].tolist(),
            *(part[at].tolist() for part in (group.value, group.warning, group.intervention)),
            group.sufficient[at].tolist(),
            strict=True,
        ):
            reported, before, after, threshold, value, warning, intervention, sufficient = values
            window = closed[group.members[r]]
            subject, check = group.names(k)[c]
            moved = Step(LEVELS[reported], LEVELS[before], LEVELS[after], threshold)
            inputs = CheckInput(subject, check, value, warning, intervention, sufficient)
            out.setdefault(r, []).append(alert_record(window.key, inputs, moved, window.end_ms))
        return out

    def _calibration_of(self, key: WindowKey) -> dict[str, dict[str, list[NullSummary]]]:
        """The null summaries a window's drift thresholds are calibrated from (its version's
        baseline, else its model's)."""
        calibration = self.calibration.get((key.model, key.model_version))
        return calibration or self.calibration[(key.model, "")]

    @property
    def check_states(self) -> dict[tuple[WindowKey, str, str], CheckState]:
        """The alert state of every check ever stepped, by (window key, subject, check)."""
        return self.levels.states()

    @check_states.setter
    def check_states(self, states: Mapping[tuple[WindowKey, str, str], CheckState]) -> None:
        self.levels = CheckStates(states)

    def _versus(self, closed: list[WindowCounts]) -> list[Versus | None]:
        """Per window, a canary window's drift against the stable version's window of the
        same time and segment (``None`` for the stable version and without one)."""
        stable = {
            (w.key.model, w.key.segment, w.start_ms): w
            for w in closed
            if w.key.model_version == self.stable.get(w.key.model)
        }
        against = [stable.get((w.key.model, w.key.segment, w.start_ms)) for w in closed]
        pairs = [
            (self.layouts[w.key.model], w, s)
            for w, s in zip(closed, against, strict=True)
            if s is not None and s is not w
        ]
        compared = iter(compare_windows(pairs, epsilon=self.settings.epsilon))
        min_events = self.settings.alerts.min_events
        return [
            None
            if s is None or s is w
            else Versus(s.key.model_version, next(compared), min(w.events, s.events) >= min_events)
            for w, s in zip(closed, against, strict=True)
        ]

    def _feed_detectors(self, window: WindowCounts) -> None:
        """Feed an overall window's prediction scores and pair errors to the online detectors."""
        model, version = window.key.model, window.key.model_version
        window.detections.update(self.score_detectors.detections(model, version, window.values))
        errors = self.error_values.take(model, version, window.start_ms)
        window.detections.update(self.error_detectors.detections(model, version, errors))

    def _detectors(self, window: WindowCounts, model: ModelColumns, row: int) -> dict[str, Any]:
        """Per-event detections of the window, and the window-series detectors' verdicts (the
        window is ``row`` of its model's scores)."""
        out: dict[str, Any] = {
            name: {"detections": n} for name, n in sorted(window.detections.items())
        }
        position = model.layouts[0].position(PREDICTION_SUBJECT)
        if position is None:
            return out
        prediction = model.subjects[position]
        if prediction.events[row] < self.settings.alerts.min_events:
            return out
        statistic = self.settings.alerts.drift.statistic
        value = prediction.statistics[drift_statistic(prediction, statistic)][row].item()
        for spec in self.settings.detectors.window_series:
            name = f"{PREDICTION_NAME}_{statistic}_{spec.name}"
            detector = self.series.get((window.key, name))
            if detector is None:
                detector = self.series[(window.key, name)] = make_detector(spec.name, **spec.params)
            detector.update(value)
            out[name] = {"drift": detector.drift_detected}
        return out


def _unusable_labels(records: RawRecords, labels: EventBatch, unusable: np.ndarray) -> list[Reject]:
    """Label events without an event id or a label value, as rejects carrying their bytes."""
    rows = np.flatnonzero(unusable)
    if not len(rows):
        return []
    partitions, offsets = labels.partition[rows], labels.offset[rows]
    at = _record_positions(records, partitions, offsets).tolist()
    out = []
    for i, partition, offset, position in zip(
        rows.tolist(), partitions.tolist(), offsets.tolist(), at, strict=True
    ):
        missing = "event_id" if labels.event_id[i].as_py() is None else "label"
        out.append(
            Reject(
                f"label_missing_{missing}",
                f"a label event needs an {missing} to be joined to its prediction",
                partition,
                offset,
                records.values[position],
            )
        )
    return out


def _record_positions(records: RawRecords, partition: IntArray, offset: IntArray) -> IntArray:
    """Where each (partition, offset) sits among ``records``, which hold every such pair once.

    >>> records = RawRecords([b"a", b"b", b"c"], np.array([1, 0, 1]), np.array([7, 7, 3]),
    ...                      np.full(3, -1))
    >>> _record_positions(records, np.array([1, 0]), np.array([3, 7])).tolist()
    [2, 1]
    """
    place = np.dtype([("partition", np.int64), ("offset", np.int64)])
    keys = np.empty(len(records.offset), dtype=place)
    keys["partition"], keys["offset"] = records.partition, records.offset
    wanted = np.empty(len(offset), dtype=place)
    wanted["partition"], wanted["offset"] = partition, offset
    order = np.argsort(keys, kind="stable")
    found: IntArray = order[np.searchsorted(keys[order], wanted)]
    return found


def _named_versions(settings: Settings) -> dict[str, tuple[str, ...]]:
    """Per model, the versions the configuration names: the stable one, then those with a
    baseline of their own (they keep windows of their own whatever the version cap)."""
    named = {}
    for model in settings.models:
        stable = [model.stable_version] if model.stable_version else []
        named[model.name] = tuple(dict.fromkeys([*stable, *model.versions]))
    return named


def _calibration(baseline: Baseline) -> dict[str, dict[str, list[NullSummary]]]:
    """The baseline's null summaries by statistic and subject (prediction under __prediction__)."""
    return baseline.null_summaries()


def _check_epsilon(settings: Settings, baselines: Mapping[str, Baseline]) -> None:
    """Calibrated thresholds only hold for the smoothing the baseline was calibrated with."""
    if settings.alerts.drift.mode != "calibrated":
        return
    for name, baseline in baselines.items():
        calibration = baseline.calibration
        if calibration is not None and calibration.epsilon != settings.epsilon:
            raise ConfigError(
                f"model {name!r}: epsilon is {settings.epsilon} but its baseline was calibrated "
                f"with {calibration.epsilon}; set epsilon: {calibration.epsilon} or rebuild the "
                "baseline with the same epsilon"
            )
