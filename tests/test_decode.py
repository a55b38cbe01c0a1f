"""Decoding JSON messages: the event contract, every reject reason, and isolation of bad events."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.batches import DecodeResult, RawRecords
from monitor.decode import DecodeLimits, EventDecoder, EventSchema, FieldMapping
from monitor.errors import ConfigError
from tests.support.decoding import CONTRACT, NOW, SCHEMA, T0, assert_same_events

DAY = 86_400_000
DROP = object()


def message(**changes: Any) -> bytes:
    """The contract example with top-level fields replaced (or removed with ``DROP``)."""
    event = {**CONTRACT, **changes}
    return orjson.dumps({k: v for k, v in event.items() if v is not DROP})


def with_features(**changes: Any) -> bytes:
    return message(features={**CONTRACT["features"], **changes})


def records(
    values: list[bytes], offsets: list[int] | None = None, record_ms: int = -1
) -> RawRecords:
    n = len(values)
    return RawRecords(
        values,
        np.full(n, 3, dtype=np.int64),
        np.arange(n, dtype=np.int64) if offsets is None else np.array(offsets, dtype=np.int64),
        np.full(n, record_ms, dtype=np.int64),
    )


def decode(
    values: list[bytes],
    schema: EventSchema = SCHEMA,
    mapping: FieldMapping | None = None,
    limits: DecodeLimits | None = None,
    **options: Any,
) -> DecodeResult:
    return EventDecoder(schema, mapping, limits).decode_records(records(values, **options), NOW)


def only_reject(values: list[bytes], **options: Any) -> tuple[str, str]:
    result = decode(values, **options)
    assert len(result.events) == 0
    (reject,) = result.rejects
    return reject.reason, reject.detail


def test_contract_example_decodes_to_exact_columns() -> None:
    """The design's example event becomes one row with every part in its column."""
    events = decode([message()]).events
    assert events.event_time_ms.tolist() == [T0]
    assert (events.partition.tolist(), events.offset.tolist()) == ([3], [0])
    assert events.model.to_pylist() == ["car-loan"]
    assert events.model_version.to_pylist() == ["v3"]
    assert events.event_id.to_pylist() == ["a1b2"]
    assert events.numeric["car_value"].tolist() == [39811.0]
    assert events.numeric["loan_length"].tolist() == [19.0]
    assert events.categorical["salary_range"].to_pylist() == ["40K - 60K €"]
    assert isinstance(events.prediction, np.ndarray)
    assert events.prediction.tolist() == [0.99]
    assert events.segments["platform"].to_pylist() == ["ios"]
    assert events.segments["region"].to_pylist() == ["na"]
    assert events.label is None


NON_FINITE = "NaN or Infinity in the message; send null for a missing value"
BAD_TIMESTAMP = "timestamp: expected RFC 3339 text or epoch milliseconds in 1970-2200"
NO_MODEL = "no model; set fields.default_model for a single-model stream"
BAD_PREDICTION = "prediction: expected a number or an object of class probabilities"


