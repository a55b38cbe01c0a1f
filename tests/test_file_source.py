"""Exported files as a source: JSON Lines, Parquet and CSV in batches, with clear errors."""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from monitor.batches import RawRecords
from monitor.errors import SourceError
from monitor.sources.files import count_rows, iter_file

LINES = b'{"a": 1}\n\n{"a": 2}\r\n   \n{"a": 3}\n{"a": 4}'


def json_batches(path: Path, batch_size: int) -> list[RawRecords]:
    batches = [b for b in iter_file(path, batch_size) if isinstance(b, RawRecords)]
    assert len(batches) == len(list(iter_file(path, batch_size)))
    return batches


def row_batches(path: Path, batch_size: int) -> list[pa.RecordBatch]:
    batches = [b for b in iter_file(path, batch_size) if isinstance(b, pa.RecordBatch)]
    assert len(batches) == len(list(iter_file(path, batch_size)))
    return batches


@pytest.mark.parametrize("name", ["events.jsonl", "events.ndjson", "events.json"])
def test_json_lines_skip_blank_lines_but_keep_line_numbers(tmp_path: Path, name: str) -> None:
    """Offsets are 0-based line numbers; blank lines yield nothing; line ends are stripped."""
    path = tmp_path / name
    path.write_bytes(LINES)
    (batch,) = json_batches(path, 10)
    assert batch.values == [b'{"a": 1}', b'{"a": 2}', b'{"a": 3}', b'{"a": 4}']
    assert batch.offset.tolist() == [0, 2, 4, 5]
    assert batch.partition.tolist() == [0, 0, 0, 0]
    assert batch.timestamp_ms.tolist() == [-1, -1, -1, -1]


def test_json_lines_come_in_batches_of_at_most_batch_size(tmp_path: Path) -> None:
    """Batches hold up to batch_size messages; the last holds the rest."""
    path = tmp_path / "events.jsonl"
    path.write_bytes(LINES)
    assert [b.offset.tolist() for b in json_batches(path, 3)] == [[0, 2, 4], [5]]


def test_gzipped_json_lines_read_like_plain_ones(tmp_path: Path) -> None:
    """A .jsonl.gz file yields the same records as the plain file."""
    path = tmp_path / "events.jsonl.gz"
    path.write_bytes(gzip.compress(LINES))
    (batch,) = json_batches(path, 10)
    assert batch.offset.tolist() == [0, 2, 4, 5]


def test_parquet_comes_in_record_batches_and_counts_rows(tmp_path: Path) -> None:
    """Parquet yields record batches of at most batch_size rows; its row count is known."""
    path = tmp_path / "events.parquet"
    pq.write_table(pa.table({"model": ["m"] * 5, "x": range(5)}), path)
    assert [b.num_rows for b in row_batches(path, 2)] == [2, 2, 1]
    assert count_rows(path) == 5


def test_parquet_category_columns_come_as_dictionaries(tmp_path: Path) -> None:
    """Text columns named as categories arrive dictionary-encoded; other columns as stored."""
    path = tmp_path / "events.parquet"
    table = pa.table({"color": ["red", None, "red"], "id": ["a", "b", "c"], "n": [1, 2, 3]})
    pq.write_table(table, path)
    (batch,) = iter_file(path, 10, categories=("color", "n", "absent"))
    assert isinstance(batch, pa.RecordBatch)
    assert batch.schema.field("color").type == pa.dictionary(pa.int32(), pa.string())
    assert batch.column("color").to_pylist() == ["red", None, "red"]
    assert batch.schema.field("id").type == pa.string()
    assert batch.schema.field("n").type == pa.int64()


