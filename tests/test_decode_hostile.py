"""No message stops the decoder: any JSON value at any part, or any bytes, is an event or a reject.

The property's examples put hostile JSON (integers far beyond 2**53 and 2**64, floats at the limits,
deep nesting, odd unicode, non-finite literals, values of the wrong type) at the parts the
decoder reads, mixes in arbitrary bytes, and decodes the batch through the native batch path
and through the per-record path alone. Flat-file columns of every arrow type, at their types'
limits, are decoded the same way.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from monitor.batches import EventBatch
from monitor.decode import EventDecoder, EventSchema
from monitor.decode.config import CONTAINER_FIELDS, SCALAR_FIELDS
from monitor.decode.reasons import REJECT_REASONS
from tests.support.both_paths import PROPERTY, SCHEMA, records
from tests.support.decoding import T0

#: The same parts with the other kinds: a class-name prediction and a numeric label.
FLIPPED = replace(SCHEMA, prediction_kind="categorical", label_kind="numeric")
#: The same parts with a multiclass prediction (objects of class probabilities kept whole).
MULTICLASS = replace(SCHEMA, prediction_kind="classes", label_kind="categorical")
#: Every part the decoder reads, containers last.
SCALARS = SCALAR_FIELDS + CONTAINER_FIELDS
MEMBERS = {"features": ("x", "y", "color", "unknown"), "segments": ("platform", "other")}
#: Integers where conversions break: the edges of exact doubles, of int64 and of uint64.
EDGES = [2**53, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1, 2**64, 10**30]
#: JSON texts no Python value dumps to: non-finite literals, overflowing and huge numbers,
#: lone surrogates, deep nesting.
RAW_TEXTS = [
    b"NaN",
    b"-Infinity",
    b"1e400",
    b"-1e-400",
    b"123456789012345678901234567890",
    b"-0",
    b"1.7976931348623157e308",
    b"5e-324",
    b'"\\ud800"',
    b'"\\udfff\\ud800"',
    b'"\\u0000"',
    b"[" * 3000 + b"]" * 3000,
    b'{"a":' * 300 + b"1" + b"}" * 300,
]
#: Class names and keys the paths use, so that hostile objects also hit the known members.
KEYS = st.sampled_from(["x", "color", "platform", "1", "yes", "a", ""]) | st.text(max_size=4)

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from(EDGES).flatmap(lambda n: st.sampled_from([n, -n, n - 1]))
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([1.7976931348623157e308, -5e-324, 2.0**53, 1554199872345.9, 0.0])
    | st.integers(T0 - 10**6, T0 + 10**6)
    | st.text(st.characters(codec="utf-8"), max_size=12)
    | st.sampled_from(["m", "2019-04-02T10:11:12.345Z", "2019-02-29T00:00:00Z", "9" * 40])
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=8,
)


def _dumps(value: Any) -> bytes:
    """JSON text of a drawn value; integers written by hand, as orjson stops at 64 bits."""
    if type(value) is int:
        return str(value).encode()
    if isinstance(value, list):
        return b"[" + b",".join(map(_dumps, value)) + b"]"
    if isinstance(value, dict):
        members = (orjson.dumps(k) + b":" + _dumps(v) for k, v in value.items())
        return b"{" + b",".join(members) + b"}"
    return orjson.dumps(value)


raw_json = json_values.map(_dumps) | st.sampled_from(RAW_TEXTS)


def _good(i: int) -> dict[str, Any]:
    """A plain event every schema here accepts."""
    return {
        "event_id": f"e{i}",
        "model": "m",
        "model_version": "v1",
        "timestamp": T0 + i,
        "features": {"x": i, "y": i / 2, "color": "red"},
        "prediction": 0.5,
        "label": 1,
        "segments": {"platform": "ios"},
    }


def _with(event: dict[str, Any], hostile: dict[tuple[str, ...], bytes]) -> bytes:
    """``event`` as JSON text with the raw JSON ``hostile`` texts at their paths."""
    parts = []
    for key in SCALARS:
        members = {(key, m): raw for (*head, m), raw in hostile.items() if head == [key]}
        if (key,) in hostile:
            text = hostile[(key,)]
        elif members and isinstance(event.get(key, {}), dict):
            inner = {m: orjson.dumps(v) for m, v in event.get(key, {}).items()}
            inner |= {m: raw for (_, m), raw in members.items()}
            text = b"{" + b",".join(orjson.dumps(m) + b":" + v for m, v in inner.items()) + b"}"
        elif key in event:
            text = orjson.dumps(event[key])
        else:
            continue
        parts.append(orjson.dumps(key) + b":" + text)
    return b"{" + b",".join(parts) + b"}"


TIMESTAMP = ("timestamp",)  # the field path of the reported crash (values beyond ±2**53)
PATHS = [(k,) for k in SCALARS] + [(k, m) for k, names in MEMBERS.items() for m in names]


@st.composite
def hostile_messages(draw: st.DrawFn, i: int) -> bytes:
    """A plain event with hostile JSON at one to three of its paths, or arbitrary bytes."""
    if draw(st.integers(0, 5)) == 0:
        return draw(st.binary(max_size=64))
    paths = draw(st.lists(st.sampled_from(PATHS), min_size=1, max_size=3, unique=True))
    return _with(_good(i), {path: draw(raw_json) for path in paths})


@st.composite
def batches(draw: st.DrawFn) -> tuple[list[bytes], list[int]]:
    """Plain and hostile messages interleaved, and the positions of the plain ones."""
    kinds = draw(st.lists(st.booleans(), min_size=1, max_size=12))
    values = [
        orjson.dumps(_good(i)) if plain else draw(hostile_messages(i))
        for i, plain in enumerate(kinds)
    ]
    return values, [i for i, plain in enumerate(kinds) if plain]


def _event_rows(events: EventBatch) -> dict[int, tuple[Any, ...]]:
    """Each event's every column (NaN as None) by its offset, to compare across batches."""
    n = len(events)

    def column(values: Any) -> list[Any]:
        if values is None:
            return [None] * n
        if isinstance(values, np.ndarray):
            return [None if np.isnan(v) else float(v) for v in values.tolist()]
        if pa.types.is_struct(values.type):  # classes the batch has but the event lacks: null
            return [v and {k: p for k, p in v.items() if p is not None} for v in values.to_pylist()]
        return list(values.to_pylist())

    columns = [
        events.event_time_ms.tolist(),
        events.partition.tolist(),
        column(events.model),
        column(events.model_version),
        column(events.event_id),
        *(column(events.numeric[k]) for k in sorted(events.numeric)),
        *(column(events.categorical[k]) for k in sorted(events.categorical)),
        *(column(events.segments[k]) for k in sorted(events.segments)),
        column(events.prediction),
        column(events.label),
    ]
    return dict(zip(events.offset.tolist(), zip(*columns, strict=True), strict=True))


