"""Score a closed window against its reference: every statistic per subject, rates, performance.

The reference is the baseline of the window's segment when the baseline has one (so a slice is
judged against its own training slice), else the model's overall baseline. Scores are computed
on merged integer counts only, so they do not depend on how the window was split.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from baselines.schema import Baseline, FeatureBaseline, SegmentBaseline
from detectors import performance as perf
from detectors.statistics import rate
from monitor.layout import LABEL, PREDICTION, ModelLayout
from monitor.windows import WindowCounts


@dataclass(frozen=True)
class SubjectScores:
    """Drift of one feature (or the prediction, or the label) in one window.

    ``events`` counts the window's events where the subject had a value, ``total`` all of them.
    """

    events: int
    total: int
    statistics: Mapping[str, float]
    rates: Mapping[str, float]
    reference_missing_rate: float


@dataclass(frozen=True)
class WindowScores:
    """All scores of one closed window."""

    window: WindowCounts
    features: Mapping[str, SubjectScores]
    prediction: SubjectScores | None
    label: SubjectScores | None
    performance: Mapping[str, float]
    reference_performance: Mapping[str, float]


def score_subject(
    reference: FeatureBaseline, counts: np.ndarray, *, epsilon: float
) -> SubjectScores:
    """Statistics and rates of one subject's window slot counts against its reference."""
    total = int(counts.sum())
    cur_dist = reference.distribution(counts)
    present = int(cur_dist.sum())
    computed = reference.score(cur_dist, epsilon=epsilon)
    statistics = {name: float(value) for name, value in computed.items()}
    rates = {"missing_rate": float(rate(int(counts[reference.missing_slot]), total))}
    if reference.unseen_slot is None:
        outside = int(counts[list(reference.out_of_range_slots)].sum())
        rates["out_of_range_rate"] = float(rate(outside, present))
    else:
        rates["unseen_rate"] = float(rate(int(counts[reference.unseen_slot]), present))
    return SubjectScores(present, total, statistics, rates, float(reference.missing_rate))


def score_window(
    layout: ModelLayout,
    window: WindowCounts,
    *,
    epsilon: float,
    reference: Baseline | None = None,
) -> WindowScores:
    """Score every subject and the performance of a closed window against ``reference`` (the
    window's version baseline; the layout's model baseline when ``None``)."""
    baseline = (reference or layout.baseline).for_segment(window.key.segment)
    scored: dict[str, SubjectScores] = {}
    for subject in layout.subjects:
        counts = window.counts[subject.offset : subject.offset + subject.baseline.n_slots]
        scored[subject.name] = score_subject(
            _reference(baseline, subject.name), counts, epsilon=epsilon
        )
    prediction = scored.pop(PREDICTION, None)
    label = scored.pop(LABEL, None)
    metrics: dict[str, float] = {}
    if layout.performance_size and window.performance[_n_index(layout)] > 0:
        metrics = _metrics(layout, window.performance)
    return WindowScores(
        window, scored, prediction, label, metrics, dict(baseline.performance or {})
    )


def compare_versions(
    layout: ModelLayout, window: WindowCounts, stable: WindowCounts, *, epsilon: float
) -> dict[str, SubjectScores]:
    """Drift of every feature and the prediction of ``window`` against another version's window
    of the same time and segment (``stable``), slot by slot in the shared layout."""
    out: dict[str, SubjectScores] = {}
    for subject in layout.subjects:
        if subject.name == LABEL:
            continue
        part = slice(subject.offset, subject.offset + subject.baseline.n_slots)
        counts = stable.counts[part]
        as_reference = dataclasses.replace(subject.baseline, counts=tuple(counts.tolist()))
        out[subject.name] = score_subject(as_reference, window.counts[part], epsilon=epsilon)
    return out


def _reference(baseline: SegmentBaseline, name: str) -> FeatureBaseline:
    ref = {PREDICTION: baseline.prediction, LABEL: baseline.label}.get(
        name
    ) or baseline.features.get(name)
    if ref is None:
        raise KeyError(f"baseline has no reference for {name!r}")
    return ref


def _metrics(layout: ModelLayout, acc: np.ndarray) -> dict[str, float]:
    if layout.baseline.task == "classification":
        return perf.classification_metrics(acc)
    assert layout.baseline.label is not None
    return perf.regression_metrics(acc, layout.baseline.label.scale)


def _n_index(layout: ModelLayout) -> int:
    return perf.CLASSIFICATION_N if layout.baseline.task == "classification" else perf.REGRESSION_N
