"""The pyarrow batch path and the per-record path decode the same messages identically."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.decode import EventDecoder, EventSchema
from monitor.decode.columns import Fields
from monitor.decode.slow import fields_from_objects
from monitor.types import EventBatch, RawRecords
from tests.test_decode import assert_same_events

T0 = 1_554_199_872_345
DAY = 86_400_000
SCHEMA = EventSchema(
    models=frozenset({"m"}),
    numeric_features=("x", "y"),
    categorical_features=("color",),
    prediction_kind="numeric",
    label_kind="categorical",
    segment_fields=("platform",),
)
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
    size = draw(st.integers(2, 20))
    messages = []
    for _ in range(size):
        value: dict[str, Any] = {}
        for part, kind in kinds.items():
            drawn = VALUES[kind]()
            if part not in REQUIRED:
                drawn = drawn | st.none() | st.just(ABSENT)
            value[part] = draw(drawn)
        messages.append(_message(value))
    return messages


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


def records(values: list[bytes]) -> RawRecords:
    n = len(values)
    return RawRecords(values, np.zeros(n, np.int64), np.arange(n, dtype=np.int64), np.full(n, -1))


def with_type_conflict(values: list[bytes]) -> list[bytes]:
    """The same messages plus an unknown field whose type differs between messages."""
    return [v[:-1] + (b',"pad":1}' if i == 0 else b',"pad":"x"}') for i, v in enumerate(values)]


class PerRecordCalls:
    """Counts how often the decoder builds fields through the per-record path."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0

        def counting(*args: Any) -> Fields:
            self.count += 1
            return fields_from_objects(*args)

        monkeypatch.setattr("monitor.decode.decoder.fields_from_objects", counting)


def decode_both_ways(
    values: list[bytes], calls: PerRecordCalls
) -> tuple[EventDecoder, EventBatch, EventDecoder, EventBatch]:
    """Decode with a decoder that has seen the stream's types, and through the per-record path."""
    fast = EventDecoder(SCHEMA)
    fast.decode_records(records(values), T0)
    fast.unknown_features.clear()
    fast.type_mismatches.clear()
    before = calls.count
    fast_events = fast.decode_records(records(values), T0).events
    assert calls.count == before, "a homogeneous batch takes the batch path once types are known"
    slow = EventDecoder(SCHEMA)
    slow_events = slow.decode_records(records(with_type_conflict(values)), T0).events
    assert calls.count == before + 1, "a type conflict sends the batch to the per-record path"
    return fast, fast_events, slow, slow_events


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(homogeneous_batches())
def test_both_paths_give_identical_events(
    monkeypatch: pytest.MonkeyPatch, values: list[bytes]
) -> None:
    """Same messages, same events, same unknown-feature and mismatch counts, whichever path."""
    calls = PerRecordCalls(monkeypatch)
    fast, fast_events, slow, slow_events = decode_both_ways(values, calls)
    assert_same_events(fast_events, slow_events)
    assert fast.unknown_features == slow.unknown_features
    assert fast.type_mismatches == slow.type_mismatches


def test_mixed_types_in_one_batch_decode_per_record(monkeypatch: pytest.MonkeyPatch) -> None:
    """Epoch and RFC 3339 timestamps, or text and numbers, may share a batch."""
    calls = PerRecordCalls(monkeypatch)
    values = [
        orjson.dumps({"model": "m", "timestamp": T0, "features": {"color": "red"}}),
        orjson.dumps({"model": "m", "timestamp": _rfc3339(T0 + 1), "features": {"color": 7}}),
    ]
    events = EventDecoder(SCHEMA).decode_records(records(values), T0).events
    assert calls.count == 1
    assert events.event_time_ms.tolist() == [T0, T0 + 1]
    assert events.categorical["color"].to_pylist() == ["red", "7"]


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
