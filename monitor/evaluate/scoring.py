"""Score closed windows against their references: every statistic per subject, rates, performance.

The reference is the baseline of the window's segment when the baseline has one (so a slice is
judged against its own training slice), else the model's overall baseline. Scores are computed
on merged integer counts only, so they do not depend on how the window was split. The windows
that close together are scored at once: the windows of models of one layout shape are stacked,
and the subjects of one slot layout shape, whichever their position and model, share one call
per statistic; a row's scores are bit-identical to scoring it alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from baselines.values import PREDICTION_SUBJECT, Baseline, FeatureBaseline, SegmentBaseline
from detectors import performance as perf
from detectors.statistics import compute_all, rate
from monitor.window.slot_layout import LABEL, ModelLayout
from monitor.window.windower import WindowCounts


class SubjectScores(NamedTuple):
    """Drift of one feature (or the prediction, or the label) in one window.

    ``events`` counts the window's events where the subject had a value, ``total`` all of them.
    A named tuple: every closing window makes one per subject, and a tuple is built several
    times faster than a frozen dataclass.
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


@dataclass(frozen=True)
class SubjectBlock:
    """One subject of several windows, each against its own reference: stacked slot counts.

    Row ``i`` of ``current`` is scored against row ``i`` of ``reference`` (slot counts in
    ``feature``'s layout) with Wasserstein's scale ``scales[i]``.
    """

    feature: FeatureBaseline
    current: np.ndarray
    reference: np.ndarray
    scales: np.ndarray


class SubjectColumns(NamedTuple):
    """The scores of one subject in several windows, one array element per window (the columns
    of :class:`SubjectScores`)."""

    events: np.ndarray
    total: np.ndarray
    statistics: dict[str, np.ndarray]
    rates: dict[str, np.ndarray]
    reference_missing_rate: np.ndarray

    def rows(self) -> list[SubjectScores]:
        """One :class:`SubjectScores` per window."""
        names, rate_names = list(self.statistics), list(self.rates)
        return [
            SubjectScores(
                events,
                total,
                dict(zip(names, row_statistics, strict=True)),
                dict(zip(rate_names, row_rates, strict=True)),
                missing,
            )
            for events, total, row_statistics, row_rates, missing in zip(
                self.events.tolist(),
                self.total.tolist(),
                zip(*[v.tolist() for v in self.statistics.values()], strict=True),
                zip(*[v.tolist() for v in self.rates.values()], strict=True),
                self.reference_missing_rate.tolist(),
                strict=True,
            )
        ]


def score_blocks(blocks: Sequence[SubjectBlock], *, epsilon: float) -> list[list[SubjectScores]]:
    """Every row of every block scored, one list per block (see :func:`score_block_columns`)."""
    return [columns.rows() for columns in score_block_columns(blocks, epsilon=epsilon)]


def score_block_columns(blocks: Sequence[SubjectBlock], *, epsilon: float) -> list[SubjectColumns]:
    """Every row of every block scored, one :class:`SubjectColumns` per block: blocks of the same
    slot layout shape are stacked, so each statistic runs once per shape, not once per subject
    and window.

    A row's scores are bit-identical to scoring it alone (the statistics reduce row by row).
    """
    scored, at = _score_shapes(blocks, epsilon)
    return [_take(scored[shape], slice(start, stop)) for shape, start, stop in at]


def _score_shapes(
    blocks: Sequence[SubjectBlock], epsilon: float
) -> tuple[list[SubjectColumns], list[tuple[int, int, int]]]:
    """The rows of the blocks of each slot layout shape scored together, and where each block's
    rows are: (its shape's scores, first row, end)."""
    shapes: dict[tuple[type, int], list[int]] = {}
    for i, block in enumerate(blocks):
        shapes.setdefault((type(block.feature.layout), block.feature.n_slots), []).append(i)
    scored = []
    at: list[tuple[int, int, int]] = [(0, 0, 0)] * len(blocks)
    for shape, members in enumerate(shapes.values()):
        scored.append(_score_rows([blocks[i] for i in members], epsilon))
        start = 0
        for i in members:
            stop = start + len(blocks[i].current)
            at[i] = (shape, start, stop)
            start = stop
    return scored, at


