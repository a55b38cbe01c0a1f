"""The fast path: a whole batch of JSON messages read into columns by the native reader.

The reader (``monitor.decode._native``: Rust, sonic-rs under serde visitors, built with the
package) parses every message once, on several threads, and writes each part the schema asks
for straight into column buffers: no Python object per value. Per column it gives the JSON kind
of every row, so a part may mix numbers, text and booleans within a batch and still be read
here; the pieces it yields are those the per-record path would build from the same messages
(one per JSON type, an all-integer number piece as int64, otherwise float64), so both paths
mean the same.

Anything the reader is not sure to read exactly as ``orjson`` would — invalid UTF-8 or JSON, a
message that is not an object, a container that is not an object, an array or object where a
scalar belongs, a key given twice, NaN or infinite numbers, integers beyond 64 bits — makes it
return None, and the caller decides message by message on the per-record path.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from baselines.threads import available_threads
from monitor.batches import IntArray
from monitor.decode import _native
from monitor.decode.columns import Column, Fields, Piece
from monitor.decode.paths import EventPaths, dotted

#: Most threads the reader uses unless told otherwise; beyond 4, batches are too small to gain.
DEFAULT_MAX_THREADS = 4

_NUMBERS = (_native.INT, _native.FLOAT)
_FLAGS = (_native.TRUE, _native.FALSE)


class FastJsonReader:
    """Reads a batch of JSON messages with the native reader, or reports that it cannot."""

    def __init__(self, paths: EventPaths, threads: int | None = None) -> None:
        self.paths = paths
        self.threads = reader_threads(threads)
        specs = self._column_paths()
        self._names = [dotted(path) for _, path in specs]
        columns = [(list(path), role == "score") for role, path in specs]
        containers = [(list(paths.features), True), (list(paths.segments), False)]
        self._reader = _native.Reader(columns, containers)

    def read(self, values: Sequence[bytes]) -> Fields | None:
        """The parts of every message, or None when the batch needs the per-record path."""
        result = self._reader.read(list(values), self.threads)
        if result is None:
            return None
        raw_columns, unknown_rows = result
        size = len(values)
        columns = iter(
            _column(name, size, raw) for name, raw in zip(self._names, raw_columns, strict=True)
        )
        paths = self.paths
        scalars = {part: next(columns) for part in paths.scalars}
        numeric = {name: next(columns) for name in paths.numeric}
        categorical = {name: next(columns) for name in paths.categorical}
        segments = {name: next(columns) for name in paths.segment_fields}
        return Fields(
            size=size,
            scalars=scalars,
            numeric=numeric,
            categorical=categorical,
            segments=segments,
            unknown_features={
                name: np.frombuffer(rows, dtype=np.uint32).astype(np.int64)
                for name, rows in unknown_rows.items()
            },
        )

    def _column_paths(self) -> list[tuple[str, tuple[str, ...]]]:
        """(role, path) of every column, in the order :meth:`read` takes them apart."""
        paths = self.paths
        scalars = [
            ("score" if part in paths.score_parts else "scalar", path)
            for part, path in paths.scalars.items()
        ]
        members = [(paths.features, n) for n in (*paths.numeric, *paths.categorical)]
        members += [(paths.segments, n) for n in paths.segment_fields]
        return scalars + [("member", (*container, name)) for container, name in members]


def reader_threads(configured: int | None) -> int:
    """Threads per batch: ``configured``, else the CPUs this process may use, at most 4.

    The reader splits a batch across threads in parts of at least 1,024 messages.

    >>> reader_threads(3), 1 <= reader_threads(None) <= DEFAULT_MAX_THREADS
    (3, True)
    """
    return configured if configured is not None else available_threads(DEFAULT_MAX_THREADS)


def _column(name: str, size: int, raw: _native.RawColumn) -> Column:
    """One column's pieces, in the per-record path's order: text, booleans, numbers, objects."""
    kinds_bytes, numbers, ints, offsets, data, entries = raw
    kinds = np.frombuffer(kinds_bytes, dtype=np.uint8)
    counts = np.bincount(kinds, minlength=_native.OBJECT + 1)
    pieces = []
    if counts[_native.TEXT]:
        rows = _rows(kinds, counts, (_native.TEXT,))
        count = int(counts[_native.TEXT])
        texts = pa.StringArray.from_buffers(count, pa.py_buffer(offsets), pa.py_buffer(data))
        pieces.append(Piece(rows, texts))
    if counts[_native.TRUE] or counts[_native.FALSE]:
        rows = _rows(kinds, counts, _FLAGS)
        flags = kinds if rows is None else kinds[rows]
        pieces.append(Piece(rows, pa.array(flags == _native.TRUE)))
    if counts[_native.INT] or counts[_native.FLOAT]:
        rows = _rows(kinds, counts, _NUMBERS)
        if counts[_native.FLOAT]:
            source = np.frombuffer(numbers, dtype=np.float64)
        else:
            source = np.frombuffer(ints, dtype=np.int64)
        pieces.append(Piece(rows, pa.array(source if rows is None else source[rows])))
    if counts[_native.OBJECT]:
        rows = np.flatnonzero(kinds == _native.OBJECT)
        pieces.append(Piece(rows, _probabilities(rows, entries)))
    return Column(name, tuple(pieces))


def _rows(kinds: np.ndarray, counts: np.ndarray, wanted: tuple[int, ...]) -> IntArray | None:
    """The rows of the ``wanted`` kinds, or None when that is every row."""
    if sum(int(counts[k]) for k in wanted) == len(kinds):
        return None
    return np.flatnonzero(np.isin(kinds, wanted))


def _probabilities(rows: IntArray, entries: list[tuple[int, str, float]]) -> pa.StructArray:
    """Objects of class probabilities as a struct of float64 per class name, sorted by name.

    ``entries`` holds one ``(row, class, probability)`` per class given (NaN for null), at most
    one per row and class; a class an object lacks is null.
    """
    names = sorted({name for _, name, _ in entries})
    if not names:
        return pa.array([{}] * len(rows), type=pa.struct([]))
    index = {name: i for i, name in enumerate(names)}
    table = np.full((len(names), len(rows)), np.nan)
    at = np.searchsorted(rows, np.array([row for row, _, _ in entries], dtype=np.int64))
    table[[index[name] for _, name, _ in entries], at] = [value for _, _, value in entries]
    children = [pa.array(column, mask=np.isnan(column)) for column in table]
    return pa.StructArray.from_arrays(children, names=names)
