"""Scoring many windows at once gives, bit for bit, the scores of scoring each subject alone.

The reference computation here is the per-subject path evaluation used before batching: each
subject's 1-D distribution through ``FeatureBaseline.score`` and the rates from Python ints.
Equality is ``==`` on every float, so the reports stay byte-identical.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from baselines.binning import CategoricalLayout, NumericLayout
from baselines.build import build_baseline
from baselines.values import PREDICTION_SUBJECT as PREDICTION
from baselines.values import Baseline, CategoricalSummary, FeatureBaseline, NumericSummary
from detectors.statistics import DISTRIBUTION_STATISTICS, compute_all, rate
from monitor.evaluate.scoring import (
    SubjectBlock,
    SubjectScores,
    compare_windows,
    score_blocks,
    score_windows,
)
from monitor.window.slot_layout import LABEL, ModelLayout
from monitor.window.windower import WindowCounts, WindowKey
from tests.support.builders import training

EPSILON = 1e-4


def one_by_one(reference: FeatureBaseline, counts: np.ndarray) -> SubjectScores:
    """One subject's scores computed alone, exactly as evaluation did before batching."""
    total = int(counts.sum())
    cur_dist = reference.distribution(counts)
    present = total - int(counts[reference.missing_slot])
    statistics = {
        name: float(value) for name, value in reference.score(cur_dist, epsilon=EPSILON).items()
    }
    rates = {"missing_rate": float(rate(int(counts[reference.missing_slot]), total))}
    if reference.unseen_slot is None:
        outside = int(counts[list(reference.out_of_range_slots)].sum())
        rates["out_of_range_rate"] = float(rate(outside, present))
    else:
        rates["unseen_rate"] = float(rate(int(counts[reference.unseen_slot]), present))
    return SubjectScores(present, total, statistics, rates, float(reference.missing_rate))


def with_counts(feature: FeatureBaseline, counts: np.ndarray) -> FeatureBaseline:
    return dataclasses.replace(feature, counts=tuple(counts.tolist()))


@st.composite
def features(draw: st.DrawFn) -> FeatureBaseline:
    """A numeric feature of 1–12 bins or a categorical one of 1–8 values, with a random scale."""
    if draw(st.booleans()):
        bins = draw(st.integers(1, 12))
        steps = draw(st.lists(st.floats(0.0, 5.0), min_size=bins, max_size=bins))
        edges = tuple(np.cumsum([draw(st.floats(-5.0, 5.0)), *steps]).tolist())
        std = draw(st.sampled_from([0.0, -1.0, 1e-300, 0.7, 3.0, 1e6]))
        summary: NumericSummary | CategoricalSummary = NumericSummary(
            0, 0, None, None, None, std, {}
        )
        layout: NumericLayout | CategoricalLayout = NumericLayout(edges)
    else:
        size = draw(st.integers(1, 8))
        layout = CategoricalLayout(tuple(f"v{i}" for i in range(size)))
        summary = CategoricalSummary(0, 0, 0, ())
    return FeatureBaseline("f", layout, (0,) * layout.n_slots, summary)


def slot_counts(draw: st.DrawFn, feature: FeatureBaseline, rows: int) -> np.ndarray:
    """Counts with many zeros (empty bins, empty rows) and a few large values."""
    value = st.one_of(st.just(0), st.integers(0, 5), st.integers(0, 10**9))
    return np.array(
        draw(st.lists(value, min_size=rows * feature.n_slots, max_size=rows * feature.n_slots)),
        dtype=np.int64,
    ).reshape(rows, feature.n_slots)


@st.composite
def blocks(draw: st.DrawFn) -> list[SubjectBlock]:
    """1–6 blocks of mixed slot layout shapes, 1–5 rows each, every row its own reference."""
    out = []
    for _ in range(draw(st.integers(1, 6))):
        feature = draw(features())
        rows = draw(st.integers(1, 5))
        scales = draw(
            st.lists(st.sampled_from([0.0, 0.5, 2.0, 1e-9]), min_size=rows, max_size=rows)
        )
        out.append(
            SubjectBlock(
                feature,
                slot_counts(draw, feature, rows),
                slot_counts(draw, feature, rows),
                np.array(scales, dtype=np.float64),
            )
        )
    return out


@settings(max_examples=300, deadline=None)
@given(blocks())
def test_batched_rows_equal_each_subject_scored_alone(drawn: list[SubjectBlock]) -> None:
    """Every statistic, rate and count of every row equals that row scored alone, exactly."""
    batched = score_blocks(drawn, epsilon=EPSILON)
    for block, scored in zip(drawn, batched, strict=True):
        for current, reference, scale, scores in zip(
            block.current, block.reference, block.scales, scored, strict=True
        ):
            summary = block.feature.summary
            if isinstance(summary, NumericSummary):
                summary = dataclasses.replace(summary, std=float(scale))
            alone = dataclasses.replace(
                block.feature, counts=tuple(reference.tolist()), summary=summary
            )
            assert scores == one_by_one(alone, current)


