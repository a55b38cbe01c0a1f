"""Exported files as a source: JSON Lines, Parquet and CSV, read in batches for replay.

- JSON Lines (``.jsonl``, ``.ndjson``, ``.json``, each optionally ``.gz``) yields
  :class:`~monitor.types.RawRecords`: partition 0, the 0-based line number as offset (blank
  lines are skipped but keep their number) and no record timestamp (-1).
- Parquet (``.parquet``, ``.pq``) and CSV (``.csv``) yield ``pyarrow.RecordBatch`` rows, one
  event each. CSV column types are inferred over the whole file, which is read into memory;
  prefer Parquet for large exports.

Every problem reading a file raises :class:`~monitor.errors.SourceError` naming the path.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from monitor.errors import SourceError
from monitor.types import RawRecords

JSON_LINES_SUFFIXES = (".jsonl", ".ndjson", ".json")
PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv",)

_KNOWN = ", ".join((*JSON_LINES_SUFFIXES, *PARQUET_SUFFIXES, *CSV_SUFFIXES))


def file_format(path: Path | str) -> str:
    """``"jsonl"``, ``"parquet"`` or ``"csv"`` from the file name (``.gz`` only for JSON Lines).

    >>> file_format("events.ndjson.gz"), file_format("train.parquet"), file_format("x.CSV")
    ('jsonl', 'parquet', 'csv')
    """
    name = Path(path).name.lower()
    stem = name.removesuffix(".gz")
    if stem.endswith(JSON_LINES_SUFFIXES):
        return "jsonl"
    if stem == name and name.endswith(PARQUET_SUFFIXES):
        return "parquet"
    if stem == name and name.endswith(CSV_SUFFIXES):
        return "csv"
    raise SourceError(f"{path}: unknown file type; use one of {_KNOWN} (JSON Lines may end in .gz)")


def iter_file(path: Path | str, batch_size: int) -> Iterator[RawRecords | pa.RecordBatch]:
    """The events of ``path`` in batches of at most ``batch_size`` (lines or rows).

    The path and its type are checked at once; reading errors surface while iterating.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    path = _existing(path)
    readers = {"jsonl": _json_lines, "parquet": _parquet, "csv": _csv}
    return _reported(path, readers[file_format(path)](path, batch_size))


def count_rows(path: Path | str) -> int | None:
    """Number of events in ``path`` when cheap to know (Parquet metadata), else None."""
    path = _existing(path)
    if file_format(path) != "parquet":
        return None
    try:
        return int(pq.ParquetFile(path).metadata.num_rows)
    except (OSError, pa.ArrowException) as error:
        raise _unreadable(path, error) from error


def _existing(path: Path | str) -> Path:
    path = Path(path)
    file_format(path)
    if not path.is_file():
        raise SourceError(f"{path}: no such file; check the input path")
    return path


def _reported(
    path: Path, batches: Iterator[RawRecords | pa.RecordBatch]
) -> Iterator[RawRecords | pa.RecordBatch]:
    """``batches``, with reading errors turned into a :class:`SourceError` naming ``path``."""
    try:
        yield from batches
    except (OSError, EOFError, zlib.error, pa.ArrowException) as error:
        raise _unreadable(path, error) from error


def _unreadable(path: Path, error: BaseException) -> SourceError:
    text = str(error).strip()
    reason = text.splitlines()[0] if text else type(error).__name__
    return SourceError(f"{path}: cannot read it ({reason}); check its permissions or re-export it")


def _json_lines(path: Path, batch_size: int) -> Iterator[RawRecords]:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    values: list[bytes] = []
    offsets: list[int] = []
    with opener(path, "rb") as lines:
        for number, line in enumerate(lines):
            value = line.strip()
            if not value:
                continue
            values.append(value)
            offsets.append(number)
            if len(values) == batch_size:
                yield _records(values, offsets)
                values, offsets = [], []
    if values:
        yield _records(values, offsets)


def _records(values: list[bytes], offsets: list[int]) -> RawRecords:
    size = len(values)
    return RawRecords(
        values,
        np.zeros(size, dtype=np.int64),
        np.array(offsets, dtype=np.int64),
        np.full(size, -1, dtype=np.int64),
    )


def _parquet(path: Path, batch_size: int) -> Iterator[pa.RecordBatch]:
    yield from pq.ParquetFile(path).iter_batches(batch_size=batch_size)


def _csv(path: Path, batch_size: int) -> Iterator[pa.RecordBatch]:
    yield from pa_csv.read_csv(path).to_batches(max_chunksize=batch_size)
