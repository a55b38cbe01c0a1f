"""Rows of a batch's column, without a copy when the rows are all of them."""

from __future__ import annotations

from typing import TypeVar, cast

import numpy as np
import pyarrow as pa

from monitor.types import FloatArray, IntArray

Column = TypeVar("Column", pa.Array, FloatArray)


def take_rows(values: Column, rows: IntArray) -> Column:
    """The ``rows`` (sorted, distinct positions) of an arrow or numpy column; the column itself
    when they are every row, as they are for a batch without rejects or late events.

    >>> column = np.array([5.0, 6.0, 7.0])
    >>> take_rows(column, np.array([0, 1, 2])) is column, take_rows(column, np.array([2])).tolist()
    (True, [7.0])
    >>> take_rows(pa.array(["a", "b"]), np.array([1])).to_pylist()
    ['b']
    """
    if len(rows) == len(values):
        return values
    if isinstance(values, np.ndarray):
        kept: FloatArray = values[rows]
        return kept
    return cast(Column, values.take(pa.array(rows)))  # pyarrow is untyped