@pytest.mark.parametrize(
    ("value", "reason", "detail"),
    [
        (b"not json", "invalid_json", "invalid literal, expected 'null': line 1 column 1 (char 0)"),
        (b"", "invalid_json", "Input is a zero-length, empty document: line 1 column 1 (char 0)"),
        (
            b'{"model": "car-loan"',
            "invalid_json",
            "unexpected end of data: line 1 column 21 (char 20)",
        ),
        (
            message() + message(),
            "invalid_json",
            "unexpected content after document: line 1 column 240 (char 239)",
        ),
        (b'{"model": "car-loan", "timestamp": NaN}', "non_finite_number", NON_FINITE),
        (
            with_features(car_value=None).replace(b"null", b"-Infinity"),
            "non_finite_number",
            NON_FINITE,
        ),
        (message(extra={"deep": [1]}).replace(b"[1]", b"[1e400]"), "non_finite_number", NON_FINITE),
        (message(extra={"deep": [1]}).replace(b"[1]", b"[NaN]"), "non_finite_number", NON_FINITE),
        (
            with_features(shoe_size=1).replace(b'"shoe_size":1', b'"shoe_size":Infinity'),
            "non_finite_number",
            NON_FINITE,
        ),
        (b"[1, 2]", "not_an_object", "the message is a JSON array; send one object per message"),
        (b'"text"', "not_an_object", "the message is a JSON string; send one object per message"),
        (b"null", "not_an_object", "the message is a JSON null; send one object per message"),
        (message(schema_version="1"), "wrong_type", "schema_version: expected an integer"),
        (message(schema_version=1.5), "wrong_type", "schema_version: expected an integer"),
        (
            message(schema_version=2),
            "unknown_schema_version",
            "schema_version 2 is not supported (supported: [1])",
        ),
        (message(model=3), "wrong_type", "model: expected a string"),
        (
            message(model_version=[1]),
            "wrong_type",
            "model_version: expected a string, number or bool",
        ),
        (
            message(timestamp=True),
            "wrong_type",
            "timestamp: expected RFC 3339 text or epoch milliseconds",
        ),
        (message(features=[1]), "wrong_type", "features: expected an object"),
        (
            with_features(car_value={"a": 1}),
            "wrong_type",
            "features.car_value: expected a number, string, bool or null",
        ),
        (
            with_features(salary_range=["a"]),
            "wrong_type",
            "features.salary_range: expected a string, number or bool",
        ),
        (message(prediction="yes"), "wrong_type", BAD_PREDICTION),
        (message(prediction={"a": "x"}), "wrong_type", BAD_PREDICTION),
        (message(segments="ios"), "wrong_type", "segments: expected an object"),
        (
            message(segments={"platform": {}}),
            "wrong_type",
            "segments.platform: expected a string, number or bool",
        ),
        (message(model=DROP), "missing_model", NO_MODEL),
        (message(model=None), "missing_model", NO_MODEL),
        (
            message(model="bike-loan"),
            "unknown_model",
            "model 'bike-loan' is not configured; add it to the models in the config",
        ),
        (
            message(timestamp=DROP),
            "missing_timestamp",
            "no timestamp; set fields.timestamp_fallback to use the record timestamp",
        ),
        (message(timestamp="yesterday"), "invalid_timestamp", BAD_TIMESTAMP),
        (message(timestamp=-1), "invalid_timestamp", BAD_TIMESTAMP),
        (message(timestamp="2201-01-01T00:00:00Z"), "invalid_timestamp", BAD_TIMESTAMP),
        (
            message(timestamp=NOW + DAY + 1),
            "future_timestamp",
            "timestamp: more than 86400000 ms ahead of now",
        ),
    ],
)
def test_bad_message_gets_its_reason(value: bytes, reason: str, detail: str) -> None:
    """Each kind of bad message is rejected once, with its reason and the detail that names the
    field (or the parser's position) and the fix."""
    assert only_reject([value]) == (reason, detail)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"schema_version": 2, "model": DROP}, "unknown_schema_version"),
        ({"model": 3, "timestamp": DROP}, "wrong_type"),
        ({"model": "bike-loan", "timestamp": "soon"}, "unknown_model"),
        ({"timestamp": "soon", "features": {"car_value": {}}}, "wrong_type"),
    ],
)
def test_first_broken_rule_decides_the_reason(changes: dict[str, Any], reason: str) -> None:
    """A message breaking several rules is rejected for the earliest in the documented order."""
    assert only_reject([message(**changes)])[0] == reason


def test_rejects_keep_bytes_and_position_in_input_order() -> None:
    """Rejects come in input order with their original bytes, partition and offset."""
    bad_json, bad_model = b"{oops", message(model="bike-loan")
    result = decode([bad_model, message(), bad_json], offsets=[10, 11, 12])
    assert [(r.reason, r.partition, r.offset, r.raw) for r in result.rejects] == [
        ("unknown_model", 3, 10, bad_model),
        ("invalid_json", 3, 12, bad_json),
    ]
    assert result.events.offset.tolist() == [11]


def test_oversize_limit_is_inclusive() -> None:
    """A message of exactly max_message_bytes is decoded; one byte more is rejected."""
    value = message()
    limits = DecodeLimits(max_message_bytes=len(value))
    assert len(decode([value], limits=limits).events) == 1
    bigger = value[:-1] + b" }"
    assert [r.reason for r in decode([bigger], limits=limits).rejects] == ["oversize"]


def test_future_limit_is_inclusive() -> None:
    """An event exactly max_future_ms ahead of now is kept; one millisecond more is rejected."""
    limits = DecodeLimits(max_future_ms=1000)
    result = decode([message(timestamp=NOW + 1000), message(timestamp=NOW + 1001)], limits=limits)
    assert result.events.event_time_ms.tolist() == [NOW + 1000]
    assert [r.reason for r in result.rejects] == ["future_timestamp"]


