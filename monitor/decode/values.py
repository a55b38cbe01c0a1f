"""What a column's values mean, by the role of the part: one function per role, vectorised.

Each function reads every piece of a :class:`~monitor.decode.columns.Column` (whatever arrow
type the source produced) and returns full-length arrays: the values and the rows to flag.
Rules shared by all roles: null is missing; an object or list where a scalar belongs is
``wrong``; in flat files NaN is missing and ±inf is ``non_finite`` (JSON cannot carry either
this far: the parsers reject them first).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from baselines.binning import to_category_strings
from monitor.batches import BoolArray, FloatArray, IntArray
from monitor.decode.columns import (
    Column,
    scatter_flags,
    scatter_floats,
    scatter_ints,
    scatter_strings,
)
from monitor.decode.timestamps import in_event_time_range, parse_rfc3339

#: Class names whose probability is the numeric prediction when no positive class is set,
#: most preferred first.
POSITIVE_CLASS_NAMES = ("1", "true", "yes")


@dataclass(frozen=True)
class Numbers:
    """A numeric part: NaN where missing; ``mismatch`` rows held text (read as missing)."""

    values: FloatArray
    mismatch: BoolArray
    wrong: BoolArray
    non_finite: BoolArray


@dataclass(frozen=True)
class Texts:
    """A text part (canonical category text, or a model name); null where missing."""

    values: pa.Array
    wrong: BoolArray


@dataclass(frozen=True)
class Times:
    """Event times in epoch ms; ``invalid`` rows do not parse or fall outside 1970-2200."""

    ms: IntArray
    present: BoolArray
    invalid: BoolArray
    wrong: BoolArray
    non_finite: BoolArray


@dataclass(frozen=True)
class Versions:
    """Schema versions, 1 where absent."""

    values: IntArray
    wrong: BoolArray


def read_numbers(column: Column, size: int) -> Numbers:
    """A numeric feature: numbers as floats, booleans as 1.0/0.0, text as a missing mismatch.

    >>> from monitor.decode.columns import Piece
    >>> column = Column("x", (Piece(np.array([0, 1]), pa.array([True, None])),
    ...                       Piece(np.array([2, 3]), pa.array(["a", "2"]))))
    >>> numbers = read_numbers(column, 4)
    >>> numbers.values.tolist(), numbers.mismatch.tolist()
    ([1.0, nan, nan, nan], [False, False, True, True])
    """
    values, mismatch, wrong, non_finite = [], [], [], []
    for piece in column.pieces:
        array = _plain(piece.values)
        if _is_number(array.type) or pa.types.is_boolean(array.type):
            floats = _floats(array)
            values.append((piece.rows, floats))
            non_finite.append((piece.rows, np.isinf(floats)))
        elif pa.types.is_nested(array.type):
            wrong.append((piece.rows, _present(array)))
        else:
            mismatch.append((piece.rows, _present(array)))
    return Numbers(
        scatter_floats(size, values),
        scatter_flags(size, mismatch),
        scatter_flags(size, wrong, column.wrong),
        scatter_flags(size, non_finite),
    )


def read_scores(column: Column, size: int, positive_class: str | None) -> Numbers:
    """A numeric prediction or label: a number, a boolean, or an object of class probabilities.

    The probability of ``positive_class`` becomes the number; without one, that of the class
    named "1", "true" or "yes", else of the last class in sorted order (per event, among the
    classes it carries).

    >>> probabilities = pa.array([{"no": 0.2, "yes": 0.8}, {"a": 0.1, "b": 0.9}, {"a": 0.3}])
    >>> read_scores(Column.whole("p", probabilities), 3, None).values.tolist()
    [0.8, 0.9, 0.3]
    """
    values, wrong, non_finite = [], [], []
    for piece in column.pieces:
        array = _plain(piece.values)
        if _is_number(array.type) or pa.types.is_boolean(array.type):
            floats = _floats(array)
        elif pa.types.is_struct(array.type):
            floats, bad = _class_probability(array, positive_class)
            wrong.append((piece.rows, bad))
        else:
            wrong.append((piece.rows, _present(array)))
            continue
        values.append((piece.rows, floats))
        non_finite.append((piece.rows, np.isinf(floats)))
    return Numbers(
        scatter_floats(size, values),
        np.zeros(size, dtype=np.bool_),
        scatter_flags(size, wrong, column.wrong),
        scatter_flags(size, non_finite),
    )


def read_classes(column: Column, size: int) -> Texts:
    """A multiclass prediction as an object of class probabilities per event: a struct of one
    float64 per class, sorted by class (null where an object lacks the class).

    A class name counts as the object ``{name: 1}`` (the other classes missing), a number ``x``
    as ``{"1": x}`` (a binary score, for the binary models of the same stream).

    >>> probabilities = pa.array([{"b": 0.7, "a": 0.3}, None])
    >>> read_classes(Column.whole("p", probabilities), 2).values.to_pylist()
    [{'a': 0.3, 'b': 0.7}, None]
    >>> read_classes(Column.whole("p", pa.array(["b", None])), 2).values.to_pylist()
    [{'b': 1.0}, None]
    """
    if _already_classes(column):
        return Texts(column.pieces[0].values, scatter_flags(size, [], column.wrong))
    parts: list[tuple[IntArray, list[str], FloatArray]] = []
    wrong: list[tuple[IntArray | None, BoolArray]] = []
    everything = np.arange(size, dtype=np.int64)
    for piece in column.pieces:
        rows = everything if piece.rows is None else piece.rows
        array = _plain(piece.values)
        present = _present(array)
        if pa.types.is_struct(array.type):
            names = sorted(field.name for field in array.type)
            matrix, bad = probability_matrix(array, names)
            wrong.append((piece.rows, bad & present))
        elif _is_text(array.type):
            encoded = pc.dictionary_encode(array)
            names = encoded.dictionary.to_pylist()
            codes = pc.fill_null(encoded.indices, 0).to_numpy(zero_copy_only=False)
            matrix = np.full((len(array), len(names)), np.nan)
            matrix[np.arange(len(array)), codes] = 1.0
        elif _is_number(array.type):
            names, matrix = ["1"], _floats(array)[:, None]
        else:
            wrong.append((piece.rows, present))
            continue
        parts.append((rows[present], names, matrix[present]))
    return Texts(_class_struct(size, parts), scatter_flags(size, wrong, column.wrong))


def _already_classes(column: Column) -> bool:
    """Whether the column is one piece of every row already as :func:`read_classes` gives it:
    a struct of float64 classes in sorted order (a Parquet column of probability objects, or a
    batch of objects read by the native reader)."""
    if len(column.pieces) != 1 or column.pieces[0].rows is not None:
        return False
    kind = column.pieces[0].values.type
    if not pa.types.is_struct(kind) or kind.num_fields == 0:
        return False
    names = [field.name for field in kind]
    floats = all(pa.types.is_float64(field.type) for field in kind)
    return floats and all(a < b for a, b in pairwise(names))


def probability_matrix(
    objects: pa.StructArray, names: Sequence[str]
) -> tuple[FloatArray, BoolArray]:
    """Each object's probability of each of ``names`` (NaN where null or not a field), rows ×
    names, and the objects holding a non-number.

    >>> matrix, bad = probability_matrix(pa.array([{"a": 0.3, "b": "x"}]), ["a", "c"])
    >>> matrix.tolist(), bad.tolist()
    ([[0.3, nan]], [False])
    """
    bad = np.zeros(len(objects), dtype=np.bool_)
    matrix = np.full((len(objects), len(names)), np.nan)
    for j, name in enumerate(names):
        index = objects.type.get_field_index(name)
        if index < 0:
            continue
        child = _plain(pc.struct_field(objects, [index]))
        if _is_number(child.type):
            matrix[:, j] = _floats(child)
        elif not pa.types.is_null(child.type):
            bad |= _present(child)
    return matrix, bad


def _class_struct(size: int, parts: list[tuple[IntArray, list[str], FloatArray]]) -> pa.Array:
    """Per-part class probabilities placed at their rows as one struct array (classes sorted,
    null where a row has none of a class)."""
    names = sorted({name for _, part_names, _ in parts for name in part_names})
    index = {name: j for j, name in enumerate(names)}
    table = np.full((size, len(names)), np.nan)
    valid = np.zeros(size, dtype=np.bool_)
    for rows, part_names, matrix in parts:
        table[np.ix_(rows, np.array([index[n] for n in part_names], dtype=np.int64))] = matrix
        valid[rows] = True
    if not names:
        return pa.StructArray.from_arrays(
            [pa.nulls(size, pa.float64())], names=["1"], mask=pa.array(~valid)
        )
    children = [pa.array(table[:, j], mask=np.isnan(table[:, j])) for j in range(len(names))]
    return pa.StructArray.from_arrays(children, names=names, mask=pa.array(~valid))


def read_categories(column: Column, size: int) -> Texts:
    """A categorical part as canonical text (see :func:`baselines.binning.to_category_strings`).

    >>> from monitor.decode.columns import Piece
    >>> column = Column("c", (Piece(np.array([0, 2]), pa.array([3, 4])),
    ...                       Piece(np.array([1]), pa.array([True]))))
    >>> read_categories(column, 4).values.to_pylist()
    ['3', 'true', '4', None]
    """
    texts, wrong = [], []
    for piece in column.pieces:
        if _is_text_dictionary(piece.values.type):
            texts.append((piece.rows, piece.values))  # already canonical: kept encoded
            continue
        array = _plain(piece.values)
        if _is_category(array.type):
            texts.append((piece.rows, to_category_strings(array).cast(pa.string())))
        else:
            wrong.append((piece.rows, _present(array)))
    return Texts(scatter_strings(size, texts), scatter_flags(size, wrong, column.wrong))


def _is_text_dictionary(kind: pa.DataType) -> bool:
    return bool(pa.types.is_dictionary(kind) and pa.types.is_string(kind.value_type))


def read_names(column: Column, size: int) -> Texts:
    """A part that must be text when present (the model name).

    >>> read_names(Column.whole("model", pa.array(["a", None])), 2).values.to_pylist()
    ['a', None]
    """
    texts, wrong = [], []
    for piece in column.pieces:
        array = _plain(piece.values)
        if _is_text(array.type) or pa.types.is_null(array.type):
            texts.append((piece.rows, array.cast(pa.string())))
        else:
            wrong.append((piece.rows, _present(array)))
    return Texts(scatter_strings(size, texts), scatter_flags(size, wrong, column.wrong))


def read_times(column: Column, size: int) -> Times:
    """Event times from RFC 3339 text, epoch-ms numbers (floored) or arrow timestamps/dates.

    >>> text = read_times(Column.whole("t", pa.array(["2019-04-02T10:11:12.345Z", "soon"])), 2)
    >>> text.ms.tolist(), text.invalid.tolist()
    ([1554199872345, 0], [False, True])
    >>> read_times(Column.whole("t", pa.array([1554199872345.9, -5.0])), 2).invalid.tolist()
    [False, True]
    """
    ms, present, invalid, wrong, non_finite = [], [], [], [], []
    for piece in column.pieces:
        array = _plain(piece.values)
        kind = array.type
        if _is_text(kind):
            parsed, ok = parse_rfc3339(array)
            valid = _present(array)
            bad = valid & ~(ok & in_event_time_range(parsed))
        elif _is_number(kind):
            floats = _floats(array)
            valid = ~np.isnan(floats)
            non_finite.append((piece.rows, np.isinf(floats)))
            inside = valid & (floats >= 0) & (floats < 2.0**53)
            parsed = np.floor(np.where(inside, floats, 0.0)).astype(np.int64)
            bad = valid & ~(inside & in_event_time_range(parsed))
        elif pa.types.is_timestamp(kind) or pa.types.is_date(kind):
            millis = array.cast(pa.timestamp("ms", getattr(kind, "tz", None)), safe=False)
            parsed = pc.fill_null(millis.cast(pa.int64()), 0).to_numpy(zero_copy_only=False)
            valid = _present(array)
            bad = valid & ~in_event_time_range(parsed)
        else:
            wrong.append((piece.rows, _present(array)))
            continue
        ms.append((piece.rows, parsed))
        present.append((piece.rows, valid))
        invalid.append((piece.rows, bad))
    return Times(
        scatter_ints(size, ms, fill=0),
        scatter_flags(size, present),
        scatter_flags(size, invalid),
        scatter_flags(size, wrong, column.wrong),
        scatter_flags(size, non_finite),
    )


def read_versions(column: Column, size: int) -> Versions:
    """Schema versions: integral numbers; absent means 1.

    >>> versions = read_versions(Column.whole("v", pa.array([2.0, None, 1.5])), 3)
    >>> versions.values.tolist(), versions.wrong.tolist()
    ([2, 1, 1], [False, False, True])
    """
    values, wrong = [], []
    for piece in column.pieces:
        array = _plain(piece.values)
        if _is_number(array.type):
            floats = _floats(array)
            present = ~np.isnan(floats)
            integral = np.isfinite(floats) & (np.abs(floats) < 2.0**62)
            integral &= np.floor(np.where(integral, floats, 0.0)) == floats
            values.append((piece.rows, np.where(integral, floats, 1).astype(np.int64)))
            wrong.append((piece.rows, present & ~integral))
        else:
            wrong.append((piece.rows, _present(array)))
    return Versions(scatter_ints(size, values, fill=1), scatter_flags(size, wrong, column.wrong))


def _class_probability(
    objects: pa.StructArray, positive_class: str | None
) -> tuple[FloatArray, BoolArray]:
    """The positive class's probability per object, and objects holding a non-number."""
    present = _present(objects)
    names = sorted(objects.type.field(i).name for i in range(objects.type.num_fields))
    matrix, bad = probability_matrix(objects, names)
    given = ~np.isnan(matrix)
    missing = np.full(len(objects), np.nan)
    if positive_class is not None or not names:
        column = names.index(positive_class) if positive_class in names else None
        return (missing if column is None else matrix[:, column]), bad & present
    last = len(names) - 1 - np.argmax(given[:, ::-1], axis=1)
    chosen = np.where(given.any(axis=1), matrix[np.arange(len(objects)), last], missing)
    for preferred in reversed(POSITIVE_CLASS_NAMES):
        if preferred in names:
            j = names.index(preferred)
            chosen = np.where(given[:, j], matrix[:, j], chosen)
    return chosen, bad & present


def _plain(array: pa.Array) -> pa.Array:
    """Dictionary arrays decoded; anything else as it is."""
    return array.dictionary_decode() if pa.types.is_dictionary(array.type) else array


def _present(array: pa.Array) -> BoolArray:
    present: BoolArray = array.is_valid().to_numpy(zero_copy_only=False)
    return present


def _floats(array: pa.Array) -> FloatArray:
    """Numbers or booleans as float64, NaN for null; integers beyond 2**53 round to the nearest.

    Arrow's checked cast refuses integers a double cannot hold exactly; a number is read as the
    nearest double instead, like the batch path and the per-record path read JSON numbers.

    >>> _floats(pa.array([9_007_199_254_740_993, None, -(10**18)])).tolist()
    [9007199254740992.0, nan, -1e+18]
    """
    floats: FloatArray = np.asarray(
        array.cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False), dtype=np.float64
    )
    return floats


def _is_number(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)
    )


def _is_text(kind: pa.DataType) -> bool:
    return bool(
        pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)
    )


def _is_category(kind: pa.DataType) -> bool:
    return (
        _is_text(kind)
        or _is_number(kind)
        or bool(pa.types.is_boolean(kind) or pa.types.is_null(kind))
    )
