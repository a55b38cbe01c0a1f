"""The prediction and the label: which task they describe, scores, and reference performance.

A label with two distinct values makes a classification task; its positive class is ``"1"``,
``"true"`` or ``"yes"`` when present, else the larger of the two (as text). The prediction is
then either scores in [0, 1] or predicted classes (the label's classes; score 1 for the positive
one). A numeric label with more values makes a regression task with a numeric prediction.

Reference performance goes through :mod:`detectors.performance`, the same binned accumulators
the live windows use, so reference and live numbers are comparable.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from baselines.binning import FloatArray, value_frequencies
from baselines.columns import (
    ColumnRoles,
    category_strings,
    column_kind,
    no_values_error,
    numeric_values,
)
from baselines.errors import BaselineError
from baselines.multiclass import class_indices, has_probabilities, multiclass_parts
from baselines.profile import BinnedColumn, bin_categorical, bin_numeric
from baselines.values import BuildParameters, Task
from detectors.performance import (
    classification_accumulate,
    classification_metrics,
    multiclass_accumulate,
    multiclass_metrics,
    regression_accumulate,
    regression_metrics,
)

BoolArray = npt.NDArray[np.bool_]

#: Positive classes recognised by name, in order of preference.
POSITIVE_LABELS = ("1", "true", "yes")

_FIX_INFINITE = "replace them with missing values"


@dataclass(frozen=True)
class Targets:
    """Binned prediction and label plus the numbers performance is computed from.

    ``predicted`` holds scores (classification) or predictions (regression), ``actual`` the 0/1
    labels or the labels; NaN marks missing values. ``scale`` is the regression label's
    standard deviation (the unit of the regression accumulators).
    """

    task: Task | None = None
    positive_label: str | None = None
    prediction: BinnedColumn | None = None
    label: BinnedColumn | None = None
    predicted: FloatArray | None = None
    actual: FloatArray | None = None
    scale: float = 1.0
    classes: tuple[str, ...] = ()
    probabilities: dict[str, BinnedColumn] = field(default_factory=dict)
    scores: FloatArray | None = None

    def performance(self, rows: BoolArray | None = None) -> dict[str, float] | None:
        """Metrics over the rows (all, or where ``rows`` is true) with prediction and label."""
        if self.task is None or self.predicted is None or self.actual is None:
            return None
        usable = ~np.isnan(self.predicted) & ~np.isnan(self.actual)
        if rows is not None:
            usable &= rows
        if not usable.any():
            return None
        predicted, actual = self.predicted[usable], self.actual[usable]
        if self.task == "classification":
            accumulator = classification_accumulate(predicted, actual.astype(np.int64))
            return classification_metrics(accumulator)
        if self.task == "multiclass":
            scores = None if self.scores is None else self.scores[usable]
            k = len(self.classes)
            accumulator = multiclass_accumulate(predicted, actual, k, scores)
            return multiclass_metrics(accumulator, self.classes, scores is not None)
        return regression_metrics(regression_accumulate(predicted, actual, self.scale), self.scale)


def positive_class(classes: list[str]) -> str:
    """The positive one of two classes.

    Examples
    --------
    >>> positive_class(["yes", "no"]), positive_class(["0", "1"]), positive_class(["a", "b"])
    ('yes', '1', 'b')
    """
    for name in POSITIVE_LABELS:
        if name in classes:
            return name
    return max(classes)


def resolve_targets(table: pa.Table, roles: ColumnRoles, parameters: BuildParameters) -> Targets:
    """Bin the prediction and label columns and infer the task; user mistakes raise."""
    if roles.label is None:
        prediction = None
        if has_probabilities(table, roles):
            return _multiclass(table, roles, parameters, None, [])
        if roles.prediction is not None:
            prediction = _bin_plain(table, roles.prediction, parameters)
        return Targets(prediction=prediction)
    label_column = table.column(roles.label)
    label_kind = column_kind(roles.label, label_column.type)
    label_strings = category_strings(roles.label, label_column)
    classes, _ = value_frequencies(label_strings)
    if not classes:
        raise no_values_error(roles.label, "--label", "pass a label column with values")
    if len(classes) == 1:
        raise BaselineError(
            f"column '{roles.label}' (--label) has the single value '{classes[0]}'; a baseline"
            " needs two classes (classification) or a numeric label (regression)"
        )
    if has_probabilities(table, roles) or (
        len(classes) > 2 and _names_classes(table, roles, label_kind, classes)
    ):
        return _multiclass(table, roles, parameters, label_strings, classes)
    if len(classes) == 2:
        return _classification(table, roles, parameters, label_strings, classes)
    if label_kind != "numeric":
        raise BaselineError(
            f"column '{roles.label}' (--label) has {len(classes)} classes but is not numeric;"
            " pass --prediction with the predicted classes or --prediction-proba with the"
            " class probability columns"
        )
    return _regression(table, roles, parameters)


def _names_classes(
    table: pa.Table, roles: ColumnRoles, label_kind: str, classes: list[str]
) -> bool:
    """Whether the label names classes: it is text, or the prediction is text naming only the
    label's values (predicted classes, not a regression)."""
    if label_kind == "categorical":
        return True
    name = roles.prediction
    if name is None or column_kind(name, table.schema.field(name).type) == "numeric":
        return False
    predicted, _ = value_frequencies(category_strings(name, table.column(name)))
    return set(predicted) <= set(classes)


