"""Decoding flat-file rows (Parquet, CSV): one event per row, one column per part."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pytest

from monitor.batches import DecodeResult, RawRecords
from monitor.decode import EventDecoder, EventSchema, FieldMapping
from tests.support.decoding import CONTRACT, NOW, SCHEMA, T0, assert_same_events

CONTRACT_ROW = {
    "event_id": ["a1b2"],
    "model": ["car-loan"],
    "model_version": ["v3"],
    "timestamp": pa.array(
        [datetime(2019, 4, 2, 10, 11, 12, 345678, tzinfo=UTC)], pa.timestamp("us", "UTC")
    ),
    "car_value": [39811.0],
    "salary_range": ["40K - 60K €"],
    "loan_length": [19],
    "prediction": [0.99],
    "platform": ["ios"],
    "region": ["na"],
}


def decode_table(
    table: pa.Table | pa.RecordBatch, schema: EventSchema = SCHEMA, default_model: str | None = None
) -> tuple[EventDecoder, DecodeResult]:
    decoder = EventDecoder(schema, FieldMapping(default_model=default_model))
    return decoder, decoder.decode_table(table, partition=2, first_offset=100, now_ms=NOW)


def test_a_row_decodes_like_the_same_json_message() -> None:
    """The contract's event as a flat row gives the same columns as the JSON message."""
    _, from_table = decode_table(pa.table(CONTRACT_ROW))
    message = orjson.dumps(CONTRACT)
    records = RawRecords([message], np.array([2]), np.array([100]), np.array([-1]))
    from_json = EventDecoder(SCHEMA).decode_records(records, NOW)
    assert_same_events(from_table.events, from_json.events)


def test_rows_get_partition_and_offsets_from_first_offset() -> None:
    """Row i of the table gets offset first_offset + i in the given partition."""
    table = pa.table({**CONTRACT_ROW}).take([0, 0, 0])
    _, result = decode_table(table)
    assert (result.events.partition.tolist(), result.events.offset.tolist()) == (
        [2, 2, 2],
        [100, 101, 102],
    )


@pytest.mark.parametrize(
    "timestamps",
    [
        pa.array([T0], pa.int64()),
        pa.array([float(T0) + 0.5]),
        pa.array(["2019-04-02T12:11:12.345+02:00"]),
        pa.array([T0 * 1_000_000], pa.timestamp("ns")),
        pa.array([datetime(2019, 4, 2, 10, 11, 12, 345000)], pa.timestamp("ms", "Europe/Paris")),
    ],
)
def test_timestamp_columns_of_every_type_give_epoch_ms(timestamps: pa.Array) -> None:
    """Epoch numbers, RFC 3339 text and arrow timestamps (any unit or zone) all read as UTC ms."""
    _, result = decode_table(pa.table({**CONTRACT_ROW, "timestamp": timestamps}))
    assert result.events.event_time_ms.tolist() == [T0]


def test_date_columns_are_midnight_utc() -> None:
    """A date column reads as the start of that day in UTC."""
    _, result = decode_table(pa.table({**CONTRACT_ROW, "timestamp": [date(2019, 4, 2)]}))
    assert result.events.event_time_ms.tolist() == [1_554_163_200_000]


def test_nan_is_missing_and_infinity_is_rejected() -> None:
    """pandas' NaN marks a missing value; an infinite value rejects the row."""
    table = pa.table({**CONTRACT_ROW}).take([0, 0])
    table = table.set_column(4, "car_value", pa.array([np.nan, np.inf]))
    _, result = decode_table(table)
    assert np.isnan(result.events.numeric["car_value"]).all()
    assert [(r.reason, r.offset) for r in result.rejects] == [("non_finite_number", 101)]


def test_an_infinite_number_is_rejected_naming_its_column() -> None:
    """An infinite value's reject detail names the column and says to leave a missing one empty."""
    table = pa.table({**CONTRACT_ROW}).set_column(4, "car_value", pa.array([np.inf]))
    _, result = decode_table(table)
    assert [(r.reason, r.detail) for r in result.rejects] == [
        ("non_finite_number", "car_value: NaN or infinity; leave the value empty when missing")
    ]