GOOD_EVENTS = st.lists(
    st.builds(
        lambda value, length, salary, platform, score, ts: message(
            features={"car_value": value, "loan_length": length, "salary_range": salary},
            segments={"platform": platform, "region": "na"},
            prediction=score,
            timestamp=ts,
        ),
        st.floats(-1e9, 1e9, allow_nan=False),
        st.integers(0, 600) | st.none(),
        st.sampled_from(["40K - 60K €", "60K+", "<40K"]),
        st.sampled_from(["ios", "android", None]),
        st.floats(0, 1),
        st.integers(T0 - DAY, T0 + DAY),
    ),
    min_size=1,
    max_size=30,
)
BAD_MESSAGES = st.sampled_from(
    [
        b"{oops",
        b"[]",
        b'{"model": "car-loan", "timestamp": NaN}',
        message(model="bike-loan"),
        message(timestamp="soon"),
        with_features(car_value=[1]),
        message(features={"car_value": "text", "new_feature": 1}, model=3),
        b"\xff\xfe",
    ]
)


@settings(max_examples=60)
@given(GOOD_EVENTS, st.lists(st.tuples(st.integers(0, 30), BAD_MESSAGES), max_size=10))
def test_bad_messages_never_change_the_good_events(
    good: list[bytes], bad: list[tuple[int, bytes]]
) -> None:
    """A batch with bad messages mixed in decodes its good ones exactly as a batch without them."""
    mixed = list(good)
    for position, value in sorted(bad, reverse=True):
        mixed.insert(min(position, len(mixed)), value)
    good_offsets = [i for i, value in enumerate(mixed) if value in good]
    clean = decode(good, offsets=good_offsets)
    dirty = decode(mixed)
    assert_same_events(dirty.events, clean.events)
    assert len(dirty.rejects) == len(bad)


def test_missing_known_features_are_nan_and_null() -> None:
    """A feature the schema knows but the event lacks is NaN (numeric) or null (categorical)."""
    events = decode([message(features={"car_value": 1.0}), message(features=DROP)]).events
    assert np.isnan(events.numeric["loan_length"]).all()
    assert events.numeric["car_value"][0] == 1.0
    assert events.categorical["salary_range"].to_pylist() == [None, None]


def test_unknown_features_are_counted_across_calls_but_not_kept() -> None:
    """Feature names the schema does not know are counted per event carrying a value."""
    decoder = EventDecoder(SCHEMA)
    batch = [with_features(shoe_size=42), with_features(shoe_size=None, hat="red")]
    events = decoder.decode_records(records(batch), NOW).events
    decoder.decode_records(records([with_features(shoe_size="9")]), NOW)
    assert decoder.unknown_features == {"shoe_size": 2, "hat": 1}
    assert set(events.numeric) | set(events.categorical) == set(SCHEMA.features)


def test_text_in_a_numeric_feature_is_missing_and_counted() -> None:
    """A string where a number belongs reads as NaN and counts as a type mismatch."""
    decoder = EventDecoder(SCHEMA)
    events = decoder.decode_records(records([with_features(car_value="12")]), NOW).events
    assert np.isnan(events.numeric["car_value"]).all()
    assert decoder.type_mismatches == {"car_value": 1}


def test_booleans_in_a_numeric_feature_are_one_and_zero() -> None:
    """true and false read as 1.0 and 0.0."""
    events = decode([with_features(car_value=True), with_features(car_value=False)]).events
    assert events.numeric["car_value"].tolist() == [1.0, 0.0]


def test_categorical_values_become_canonical_text() -> None:
    """Integers lose no digits, integral floats lose their decimals, booleans become true/false."""
    values = [19, 3.0, 2.5, True, "19", None]
    events = decode([with_features(salary_range=v) for v in values]).events
    assert events.categorical["salary_range"].to_pylist() == ["19", "3", "2.5", "true", "19", None]


def test_identifiers_and_segments_become_canonical_text() -> None:
    """Numeric event ids, versions and segment values are read as their text."""
    value = message(event_id=123, model_version=3, segments={"platform": False, "region": 7})
    events = decode([value, message(event_id=None, segments={})]).events
    assert events.event_id.to_pylist() == ["123", None]
    assert events.model_version.to_pylist() == ["3", "v3"]
    assert events.segments["platform"].to_pylist() == ["false", None]
    assert events.segments["region"].to_pylist() == ["7", None]