def test_csv_types_are_inferred_over_the_whole_file(tmp_path: Path) -> None:
    """CSV rows arrive in batches with one type per column, even when a row past the first
    megabyte (pyarrow's inference block) widens it."""
    rows = 400_000
    path = tmp_path / "events.csv"
    path.write_text("model,x\n" + "m,1\n" * rows + "m,1.5\n")
    batches = row_batches(path, 100_000)
    assert max(b.num_rows for b in batches) <= 100_000
    assert sum(b.num_rows for b in batches) == rows + 1
    assert {b.schema.field("x").type for b in batches} == {pa.float64()}


def test_row_count_is_unknown_for_json_lines_and_csv(tmp_path: Path) -> None:
    """Only Parquet knows its row count without reading the file."""
    for name in ("events.jsonl", "events.csv"):
        (tmp_path / name).write_text("")
        assert count_rows(tmp_path / name) is None


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    """A path that does not exist fails at once, naming the path."""
    with pytest.raises(SourceError, match=r"missing\.jsonl: no such file; check the input path"):
        iter_file(tmp_path / "missing.jsonl", 10)


def test_unknown_extension_lists_the_known_ones(tmp_path: Path) -> None:
    """A file type the source cannot read fails, listing the supported extensions."""
    path = tmp_path / "events.xlsx"
    path.write_text("")
    with pytest.raises(
        SourceError, match=r"events\.xlsx: unknown file type; use one of .*\.parquet"
    ):
        count_rows(path)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("events.jsonl.gz", gzip.compress(LINES)[:-10]),
        ("events.gz.jsonl.gz", b"not gzip"),
        ("events.parquet", b"PAR1 not really"),
    ],
)
def test_corrupt_file_names_the_path_and_the_fix(tmp_path: Path, name: str, content: bytes) -> None:
    """A truncated or corrupt file fails while reading, with one line naming path and fix."""
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(
        SourceError, match=rf"{name}: cannot read it \(.+\); check its permissions or re-export it$"
    ):
        list(iter_file(path, 10))


@pytest.mark.parametrize(
    ("empty_is_missing", "expected"), [(True, [None, None]), (False, ["", ""])]
)
def test_an_empty_csv_field_replays_as_missing(
    tmp_path: Path, empty_is_missing: bool, expected: list[str | None]
) -> None:
    """A replayed CSV's empty text fields are missing, as in the baseline build, unless asked."""
    path = tmp_path / "e.csv"
    path.write_text('model,color\nm,\nm,""\n', encoding="utf-8")
    (batch,) = iter_file(path, 10, empty_is_missing=empty_is_missing)
    assert isinstance(batch, pa.RecordBatch)
    assert batch.column("color").to_pylist() == expected


@pytest.mark.parametrize("name", ["rows.jsonl", "rows.jsonl.gz"])
def test_json_lines_without_the_envelope_are_rows_of_a_table(tmp_path: Path, name: str) -> None:
    """Lines whose first event has a known feature at its top level and no features or segments
    object come as record batches, one column per key."""
    path = tmp_path / name
    text = LINES.replace(b'"a"', b'"x"') + b'\n{"x": 5, "model": "m"}'
    path.write_bytes(gzip.compress(text) if name.endswith(".gz") else text)
    batches = list(iter_file(path, 3, features=("x",)))
    assert [b.to_pydict() for b in batches] == [
        {"x": [1, 2, 3], "model": [None, None, None]},
        {"x": [4, 5], "model": [None, "m"]},
    ]


@pytest.mark.parametrize(
    "first", [b'{"x": 1, "features": {}}', b'{"x": 1, "segments": {}}', b'{"y": 1}', b"{oops"]
)
def test_json_lines_with_the_envelope_or_no_known_feature_stay_messages(
    tmp_path: Path, first: bytes
) -> None:
    """A first event with a features or segments object, without a known feature at its top
    level, or not JSON at all keeps the file a stream of messages."""
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n" + first + b'\n{"x": 2}\n')
    (batch,) = iter_file(path, 10, features=("x",))
    assert isinstance(batch, RawRecords) and batch.offset.tolist() == [1, 2]
