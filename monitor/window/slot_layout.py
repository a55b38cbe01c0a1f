"""How one model's events become slot counts: the flat count vector of a window.

A window's counts are one int64 vector: every feature's slots (see ``baselines.binning``) one
after the other, then each class's probability's (multiclass; reported beside the features),
then the prediction's, then the label's. A multiclass prediction arrives as a struct of class
probabilities (:func:`monitor.decode.values.read_classes`): its ``prediction`` subject is the
most probable class (ties to the first class in sorted order), its ``prediction[<class>]``
subjects the classes' probabilities. ``ModelLayout`` says where each subject sits in it;
:mod:`monitor.window.model_set` bins the events of all models into these vectors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from baselines.binning import to_category_strings
from baselines.multiclass import most_probable
from baselines.values import PREDICTION_NAME, PREDICTION_SUBJECT, Baseline, FeatureBaseline
from detectors import performance
from monitor.batches import EventBatch, FloatArray, IntArray
from monitor.columns import take_rows
from monitor.decode.columns import Column
from monitor.decode.values import probability_matrix, read_scores

LABEL = "__label__"
#: How the subjects of the classes' probabilities begin (``prediction[<class>]``).
CLASS_PREFIX = PREDICTION_NAME + "["


@dataclass(frozen=True)
class Subject:
    """One binned quantity of a model (a feature, the prediction or the label) and its place."""

    name: str
    baseline: FeatureBaseline
    offset: int


def column(
    batch: EventBatch, name: str, feature: FeatureBaseline, rows: IntArray
) -> np.ndarray | pa.Array:
    """The ``rows`` of subject ``name``'s column as ``feature`` bins them: float64 numpy for a
    numeric feature (NaN where missing), canonical text for a categorical one."""
    if name == PREDICTION_SUBJECT or name.startswith(CLASS_PREFIX):
        values = batch.prediction
        if isinstance(values, pa.StructArray):
            return _from_classes(values, name, feature, rows)
    elif name == LABEL:
        values = batch.label
    elif feature.kind == "numeric":
        values = batch.numeric.get(name)
    else:
        values = batch.categorical.get(name)
    if feature.kind == "numeric":
        if values is None:
            return np.full(len(rows), np.nan)
        if isinstance(values, pa.Array):
            values = pc.cast(values, pa.float64(), safe=False).to_numpy(zero_copy_only=False)
        return take_rows(np.asarray(values, dtype=np.float64), rows)
    if values is None:
        return pa.nulls(len(rows), pa.string())
    if not isinstance(values, pa.Array):
        values = pa.array(values, pa.float64())
    canonical = pa.types.is_string(values.type) or pa.types.is_dictionary(values.type)
    text = values if canonical else to_category_strings(values)
    return take_rows(text, rows)


def _from_classes(
    objects: pa.StructArray, name: str, feature: FeatureBaseline, rows: IntArray
) -> np.ndarray | pa.Array:
    """The ``rows`` of subject ``name`` from objects of class probabilities: a class's
    probability, the most probable class, or (a binary score) the positive class's."""
    chosen = take_rows(objects, rows)
    if name.startswith(CLASS_PREFIX):
        return class_matrix(chosen, [name[len(CLASS_PREFIX) : -1]])[:, 0]
    if feature.kind == "numeric":
        return read_scores(Column.whole(name, chosen), len(rows), None).values
    names = [field.name for field in chosen.type]
    return most_probable(class_matrix(chosen, names), names)


def class_matrix(objects: pa.StructArray, classes: Sequence[str]) -> FloatArray:
    """Each object's probability of each of ``classes`` (NaN where missing), rows × classes."""
    return probability_matrix(objects, classes)[0]


def same_bins(a: Baseline, b: Baseline) -> bool:
    """Whether two baselines count events into the same slots (so windows are comparable)."""

    def layouts(baseline: Baseline) -> list[tuple[str, object]]:
        return [(s.name, s.baseline.layout) for s in ModelLayout(baseline).subjects]

    return layouts(a) == layouts(b)


