"""Mergeable performance accumulators: int64 vectors summed exactly across batches.

A window keeps one int64 vector per model output. Each event adds integer amounts to a
few slots (``*_contributions`` returns the slots and amounts, the caller applies them with
``np.add.at(acc, offset + slots, weights)``), so accumulators of partitions, replicas and
batches add up to byte-identical results whatever the split. ``*_metrics`` turns a
vector into metrics.

Classification layout (binary labels 0/1, scores are probabilities clipped to [0, 1]; slot
constants ``TP`` … ``NEGATIVE_HISTOGRAM``, length ``CLASSIFICATION_LAYOUT_SIZE``)::

    [tp, fp, tn, fn, n, log_loss_micro, positive_histogram[B], negative_histogram[B]]

with ``B = SCORE_BINS`` uniform score bins on [0, 1] (bin ``i`` holds ``[i/B, (i+1)/B)``,
the last one includes 1). An event is predicted positive when ``score >= threshold``.
``log_loss_micro`` sums each event's log loss in millionths, rounded, with the
probability clipped to ``[1e-15, 1 - 1e-15]``.

Multiclass layout (``K`` classes; class index ``K`` stands for a class outside them; with
``scored`` the per-class probabilities are kept too; length ``multiclass_layout_size(K, scored)``)::

    [n, confusion[(K + 1) * (K + 1)], positive_histogram[K * B], negative_histogram[K * B]]

``confusion[true * (K + 1) + predicted]`` counts events by true and predicted class; class
``k``'s histograms bin its probability (as the binary ones do, a missing one as 0) over the
events whose true class is ``k`` (positives) or another (negatives): one-vs-rest.

Regression layout (errors in fixed point relative to ``scale``, the reference label
standard deviation; slot constants ``REGRESSION_N``, ``ABSOLUTE_ERROR``, ``SQUARED_ERROR``,
length ``REGRESSION_LAYOUT_SIZE``)::

    [n, absolute_error_quanta, squared_error_quanta]

with an absolute-error quantum of ``scale * 1e-6`` and a squared-error quantum of
``scale**2 * 1e-6``. Each event adds at most ``MAX_EVENT_QUANTA = 10**12`` to either sum
(the absolute sum caps errors at 10**6 standard deviations, the squared sum at 1000), so a
window overflows int64 only past 9.2 million events all at the cap.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from detectors.statistics import effective_scale

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]

# Classification slots.
SCORE_BINS: Final = 1000
TP: Final = 0
FP: Final = 1
TN: Final = 2
FN: Final = 3
CLASSIFICATION_N: Final = 4
LOG_LOSS_MICRO: Final = 5
POSITIVE_HISTOGRAM: Final = 6
NEGATIVE_HISTOGRAM: Final = POSITIVE_HISTOGRAM + SCORE_BINS
CLASSIFICATION_LAYOUT_SIZE: Final = NEGATIVE_HISTOGRAM + SCORE_BINS
LOG_LOSS_QUANTUM: Final = 1e-6
PROBABILITY_CLIP: Final = 1e-15

# Regression slots.
REGRESSION_N: Final = 0
ABSOLUTE_ERROR: Final = 1
SQUARED_ERROR: Final = 2
REGRESSION_LAYOUT_SIZE: Final = 3
ERROR_QUANTUM: Final = 1e-6
MAX_EVENT_QUANTA: Final = 10**12

METRIC_DIRECTION: Final[dict[str, int]] = {
    "accuracy": 1,
    "precision": 1,
    "recall": 1,
    "precision_macro": 1,
    "recall_macro": 1,
    "f1_macro": 1,
    "precision_weighted": 1,
    "recall_weighted": 1,
    "f1_weighted": 1,
    "roc_auc": 1,
    "log_loss": -1,
    "mae": -1,
    "rmse": -1,
}


def classification_layout_size() -> int:
    """Length of a classification accumulator (``CLASSIFICATION_LAYOUT_SIZE``).

    >>> classification_layout_size()
    2006
    """
    return CLASSIFICATION_LAYOUT_SIZE


def classification_contributions(
    scores: ArrayLike, labels: ArrayLike, threshold: float = 0.5
) -> tuple[IntArray, IntArray]:
    """Slots and integer amounts that the events add to a classification accumulator.

    Four entries per event: its confusion cell, ``n``, its log loss in millionths and
    its score-histogram bin.

    >>> slots, weights = classification_contributions([0.9], [1])
    >>> slots.tolist(), weights.tolist()
    ([0, 4, 5, 906], [1, 1, 105361, 1])
    """
    probabilities, positive = _classification_inputs(scores, labels, threshold)
    events = probabilities.size
    predicted = probabilities >= threshold
    confusion = np.where(predicted, np.where(positive, TP, FP), np.where(positive, FN, TN))
    score_bins = np.minimum((probabilities * SCORE_BINS).astype(np.int64), SCORE_BINS - 1)
    histogram = np.where(positive, POSITIVE_HISTOGRAM, NEGATIVE_HISTOGRAM) + score_bins
    clipped = np.clip(probabilities, PROBABILITY_CLIP, 1.0 - PROBABILITY_CLIP)
    log_loss = np.where(positive, -np.log(clipped), -np.log1p(-clipped))
    ones = np.ones(events, dtype=np.int64)
    slots = np.concatenate(
        [confusion, np.full(events, CLASSIFICATION_N), np.full(events, LOG_LOSS_MICRO), histogram]
    ).astype(np.int64)
    weights = np.concatenate([ones, ones, np.rint(log_loss / LOG_LOSS_QUANTUM), ones])
    return slots, weights.astype(np.int64)


def classification_accumulate(
    scores: ArrayLike, labels: ArrayLike, threshold: float = 0.5
) -> IntArray:
    """One classification accumulator holding the given events.

    >>> acc = classification_accumulate([0.9, 0.2, 0.7], [1, 0, 0])
    >>> acc[:5].tolist()
    [1, 1, 1, 0, 3]
    """
    acc = np.zeros(CLASSIFICATION_LAYOUT_SIZE, dtype=np.int64)
    np.add.at(acc, *classification_contributions(scores, labels, threshold))
    return acc


def classification_metrics(acc: ArrayLike) -> dict[str, float]:
    """Accuracy, precision, recall, ROC AUC, log loss and support of an accumulator.

    Degenerate cases follow scikit-learn's ``zero_division=0``: accuracy and log loss are
    0.0 with no events, precision is 0.0 with no predicted positives, recall is 0.0 with
    no actual positives; ROC AUC is 0.5 unless both classes are present. ``positives``
    and ``predicted_positives`` let callers tell these cases apart. ROC AUC is the exact
    Mann-Whitney statistic on the binned scores (ties within a bin count 1/2).

    >>> metrics = classification_metrics(classification_accumulate([0.9, 0.2, 0.7], [1, 0, 0]))
    >>> {name: round(value, 3) for name, value in metrics.items()}
    {'accuracy': 0.667, 'precision': 0.5, 'recall': 1.0, 'roc_auc': 1.0, 'log_loss': 0.511,
     'n': 3.0, 'positives': 1.0, 'predicted_positives': 2.0}
    """
    counts = _accumulator(acc, CLASSIFICATION_LAYOUT_SIZE, "classification")
    tp, fp, tn, fn, n, log_loss_micro = (int(counts[slot]) for slot in range(LOG_LOSS_MICRO + 1))
    positive_histogram = counts[POSITIVE_HISTOGRAM:NEGATIVE_HISTOGRAM]
    negative_histogram = counts[NEGATIVE_HISTOGRAM:]
    return {
        "accuracy": _ratio(tp + tn, n),
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "roc_auc": _binned_auc(positive_histogram, negative_histogram),
        "log_loss": _ratio(log_loss_micro, n) * LOG_LOSS_QUANTUM,
        "n": float(n),
        "positives": float(tp + fn),
        "predicted_positives": float(tp + fp),
    }


def multiclass_layout_size(classes: int, scored: bool) -> int:
    """Length of a multiclass accumulator of ``classes`` classes, with per-class probability
    histograms when ``scored``.

    >>> multiclass_layout_size(3, scored=False), multiclass_layout_size(3, scored=True)
    (17, 6017)
    """
    return 1 + (classes + 1) ** 2 + (2 * classes * SCORE_BINS if scored else 0)


def multiclass_contributions(
    predicted: ArrayLike, actual: ArrayLike, classes: int, probabilities: ArrayLike | None = None
) -> tuple[IntArray, IntArray]:
    """Slots and integer amounts that the events add to a multiclass accumulator.

    ``predicted`` and ``actual`` are class indices in ``0 .. classes`` (``classes`` for a class
    outside them); ``probabilities`` (events × classes, NaN for a missing one) fill the
    histograms. Entries come in blocks of one per event: ``n``, the confusion cell, then one
    histogram bin per class.

    >>> slots, weights = multiclass_contributions([1], [2], 3, [[0.2, 0.5, 0.3]])
    >>> slots.tolist(), weights.tolist()
    ([0, 10, 3217, 4517, 2317], [1, 1, 1, 1, 1])
    """
    guessed, truth = _class_indices(predicted, actual, classes)
    events = truth.size
    scored = probabilities is not None
    slots = np.zeros((2 + (classes if scored else 0), events), dtype=np.int64)
    slots[1] = 1 + truth * (classes + 1) + guessed
    if probabilities is not None:
        # class by class (a row each), every event first in the negative histogram, then the
        # true class's entry moved to the positive one
        scores = np.asarray(probabilities, dtype=np.float64).reshape(events, classes).T * 1.0
        np.fmin(np.fmax(scores, 0.0, out=scores), 1.0, out=scores)  # NaN (missing) → 0
        scores *= SCORE_BINS
        histogram = slots[2:]
        histogram[...] = scores
        np.minimum(histogram, SCORE_BINS - 1, out=histogram)
        first_negative = 1 + (classes + 1) ** 2 + classes * SCORE_BINS
        histogram += (first_negative + np.arange(classes) * SCORE_BINS)[:, None]
        mine = truth < classes
        histogram[truth[mine], np.flatnonzero(mine)] -= classes * SCORE_BINS
    return slots.ravel(), np.ones(slots.size, dtype=np.int64)


def multiclass_accumulate(
    predicted: ArrayLike, actual: ArrayLike, classes: int, probabilities: ArrayLike | None = None
) -> IntArray:
    """One multiclass accumulator holding the given events.

    >>> multiclass_accumulate([0, 1, 1], [0, 1, 0], 2)[:10].tolist()
    [3, 1, 1, 0, 0, 1, 0, 0, 0, 0]
    """
    acc = np.zeros(multiclass_layout_size(classes, probabilities is not None), dtype=np.int64)
    np.add.at(acc, *multiclass_contributions(predicted, actual, classes, probabilities))
    return acc


def multiclass_metrics(acc: ArrayLike, names: Sequence[str], scored: bool) -> dict[str, float]:
    """Accuracy; macro and support-weighted precision, recall and F1; one-vs-rest macro ROC
    AUC (with ``scored``); support; and the recall of each class with support
    (``recall[<name>]``) of a multiclass accumulator over the classes ``names``.

    As scikit-learn's ``precision_recall_fscore_support`` with ``zero_division=0`` over the
    classes present among the true or predicted ones; an event of a class outside ``names``
    is never right. ROC AUC averages the binned AUC of each class that has both positives
    and negatives (0.5 when none has).

    >>> acc = multiclass_accumulate([0, 1, 1, 2], [0, 1, 0, 2], 3)
    >>> {k: round(v, 4) for k, v in multiclass_metrics(acc, ["a", "b", "c"], False).items()}
    {'accuracy': 0.75, 'precision_macro': 0.8333, 'recall_macro': 0.8333, 'f1_macro': 0.7778,
     'precision_weighted': 0.875, 'recall_weighted': 0.75, 'f1_weighted': 0.75, 'n': 4.0,
     'recall[a]': 0.5, 'recall[b]': 1.0, 'recall[c]': 1.0}
    """
    k = len(names)
    counts = _accumulator(acc, multiclass_layout_size(k, scored), "multiclass")
    n = int(counts[0])
    confusion = counts[1 : 1 + (k + 1) ** 2].reshape(k + 1, k + 1)
    right = np.diagonal(confusion)[:k].astype(np.float64)
    support = confusion[:k].sum(axis=1).astype(np.float64)
    guessed = confusion[:, :k].sum(axis=0).astype(np.float64)
    per_class = {
        "precision": _ratios(right, guessed),
        "recall": _ratios(right, support),
        "f1": _ratios(2 * right, support + guessed),
    }
    present = (support > 0) | (guessed > 0)
    total = float(support.sum())
    metrics = {"accuracy": _ratio(int(right.sum()), n)}
    for average in ("macro", "weighted"):
        for name, values in per_class.items():
            if average == "macro":
                value = float(values[present].mean()) if present.any() else 0.0
            else:
                value = float((values * support).sum() / total) if total else 0.0
            metrics[f"{name}_{average}"] = value
    if scored:
        histograms = counts[1 + (k + 1) ** 2 :].reshape(2, k, SCORE_BINS)
        both = (histograms.sum(axis=2) > 0).all(axis=0)
        areas = [_binned_auc(histograms[0, c], histograms[1, c]) for c in np.flatnonzero(both)]
        metrics["roc_auc"] = float(np.mean(areas)) if areas else 0.5
    metrics["n"] = float(n)
    recall = per_class["recall"]
    metrics.update(
        {f"recall[{names[c]}]": float(recall[c]) for c in np.flatnonzero(support).tolist()}
    )
    return metrics


def regression_contributions(
    predictions: ArrayLike, labels: ArrayLike, scale: float
) -> tuple[IntArray, IntArray]:
    """Slots and integer amounts that the events add to a regression accumulator.

    ``scale`` is the reference label standard deviation (non-positive falls back to 1.0).

    >>> slots, weights = regression_contributions([3.0], [1.0], scale=2.0)
    >>> slots.tolist(), weights.tolist()
    ([0, 1, 2], [1, 1000000, 1000000])
    """
    predicted = _finite_vector(predictions, "predictions")
    actual = _finite_vector(labels, "labels")
    if predicted.shape != actual.shape:
        raise ValueError(
            f"{predicted.size} predictions but {actual.size} labels; pass one label per prediction"
        )
    events = predicted.size
    with np.errstate(over="ignore"):
        errors = np.abs(predicted - actual) / effective_scale(scale)
    limit = MAX_EVENT_QUANTA * ERROR_QUANTUM
    absolute = np.rint(np.minimum(errors, limit) / ERROR_QUANTUM)
    squared = np.rint(np.minimum(errors, math.sqrt(limit)) ** 2 / ERROR_QUANTUM)
    capped = np.minimum(np.stack([absolute, squared]), MAX_EVENT_QUANTA).ravel()
    layout = np.array([REGRESSION_N, ABSOLUTE_ERROR, SQUARED_ERROR], dtype=np.int64)
    slots = np.repeat(layout, events)
    weights = np.concatenate([np.ones(events), capped]).astype(np.int64)
    return slots, weights


def regression_accumulate(predictions: ArrayLike, labels: ArrayLike, scale: float) -> IntArray:
    """One regression accumulator holding the given events.

    >>> regression_accumulate([1.0, 2.0], [1.5, 2.0], scale=1.0).tolist()
    [2, 500000, 250000]
    """
    acc = np.zeros(REGRESSION_LAYOUT_SIZE, dtype=np.int64)
    np.add.at(acc, *regression_contributions(predictions, labels, scale))
    return acc


def regression_metrics(acc: ArrayLike, scale: float) -> dict[str, float]:
    """Mean absolute error, root mean squared error and support; 0.0 errors with no events.

    ``scale`` must be the one the accumulator was built with.

    >>> metrics = regression_metrics(regression_accumulate([1.0, 2.0], [1.5, 2.0], 1.0), 1.0)
    >>> {name: round(value, 4) for name, value in metrics.items()}
    {'mae': 0.25, 'rmse': 0.3536, 'n': 2.0}
    """
    counts = _accumulator(acc, REGRESSION_LAYOUT_SIZE, "regression")
    n = int(counts[REGRESSION_N])
    unit = effective_scale(scale)
    mean_absolute = _ratio(int(counts[ABSOLUTE_ERROR]), n) * ERROR_QUANTUM * unit
    mean_squared = _ratio(int(counts[SQUARED_ERROR]), n) * ERROR_QUANTUM * unit * unit
    return {"mae": mean_absolute, "rmse": math.sqrt(mean_squared), "n": float(n)}


def metric_direction(metric: str) -> int:
    """``METRIC_DIRECTION`` of a metric; a class's metric (``recall[<class>]``) as its metric's.

    >>> metric_direction("mae"), metric_direction("recall[cat]")
    (-1, 1)
    """
    return METRIC_DIRECTION[metric.split("[", 1)[0]]


def relative_drop(reference: float, current: float, direction: int) -> float:
    """Relative degradation from ``reference`` to ``current``: positive is worse.

    ``direction`` is ``METRIC_DIRECTION[metric]`` (+1 higher is better, -1 lower is
    better). Improvements are negative. From a reference of 0, a worse current value
    counts as a full degradation (1.0) and anything else as 0.0.

    >>> round(relative_drop(0.90, 0.81, METRIC_DIRECTION["accuracy"]), 6)
    0.1
    >>> round(relative_drop(2.0, 2.2, METRIC_DIRECTION["mae"]), 6)
    0.1
    >>> relative_drop(0.0, 0.3, METRIC_DIRECTION["mae"])
    1.0
    """
    if direction not in (1, -1):
        raise ValueError(f"direction must be +1 or -1, got {direction}; use METRIC_DIRECTION")
    if not (math.isfinite(reference) and math.isfinite(current)):
        raise ValueError(
            f"metric values must be finite, got {reference} and {current}; pass computed metrics"
        )
    worsening = (reference - current) * direction
    if reference == 0:
        return 1.0 if worsening > 0 else 0.0
    return worsening / abs(reference)


def _classification_inputs(
    scores: ArrayLike, labels: ArrayLike, threshold: float
) -> tuple[FloatArray, NDArray[np.bool_]]:
    probabilities = np.clip(_finite_vector(scores, "scores"), 0.0, 1.0)
    classes = np.asarray(labels)
    if classes.shape != probabilities.shape:
        raise ValueError(
            f"{probabilities.size} scores but {classes.size} labels; pass one label per score"
        )
    if not np.all((classes == 0) | (classes == 1)):
        raise ValueError("labels must be 0 or 1; map class labels to 0/1 before accumulating")
    if not math.isfinite(threshold):
        raise ValueError(f"threshold must be finite, got {threshold}; use e.g. 0.5")
    return probabilities, classes == 1


def _class_indices(
    predicted: ArrayLike, actual: ArrayLike, classes: int
) -> tuple[IntArray, IntArray]:
    guessed = np.asarray(predicted, dtype=np.int64).ravel()
    truth = np.asarray(actual, dtype=np.int64).ravel()
    if guessed.shape != truth.shape:
        raise ValueError(
            f"{guessed.size} predicted classes but {truth.size} labels; pass one label per event"
        )
    for values in (guessed, truth):
        if values.size and (values.min() < 0 or values.max() > classes):
            raise ValueError(
                f"class indices must lie in 0..{classes}; map class names to indices first"
            )
    return guessed, truth


def _ratios(numerators: FloatArray, denominators: FloatArray) -> FloatArray:
    """Element-wise ratios, 0.0 where the denominator is 0."""
    out: FloatArray = np.divide(
        numerators, denominators, out=np.zeros_like(numerators), where=denominators > 0
    )
    return out


def _finite_vector(values: ArrayLike, name: str) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contain NaN or inf; reject such events before accumulating")
    return array


def _accumulator(acc: ArrayLike, size: int, kind: str) -> IntArray:
    counts = np.asarray(acc, dtype=np.int64)
    if counts.shape != (size,):
        raise ValueError(
            f"{kind} accumulator has shape {counts.shape}, expected ({size},);"
            f" size it with the {kind.upper()}_LAYOUT_SIZE constant"
        )
    return counts


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0


def _binned_auc(positives: IntArray, negatives: IntArray) -> float:
    positive_total = float(positives.sum())
    negative_total = float(negatives.sum())
    if positive_total == 0 or negative_total == 0:
        return 0.5
    pos = positives.astype(np.float64)
    neg = negatives.astype(np.float64)
    negatives_below = np.cumsum(neg) - neg
    wins = float(np.sum(pos * (negatives_below + 0.5 * neg)))
    return wins / (positive_total * negative_total)