@pytest.mark.parametrize(
    ("positive_class", "probabilities", "expected"),
    [
        ("good", {"bad": 0.3, "good": 0.7}, 0.7),
        ("good", {"bad": 0.3}, None),
        (None, {"0": 0.25, "1": 0.75}, 0.75),
        (None, {"no": 0.4, "yes": 0.6}, 0.6),
        (None, {"false": 0.1, "true": 0.9}, 0.9),
        (None, {"cat": 0.2, "dog": 0.5, "bird": 0.3}, 0.5),
        (None, {}, None),
    ],
)
def test_class_probabilities_give_the_positive_class(
    positive_class: str | None, probabilities: dict[str, float], expected: float | None
) -> None:
    """The named class, else "1"/"true"/"yes", else the last class in sorted order."""
    schema = EventSchema(
        frozenset({"car-loan"}), prediction_kind="numeric", positive_class=positive_class
    )
    events = decode([message(prediction=probabilities), message()], schema=schema).events
    assert isinstance(events.prediction, np.ndarray)
    assert events.prediction[1] == 0.99
    assert np.isnan(events.prediction[0]) if expected is None else events.prediction[0] == expected


@pytest.mark.parametrize("reader", ["native", "python"])
def test_multiclass_predictions_keep_every_class(reader: Any) -> None:
    """Objects stay whole, a class name is probability 1 of its class and a number is a score
    of class "1", whichever reader decodes the batch."""
    schema = EventSchema(frozenset({"car-loan"}), prediction_kind="classes")
    values = [
        message(prediction={"dog": 0.7, "cat": 0.3}),
        message(prediction="bee"),
        message(prediction=0.25),
        message(prediction=None),
    ]
    result = EventDecoder(schema, reader=reader).decode_records(records(values), NOW)
    assert isinstance(result.events.prediction, pa.StructArray)
    assert result.events.prediction.to_pylist() == [
        {"1": None, "bee": None, "cat": 0.3, "dog": 0.7},
        {"1": None, "bee": 1.0, "cat": None, "dog": None},
        {"1": 0.25, "bee": None, "cat": None, "dog": None},
        None,
    ]


def test_prediction_is_none_when_no_event_carries_one() -> None:
    """A feature-only batch has no prediction column; a schema without one never reads it."""
    assert decode([message(prediction=DROP)]).events.prediction is None
    schema = EventSchema(frozenset({"car-loan"}), prediction_kind=None)
    assert decode([message(prediction="anything")], schema=schema).events.prediction is None


def test_categorical_label_is_text() -> None:
    """A categorical label (carried by the event itself) is canonical text."""
    schema = EventSchema(frozenset({"car-loan"}), label_kind="categorical")
    events = decode([message(label=1), message(label="no"), message()], schema=schema).events
    assert isinstance(events.label, pa.Array)
    assert events.label.to_pylist() == ["1", "no", None]


def test_default_model_names_events_without_one() -> None:
    """With default_model, an event without a model field belongs to that model."""
    mapping = FieldMapping(default_model="car-loan")
    events = decode([message(model=DROP)], mapping=mapping).events
    assert events.model.to_pylist() == ["car-loan"]


def test_record_timestamp_is_the_fallback_event_time() -> None:
    """With timestamp_fallback, an event without a timestamp takes the record's timestamp."""
    mapping = FieldMapping(timestamp_fallback=True)
    result = decode([message(timestamp=DROP), message()], mapping=mapping, record_ms=T0 - 5)
    assert result.events.event_time_ms.tolist() == [T0 - 5, T0]
    without_record = decode([message(timestamp=DROP)], mapping=mapping)
    assert [r.reason for r in without_record.rejects] == ["missing_timestamp"]


def test_without_timestamp_fallback_the_record_timestamp_is_not_used() -> None:
    """Without timestamp_fallback, an event without a timestamp is rejected despite its record's."""
    assert only_reject([message(timestamp=DROP)], record_ms=T0) == (
        "missing_timestamp",
        "no timestamp; set fields.timestamp_fallback to use the record timestamp",
    )


def test_a_record_timestamp_of_zero_is_a_fallback_event_time() -> None:
    """A record timestamp of 0 (the epoch itself) is used; only negative ones mean none."""
    mapping = FieldMapping(timestamp_fallback=True)
    result = decode([message(timestamp=DROP)], mapping=mapping, record_ms=0)
    assert result.events.event_time_ms.tolist() == [0]


def test_with_timestamp_fallback_an_invalid_timestamp_is_still_rejected() -> None:
    """The fallback fills only absent timestamps: an invalid one stays invalid_timestamp."""
    mapping = FieldMapping(timestamp_fallback=True)
    reject = only_reject([message(timestamp="yesterday")], mapping=mapping, record_ms=T0)
    assert reject == ("invalid_timestamp", BAD_TIMESTAMP)


def test_with_timestamp_fallback_a_missing_time_says_the_record_had_none() -> None:
    """With the fallback on, an event lacking both times is rejected naming both."""
    mapping = FieldMapping(timestamp_fallback=True)
    assert only_reject([message(timestamp=DROP)], mapping=mapping) == (
        "missing_timestamp",
        "no timestamp and no record timestamp",
    )


