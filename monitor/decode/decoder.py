"""The decoder: raw messages or flat-file rows in, columnar good events and counted rejects out.

JSON messages take the batch path (:mod:`~monitor.decode.fast`) and, when it cannot read a
batch, the per-record path (:mod:`~monitor.decode.slow`); flat-file rows are read by
:mod:`~monitor.decode.table`. All three feed the same interpretation and rules
(:mod:`~monitor.decode.rules`), so a message decodes the same whichever way it went, and a
rejected message never changes how the others of its batch decode.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
import orjson
import pyarrow as pa

from monitor.batches import (
    BoolArray,
    DecodeResult,
    EventBatch,
    FloatArray,
    IntArray,
    RawRecords,
    Reject,
)
from monitor.columns import take_rows
from monitor.decode.columns import Fields
from monitor.decode.config import DecodeLimits, EventSchema, FieldMapping
from monitor.decode.paths import EventPaths
from monitor.decode.readers import JsonReader, json_reader
from monitor.decode.reasons import OVERSIZE
from monitor.decode.rules import Part, Parts, judge
from monitor.decode.slow import Failure, fields_from_objects, parse_each
from monitor.decode.table import fields_from_table
from monitor.decode.values import Numbers, Texts

#: Where names past a cap are counted together.
OTHER = "__other__"


class EventDecoder:
    """Decodes batches of prediction events into :class:`~monitor.batches.EventBatch` columns.

    JSON messages go through the native reader a batch at a time and fall back to one
    ``orjson.loads`` per message when the batch holds a message it does not read; both paths
    give identical events. ``reader`` chooses (:func:`~monitor.decode.readers.json_reader`
    by default): with ``"python"``, or an install without the native reader, every batch takes
    the per-record path. Across calls the decoder counts, among good events, the feature
    names it does not know (``unknown_features``: at most ``limits.max_unknown_features`` names,
    later ones under ``__other__`` and in ``capped``) and the numeric features that arrived as
    text (``type_mismatches``, read as missing). ``threads`` parse a batch (see
    :func:`~monitor.decode.fast.reader_threads`).

    Examples
    --------
    >>> decoder = EventDecoder(EventSchema(frozenset({"car-loan"}), numeric_features=("x",)))
    >>> messages = [b'{"model": "car-loan", "timestamp": 1554199872345, "features": {"x": 2}}',
    ...             b'{"model": "bike-loan", "timestamp": 1554199872345}', b"{oops"]
    >>> records = RawRecords(messages, np.zeros(3, np.int64), np.arange(3), np.full(3, -1))
    >>> result = decoder.decode_records(records, now_ms=1554199872345)
    >>> result.events.numeric["x"].tolist(), [r.reason for r in result.rejects]
    ([2.0], ['unknown_model', 'invalid_json'])
    """

    def __init__(
        self,
        schema: EventSchema,
        mapping: FieldMapping | None = None,
        limits: DecodeLimits | None = None,
        threads: int | None = None,
        reader: JsonReader | None = None,
    ) -> None:
        self.schema = schema
        self.mapping = mapping if mapping is not None else FieldMapping()
        self.limits = limits if limits is not None else DecodeLimits()
        self.unknown_features: Counter[str] = Counter()
        self.type_mismatches: Counter[str] = Counter()
        self.capped: Counter[str] = Counter()
        self._paths = EventPaths.of(schema, self.mapping)
        self.reader: JsonReader = json_reader() if reader is None else reader
        self._fast = None
        self.threads = 1
        if self.reader == "native":
            from monitor.decode.fast import FastJsonReader

            self._fast = FastJsonReader(self._paths, threads)
            self.threads = self._fast.threads

    def decode_records(self, records: RawRecords, now_ms: int) -> DecodeResult:
        """Decode raw JSON messages (events beyond ``now_ms + max_future_ms`` are rejected)."""
        values = records.values
        lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
        limit = self.limits.max_message_bytes
        kept = np.flatnonzero(lengths <= limit)
        failures: list[Failure] = [
            (int(i), OVERSIZE, f"{lengths[i]} bytes, more than max_message_bytes={limit}")
            for i in np.flatnonzero(lengths > limit)
        ]
        kept_values = values if len(kept) == len(values) else [values[i] for i in kept]
        fields, rows, parse_failures = self._read_json(kept_values)
        failures += [(int(kept[p]), reason, detail) for p, reason, detail in parse_failures]
        origin = _Origin(
            records.partition, records.offset, records.timestamp_ms, values.__getitem__
        )
        return self._decide(fields, kept[rows], failures, origin, now_ms)

    def decode_table(
        self,
        table: pa.Table | pa.RecordBatch,
        *,
        partition: int = 0,
        first_offset: int = 0,
        now_ms: int,
    ) -> DecodeResult:
        """Decode flat-file rows (one event per row); row ``i`` gets offset ``first_offset + i``."""
        size = table.num_rows
        origin = _Origin(
            np.full(size, partition, dtype=np.int64),
            first_offset + np.arange(size, dtype=np.int64),
            None,
            lambda i: partial(row_json, table, i),
        )
        fields = fields_from_table(table, self._paths)
        return self._decide(fields, np.arange(size, dtype=np.int64), [], origin, now_ms)

    def _read_json(self, values: Sequence[bytes]) -> tuple[Fields, IntArray, list[Failure]]:
        """The parts of the messages that are objects, their positions, and the failures.

        When the batch path fails because some messages do not parse, the others get one more
        try on the batch path before falling back to the per-record path for all of them.
        """
        everything = np.arange(len(values), dtype=np.int64)
        fast = self._fast
        fields = fast.read(values) if values and fast is not None else None
        if fields is not None:
            return fields, everything, []
        objects, positions, failures = parse_each(values)
        if failures and objects and fast is not None:
            fields = fast.read([values[p] for p in positions])
            if fields is not None:
                return fields, positions, failures
        return fields_from_objects(objects, self._paths), positions, failures

    def _decide(
        self,
        fields: Fields,
        positions: IntArray,
        failures: list[Failure],
        origin: _Origin,
        now_ms: int,
    ) -> DecodeResult:
        """Judge every parsed event, keep the good ones, and reject the rest in input order."""
        parts = Parts.read(fields, self.schema)
        record_ms = None if origin.record_ms is None else origin.record_ms[positions]
        judged = judge(parts, self.schema, self.mapping, self.limits, record_ms, now_ms)
        code, reasons = judged.verdicts.code, judged.verdicts.reasons
        keep = np.flatnonzero(code == 0)
        entries = failures + [
            (int(positions[row]), *reasons[code[row] - 1]) for row in np.flatnonzero(code)
        ]
        entries.sort(key=lambda entry: entry[0])
        rejects = [
            Reject(
                reason, detail, int(origin.partition[p]), int(origin.offset[p]), origin.message(p)
            )
            for p, reason, detail in entries
        ]
        kept = positions[keep]
        events = EventBatch(
            event_time_ms=judged.event_time_ms[keep],
            partition=np.asarray(origin.partition[kept], dtype=np.int64),
            offset=np.asarray(origin.offset[kept], dtype=np.int64),
            model=take_rows(judged.model, keep),
            model_version=take_rows(parts.model_version.read.values, keep),
            event_id=take_rows(parts.event_id.read.values, keep),
            segments={n: take_rows(p.read.values, keep) for n, p in parts.segments.items()},
            numeric={n: take_rows(p.read.values, keep) for n, p in parts.numeric.items()},
            categorical={n: take_rows(p.read.values, keep) for n, p in parts.categorical.items()},
            prediction=_target(parts.prediction, keep),
            label=_target(parts.label, keep),
        )
        self._count(parts, fields, keep)  # last: a decode that raises changes nothing
        return DecodeResult(events, rejects)

    def _count(self, parts: Parts, fields: Fields, keep: IntArray) -> None:
        """Count, among good events, text in numeric features and unknown feature names."""
        good = np.zeros(fields.size, dtype=np.bool_)
        good[keep] = True
        for name, numbers in parts.numeric.items():
            mismatches = int(np.count_nonzero(numbers.read.mismatch & good))
            if mismatches:
                self.type_mismatches[name] += mismatches
        if fields.unknown_features:
            self._count_unknown(fields.unknown_features, good)

    def _count_unknown(self, unknown: dict[str, IntArray], good: BoolArray) -> None:
        """Count each unknown name's good events: names already counted, then new names in
        order of arrival (then by name, whichever path read the batch) while there is room,
        the rest under ``__other__``. Python steps: one per name counted by name."""
        names = list(unknown)
        lengths = np.fromiter(map(len, unknown.values()), dtype=np.int64, count=len(names))
        rows = np.concatenate(list(unknown.values()))
        owner = np.repeat(np.arange(len(names)), lengths)[good[rows]]
        rows = rows[good[rows]]
        counts = np.bincount(owner, minlength=len(names))
        first = np.full(len(names), len(good), dtype=np.int64)
        np.minimum.at(first, owner, rows)
        rank = np.empty(len(names), dtype=np.int64)
        rank[np.argsort(np.array(names))] = np.arange(len(names))
        present = np.flatnonzero(counts)
        arrived = present[np.lexsort((rank[present], first[present]))]
        known = self.unknown_features
        order = arrived.tolist()
        counted = np.fromiter((names[i] in known for i in order), dtype=np.bool_, count=len(order))
        room = max(0, self.limits.max_unknown_features - (len(known) - (OTHER in known)))
        new = arrived[~counted]
        for i in [*arrived[counted].tolist(), *new[:room].tolist()]:
            known[names[i]] += int(counts[i])
        past = int(counts[new[room:]].sum())
        if past:
            known[OTHER] += past
            self.capped["unknown_features"] += past


@dataclass(frozen=True)
class _Origin:
    """Where each message of a batch came from, and its original message (for rejects): the
    bytes, or a function giving them."""

    partition: IntArray
    offset: IntArray
    record_ms: IntArray | None
    message: Callable[[int], bytes | Callable[[], bytes]]


def row_json(table: pa.Table | pa.RecordBatch, row: int) -> bytes:
    """Row ``row`` of a flat file as a JSON object (a rejected row's message).

    Times and dates Python cannot hold (past year 9999) are written as arrow prints them.

    >>> row_json(pa.table({"model": ["m"], "x": [1.5]}), 0)
    b'{"model":"m","x":1.5}'
    >>> row_json(pa.table({"t": pa.array([2**62], pa.timestamp("s"))}), 0)
    b'{"t":"<value out of range: 4611686018427387904>"}'
    """
    one = table.slice(row, 1)
    try:
        values = one.to_pylist()[0]
    except (OverflowError, ValueError):
        printed = [
            column.cast(pa.string()) if pa.types.is_temporal(column.type) else column
            for column in one.columns
        ]
        values = pa.table(printed, names=one.schema.names).to_pylist()[0]
    return orjson.dumps(values, default=str)


def _target(
    part: Part[Numbers] | Part[Texts] | None, keep: IntArray
) -> FloatArray | pa.Array | None:
    """The prediction or label of the kept events, or None when none of them carries one."""
    if part is None:
        return None
    if isinstance(part.read, Numbers):
        values = take_rows(part.read.values, keep)
        return None if np.isnan(values).all() else values
    texts = take_rows(part.read.values, keep)
    return None if texts.null_count == len(texts) else texts