class ModelLayout:
    """The slot layout of one model's baseline and the binning of batches into it."""

    def __init__(self, baseline: Baseline) -> None:
        self.baseline = baseline
        subjects: list[Subject] = []
        offset = 0
        named = [*baseline.features.items(), *baseline.probabilities.items()]
        if baseline.prediction is not None:
            named.append((PREDICTION_SUBJECT, baseline.prediction))
        if baseline.label is not None:
            named.append((LABEL, baseline.label))
        for name, feature in named:
            subjects.append(Subject(name, feature, offset))
            offset += feature.n_slots
        self.subjects: tuple[Subject, ...] = tuple(subjects)
        self.by_name: Mapping[str, Subject] = {s.name: s for s in subjects}
        self._positions = {s.name: p for p, s in enumerate(subjects)}
        #: What makes layouts score and report alike: each subject's role, slot layout kind and
        #: size, statistics and rates, in order.
        self.shape = tuple(
            (
                s.name if s.name in (PREDICTION_SUBJECT, LABEL) else "",
                type(s.baseline.layout),
                s.baseline.n_slots,
                s.baseline.statistics,
                s.baseline.unseen_slot is None,
            )
            for s in subjects
        )
        self.size = offset
        self.performance_size = _performance_size(baseline)

    def position(self, name: str) -> int | None:
        """Where subject ``name`` sits among :attr:`subjects` (``None`` if it is not one)."""
        return self._positions.get(name)

    def performance_contributions(
        self, batch: EventBatch, rows: IntArray
    ) -> tuple[IntArray, IntArray, IntArray] | None:
        """Per-event additions to the performance accumulator: (row positions, slots, weights).

        Only events that carry both a prediction and a label contribute; ``None`` when the
        baseline has no task or the batch has no labels.
        """
        baseline = self.baseline
        if not self.performance_size or batch.label is None or batch.prediction is None:
            return None
        if baseline.prediction is None or baseline.label is None:
            return None
        if baseline.task == "multiclass":
            predicted, truth, matrix = self._classes_of(batch, rows)
            ok = (predicted >= 0) & (truth >= 0)
            slots, weights = performance.multiclass_contributions(
                predicted[ok],
                truth[ok],
                len(baseline.classes),
                None if matrix is None else matrix[ok],
            )
            return _owners(np.flatnonzero(ok), slots), slots, weights
        pred = column(batch, PREDICTION_SUBJECT, baseline.prediction, rows)
        label = column(batch, LABEL, baseline.label, rows)
        if baseline.task == "classification":
            scores = _scores(pred, baseline.positive_label)
            truth = _label01(label, baseline.positive_label)
            ok = ~np.isnan(scores) & (truth >= 0)
            slots, weights = performance.classification_contributions(scores[ok], truth[ok])
        else:
            pred_f = np.asarray(pred, dtype=np.float64)
            label_f = np.asarray(label, dtype=np.float64)
            ok = ~np.isnan(pred_f) & ~np.isnan(label_f)
            slots, weights = performance.regression_contributions(
                pred_f[ok], label_f[ok], baseline.label.scale
            )
        return _owners(np.flatnonzero(ok), slots), slots, weights

    def errors(self, batch: EventBatch, rows: IntArray) -> tuple[FloatArray, FloatArray]:
        """Per event: 1.0 when the predicted class is wrong else 0.0 (NaN for regression or a
        missing value), and the absolute error (score − 0/1 truth for binary classification;
        for multiclass the same 1.0/0.0 as the first)."""
        baseline = self.baseline
        assert baseline.prediction is not None and baseline.label is not None
        if baseline.task == "multiclass":
            predicted, truth_index, _ = self._classes_of(batch, rows)
            wrong = (predicted != truth_index).astype(np.float64)
            wrong[(predicted < 0) | (truth_index < 0)] = np.nan
            return wrong, wrong.copy()
        pred = column(batch, PREDICTION_SUBJECT, baseline.prediction, rows)
        label = column(batch, LABEL, baseline.label, rows)
        if baseline.task == "classification":
            scores = _scores(pred, baseline.positive_label)
            truth = _label01(label, baseline.positive_label).astype(np.float64)
            truth[truth < 0] = np.nan
            wrong = ((scores >= 0.5) != (truth == 1)).astype(np.float64)
            wrong[np.isnan(scores) | np.isnan(truth)] = np.nan
            return wrong, np.abs(scores - truth)
        difference = np.asarray(pred, dtype=np.float64) - np.asarray(label, dtype=np.float64)
        return np.full(len(rows), np.nan), np.abs(difference)

    def _classes_of(
        self, batch: EventBatch, rows: IntArray
    ) -> tuple[IntArray, IntArray, FloatArray | None]:
        """Per event the predicted and the true class's index among the baseline's classes (K
        for another class, -1 where missing), and with class probabilities each class's
        probability (events × classes, NaN where missing). The predicted class is the most
        probable one, as for the ``prediction`` subject, found without text."""
        baseline = self.baseline
        assert baseline.prediction is not None and baseline.label is not None
        truth = self._class_index(column(batch, LABEL, baseline.label, rows))
        objects = batch.prediction
        if not isinstance(objects, pa.StructArray):
            pred = column(batch, PREDICTION_SUBJECT, baseline.prediction, rows)
            return self._class_index(pred), truth, None
        chosen = take_rows(objects, rows)
        names = [field.name for field in chosen.type]
        matrix = class_matrix(chosen, names)
        given = ~np.isnan(matrix)
        k = len(baseline.classes)
        position = {name: i for i, name in enumerate(baseline.classes)}
        lookup = np.array([position.get(name, k) for name in names] + [-1], dtype=np.int64)
        best = np.argmax(np.where(given, matrix, -np.inf), axis=1) if names else 0
        predicted = lookup[np.where(given.any(axis=1), best, len(names))]
        if not baseline.probabilities:
            return predicted, truth, None
        same = names == list(baseline.classes)
        return predicted, truth, matrix if same else class_matrix(chosen, baseline.classes)

    def _class_index(self, values: np.ndarray | pa.Array) -> IntArray:
        """Each value's index among the baseline's classes: K for another class, -1 where
        missing."""
        classes = pa.array(self.baseline.classes, pa.string())
        text = values if isinstance(values, pa.Array) else to_category_strings(pa.array(values))
        found = pc.index_in(text, value_set=classes).fill_null(len(classes))
        index: IntArray = found.to_numpy(zero_copy_only=False).astype(np.int64)
        index[pc.is_null(text).to_numpy(zero_copy_only=False)] = -1
        return index


