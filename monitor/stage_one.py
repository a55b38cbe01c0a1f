"""Stage 1: a source partition's messages decoded, rejected or joined, and counted into windows.

:class:`StageOne` decodes raw records (Kafka, JSON Lines) or columnar record batches (Parquet,
CSV), rejects and dead-letters what cannot be used, folds capped versions and segment values,
joins delayed labels to their predictions, and counts events and pairs into each source
partition's windows (:class:`~monitor.window.source_counters.SourceCounters`). It closes
nothing: after every batch it calls ``after_batch``, where the composition hands what was
counted to stage 2 (in memory, :mod:`monitor.pipeline`; or through Kafka).

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
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from baselines.values import Baseline
from monitor.batches import DecodeResult, EventBatch, IntArray, RawRecords, Reject
from monitor.columns import text_codes
from monitor.config import Settings
from monitor.decode import DecodeLimits, EventDecoder, EventSchema, FieldMapping
from monitor.decode.decoder import row_json
from monitor.decode.isolate import INTERNAL_ERROR, Failure, decode_isolating
from monitor.gc_pause import collector_paused
from monitor.join.label_join import LabelJoin
from monitor.logs import RateLimitedLog
from monitor.sinks.base import RejectSink
from monitor.window.caps import Caps
from monitor.window.source_counters import SourceCounters

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


class StageOne:
    """Decode, reject, fold, join and count; ``after_batch`` runs after each counted batch."""

    def __init__(
        self,
        settings: Settings,
        baselines: Mapping[str, Baseline],
        caps: Caps,
        counters: SourceCounters,
        totals: Totals,
        after_batch: Callable[[], None],
        reject_sinks: Sequence[RejectSink] = (),
        join_labels: bool | None = None,
    ) -> None:
        self.caps = caps
        self.counters = counters
        self.totals = totals
        self.after_batch = after_batch
        if join_labels is None:
            join_labels = settings.kafka is not None and bool(settings.kafka.label_topics)
        self.join_labels = join_labels  # keep predictions waiting for labels from label topics
        self.reject_sinks = list(reject_sinks)
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
        self.reject_log = RateLimitedLog("event rejected", per_minute=10)

    def process_records(self, records: RawRecords, now_ms: int) -> None:
        """Decode raw messages and count them into windows."""
        for result in self._decode_records(records, now_ms):
            self._accept(result)

    def process_labels(self, records: RawRecords, now_ms: int) -> None:
        """Decode raw label events, join them to their predictions and count the pairs into the
        performance of their windows."""
        for result in self._decode_records(records, now_ms):
            self._accept_labels(records, result)

    def process_table(
        self, table: pa.RecordBatch | pa.Table, first_offset: int, now_ms: int
    ) -> None:
        """Count a columnar batch of flat-file rows."""

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
        self.counters.add_labels(labels, self.join.add_labels(labels))
        self.after_batch()

    def hold_partitions(self, partitions: set[int]) -> None:
        """Source partitions now owned: the watermark waits for them until they deliver."""
        self.counters.hold(partitions)

    def idle_partitions(self, partitions: set[int]) -> None:
        """Owned partitions read to their end for a while: they stop holding the watermark."""
        self.counters.set_idle(partitions)

    def forget_partitions(self, partitions: set[int]) -> None:
        """Partitions owned no more: they take no part in the watermark."""
        self.counters.forget(partitions)

    def keep_partitions(self, owned: set[int]) -> None:
        """After a restore: partitions seen but not in ``owned`` take no part in the watermark
        until given back (:meth:`hold_partitions`), with the largest event time they had."""
        counters = self.counters
        counters.set_away(set(counters.seen()) - owned)

    def cap_overflow(self) -> dict[str, int]:
        """Events past a state cap since start, by cap (counted under ``__other__`` instead):
        ``model_versions``, ``segment_values``, ``unknown_features``."""
        return {**self.decoder.capped, **self.caps.capped}

    @collector_paused()
    def _accept(self, result: DecodeResult) -> None:
        self.reject(result.rejects)
        events = self.caps.fold(result.events)
        if len(events):
            codes, names = text_codes(events.model)
            self.totals.events.update(dict(zip(names, np.bincount(codes).tolist(), strict=True)))
        pairs = self.join.add_predictions(events) if self.join_labels and len(events) else None
        self.counters.add(events, pairs)
        self.after_batch()

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