LAYOUTS = {
    "C": np.ascontiguousarray,
    "Fortran": np.asfortranarray,
    "every other row of a larger array": lambda a: np.repeat(a, 2, axis=0)[::2],
}


@st.composite
def stacks(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Reference and current counts, sorted centers and scales of 2–6 rows of 1–12 bins."""
    rows, bins = draw(st.integers(2, 6)), draw(st.integers(1, 12))
    value = st.one_of(st.just(0), st.integers(0, 5), st.integers(0, 10**9))
    counts = [
        np.array(draw(st.lists(value, min_size=rows * bins, max_size=rows * bins))).reshape(
            rows, bins
        )
        for _ in range(2)
    ]
    steps = draw(st.lists(st.floats(0.0, 5.0), min_size=rows * bins, max_size=rows * bins))
    centers = np.cumsum(np.array(steps).reshape(rows, bins), axis=1)
    scales = np.array(
        draw(st.lists(st.sampled_from([0.0, 0.5, 3.0]), min_size=rows, max_size=rows))
    )
    return counts[0], counts[1], centers, scales


@settings(max_examples=200, deadline=None)
@given(stacks(), st.sampled_from(sorted(LAYOUTS)))
def test_stacked_statistics_in_any_memory_layout_equal_each_row_alone(
    stack: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray], layout: str
) -> None:
    """Rows stacked C- or Fortran-ordered or strided score exactly as each row alone."""
    reference, current, centers, scales = stack
    arrange = LAYOUTS[layout]
    names = list(DISTRIBUTION_STATISTICS)
    stacked = compute_all(
        names,
        arrange(reference),
        arrange(current),
        epsilon=EPSILON,
        centers=arrange(centers),
        scale=scales,
    )
    for i in range(len(reference)):
        alone = compute_all(
            names, reference[i], current[i], epsilon=EPSILON, centers=centers[i], scale=scales[i]
        )
        assert {name: float(values[i]) for name, values in stacked.items()} == alone


def window(layout: ModelLayout, seed: int, model: str, version: str, segment: str) -> WindowCounts:
    """A window of random slot counts and no labeled events."""
    counts = np.random.default_rng(seed).integers(0, 40, layout.size)
    return WindowCounts(
        WindowKey(model, version, segment),
        0,
        3_600_000,
        int(counts.sum()),
        counts,
        np.zeros(layout.performance_size, dtype=np.int64),
    )


def test_windows_of_two_models_equal_each_subject_scored_against_its_segment(
    baseline: Baseline,
) -> None:
    """Windows of two models (bins of their own, one slot layout shape), segments and versions
    scored together equal each subject alone."""
    table = training(seed=9)
    table = table.set_column(0, "x", pc.add(table["x"], 1.5))
    other = build_baseline(
        table, model="n", prediction="score", label="label", segments=("platform",)
    )
    baselines = {"m": baseline, "n": other}
    layouts = {name: ModelLayout(b) for name, b in baselines.items()}
    assert layouts["m"].shape == layouts["n"].shape
    assert not np.array_equal(baseline.features["x"].centers, other.features["x"].centers)
    windows = [
        window(layouts[m], seed, m, v, s)
        for seed, (m, v, s) in enumerate(
            (m, v, s)
            for m in ("m", "n")
            for v in ("v1", "v2")
            for s in ("", "platform=ios", "platform=android")
        )
    ]
    scored = score_windows([(layouts[w.key.model], w, None) for w in windows], epsilon=EPSILON)
    for w, scores in zip(windows, scored, strict=True):
        segment = baselines[w.key.model].for_segment(w.key.segment)
        layout = layouts[w.key.model]
        expected = {}
        for subject in layout.subjects:
            reference = {PREDICTION: segment.prediction, LABEL: segment.label}.get(
                subject.name
            ) or segment.features[subject.name]
            part = w.counts[subject.offset : subject.offset + subject.baseline.n_slots]
            expected[subject.name] = one_by_one(reference, part)
        assert (dict(scores.features), scores.prediction, scores.label) == (
            {k: v for k, v in expected.items() if k not in (PREDICTION, LABEL)},
            expected[PREDICTION],
            expected[LABEL],
        )


def test_canary_comparisons_equal_each_subject_against_the_stable_window_alone(
    baseline: Baseline,
) -> None:
    """compare_windows equals each subject scored alone against the stable window's counts."""
    layout = ModelLayout(baseline)
    pairs = [
        (layout, window(layout, 2 * i, "m", "v2", s), window(layout, 2 * i + 1, "m", "v1", s))
        for i, s in enumerate(("", "platform=ios"))
    ]
    for (_, canary, stable), compared in zip(
        pairs, compare_windows(pairs, epsilon=EPSILON), strict=True
    ):
        expected = {
            subject.name: one_by_one(
                with_counts(subject.baseline, stable.counts[part]), canary.counts[part]
            )
            for subject in layout.subjects
            if subject.name != LABEL
            for part in [slice(subject.offset, subject.offset + subject.baseline.n_slots)]
        }
        assert compared == expected