def _take(columns: SubjectColumns, rows: slice | np.ndarray) -> SubjectColumns:
    """The columns of some rows."""
    return SubjectColumns(
        columns.events[rows],
        columns.total[rows],
        {name: values[rows] for name, values in columns.statistics.items()},
        {name: values[rows] for name, values in columns.rates.items()},
        columns.reference_missing_rate[rows],
    )


def _score_rows(blocks: list[SubjectBlock], epsilon: float) -> SubjectColumns:
    """The scores of every row of blocks that share one slot layout shape, in order."""
    centers = None
    if blocks[0].feature.centers is not None:
        centers = np.repeat(
            np.stack([_centers(block.feature) for block in blocks]),
            [len(block.current) for block in blocks],
            axis=0,
        )
    return _score_stacked(
        blocks[0].feature,
        np.concatenate([block.current for block in blocks]),
        np.concatenate([block.reference for block in blocks]),
        centers,
        np.concatenate([block.scales for block in blocks]),
        epsilon,
    )


def _score_stacked(
    feature: FeatureBaseline,
    current: np.ndarray,
    reference: np.ndarray,
    centers: np.ndarray | None,
    scale: np.ndarray,
    epsilon: float,
) -> SubjectColumns:
    """The scores of stacked rows of subjects of ``feature``'s slot layout shape, row ``i`` of
    ``current`` against row ``i`` of ``reference`` (with its bin centers and scale)."""
    cur_dist = feature.distribution(current)
    statistics = compute_all(
        feature.statistics,
        feature.distribution(reference),
        cur_dist,
        epsilon=epsilon,
        centers=centers,
        scale=scale,
    )
    totals = current.sum(axis=-1)
    present = totals - current[:, feature.missing_slot]
    rates = {"missing_rate": rate(current[:, feature.missing_slot], totals)}
    if feature.unseen_slot is None:
        outside = current[:, list(feature.out_of_range_slots)].sum(axis=-1)
        rates["out_of_range_rate"] = rate(outside, present)
    else:
        rates["unseen_rate"] = rate(current[:, feature.unseen_slot], present)
    reference_missing = rate(reference[:, feature.missing_slot], reference.sum(axis=-1))
    return SubjectColumns(
        np.asarray(present),
        np.asarray(totals),
        {name: np.asarray(values) for name, values in statistics.items()},
        {name: np.asarray(values) for name, values in rates.items()},
        np.asarray(reference_missing),
    )


def _centers(feature: FeatureBaseline) -> np.ndarray:
    """The bin centers of ``feature`` (a subject of a shape with centers has them)."""
    centers = feature.centers
    assert centers is not None
    return centers


class ModelColumns(NamedTuple):
    """Windows of models whose layouts have the same shape (subjects of the same kinds, slots
    and statistics, in the same order), scored together: where they sit among the windows
    scored, the models' layouts and each window's among them, and each subject's columns by
    position in the layout (one element per member)."""

    layouts: list[ModelLayout]
    members: list[int]
    model_of: np.ndarray
    subjects: list[SubjectColumns]

    def names(self, position: int) -> list[str]:
        """The name of the subject at ``position`` of each layout."""
        return [layout.subjects[position].name for layout in self.layouts]


class ClosingScores(NamedTuple):
    """Windows that close together, scored: the subjects by model, the performance per window."""

    models: list[ModelColumns]
    performance: list[dict[str, float]]
    reference_performance: list[dict[str, float]]


FlatReferences = dict[int, tuple[SegmentBaseline, np.ndarray, np.ndarray]]
"""Segment references in slot layout order (see :func:`_flat_reference`) by ``id`` of the
segment baseline, each beside its segment (so a reused ``id`` is never mistaken for it)."""