def _multiclass(
    table: pa.Table,
    roles: ColumnRoles,
    parameters: BuildParameters,
    label_strings: pa.Array | None,
    label_classes: list[str],
) -> Targets:
    parts = multiclass_parts(table, roles, parameters, label_classes)
    classes = parts.classes
    strangers = sorted(set(classes) - set(label_classes) - set(parts.given))
    if label_classes and strangers:
        raise BaselineError(
            f"column '{roles.prediction}' (--prediction) holds {strangers[:3]!r}, which are not"
            f" the label's classes {label_classes[:5]!r}; pass the predicted classes, or the"
            " class probabilities with --prediction-proba"
        )
    if label_strings is None:
        return Targets(
            prediction=parts.prediction, classes=tuple(classes), probabilities=parts.probabilities
        )
    assert roles.label is not None
    label = bin_categorical(
        roles.label, label_strings, parameters.top_k, parameters.max_known_values
    )
    return Targets(
        "multiclass",
        None,
        parts.prediction,
        label,
        None if parts.predicted is None else class_indices(parts.predicted, classes),
        class_indices(label_strings, classes),
        classes=tuple(classes),
        probabilities=parts.probabilities,
        scores=parts.scores,
    )


def _classification(
    table: pa.Table,
    roles: ColumnRoles,
    parameters: BuildParameters,
    label_strings: pa.Array,
    classes: list[str],
) -> Targets:
    assert roles.label is not None
    positive = positive_class(classes)
    label = bin_categorical(
        roles.label, label_strings, parameters.top_k, parameters.max_known_values
    )
    actual = _indicator(label_strings, positive)
    if roles.prediction is None:
        return Targets("classification", positive, label=label, actual=actual)
    name = roles.prediction
    column = table.column(name)
    if column_kind(name, column.type) == "numeric":
        scores = numeric_values(name, column, fix=_FIX_INFINITE)
        present = scores[~np.isnan(scores)]
        if present.size == 0:
            raise no_values_error(name, "--prediction", "pass a prediction column with values")
        if present.min() >= 0.0 and present.max() <= 1.0:
            prediction = bin_numeric(name, scores, parameters.bins)
            return Targets("classification", positive, prediction, label, scores, actual)
    strings = category_strings(name, column)
    predicted_classes, _ = value_frequencies(strings)
    if not predicted_classes:
        raise no_values_error(name, "--prediction", "pass a prediction column with values")
    strangers = sorted(set(predicted_classes) - set(classes))
    if strangers:
        raise BaselineError(
            f"column '{name}' (--prediction) holds {strangers[:3]!r}, which are neither scores in"
            f" [0, 1] nor the label's classes {sorted(classes)!r}; pass probability scores or"
            " the predicted classes"
        )
    prediction = bin_categorical(name, strings, parameters.top_k, parameters.max_known_values)
    scores = _indicator(strings, positive)
    return Targets("classification", positive, prediction, label, scores, actual)


def _regression(table: pa.Table, roles: ColumnRoles, parameters: BuildParameters) -> Targets:
    assert roles.label is not None
    actual = numeric_values(roles.label, table.column(roles.label), fix=_FIX_INFINITE)
    label = bin_numeric(roles.label, actual, parameters.bins)
    scale = label.reference().scale
    if roles.prediction is None:
        return Targets("regression", label=label, actual=actual, scale=scale)
    name = roles.prediction
    column = table.column(name)
    if column_kind(name, column.type) != "numeric":
        raise BaselineError(
            f"column '{name}' (--prediction) has type {column.type}, but the label"
            f" '{roles.label}' is a regression target; pass the numeric prediction column"
        )
    predicted = numeric_values(name, column, fix=_FIX_INFINITE)
    if np.isnan(predicted).all():
        raise no_values_error(name, "--prediction", "pass a prediction column with values")
    prediction = bin_numeric(name, predicted, parameters.bins)
    return Targets("regression", None, prediction, label, predicted, actual, scale)


def _bin_plain(table: pa.Table, name: str, parameters: BuildParameters) -> BinnedColumn:
    """A prediction without a label, binned by its own type."""
    column = table.column(name)
    fix = "pass a prediction column with values"
    if column_kind(name, column.type) == "numeric":
        values = numeric_values(name, column, fix=_FIX_INFINITE)
        if np.isnan(values).all():
            raise no_values_error(name, "--prediction", fix)
        return bin_numeric(name, values, parameters.bins)
    strings = category_strings(name, column)
    if strings.null_count == len(strings):
        raise no_values_error(name, "--prediction", fix)
    return bin_categorical(name, strings, parameters.top_k, parameters.max_known_values)


def _indicator(strings: pa.Array, positive: str) -> FloatArray:
    """1.0 where ``strings`` equals ``positive``, 0.0 elsewhere, NaN where missing."""
    equal = pc.fill_null(pc.equal(strings, positive), False).to_numpy(zero_copy_only=False)
    indicator: FloatArray = np.where(
        pc.is_null(strings).to_numpy(zero_copy_only=False), np.nan, equal.astype(np.float64)
    )
    return indicator
