"""Specification of the mergeable performance accumulators."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
from hypothesis import given
from hypothesis import strategies as st
from numpy.typing import NDArray

from detectors.performance import (
    CLASSIFICATION_N,
    FN,
    FP,
    MAX_EVENT_QUANTA,
    METRIC_DIRECTION,
    REGRESSION_LAYOUT_SIZE,
    SCORE_BINS,
    TN,
    TP,
    classification_accumulate,
    classification_contributions,
    classification_layout_size,
    classification_metrics,
    metric_direction,
    multiclass_accumulate,
    multiclass_metrics,
    regression_accumulate,
    regression_contributions,
    regression_metrics,
    relative_drop,
)

FloatArray = NDArray[np.float64]

scored_events = st.lists(
    st.tuples(st.floats(-0.5, 1.5, allow_nan=False), st.integers(0, 1)), max_size=60
)
regression_events = st.lists(
    st.tuples(st.floats(-1e6, 1e6, allow_nan=False), st.floats(-1e6, 1e6, allow_nan=False)),
    max_size=60,
)


def bin_centers(bins: NDArray[np.int64]) -> FloatArray:
    """Scores at the centers of the given score bins, so binning loses nothing."""
    centers: FloatArray = (bins + 0.5) / SCORE_BINS
    return centers


def test_classification_layout_holds_counts_log_loss_and_two_histograms() -> None:
    """Six scalar slots followed by one positive and one negative histogram."""
    assert classification_layout_size() == 6 + 2 * SCORE_BINS


def test_confusion_counts_follow_an_inclusive_threshold() -> None:
    """A score equal to the threshold is predicted positive."""
    acc = classification_accumulate([0.5, 0.49, 0.8, 0.1, 0.6], [1, 1, 0, 0, 1])
    cells = [acc[TP], acc[FP], acc[TN], acc[FN], acc[CLASSIFICATION_N]]
    assert cells == [2, 1, 1, 1, 5]


def test_classification_metrics_match_hand_computed_values() -> None:
    """tp=2, fp=1, tn=1, fn=1 gives accuracy 3/5, precision 2/3 and recall 2/3."""
    metrics = classification_metrics(
        classification_accumulate([0.5, 0.49, 0.8, 0.1, 0.6], [1, 1, 0, 0, 1])
    )
    assert (metrics["accuracy"], metrics["precision"], metrics["recall"]) == pytest.approx(
        (3 / 5, 2 / 3, 2 / 3), rel=1e-15
    )


def test_a_custom_threshold_changes_the_predictions() -> None:
    """With threshold 0.9 only the highest score is predicted positive."""
    acc = classification_accumulate([0.95, 0.7, 0.2], [1, 1, 0], threshold=0.9)
    assert [acc[TP], acc[FN], acc[TN]] == [1, 1, 1]


def test_scores_outside_the_unit_interval_are_clipped() -> None:
    """A score of 1.3 counts exactly like 1.0 and -0.2 like 0.0."""
    clipped = classification_accumulate([1.3, -0.2], [1, 0])
    assert np.array_equal(clipped, classification_accumulate([1.0, 0.0], [1, 0]))


def test_roc_auc_equals_mann_whitney_on_bin_center_scores() -> None:
    """AUC is U / (n1 * n0) of scipy's Mann-Whitney test when scores sit on bin centers."""
    rng = np.random.default_rng(3)
    positives = bin_centers(rng.integers(300, SCORE_BINS, 400))
    negatives = bin_centers(rng.integers(0, 700, 500))
    scores = np.concatenate([positives, negatives])
    labels = np.concatenate([np.ones(400, np.int64), np.zeros(500, np.int64)])
    u_statistic = scipy.stats.mannwhitneyu(positives, negatives).statistic
    metrics = classification_metrics(classification_accumulate(scores, labels))
    assert metrics["roc_auc"] == pytest.approx(u_statistic / (400 * 500), rel=1e-12)


def test_roc_auc_counts_ties_within_a_bin_as_one_half() -> None:
    """A positive and a negative in the same score bin give AUC 0.5."""
    metrics = classification_metrics(classification_accumulate([0.7001, 0.7004], [1, 0]))
    assert metrics["roc_auc"] == 0.5


def test_roc_auc_is_one_half_with_a_single_class() -> None:
    """Without both classes AUC is undefined and reported as 0.5."""
    metrics = classification_metrics(classification_accumulate([0.9, 0.1], [1, 1]))
    assert metrics["roc_auc"] == 0.5


