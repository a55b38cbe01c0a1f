"""Column helpers every stage shares: rows of a column without a copy, integer codes for text."""

from __future__ import annotations

from typing import TypeVar, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from monitor.batches import EventBatch, FloatArray, IntArray

Column = TypeVar("Column", pa.Array, FloatArray)


def take_rows(values: Column, rows: IntArray) -> Column:
    """The ``rows`` (distinct positions, in the order given) of an arrow or numpy column; the
    column itself when they are every row in order, as they are for a batch without rejects or
    late events.

    >>> column = np.array([5.0, 6.0, 7.0])
    >>> take_rows(column, np.array([0, 1, 2])) is column, take_rows(column, np.array([2])).tolist()
    (True, [7.0])
    >>> take_rows(column, np.array([2, 0, 1])).tolist()
    [7.0, 5.0, 6.0]
    >>> take_rows(pa.array(["a", "b"]), np.array([1])).to_pylist()
    ['b']
    """
    if len(rows) == len(values) and bool((rows[1:] > rows[:-1]).all()):
        return values
    if isinstance(values, np.ndarray):
        kept: FloatArray = values[rows]
        return kept
    return cast(Column, values.take(pa.array(rows)))  # pyarrow is untyped


def batch_rows(batch: EventBatch, rows: IntArray) -> EventBatch:
    """The events of ``batch`` at ``rows``, in that order."""
    return EventBatch(
        batch.event_time_ms[rows],
        batch.partition[rows],
        batch.offset[rows],
        take_rows(batch.model, rows),
        take_rows(batch.model_version, rows),
        take_rows(batch.event_id, rows),
        {k: take_rows(v, rows) for k, v in batch.segments.items()},
        {k: take_rows(v, rows) for k, v in batch.numeric.items()},
        {k: take_rows(v, rows) for k, v in batch.categorical.items()},
        None if batch.prediction is None else take_rows(batch.prediction, rows),
        None if batch.label is None else take_rows(batch.label, rows),
    )


def text_codes(values: pa.Array | pa.ChunkedArray) -> tuple[IntArray, list[str]]:
    """Each value's code (-1 for null) and the distinct values, in order of first appearance.

    A column holding one value throughout (one model, one version: the usual batch) is found by
    one comparison pass instead of hashing every row.

    >>> codes, names = text_codes(pa.array(["b", "a", "b"]))
    >>> codes.tolist(), names
    ([0, 1, 0], ['b', 'a'])
    >>> codes, names = text_codes(pa.array(["m", "m"]))
    >>> codes.tolist(), names
    ([0, 0], ['m'])
    >>> codes, names = text_codes(pa.array(["m", None, "n"]))
    >>> codes.tolist(), names
    ([0, -1, 1], ['m', 'n'])
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    known = _recent_codes.get(id(values))
    if known is not None and known[0] is values:  # a column of this batch, asked again
        return known[1], list(known[2])
    if len(values) and not values.null_count and pc.all(pc.equal(values, values[0])).as_py():
        codes, names = np.zeros(len(values), dtype=np.int64), [values[0].as_py()]
    else:
        encoded = pc.dictionary_encode(values)
        codes = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        names = encoded.dictionary.to_pylist()
    codes.flags.writeable = False  # shared with the next caller asking for the same column
    if len(_recent_codes) >= _RECENT:
        del _recent_codes[next(iter(_recent_codes))]
    _recent_codes[id(values)] = (values, codes, names)
    return codes, list(names)


_RECENT = 4
_recent_codes: dict[int, tuple[pa.Array, IntArray, list[str]]] = {}
"""The last columns :func:`text_codes` coded, with their codes, by ``id`` (each entry holds its
column, so the ``id`` stays its own): deciding the caps, counting the events and counting the
windows ask for the codes of one batch's model, version and segment columns in turn."""