def score_window_columns(
    windows: Sequence[tuple[ModelLayout, WindowCounts, Baseline | None]],
    *,
    epsilon: float,
    references: FlatReferences | None = None,
) -> ClosingScores:
    """Score every subject and the performance of each closed window against its reference (the
    window's version baseline; the layout's model baseline when ``None``), windows of any models
    at once: each statistic runs once per slot layout shape over every subject of every window.
    ``references`` keeps the references' slot counts from one call to the next."""
    segments = [
        (reference or layout.baseline).for_segment(window.key.segment)
        for layout, window, reference in windows
    ]
    flat: FlatReferences = {} if references is None else references
    for (layout, _, _), segment in zip(windows, segments, strict=True):
        known = flat.get(id(segment))
        if known is None or known[0] is not segment:
            flat[id(segment)] = (segment, *_flat_reference(layout, segment))
    models = _score_by_model(
        [
            _Row(layout, window.counts, *flat[id(segment)][1:])
            for (layout, window, _), segment in zip(windows, segments, strict=True)
        ],
        epsilon,
    )
    performance = []
    for layout, window, _ in windows:
        metrics: dict[str, float] = {}
        if layout.performance_size and window.performance[_n_index(layout)] > 0:
            metrics = _metrics(layout, window.performance)
        performance.append(metrics)
    return ClosingScores(
        models, performance, [dict(segment.performance or {}) for segment in segments]
    )


def score_windows(
    windows: Sequence[tuple[ModelLayout, WindowCounts, Baseline | None]], *, epsilon: float
) -> list[WindowScores]:
    """:func:`score_window_columns` as one :class:`WindowScores` per window."""
    scored = score_window_columns(windows, epsilon=epsilon)
    out = []
    for (_, window, _), subjects, metrics, reference in zip(
        windows,
        _by_window(scored.models, len(windows)),
        scored.performance,
        scored.reference_performance,
        strict=True,
    ):
        prediction = subjects.pop(PREDICTION_SUBJECT, None)
        label = subjects.pop(LABEL, None)
        out.append(WindowScores(window, subjects, prediction, label, metrics, reference))
    return out


def compare_windows(
    pairs: Sequence[tuple[ModelLayout, WindowCounts, WindowCounts]], *, epsilon: float
) -> list[dict[str, SubjectScores]]:
    """Drift of every feature and the prediction of each ``window`` against another version's
    window of the same time and segment (``stable``), slot by slot in the shared layout; pairs
    of any models at once."""
    scored = _score_by_model(
        [
            _Row(
                layout, window.counts, stable.counts, _scales([s.baseline for s in layout.subjects])
            )
            for layout, window, stable in pairs
        ],
        epsilon,
    )
    out = _by_window(scored, len(pairs))
    for subjects in out:
        subjects.pop(LABEL, None)
    return out


class _Row(NamedTuple):
    """A window to score: its slot counts, its reference's slot counts and, per subject, the
    reference's scale, all in ``layout`` order."""

    layout: ModelLayout
    counts: np.ndarray
    reference: np.ndarray
    scales: np.ndarray


def _score_by_model(rows: Sequence[_Row], epsilon: float) -> list[ModelColumns]:
    """Every subject of every row: the rows of models of one layout shape are stacked (model
    after model), and the subjects at the positions of one slot layout shape are scored
    together."""
    models: dict[int, list[int]] = {}
    for i, row in enumerate(rows):
        models.setdefault(id(row.layout), []).append(i)
    shapes: dict[tuple[object, ...], list[tuple[ModelLayout, list[int]]]] = {}
    for members in models.values():
        layout = rows[members[0]].layout
        shapes.setdefault(layout.shape, []).append((layout, members))
    out = []
    for group in shapes.values():
        layouts = [layout for layout, _ in group]
        members = [i for _, of_model in group for i in of_model]
        sizes = [len(of_model) for _, of_model in group]
        out.append(
            ModelColumns(
                layouts,
                members,
                np.repeat(np.arange(len(group)), sizes),
                _score_positions(
                    layouts,
                    sizes,
                    np.stack([rows[i].counts for i in members]),
                    np.stack([rows[i].reference for i in members]),
                    np.stack([rows[i].scales for i in members]),
                    epsilon,
                ),
            )
        )
    return out