def test_a_rejected_row_keeps_its_values_as_json() -> None:
    """The reject of a row carries the row as a JSON object, for the dead-letter topic."""
    _, result = decode_table(pa.table({"model": ["bike-loan"], "timestamp": [T0], "n": [1.5]}))
    (reject,) = result.rejects
    assert reject.reason == "unknown_model"
    assert orjson.loads(reject.raw) == {"model": "bike-loan", "timestamp": T0, "n": 1.5}


def test_a_rejected_row_is_serialised_only_when_its_bytes_are_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Rejecting rows costs no JSON encoding until a dead-letter sink asks for the bytes."""
    encoded: list[object] = []
    real_dumps = orjson.dumps

    def counting_dumps(value: object, **options: Any) -> bytes:
        encoded.append(value)
        return real_dumps(value, **options)

    monkeypatch.setattr("monitor.decode.decoder.orjson.dumps", counting_dumps)
    table = pa.table({"model": ["bike-loan"] * 1000, "timestamp": [T0] * 1000})
    _, result = decode_table(table)
    assert len(result.rejects) == 1000 and encoded == []
    assert orjson.loads(result.rejects[7].raw) == {"model": "bike-loan", "timestamp": T0}
    assert len(encoded) == 1


def test_other_columns_count_as_unknown_features() -> None:
    """Columns that are neither reserved, segments nor known features are counted, non-null only."""
    schema = EventSchema(frozenset({"car-loan"}), ("car_value",))
    table = pa.table({**CONTRACT_ROW, "shoe_size": [None]}).take([0, 0])
    decoder, _ = decode_table(table, schema)
    assert decoder.unknown_features == {
        "salary_range": 2,
        "loan_length": 2,
        "platform": 2,
        "region": 2,
    }


def test_dictionary_and_integer_columns_become_category_text() -> None:
    """Parquet dictionary columns and integer columns give canonical category text."""
    salary = pa.array(["60K+", "<40K"]).dictionary_encode()
    table = pa.table({**CONTRACT_ROW}).take([0, 0])
    table = table.set_column(5, "salary_range", salary).set_column(8, "platform", pa.array([1, 2]))
    _, result = decode_table(table)
    assert result.events.categorical["salary_range"].to_pylist() == ["60K+", "<40K"]
    assert result.events.segments["platform"].to_pylist() == ["1", "2"]


def test_record_batches_and_chunked_tables_decode_alike() -> None:
    """A RecordBatch and a Table of several chunks give the same events."""
    table = pa.concat_tables([pa.table(CONTRACT_ROW)] * 3)
    _, from_table = decode_table(table)
    _, from_batch = decode_table(table.combine_chunks().to_batches()[0])
    assert_same_events(from_table.events, from_batch.events)
    assert len(from_table.events) == 3


def test_default_model_covers_a_file_without_model_column() -> None:
    """A single-model file may leave out the model column."""
    table = pa.table({k: v for k, v in CONTRACT_ROW.items() if k != "model"})
    _, result = decode_table(table, default_model="car-loan")
    assert result.events.model.to_pylist() == ["car-loan"]


def test_a_part_is_read_from_its_own_column_before_the_reserved_one() -> None:
    """A part's own column (a training file's name) is read when the file has it and is no
    unknown feature; a file without it gives the reserved column's value."""
    mapping = FieldMapping(columns={"prediction": "y_pred_proba", "timestamp": "when"})
    decoder = EventDecoder(SCHEMA, mapping)
    trained = pa.table({**CONTRACT_ROW, "y_pred_proba": [0.25]})
    trained = trained.rename_columns(
        ["when" if n == "timestamp" else n for n in trained.schema.names]
    )
    own = decoder.decode_table(trained, now_ms=NOW).events
    reserved = decoder.decode_table(pa.table(CONTRACT_ROW), now_ms=NOW).events
    assert own.prediction.tolist() == [0.25] and reserved.prediction.tolist() == [0.99]
    assert own.event_time_ms.tolist() == reserved.event_time_ms.tolist() == [1554199872345]
    assert decoder.unknown_features == {}
