"""Multiclass targets: the classes, the predicted class and each class's probability.

A model is multiclass when its training data gives class probabilities (one column per class
matched by ``--prediction-proba 'proba_*'``, or a prediction column of objects class →
probability, read from JSON Lines as a struct), or when its label has more than two classes and
is text (or its prediction is). The classes are every class the label, the predicted classes
and the probabilities name, sorted as text. Without a predicted-class column, the predicted
class is the most probable one, ties to the first class in sorted order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from baselines.binning import FloatArray, value_frequencies
from baselines.columns import ColumnRoles, category_strings, column_kind, numeric_values
from baselines.errors import BaselineError
from baselines.profile import BinnedColumn, bin_categorical, bin_numeric
from baselines.values import PREDICTION_NAME, BuildParameters, class_subject


def has_probabilities(table: pa.Table, roles: ColumnRoles) -> bool:
    """Whether the training data gives class probabilities (columns or objects)."""
    if roles.probabilities:
        return True
    prediction = roles.prediction
    return prediction is not None and pa.types.is_struct(table.schema.field(prediction).type)


def probability_matrix(table: pa.Table, roles: ColumnRoles) -> tuple[list[str], FloatArray]:
    """The classes given probabilities and one column of probabilities per class (NaN where
    missing); values that are not numbers in [0, 1] are a user error."""
    if roles.probabilities:
        columns = {name: table.column(column) for name, column in roles.probabilities.items()}
        sources = list(roles.probabilities.values())
        option = "--prediction-proba"
    else:
        assert roles.prediction is not None
        objects = table.column(roles.prediction).combine_chunks()
        names = sorted(field.name for field in objects.type)
        columns = {
            name: pc.struct_field(objects, [objects.type.get_field_index(name)]) for name in names
        }
        sources = [f"{roles.prediction}.{name}" for name in names]
        option = "--prediction"
    matrix = np.full((table.num_rows, len(columns)), np.nan)
    for j, (source, values) in enumerate(zip(sources, columns.values(), strict=True)):
        if column_kind(source, values.type) != "numeric":
            raise BaselineError(
                f"column '{source}' ({option}) has type {values.type}; class probabilities"
                " must be numbers in [0, 1]"
            )
        matrix[:, j] = numeric_values(source, values, fix="replace them with missing values")
    outside = (matrix < 0) | (matrix > 1)
    if outside.any():
        j = int(np.flatnonzero(outside.any(axis=0))[0])
        raise BaselineError(
            f"column '{sources[j]}' ({option}) holds values outside [0, 1]; class probabilities"
            " must be probabilities"
        )
    return list(columns), matrix


def most_probable(matrix: FloatArray, classes: list[str]) -> pa.Array:
    """The most probable class of each row (ties to the first column), null where a row has no
    probability.

    >>> most_probable(np.array([[0.2, 0.8], [0.5, 0.5], [np.nan, np.nan]]), ["a", "b"])
    ... # doctest: +ELLIPSIS
    <pyarrow.lib.StringArray object at ...>
    [
      "b",
      "a",
      null
    ]
    """
    given = ~np.isnan(matrix)
    best = np.argmax(np.where(given, matrix, -np.inf), axis=1) if matrix.shape[1] else None
    names = pa.array(classes, pa.string())
    if best is None:
        return pa.nulls(len(matrix), pa.string())
    return names.take(pa.array(best, mask=~given.any(axis=1)))


def class_indices(strings: pa.Array, classes: list[str]) -> FloatArray:
    """Each value's index among ``classes`` as float64, NaN where missing (or not a class)."""
    found = pc.index_in(strings, value_set=pa.array(classes, pa.string()))
    indices: FloatArray = np.asarray(
        found.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype=np.float64
    )
    return indices


@dataclass(frozen=True)
class MulticlassParts:
    """The classes (sorted), those given probabilities, the binned predicted class and the
    binned probabilities by subject name, the predicted classes as text and the probabilities
    (rows × classes, NaN where missing)."""

    classes: list[str]
    given: list[str]
    prediction: BinnedColumn | None
    probabilities: dict[str, BinnedColumn]
    predicted: pa.Array | None
    scores: FloatArray | None


def multiclass_parts(
    table: pa.Table,
    roles: ColumnRoles,
    parameters: BuildParameters,
    label_classes: list[str],
) -> MulticlassParts:
    """The multiclass parts of a training table (see :class:`MulticlassParts`)."""
    given: list[str] = []
    matrix = None
    probabilities: dict[str, BinnedColumn] = {}
    if has_probabilities(table, roles):
        given, matrix = probability_matrix(table, roles)
        for j, given_class in enumerate(given):
            subject = class_subject(given_class)
            probabilities[subject] = bin_numeric(subject, matrix[:, j], parameters.bins)
    predicted = None
    name = roles.prediction
    if name is not None and not pa.types.is_struct(table.schema.field(name).type):
        predicted = category_strings(name, table.column(name))
    named, _ = value_frequencies(predicted) if predicted is not None else ([], [])
    classes = sorted({*label_classes, *given, *named})
    binned_name = PREDICTION_NAME if predicted is None or name is None else name
    if matrix is not None:
        full = np.full((table.num_rows, len(classes)), np.nan)
        full[:, [classes.index(c) for c in given]] = matrix
        matrix = full
        if predicted is None:
            predicted = most_probable(matrix, classes)
    binned = None
    if predicted is not None:
        binned = bin_categorical(
            binned_name, predicted, parameters.top_k, parameters.max_known_values
        )
    return MulticlassParts(classes, given, binned, probabilities, predicted, matrix)
