"""Reading training files: formats, event flattening, and one-line errors for bad input."""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from baselines.errors import BaselineError
from baselines.reader import InputFile, read_table

ROWS = [
    {"x": 1.5, "city": "Paris", "n": 3},
    {"x": None, "city": "Lyon", "n": 4},
]


def write_jsonl(path: Path, lines: list[str]) -> Path:
    data = ("\n".join(lines) + "\n").encode()
    path.write_bytes(gzip.compress(data) if path.name.endswith(".gz") else data)
    return path


def test_parquet_is_read_as_is(tmp_path: Path) -> None:
    """A Parquet file becomes the same table."""
    path = tmp_path / "train.parquet"
    pq.write_table(pa.Table.from_pylist(ROWS), path)
    assert read_table(path).to_pylist() == ROWS


@pytest.mark.parametrize("name", ["train.csv", "train.csv.gz"])
def test_csv_plain_or_gzipped_is_read_with_type_inference(tmp_path: Path, name: str) -> None:
    """CSV columns get numeric or string types; an empty numeric field is missing."""
    text = b"x,city,n\n1.5,Paris,3\n,Lyon,4\n"
    path = tmp_path / name
    path.write_bytes(gzip.compress(text) if name.endswith(".gz") else text)
    assert read_table(path).to_pylist() == ROWS


@pytest.mark.parametrize("name", ["train.jsonl", "train.ndjson", "train.json", "train.jsonl.gz"])
def test_json_lines_plain_or_gzipped(tmp_path: Path, name: str) -> None:
    """Each line is one row, whatever the JSON Lines extension."""
    path = write_jsonl(
        tmp_path / name,
        ['{"x": 1.5, "city": "Paris", "n": 3}', '{"x": null, "city": "Lyon", "n": 4}'],
    )
    assert read_table(path).to_pylist() == ROWS


def test_prediction_events_are_flattened_into_columns(tmp_path: Path) -> None:
    """``features.x`` and ``segments.platform`` of contract events become top-level columns."""
    path = write_jsonl(
        tmp_path / "events.jsonl",
        [
            '{"event_id": "a", "features": {"x": 2.0, "c": "u"}, "prediction": 0.9,'
            ' "segments": {"platform": "ios"}}',
            '{"event_id": "b", "features": {"x": 3.0}, "prediction": 0.1}',
        ],
    )
    table = read_table(path)
    assert table.column_names == ["event_id", "x", "c", "prediction", "platform"]
    assert table.column("platform").to_pylist() == ["ios", None]
    assert table.column("c").to_pylist() == ["u", None]


def test_a_feature_clashing_with_a_top_level_column_is_an_error(tmp_path: Path) -> None:
    """The same name at the top level and under ``features`` is ambiguous."""
    path = write_jsonl(tmp_path / "events.jsonl", ['{"x": 1, "features": {"x": 2}}'])
    with pytest.raises(BaselineError, match=r"column 'x' appears twice .*rename one"):
        read_table(path)


def test_missing_file_is_named(tmp_path: Path) -> None:
    """A path that does not exist says so."""
    with pytest.raises(BaselineError, match=r"input file .*nope\.parquet does not exist"):
        read_table(tmp_path / "nope.parquet")


def test_unknown_extension_lists_the_supported_ones(tmp_path: Path) -> None:
    """An extension naming no supported format lists the ones that work."""
    path = tmp_path / "train.xlsx"
    path.write_bytes(b"x")
    with pytest.raises(BaselineError, match=r"cannot tell the format .*\.parquet, \.pq, \.csv"):
        read_table(path)


@pytest.mark.parametrize(
    ("name", "content"),
    [("empty.csv", b""), ("header.csv", b"x,y\n"), ("empty.jsonl", b""), ("blank.parquet", None)],
)
def test_files_without_rows_are_rejected(tmp_path: Path, name: str, content: bytes | None) -> None:
    """An empty file, or one with only a header or schema, has no training data."""
    path = tmp_path / name
    if content is None:
        pq.write_table(pa.table({"x": pa.array([], pa.float64())}), path)
    else:
        path.write_bytes(content)
    with pytest.raises(BaselineError, match="has no rows; build the baseline from a file with"):
        read_table(path)


@pytest.mark.parametrize(
    ("name", "content", "format_name"),
    [
        ("bad.parquet", b"not parquet at all", "Parquet"),
        ("bad.csv.gz", b"not gzip", "CSV"),
        ("bad.jsonl", b'{"x": 1}\n{"x": "text"}\n', "JSON Lines"),
    ],
)
def test_corrupt_files_name_the_format_they_failed(
    tmp_path: Path, name: str, content: bytes, format_name: str
) -> None:
    """Reader errors become one line naming the file, the format and the fix."""
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(BaselineError) as caught:
        read_table(path)
    message = str(caught.value)
    assert f"cannot read {path} as {format_name}: " in message
    assert message.endswith(f"check that the file is valid {format_name}")
    assert "\n" not in message


def test_a_directory_is_not_a_training_file(tmp_path: Path) -> None:
    """A directory with a data-file name is rejected."""
    folder = tmp_path / "train.parquet"
    folder.mkdir()
    with pytest.raises(BaselineError, match="is not a file; pass a Parquet file"):
        read_table(folder)


def test_progress_is_silent_when_stderr_is_not_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Asking for progress writes nothing when stderr is captured (not a TTY)."""
    path = tmp_path / "train.parquet"
    pq.write_table(pa.Table.from_pylist(ROWS), path)
    read_table(path, progress=True)
    assert capsys.readouterr().err == ""


def test_input_file_identity_is_name_and_sha256(tmp_path: Path) -> None:
    """The recorded identity is the base name and the sha256 of the bytes."""
    path = tmp_path / "train.csv"
    path.write_bytes(b"abc")
    assert InputFile.of(path) == InputFile(
        "train.csv", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


@pytest.mark.parametrize(
    ("empty_is_missing", "expected"), [(True, [None, None, "c"]), (False, ["", "", "c"])]
)
def test_an_empty_csv_field_of_a_text_column_is_missing(
    tmp_path: Path, empty_is_missing: bool, expected: list[str | None]
) -> None:
    """Unquoted and quoted empty fields read as missing, or as "" when that is asked for."""
    path = tmp_path / "t.csv"
    path.write_text('color,x\n,1\n"",2\nc,\n', encoding="utf-8")
    table = read_table(path, empty_is_missing=empty_is_missing)
    assert table.column("color").to_pylist() == expected
    assert table.column("x").to_pylist() == [1, 2, None]