def _owners(positions: IntArray, slots: IntArray) -> IntArray:
    """The row position each contribution belongs to: contributions come in blocks of one
    entry per event, so entry ``i`` belongs to event ``i % n``."""
    return np.tile(positions, len(slots) // max(1, len(positions)))


def _scores(pred: np.ndarray | pa.Array, positive: str | None) -> np.ndarray:
    if isinstance(pred, pa.Array):
        return np.where(
            pc.is_null(pred).to_numpy(zero_copy_only=False),
            np.nan,
            pc.equal(pred, positive or "1").fill_null(False).to_numpy(zero_copy_only=False),
        ).astype(np.float64)
    return np.asarray(pred, dtype=np.float64)


def _label01(label: np.ndarray | pa.Array, positive: str | None) -> IntArray:
    """1 for the positive class, 0 for the other, -1 where the label is missing."""
    if isinstance(label, pa.Array):
        missing = pc.is_null(label).to_numpy(zero_copy_only=False)
        positive_mask = (
            pc.equal(label, positive or "1").fill_null(False).to_numpy(zero_copy_only=False)
        )
        return np.where(missing, -1, positive_mask.astype(np.int64))
    values = np.asarray(label, dtype=np.float64)
    want = float(positive) if positive not in (None, "true") else 1.0
    return np.where(np.isnan(values), -1, (values == want).astype(np.int64))


def _performance_size(baseline: Baseline) -> int:
    if baseline.task == "multiclass":
        classes = len(baseline.classes)
        return performance.multiclass_layout_size(classes, bool(baseline.probabilities))
    if baseline.task == "classification":
        return performance.classification_layout_size()
    if baseline.task == "regression":
        return performance.REGRESSION_LAYOUT_SIZE
    return 0