def _decode_each_way(
    schema: EventSchema, values: list[bytes]
) -> list[tuple[dict[int, tuple[Any, ...]], list[tuple[int, str, str]]]]:
    """Events by offset and (offset, reason, detail) rejects: the native batch path, then the
    per-record path alone (``reader="python"``, as an install without the native reader)."""
    outcomes = []
    for reader in ("native", "python"):
        result = EventDecoder(schema, reader=reader).decode_records(records(values), T0)
        rejects = [(r.offset, r.reason, r.detail) for r in result.rejects]
        outcomes.append((_event_rows(result.events), rejects))
    return outcomes


@PROPERTY
@pytest.mark.parametrize(
    "schema", [SCHEMA, FLIPPED, MULTICLASS], ids=["score", "class", "multiclass"]
)
@given(batch=batches())
@example(batch=([orjson.dumps(_good(0)), _with(_good(1), {TIMESTAMP: b"-10" + b"0" * 17})], [0]))
@example(batch=([_with(_good(0), {TIMESTAMP: b"9007199254740993"}), orjson.dumps(_good(1))], [1]))
def test_every_message_is_an_event_or_a_reject_and_the_good_ones_are_untouched(
    schema: EventSchema, batch: tuple[list[bytes], list[int]]
) -> None:
    """Hostile messages never raise, each gets an event or a reason, and the plain messages of
    their batch decode as they do alone, on the batch path and per record."""
    values, plain = batch
    alone = _decode_each_way(schema, [values[i] for i in plain])
    for (events, rejects), (plain_events, plain_rejects) in zip(
        _decode_each_way(schema, values), alone, strict=True
    ):
        rejected = [offset for offset, _, _ in rejects]
        assert sorted([*events, *rejected]) == list(range(len(values)))
        assert all(reason in REJECT_REASONS and detail for _, reason, detail in rejects)
        assert plain_rejects == []
        by_position = {plain[i]: row for i, row in plain_events.items()}
        assert {i: events[i] for i in plain} == by_position


#: Flat-file columns of every odd arrow type, each with an extreme value and a null or second value.
ODD_COLUMNS = [
    pa.array([2**64 - 1, 5], pa.uint64()),
    pa.array([2**63 - 1, -(2**63)], pa.int64()),
    pa.array([np.float16(1.5), None], pa.float16()),
    pa.array([np.inf, -np.inf], pa.float32()),
    pa.array([Decimal("1" * 38), None], pa.decimal128(38, 0)),
    pa.array([Decimal("9" * 70), Decimal("-1.5")], pa.decimal256(72, 1)),
    pa.array([b"\xff", None], pa.binary()),
    pa.array(["a", "\u2603"], pa.large_string()),
    pa.array([[1], None], pa.list_(pa.int64())),
    pa.array([{"a": 1}, None], pa.struct([("a", pa.int64())])),
    pa.array([[("k", 1)], None], pa.map_(pa.string(), pa.int64())),
    pa.array([2**62, -(2**62)], pa.timestamp("s")),
    pa.array([2**63 - 1, -(2**63) + 1], pa.timestamp("ns")),
    pa.array([2**31 - 1, -(2**31)], pa.date32()),
    pa.array([2**63 - 1, -(2**63)], pa.date64()),
    pa.array([1, 2], pa.duration("s")),
    pa.nulls(2),
    pa.array([1, 2]).dictionary_encode(),
    pa.array(["x", None]).dictionary_encode(),
]
ROW = {
    "event_id": ["a", "b"],
    "model": ["m", "m"],
    "model_version": ["v1", "v1"],
    "timestamp": [T0, T0],
    "schema_version": [1, 1],
    "prediction": [0.5, 0.5],
    "label": [1, 0],
    "x": [1.0, 2.0],
    "color": ["red", "red"],
    "platform": ["ios", "ios"],
}


@pytest.mark.parametrize(
    "schema", [SCHEMA, FLIPPED, MULTICLASS], ids=["score", "class", "multiclass"]
)
@pytest.mark.parametrize("column", list(ROW))
def test_flat_file_columns_of_any_arrow_type_are_events_or_rejects(
    schema: EventSchema, column: str
) -> None:
    """A Parquet or CSV column of any type, with values at its type's limits, decodes without
    raising, and every rejected row's message is JSON."""
    for values in ODD_COLUMNS:
        table = pa.table({**ROW, column: values})
        result = EventDecoder(schema).decode_table(table, now_ms=T0)
        assert len(result.events) + len(result.rejects) == 2, values.type
        assert all(type(orjson.loads(reject.raw)) is dict for reject in result.rejects)
