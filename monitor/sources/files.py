"""Exported files as a source: JSON Lines, Parquet and CSV, read in batches for replay.

- JSON Lines (``.jsonl``, ``.ndjson``, ``.json``, each optionally ``.gz``) yields
  :class:`~monitor.batches.RawRecords`: partition 0, the 0-based line number as offset (blank
  lines are skipped but keep their number) and no record timestamp (-1).
- Parquet (``.parquet``, ``.pq``) and CSV (``.csv``) yield ``pyarrow.RecordBatch`` rows, one
  event each. CSV column types are inferred over the whole file, which is read into memory;
  prefer Parquet for large exports.
- JSON Lines without the event envelope (a training file's rows exported as JSON: the first
  event has a known feature at its top level and no features or segments object) are a flat
  file too: read into memory as a table, one column per key, and yielded as record batches.

Every problem reading a file raises :class:`~monitor.errors.SourceError` naming the path.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable, Collection, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from baselines.reader import csv_options
from monitor.batches import IntArray, RawRecords
from monitor.errors import SourceError

JSON_LINES_SUFFIXES = (".jsonl", ".ndjson", ".json")
PARQUET_SUFFIXES = (".parquet", ".pq")
CSV_SUFFIXES = (".csv",)

T = TypeVar("T")

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


def iter_file(
    path: Path | str,
    batch_size: int,
    *,
    categories: Collection[str] = (),
    features: Collection[str] = (),
    envelope: Collection[str] = ("features", "segments"),
    empty_is_missing: bool = True,
) -> Iterator[RawRecords | pa.RecordBatch]:
    """The events of ``path`` in batches of at most ``batch_size`` (lines or rows).

    An empty CSV field is missing, as in the baseline build
    (:func:`baselines.reader.csv_options`), unless ``empty_is_missing`` is False.

    JSON Lines are flat (rows of a table) when the first event holds one of the ``features`` at
    its top level and none of the ``envelope``'s keys (where the features and segments objects
    would be).

    Parquet text columns named in ``categories`` come as dictionary arrays, straight from the
    file's dictionary pages: a category's slots are then found once per distinct value, not
    once per row. The path and its type are checked at once; reading errors surface while
    iterating.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    path = _existing(path)
    match file_format(path):
        case "jsonl" if _flat_json(path, features, envelope):
            batches = _json_table(path, batch_size)
        case "jsonl":
            batches = _json_lines(path, batch_size)
        case "parquet":
            batches = _parquet(path, batch_size, categories)
        case _:
            batches = _csv(path, batch_size, empty_is_missing)
    return _reported(path, batches)


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


_CHUNK_BYTES = 8 << 20
_BLANK_CANDIDATE = 16  # lines this short are checked for being only white space
_PARQUET_READ_BUFFER = 256 << 10


def _json_lines(path: Path, batch_size: int) -> Iterator[RawRecords]:
    """Batches of non-blank lines, read in large chunks and split in C (no per-line reads)."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    values: list[bytes] = []
    numbers: list[IntArray] = []
    first_line = 0
    with opener(path, "rb") as stream:
        for lines in _split_lines(stream.read):
            kept, kept_numbers = _non_blank(lines, first_line)
            first_line += len(lines)
            values.extend(kept)
            numbers.append(kept_numbers)
            while len(values) >= batch_size:
                offsets = np.concatenate(numbers)
                yield _records(values[:batch_size], offsets[:batch_size])
                values, numbers = values[batch_size:], [offsets[batch_size:]]
    if values:
        yield _records(values, np.concatenate(numbers))


def _split_lines(read: Callable[[int], bytes]) -> Iterator[list[bytes]]:
    carry = b""
    while chunk := read(_CHUNK_BYTES):
        text = carry + chunk
        lines = (text.replace(b"\r\n", b"\n") if b"\r" in text else text).split(b"\n")
        carry = lines.pop()
        yield lines
    if carry:
        yield [carry]


def _non_blank(lines: list[bytes], first_line: int) -> tuple[list[bytes], IntArray]:
    """The lines holding something besides white space, with their 0-based line numbers."""
    numbers = np.arange(first_line, first_line + len(lines), dtype=np.int64)
    lengths = np.fromiter(map(len, lines), dtype=np.int64, count=len(lines))
    short = np.flatnonzero(lengths <= _BLANK_CANDIDATE)
    blank = [i for i in short.tolist() if not lines[i].strip()]
    if not blank:
        return lines, numbers
    keep = np.ones(len(lines), dtype=np.bool_)
    keep[blank] = False
    return [lines[i] for i in np.flatnonzero(keep).tolist()], numbers[keep]


def _records(values: list[bytes], offsets: IntArray) -> RawRecords:
    size = len(values)
    return RawRecords(
        values,
        np.zeros(size, dtype=np.int64),
        offsets,
        np.full(size, -1, dtype=np.int64),
    )


def _parquet(path: Path, batch_size: int, categories: Collection[str]) -> Iterator[pa.RecordBatch]:
    schema = pq.read_schema(path)
    text = [f.name for f in schema if f.name in categories and pa.types.is_string(f.type)]
    # pre_buffer=False: buffering ahead doubled the scan time and held 1.5 GB for a 10M-row file.
    # buffer_size: read column chunks 256 KiB at a time, not one read call per page; larger
    # buffers delay the first batch (every column fills its buffer first). memory_map was as
    # fast but counts the whole mapped file in the process's RSS.
    parquet = pq.ParquetFile(
        path, pre_buffer=False, buffer_size=_PARQUET_READ_BUFFER, read_dictionary=text
    )
    batches = parquet.iter_batches(batch_size=batch_size)
    yield from _read_ahead(batches)


def _read_ahead(batches: Iterator[T]) -> Iterator[T]:
    """``batches``, each read on a second thread while the caller works on the one before.

    pyarrow decodes Parquet pages without the GIL, so reading overlaps the caller's work.
    """
    with ThreadPoolExecutor(1, thread_name_prefix="read-ahead") as pool:
        pending = pool.submit(next, batches, None)
        while (batch := pending.result()) is not None:
            pending = pool.submit(next, batches, None)
            yield batch


def _flat_json(path: Path, features: Collection[str], envelope: Collection[str]) -> bool:
    """Whether the first non-blank line of a JSON Lines file is an object with a feature at
    its top level and no key of the ``envelope``."""
    if not features:
        return False
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as stream:
        first = next((line for line in stream if line.strip()), b"")
    try:
        event = orjson.loads(first)
    except orjson.JSONDecodeError:
        return False
    return (
        isinstance(event, dict)
        and not any(key in event for key in envelope)
        and any(name in event for name in features)
    )


def _json_table(path: Path, batch_size: int) -> Iterator[pa.RecordBatch]:
    yield from pa_json.read_json(path).to_batches(max_chunksize=batch_size)


def _csv(path: Path, batch_size: int, empty_is_missing: bool) -> Iterator[pa.RecordBatch]:
    options = csv_options(empty_is_missing=empty_is_missing)
    yield from pa_csv.read_csv(path, convert_options=options).to_batches(max_chunksize=batch_size)