def test_empty_accumulator_has_defined_metrics() -> None:
    """With no events every rate is 0.0, AUC is 0.5 and nothing is NaN."""
    metrics = classification_metrics(np.zeros(classification_layout_size(), np.int64))
    assert metrics == {
        "accuracy": 0.0,
        "precision": 0.0,
        "recall": 0.0,
        "roc_auc": 0.5,
        "log_loss": 0.0,
        "n": 0.0,
        "positives": 0.0,
        "predicted_positives": 0.0,
    }


def test_precision_and_recall_are_zero_without_predicted_or_actual_positives() -> None:
    """All-negative labels and predictions give precision 0.0 and recall 0.0."""
    metrics = classification_metrics(classification_accumulate([0.1, 0.2], [0, 0]))
    assert (metrics["precision"], metrics["recall"], metrics["accuracy"]) == (0.0, 0.0, 1.0)


def test_log_loss_matches_the_direct_formula_within_one_micro() -> None:
    """Log loss from the micro-unit sum agrees with numpy to 1e-6, clipping included."""
    rng = np.random.default_rng(5)
    scores = np.concatenate([rng.random(997), [0.0, 1.0, 1.0]])
    labels = np.concatenate([rng.integers(0, 2, 997), [1, 0, 1]])
    clipped = np.clip(scores, 1e-15, 1 - 1e-15)
    expected = -np.mean(labels * np.log(clipped) + (1 - labels) * np.log(1 - clipped))
    metrics = classification_metrics(classification_accumulate(scores, labels))
    assert metrics["log_loss"] == pytest.approx(expected, abs=1e-6)


def test_contributions_applied_at_an_offset_fill_that_group() -> None:
    """np.add.at with a group offset fills the group's slice exactly like accumulate."""
    scores, labels = [0.2, 0.9, 0.55], [0, 1, 0]
    shared = np.zeros(3 * classification_layout_size(), np.int64)
    offset = classification_layout_size()
    slots, weights = classification_contributions(scores, labels)
    np.add.at(shared, offset + slots, weights)
    group = shared[offset : 2 * offset]
    assert np.array_equal(group, classification_accumulate(scores, labels))


@given(scored_events, st.data())
def test_classification_accumulators_merge_exactly(
    events: list[tuple[float, int]], data: st.DataObject
) -> None:
    """Accumulating two halves and adding them equals accumulating everything."""
    scores = np.array([score for score, _ in events], dtype=np.float64)
    labels = np.array([label for _, label in events], dtype=np.int64)
    split = data.draw(st.integers(0, len(events)))
    halves = classification_accumulate(scores[:split], labels[:split]) + classification_accumulate(
        scores[split:], labels[split:]
    )
    assert np.array_equal(halves, classification_accumulate(scores, labels))


def test_labels_other_than_zero_and_one_are_rejected() -> None:
    """Class labels must be mapped to 0/1 before accumulating."""
    with pytest.raises(ValueError, match="0 or 1"):
        classification_accumulate([0.3], [2])


def test_nan_scores_are_rejected() -> None:
    """A NaN score is refused rather than silently binned."""
    with pytest.raises(ValueError, match="NaN"):
        classification_accumulate([math.nan], [1])


def test_a_wrongly_sized_accumulator_is_rejected() -> None:
    """Metrics refuse a vector that does not have the classification layout."""
    with pytest.raises(ValueError, match="accumulator has shape"):
        classification_metrics(np.zeros(10, np.int64))


def test_regression_layout_holds_count_and_two_error_sums() -> None:
    """The regression accumulator is [n, absolute error quanta, squared error quanta]."""
    assert regression_accumulate([1.0, 4.0], [2.0, 2.0], scale=1.0).tolist() == [
        2,
        3_000_000,
        5_000_000,
    ]


def test_regression_metrics_match_numpy_within_the_quantum() -> None:
    """MAE and RMSE agree with numpy to the fixed-point resolution of scale * 1e-6."""
    rng = np.random.default_rng(11)
    labels = rng.normal(50.0, 8.0, 2000)
    predictions = labels + rng.normal(0.0, 3.0, 2000)
    errors = predictions - labels
    metrics = regression_metrics(regression_accumulate(predictions, labels, 8.0), 8.0)
    assert metrics["mae"] == pytest.approx(np.mean(np.abs(errors)), abs=8.0 * 1e-6)
    assert metrics["rmse"] ** 2 == pytest.approx(np.mean(errors**2), abs=64.0 * 1e-6)
    assert metrics["n"] == 2000.0


def test_regression_metrics_are_zero_without_events() -> None:
    """An empty regression accumulator reports zero errors."""
    metrics = regression_metrics(np.zeros(REGRESSION_LAYOUT_SIZE, np.int64), 2.0)
    assert metrics == {"mae": 0.0, "rmse": 0.0, "n": 0.0}


