"""The native batch path and the per-record path decode the same messages identically."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.batches import EventBatch
from monitor.decode import DecodeLimits, EventDecoder, FieldMapping
from monitor.decode.columns import Fields
from monitor.decode.fast import FastJsonReader
from monitor.decode.paths import EventPaths
from monitor.decode.slow import fields_from_objects
from tests.support.both_paths import PROPERTY, SCHEMA, records
from tests.support.decoding import T0, assert_same_events

DAY = 86_400_000
ABSENT = object()

floats = st.floats(-1e12, 1e12, allow_nan=False)
small_ints = st.integers(-(2**40), 2**40)
texts = st.text(st.characters(codec="utf-8"), max_size=8)
VALUES: dict[str, Callable[[], st.SearchStrategy[Any]]] = {
    "int": lambda: small_ints,
    "float": lambda: floats,
    "bool": lambda: st.booleans(),
    "text": lambda: texts,
    "probabilities": lambda: st.dictionaries(
        st.sampled_from(["0", "1", "a", "yes"]), floats, max_size=3
    ),
    "epoch": lambda: st.integers(T0 - DAY, T0 + DAY),
    "epoch_float": lambda: st.floats(T0 - DAY, T0 + DAY),
    "rfc3339": lambda: st.integers(T0 - DAY, T0 + DAY).map(_rfc3339),
}
KINDS = {
    "event_id": ["text", "int"],
    "model_version": ["text", "int"],
    "timestamp": ["epoch", "epoch_float", "rfc3339"],
    "x": ["int", "float", "bool", "text"],
    "y": ["float"],
    "color": ["text", "int", "bool", "float"],
    "unknown": ["int", "text"],
    "platform": ["text", "int", "bool"],
    "prediction": ["float", "int", "bool", "probabilities"],
    "label": ["text", "int", "bool"],
}
REQUIRED = {"timestamp"}


def _rfc3339(ms: int) -> str:
    moment = datetime.fromtimestamp(ms // 1000, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


@st.composite
def homogeneous_batches(draw: st.DrawFn) -> list[bytes]:
    """Messages in which each part has one JSON type (or is null/absent), as one producer sends."""
    kinds = {part: draw(st.sampled_from(options)) for part, options in KINDS.items()}
    return [_message(draw(_values(kinds))) for _ in range(draw(st.integers(2, 20)))]


@st.composite
def mixed_batches(draw: st.DrawFn) -> list[bytes]:
    """Messages in which every part takes any of its JSON types, message by message."""
    batch = []
    for _ in range(draw(st.integers(2, 20))):
        kinds = {part: draw(st.sampled_from(options)) for part, options in KINDS.items()}
        batch.append(_message(draw(_values(kinds))))
    return batch


@st.composite
def _values(draw: st.DrawFn, kinds: dict[str, str]) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for part, kind in kinds.items():
        drawn = VALUES[kind]()
        if part not in REQUIRED:
            drawn = drawn | st.none() | st.just(ABSENT)
        value[part] = draw(drawn)
    return value


def _message(value: dict[str, Any]) -> bytes:
    def present(names: list[str]) -> dict[str, Any]:
        return {n: value[n] for n in names if value[n] is not ABSENT}

    event = {
        "model": "m",
        **present(["event_id", "model_version", "timestamp", "prediction", "label"]),
    }
    features = present(["x", "y", "color"])
    if value["unknown"] is not ABSENT:
        features["unknown"] = value["unknown"]
    event["features"] = features
    event["segments"] = present(["platform"])
    return orjson.dumps(event)


class PerRecordCalls:
    """Counts how often the decoder builds fields through the per-record path."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0

        def counting(*args: Any) -> Fields:
            self.count += 1
            return fields_from_objects(*args)

        monkeypatch.setattr("monitor.decode.decoder.fields_from_objects", counting)