def test_a_wrong_typed_categorical_label_names_what_it_expects() -> None:
    """A categorical label that is an object is rejected as expecting a string, number or bool."""
    schema = EventSchema(frozenset({"car-loan"}), label_kind="categorical")
    assert only_reject([message(label={"a": 1})], schema=schema) == (
        "wrong_type",
        "label: expected a string, number or bool",
    )


def test_epoch_numbers_are_milliseconds_floored() -> None:
    """Integer timestamps are epoch ms; fractional ones are floored to the millisecond."""
    events = decode([message(timestamp=T0), message(timestamp=T0 + 0.9)]).events
    assert events.event_time_ms.tolist() == [T0, T0]


def test_supported_schema_versions_are_configurable() -> None:
    """An absent version counts as 1; other versions pass once supported."""
    limits = DecodeLimits(supported_schema_versions=frozenset({1, 2}))
    result = decode(
        [message(schema_version=2), message(schema_version=3), message()], limits=limits
    )
    assert len(result.events) == 2
    assert [r.reason for r in result.rejects] == ["unknown_schema_version"]


def test_dotted_paths_reach_nested_parts() -> None:
    """Every part can live at a configured dotted path."""
    mapping = FieldMapping(model="meta.model", timestamp="meta.ts", features="payload.inputs")
    value = orjson.dumps(
        {"meta": {"model": "car-loan", "ts": T0}, "payload": {"inputs": {"car_value": 5}}}
    )
    events = decode([value, orjson.dumps({"meta": "x"})], mapping=mapping).events
    assert (events.model.to_pylist(), events.numeric["car_value"].tolist()) == (["car-loan"], [5.0])


def test_a_scalar_where_a_path_expects_an_object_is_wrong_type() -> None:
    """A path through a value that is not an object rejects the event, naming the path."""
    mapping = FieldMapping(model="meta.model")
    assert only_reject([orjson.dumps({"meta": "x", "timestamp": T0})], mapping=mapping) == (
        "wrong_type",
        "meta.model: expected a string",
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (message().replace(b'"model":', b'\n"model":\n'), 1),
        (b"  \t" + message(), 1),
        (message(model="car-\nloan").replace(b"\\n", b"\n"), 0),
        (message(extra="\u00e9").replace("é".encode(), b"\xe9"), 0),
        (message(model="x").replace(b'"x"', b'"x","model":"car-loan"'), 1),
        (message(extra={"a": [1, "b", None]}), 1),
    ],
)
def test_json_edge_cases(value: bytes, expected: int) -> None:
    """Line breaks as whitespace, leading blanks and duplicate keys (last wins) are valid JSON;
    raw line breaks inside strings and invalid UTF-8 are not."""
    assert len(decode([value, message()]).events) == expected + 1


def test_huge_integers_read_as_floats() -> None:
    """A 20-digit integer feature value reads as the nearest float."""
    value = with_features(car_value=0).replace(
        b'"car_value":0', b'"car_value":12345678901234567890'
    )
    assert decode([value]).events.numeric["car_value"].tolist() == [1.2345678901234567e19]


def test_empty_batch_gives_empty_events() -> None:
    """No messages, no events, no rejects."""
    result = decode([])
    assert (len(result.events), result.rejects) == (0, [])
    assert result.events.numeric["car_value"].dtype == np.float64


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: FieldMapping(model="meta", timestamp="meta.ts"), "overlaps"),
        (lambda: FieldMapping(features="segments"), "overlaps"),
        (lambda: FieldMapping(model="meta..model"), "dotted path"),
        (lambda: FieldMapping(columns={"score": "y"}), "not a part of an event"),
        (lambda: FieldMapping(columns={"prediction": ""}), "is empty"),
        (lambda: FieldMapping(columns={"prediction": "label"}), "already the column of label"),
        (
            lambda: FieldMapping(columns={"prediction": "y", "label": "y"}),
            "already the column of prediction",
        ),
        (lambda: EventSchema(frozenset(), ("a",), ("a",)), "both numeric and categorical"),
        (lambda: EventSchema(frozenset(), prediction_kind="score"), "unknown"),  # type: ignore[arg-type]
    ],
)
def test_inconsistent_configuration_is_a_config_error(make: Any, match: str) -> None:
    """Overlapping paths, a flat-file column for no part or two, a feature of two kinds or an
    unknown kind fail at construction."""
    with pytest.raises(ConfigError, match=match):
        make()