def test_huge_regression_errors_are_capped_per_event() -> None:
    """An absurd error adds at most MAX_EVENT_QUANTA to each sum, so int64 cannot overflow."""
    _, weights = regression_contributions([1e300], [-1e300], scale=1.0)
    assert weights.tolist() == [1, MAX_EVENT_QUANTA, MAX_EVENT_QUANTA]


def test_regression_treats_a_non_positive_scale_as_one() -> None:
    """A constant reference label (std 0) quantises errors in the label's own units."""
    assert np.array_equal(
        regression_accumulate([2.0], [0.5], scale=0.0), regression_accumulate([2.0], [0.5], 1.0)
    )


@given(regression_events, st.data())
def test_regression_accumulators_merge_exactly(
    events: list[tuple[float, float]], data: st.DataObject
) -> None:
    """Accumulating two halves and adding them equals accumulating everything."""
    predictions = np.array([p for p, _ in events], dtype=np.float64)
    labels = np.array([y for _, y in events], dtype=np.float64)
    split = data.draw(st.integers(0, len(events)))
    halves = regression_accumulate(predictions[:split], labels[:split], 3.0) + (
        regression_accumulate(predictions[split:], labels[split:], 3.0)
    )
    assert np.array_equal(halves, regression_accumulate(predictions, labels, 3.0))


def test_mismatched_predictions_and_labels_are_rejected() -> None:
    """Every prediction needs exactly one label."""
    with pytest.raises(ValueError, match="one label per prediction"):
        regression_accumulate([1.0, 2.0], [1.0], 1.0)


def test_a_better_model_moves_every_metric_in_its_direction() -> None:
    """For every metric with a direction, a better model's value minus a worse model's has the
    sign of ``metric_direction``: losses and errors fall, the others rise."""
    labels = [1, 0, 1, 0, 1, 0, 1, 0]
    actual = [0, 1, 2, 0, 1, 2, 0, 1, 2]
    truth = [1.0, 2.0, 3.0, 4.0]

    def binary(scores: list[float]) -> dict[str, float]:
        return classification_metrics(classification_accumulate(scores, labels))

    def multiclass(predicted: list[int]) -> dict[str, float]:
        return multiclass_metrics(multiclass_accumulate(predicted, actual, 3), "abc", False)

    def regression(predicted: list[float]) -> dict[str, float]:
        return regression_metrics(regression_accumulate(predicted, truth, 1.0), 1.0)

    pairs = [
        (
            binary([0.9, 0.2, 0.8, 0.1, 0.7, 0.3, 0.6, 0.45]),
            binary([0.4, 0.6, 0.7, 0.2, 0.3, 0.8, 0.55, 0.5]),
        ),
        (multiclass([0, 1, 2, 0, 1, 2, 0, 1, 1]), multiclass([1, 1, 0, 0, 2, 2, 1, 0, 2])),
        (regression([1.1, 2.0, 2.9, 4.2]), regression([2.0, 1.0, 4.5, 3.0])),
    ]
    judged = set()
    for good, bad in pairs:
        for metric in sorted(set(good) & set(METRIC_DIRECTION)):
            assert metric_direction(metric) * (good[metric] - bad[metric]) > 0, metric
            judged.add(metric)
    assert judged == set(METRIC_DIRECTION)


def test_relative_drop_of_a_higher_is_better_metric() -> None:
    """Accuracy falling from 0.90 to 0.81 is a 10% degradation."""
    assert relative_drop(0.90, 0.81, 1) == pytest.approx(0.10, rel=1e-12)


def test_relative_drop_of_a_lower_is_better_metric() -> None:
    """MAE rising from 2.0 to 2.2 is a 10% degradation."""
    assert relative_drop(2.0, 2.2, -1) == pytest.approx(0.10, rel=1e-12)


def test_relative_drop_is_negative_for_an_improvement() -> None:
    """Log loss falling from 0.5 to 0.4 is a 20% improvement."""
    assert relative_drop(0.5, 0.4, -1) == pytest.approx(-0.20, rel=1e-12)


@pytest.mark.parametrize(
    ("current", "direction", "expected"), [(0.3, -1, 1.0), (0.3, 1, 0.0), (0.0, -1, 0.0)]
)
def test_relative_drop_from_a_zero_reference(
    current: float, direction: int, expected: float
) -> None:
    """From 0, getting worse is a full degradation of 1.0; anything else is 0.0."""
    assert relative_drop(0.0, current, direction) == expected


def test_relative_drop_rejects_an_unknown_direction() -> None:
    """Direction must be +1 or -1 as in METRIC_DIRECTION."""
    with pytest.raises(ValueError, match="direction"):
        relative_drop(1.0, 0.5, 0)