def decode_both_ways(
    values: list[bytes], monkeypatch: pytest.MonkeyPatch
) -> tuple[EventDecoder, EventBatch, EventDecoder, EventBatch]:
    """Decode through the native batch path, then as an install without it does: the Python
    per-record path alone."""
    calls = PerRecordCalls(monkeypatch)
    fast = EventDecoder(SCHEMA, reader="native")
    fast_events = fast.decode_records(records(values), T0).events
    assert calls.count == 0, "plain messages take the batch path"
    slow = EventDecoder(SCHEMA, reader="python")
    slow_events = slow.decode_records(records(values), T0).events
    assert calls.count == 1
    return fast, fast_events, slow, slow_events


def assert_decoded_alike(values: list[bytes], monkeypatch: pytest.MonkeyPatch) -> None:
    """Same events, same unknown-feature and mismatch counts, whichever path."""
    fast, fast_events, slow, slow_events = decode_both_ways(values, monkeypatch)
    assert_same_events(fast_events, slow_events)
    assert fast.unknown_features == slow.unknown_features
    assert fast.type_mismatches == slow.type_mismatches


@PROPERTY
@given(homogeneous_batches())
def test_both_paths_give_identical_events(
    monkeypatch: pytest.MonkeyPatch, values: list[bytes]
) -> None:
    """A producer's batch decodes to the same events on the batch path and per record."""
    assert_decoded_alike(values, monkeypatch)


@PROPERTY
@given(mixed_batches())
def test_mixed_types_decode_alike_on_the_batch_path(
    monkeypatch: pytest.MonkeyPatch, values: list[bytes]
) -> None:
    """Parts whose JSON type changes from message to message still take the batch path, alike."""
    assert_decoded_alike(values, monkeypatch)


def _seeded_value(kind: str, rng: np.random.Generator, i: int) -> Any:
    """A value of JSON ``kind`` for message ``i``, drawn from ``rng`` (no hypothesis here)."""
    ms = T0 + i
    values: dict[str, Any] = {
        "int": int(rng.integers(-(2**40), 2**40)),
        "float": float(rng.normal() * 1e3),
        "bool": bool(rng.integers(0, 2)),
        "text": str(rng.choice(["a", "é", "", "x y", "7", "\u2603"])),
        "probabilities": {c: float(rng.random()) for c in ["0", "1", "yes"] if rng.random() < 0.7},
        "epoch": ms,
        "epoch_float": ms + 0.5,
        "rfc3339": _rfc3339(ms),
    }
    return values[kind]


def test_a_batch_split_across_threads_decodes_as_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """3,000 mixed messages read on 1 or 3 threads give the per-record path's events."""
    rng = np.random.default_rng(7)
    values = []
    for i in range(3000):
        drawn = {}
        for part, kinds in KINDS.items():
            absent = part not in REQUIRED and rng.random() < 0.15
            drawn[part] = ABSENT if absent else _seeded_value(rng.choice(kinds), rng, i)
        values.append(_message(drawn))
    _, fast_events, slow, slow_events = decode_both_ways(values, monkeypatch)
    assert_same_events(fast_events, slow_events)
    one = EventDecoder(SCHEMA, threads=1)
    assert_same_events(one.decode_records(records(values), T0).events, fast_events)
    three = EventDecoder(SCHEMA, threads=3)
    assert_same_events(three.decode_records(records(values), T0).events, fast_events)
    assert one.unknown_features == three.unknown_features == slow.unknown_features
    assert one.type_mismatches == three.type_mismatches == slow.type_mismatches