def _score_positions(
    layouts: list[ModelLayout],
    sizes: list[int],
    current: np.ndarray,
    reference: np.ndarray,
    scales: np.ndarray,
    epsilon: float,
) -> list[SubjectColumns]:
    """Each subject position's scores of the stacked rows of models of one layout shape
    (``sizes[m]`` rows of ``layouts[m]``, in order): positions of one slot layout shape are
    scored with one call per statistic."""
    subjects = layouts[0].subjects
    positions: dict[tuple[type, int], list[int]] = {}
    for p, subject in enumerate(subjects):
        feature = subject.baseline
        positions.setdefault((type(feature.layout), feature.n_slots), []).append(p)
    n = len(current)
    out: list[SubjectColumns | None] = [None] * len(subjects)
    for of_shape in positions.values():
        feature = subjects[of_shape[0]].baseline
        slots = [slice(subjects[p].offset, subjects[p].offset + feature.n_slots) for p in of_shape]
        centers = None
        if feature.centers is not None:
            centers = np.concatenate(
                [
                    np.repeat(
                        np.stack([_centers(layout.subjects[p].baseline) for layout in layouts]),
                        sizes,
                        axis=0,
                    )
                    for p in of_shape
                ]
            )
        scored = _score_stacked(
            feature,
            np.concatenate([current[:, at] for at in slots]),
            np.concatenate([reference[:, at] for at in slots]),
            centers,
            np.concatenate([scales[:, p] for p in of_shape]),
            epsilon,
        )
        for k, p in enumerate(of_shape):
            out[p] = _take(scored, slice(k * n, (k + 1) * n))
    return [columns for columns in out if columns is not None]


def _by_window(models: list[ModelColumns], windows: int) -> list[dict[str, SubjectScores]]:
    """Each window's subjects by name, in layout order."""
    out: list[dict[str, SubjectScores]] = [{} for _ in range(windows)]
    for model in models:
        for p, columns in enumerate(model.subjects):
            names = model.names(p)
            for i, which, scores in zip(
                model.members, model.model_of.tolist(), columns.rows(), strict=True
            ):
                out[i][names[which]] = scores
    return out


def _flat_reference(layout: ModelLayout, segment: SegmentBaseline) -> tuple[np.ndarray, np.ndarray]:
    """The slot counts of ``segment``'s references in the layout, and each subject's scale."""
    features = [_reference(segment, subject.name) for subject in layout.subjects]
    return np.concatenate([f.reference_counts for f in features]), _scales(features)


def _scales(features: Sequence[FeatureBaseline]) -> np.ndarray:
    """Each reference's scale (Wasserstein's divisor before ``effective_scale``)."""
    return np.array([feature.scale for feature in features], dtype=np.float64)


def _reference(baseline: SegmentBaseline, name: str) -> FeatureBaseline:
    ref = (
        {PREDICTION_SUBJECT: baseline.prediction, LABEL: baseline.label}.get(name)
        or baseline.features.get(name)
        or baseline.probabilities.get(name)
    )
    if ref is None:
        raise KeyError(f"baseline has no reference for {name!r}")
    return ref


def _metrics(layout: ModelLayout, acc: np.ndarray) -> dict[str, float]:
    baseline = layout.baseline
    if baseline.task == "multiclass":
        return perf.multiclass_metrics(acc, baseline.classes, bool(baseline.probabilities))
    if baseline.task == "classification":
        return perf.classification_metrics(acc)
    assert layout.baseline.label is not None
    return perf.regression_metrics(acc, layout.baseline.label.scale)


def _n_index(layout: ModelLayout) -> int:
    """Where the accumulator counts its events (first for multiclass and regression)."""
    return perf.CLASSIFICATION_N if layout.baseline.task == "classification" else 0
