"""The decoder's middle: every part of a batch's events as typed arrow pieces.

Three readers fill a :class:`Fields`: the native JSON path and the per-record path (both one
piece per JSON type of a column, as a column may mix them) and the flat file path. One
interpretation (:mod:`monitor.decode.values`) and one set of rules (:mod:`monitor.decode.rules`)
turn it into events and rejects, so every source follows the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from monitor.batches import BoolArray, FloatArray, IntArray


@dataclass(frozen=True)
class Piece:
    """Values of some rows of a column, all of one arrow type; ``rows`` None means every row."""

    rows: IntArray | None
    values: pa.Array


@dataclass(frozen=True)
class Column:
    """One part (a feature, the timestamp, …) of every event of a batch.

    ``name`` is where the part was found (a dotted JSON path or a column name), for messages.
    Rows in no piece are missing. ``wrong`` marks rows whose value no piece could hold, such as
    an object where a number belongs (the per-record path finds those while splitting).
    """

    name: str
    pieces: tuple[Piece, ...] = ()
    wrong: BoolArray | None = None

    @classmethod
    def whole(cls, name: str, values: pa.Array | None) -> Column:
        """A column read in one piece (or absent, when ``values`` is None)."""
        return cls(name, () if values is None else (Piece(None, values),))


@dataclass(frozen=True)
class Fields:
    """Each part of ``size`` parsed events, by role.

    ``scalars`` is keyed by part name (``model``, ``timestamp``, …); ``containers`` are the
    ``features``/``segments`` objects themselves, only to flag values that are not objects;
    ``unknown_features`` lists, per feature name the schema does not know, the rows that carry a
    non-null value for it.
    """

    size: int
    scalars: dict[str, Column]
    numeric: dict[str, Column] = field(default_factory=dict)
    categorical: dict[str, Column] = field(default_factory=dict)
    segments: dict[str, Column] = field(default_factory=dict)
    containers: tuple[Column, ...] = ()
    unknown_features: dict[str, IntArray] = field(default_factory=dict)


def scatter_floats(size: int, parts: list[tuple[IntArray | None, FloatArray]]) -> FloatArray:
    """Per-piece floats placed at their rows; NaN elsewhere (a piece of every row: itself).

    >>> scatter_floats(3, [(np.array([2]), np.array([5.0]))]).tolist()
    [nan, nan, 5.0]
    """
    if len(parts) == 1 and parts[0][0] is None:
        return parts[0][1]
    out = np.full(size, np.nan)
    for rows, values in parts:
        out[slice(None) if rows is None else rows] = values
    return out


def scatter_ints(size: int, parts: list[tuple[IntArray | None, IntArray]], fill: int) -> IntArray:
    """Per-piece integers placed at their rows; ``fill`` elsewhere.

    >>> scatter_ints(3, [(np.array([0]), np.array([7]))], fill=1).tolist()
    [7, 1, 1]
    """
    out = np.full(size, fill, dtype=np.int64)
    for rows, values in parts:
        out[slice(None) if rows is None else rows] = values
    return out


def scatter_flags(
    size: int, parts: list[tuple[IntArray | None, BoolArray]], base: BoolArray | None = None
) -> BoolArray:
    """Per-piece flags placed at their rows, or-ed onto ``base``; False elsewhere.

    >>> base = np.array([False, False, True])
    >>> scatter_flags(3, [(None, np.array([True, False, False]))], base).tolist()
    [True, False, True]
    """
    out = np.zeros(size, dtype=np.bool_) if base is None else base.copy()
    for rows, values in parts:
        where = slice(None) if rows is None else rows
        out[where] |= values
    return out


def scatter_strings(size: int, parts: list[tuple[IntArray | None, pa.Array]]) -> pa.Array:
    """Per-piece strings placed at their rows; null elsewhere.

    >>> scatter_strings(3, [(np.array([2, 0]), pa.array(["c", "a"]))]).to_pylist()
    ['a', None, 'c']
    """
    if len(parts) == 1 and parts[0][0] is None:
        return parts[0][1]
    placed = [(rows, values) for rows, values in parts if rows is not None and len(rows)]
    if not placed:
        return pa.nulls(size, pa.string())
    values = pa.concat_arrays([v.cast(pa.string()) for _, v in placed] + [pa.nulls(1, pa.string())])
    index = np.full(size, len(values) - 1, dtype=np.int64)
    index[np.concatenate([rows for rows, _ in placed])] = np.arange(len(values) - 1)
    return values.take(pa.array(index))