def test_the_batch_path_reads_every_double_as_orjson_does() -> None:
    """50,000 random doubles, shortest and 21-digit forms, parse to the bits orjson gives."""
    rng = np.random.default_rng(11)
    doubles = rng.integers(0, 2**63, 50_000, dtype=np.int64).view(np.float64)
    doubles = doubles[np.isfinite(doubles) & (np.abs(doubles) < 1e19)]
    texts = [repr(float(x)) if i % 2 else f"{x:.20e}" for i, x in enumerate(doubles)]
    values = [b'{"model":"m","timestamp":%d,"features":{"y":%s}}' % (T0, t.encode()) for t in texts]
    fields = FastJsonReader(EventPaths.of(SCHEMA, FieldMapping())).read(values)
    assert fields is not None
    (piece,) = fields.numeric["y"].pieces
    expected = [orjson.loads(v)["features"]["y"] for v in values]
    assert piece.rows is None
    assert np.array_equal(piece.values.to_numpy().view(np.int64), np.array(expected).view(np.int64))


@pytest.mark.parametrize(
    "extra",
    [
        b'"features":{"x":1,"x":2}',
        b'"prediction":{"a":0.1,"a":0.2}',
        b'"features":{"zz":1,"zz":null}',
        b'"features":{"x":[1]}',
        b'"deep":{"n":[1e400]}',
        b'"features":{"x":18446744073709551616}',
        b'"features":{"x":9223372036854775808}',
        b'"features":5',
        b'"features":null',
        b'"segments":{"platform":{"a":1}}',
        b'"prediction":{"a":"high"}',
        b'"prediction":{}',
        b'"label":"caf\\u00e9 \\ud83d\\ude00"',
    ],
)
def test_edge_messages_decode_alike(extra: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    """Duplicate keys, nesting, huge numbers and escapes mean the same on both paths."""
    plain = b'{"model":"m","timestamp":%d,"features":{"x":1.5},"prediction":{"b":0.25}}' % T0
    edge = b'{"model":"m","timestamp":%d,%s}' % (T0 + 1, extra)
    result = EventDecoder(SCHEMA).decode_records(records([plain, edge]), T0)
    with monkeypatch.context() as patched:
        patched.setattr(FastJsonReader, "read", lambda self, values: None)
        slow = EventDecoder(SCHEMA).decode_records(records([plain, edge]), T0)
    assert_same_events(result.events, slow.events)
    assert [r.reason for r in result.rejects] == [r.reason for r in slow.rejects]


def test_batch_size_does_not_change_the_events() -> None:
    """Decoding messages in one batch or in several gives the same rows."""
    values = [
        orjson.dumps({"model": "m", "timestamp": T0 + i, "features": {"x": i, "color": c}})
        for i, c in enumerate(["a", 1, "b", True, None, "c"])
    ]
    whole = EventDecoder(SCHEMA).decode_records(records(values), T0).events
    decoder = EventDecoder(SCHEMA)
    parts = [decoder.decode_records(records(values[i : i + 2]), T0).events for i in (0, 2, 4)]
    assert np.concatenate([p.numeric["x"] for p in parts]).tolist() == whole.numeric["x"].tolist()
    colors = [color for p in parts for color in p.categorical["color"].to_pylist()]
    assert colors == whole.categorical["color"].to_pylist() == ["a", "1", "b", "true", None, "c"]


def test_unknown_feature_names_past_the_cap_are_the_later_ones_on_both_paths(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With room for two names, the first two to arrive are counted by name on either path."""
    values = [
        orjson.dumps({"model": "m", "timestamp": T0, "features": features})
        for features in ({"zeta": 1}, {"alpha": 1, "zeta": 2}, {"mid": 1, "beta": 1})
    ]
    counted = []
    for path in ("batch", "per record"):
        with monkeypatch.context() as patched:
            if path == "per record":
                patched.setattr(FastJsonReader, "read", lambda self, values: None)
            decoder = EventDecoder(SCHEMA, limits=DecodeLimits(max_unknown_features=2))
            decoder.decode_records(records(values), T0)
        counted.append((dict(decoder.unknown_features), dict(decoder.capped)))
    assert counted[0] == counted[1]
    assert counted[0] == ({"zeta": 2, "alpha": 1, "__other__": 2}, {"unknown_features": 2})
