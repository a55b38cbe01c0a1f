"""What a baseline is: the frozen reference of a model's training data, and its scoring.

A :class:`Baseline` holds, per feature, the prediction and the label, a
:class:`FeatureBaseline`: the slot layout shared with the live windows (:mod:`baselines.binning`),
the reference slot counts and a summary. :meth:`FeatureBaseline.score` compares live counts with
them. Segments (:class:`SegmentBaseline`) share the overall bins; :class:`Calibration` holds
the null distributions of the statistics.

The JSON document of a baseline is :mod:`baselines.codec`, the file on disk
:mod:`baselines.baseline_file`; both import this module, so ``Baseline``'s ``digest``,
``to_dict``, ``save`` and ``load`` import them when called (as pandas' ``DataFrame.to_json``
does its writer).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pyarrow as pa

from baselines.binning import CategoricalLayout, FloatArray, IntArray, Layout, NumericLayout
from detectors.statistics import DISTRIBUTION_STATISTICS, Statistic, compute_all
from detectors.thresholds import NullSummary

Task = Literal["classification", "multiclass", "regression"]
#: Subject name of the prediction in calibrations and the live slot layouts (features use their
#: own names).
PREDICTION_SUBJECT = "__prediction__"
#: The name reports, metrics and alerts give the prediction subject.
PREDICTION_NAME = "prediction"


def class_subject(name: str) -> str:
    """The subject (and report) name of one class's probability.

    >>> class_subject("cat")
    'prediction[cat]'
    """
    return f"{PREDICTION_NAME}[{name}]"


#: Summary quantiles of numeric features: name → probability.
SUMMARY_QUANTILES = {
    "p01": 0.01,
    "p05": 0.05,
    "p25": 0.25,
    "p50": 0.50,
    "p75": 0.75,
    "p95": 0.95,
    "p99": 0.99,
}


@dataclass(frozen=True)
class NumericSummary:
    """Summary statistics of a numeric reference; ``None`` where there were no values."""

    count: int
    missing: int
    min: float | None
    max: float | None
    mean: float | None
    std: float | None
    quantiles: dict[str, float]


@dataclass(frozen=True)
class CategoricalSummary:
    """Summary of a categorical reference: value counts and the most frequent values."""

    count: int
    missing: int
    distinct: int
    top: tuple[tuple[str, int], ...]


Summary = NumericSummary | CategoricalSummary


@dataclass(frozen=True)
class FeatureBaseline:
    """Reference of one binned quantity (a feature, the prediction or the label).

    ``counts`` are the reference slot counts in ``layout``; the live windows count into the same
    slots with :meth:`slots`, and the statistics compare :meth:`distribution` of both.
    """

    name: str
    layout: Layout
    counts: tuple[int, ...]
    summary: Summary

    @property
    def kind(self) -> Literal["numeric", "categorical"]:
        """``"numeric"`` or ``"categorical"``."""
        return "numeric" if isinstance(self.layout, NumericLayout) else "categorical"

    @property
    def n_slots(self) -> int:
        """Number of slots (length of ``counts``)."""
        return self.layout.n_slots

    @property
    def rows(self) -> int:
        """Reference rows, missing ones included."""
        return sum(self.counts)

    @cached_property
    def reference_counts(self) -> IntArray:
        """``counts`` as an int64 array."""
        return np.asarray(self.counts, dtype=np.int64)

    @cached_property
    def reference_distribution(self) -> IntArray:
        """The reference counts the statistics see (see :meth:`distribution`)."""
        return self.distribution(self.reference_counts)

    @property
    def missing_rate(self) -> float:
        """Share of reference rows where the value was missing."""
        total = self.rows
        return self.counts[self.layout.missing_slot] / total if total else 0.0

    @property
    def missing_slot(self) -> int:
        """Slot of missing values."""
        return self.layout.missing_slot

    @property
    def out_of_range_slots(self) -> tuple[int, ...]:
        """Numeric: the ``below`` and ``above`` slots; categorical: none."""
        if isinstance(self.layout, NumericLayout):
            return self.layout.out_of_range_slots
        return ()

    @property
    def unseen_slot(self) -> int | None:
        """Categorical: the slot of values never seen in the reference; numeric: ``None``."""
        if isinstance(self.layout, CategoricalLayout):
            return self.layout.unseen_slot
        return None

    @property
    def centers(self) -> FloatArray | None:
        """Numeric: the bin midpoints (for Wasserstein); categorical: ``None``."""
        if isinstance(self.layout, NumericLayout):
            return self.layout.centers
        return None

    @property
    def scale(self) -> float:
        """Numeric: the reference standard deviation (0.0 without values); categorical: 1.0."""
        if isinstance(self.summary, NumericSummary):
            return self.summary.std if self.summary.std is not None else 0.0
        return 1.0

    @property
    def statistics(self) -> tuple[str, ...]:
        """Names of the distribution statistics that apply (ordered ones need numeric bins)."""
        return tuple(
            name
            for name, spec in DISTRIBUTION_STATISTICS.items()
            if self.kind == "numeric" or not spec.ordered_bins
        )

    def score(self, current: IntArray, *, epsilon: float) -> dict[str, Statistic]:
        """Every applicable statistic of ``current`` (see :meth:`distribution`) against this
        reference; stacked distributions (leading axes) give arrays.

        >>> from baselines.profile import numeric_summary
        >>> feature = FeatureBaseline("x", NumericLayout((0.0, 1.0, 2.0)), (0, 50, 50, 0, 0),
        ...                           numeric_summary(np.arange(2.0)))
        >>> round(feature.score(np.array([60, 40]), epsilon=1e-4)["psi"], 4)
        0.0405
        """
        return compute_all(
            self.statistics,
            self.reference_distribution,
            current,
            epsilon=epsilon,
            centers=self.centers,
            scale=self.scale,
        )

    def slots(self, values: FloatArray | pa.Array) -> IntArray:
        """Slot index of each value: float64 numpy for numeric, a string array for categorical."""
        if isinstance(self.layout, NumericLayout):
            if isinstance(values, pa.Array):
                raise TypeError(f"feature {self.name!r} is numeric; pass float64 numpy values")
            return self.layout.slots(values)
        if not isinstance(values, pa.Array):
            raise TypeError(f"feature {self.name!r} is categorical; pass a pyarrow string array")
        return self.layout.slots(values)

    def distribution(self, counts: IntArray) -> IntArray:
        """The counts the statistics see, broadcasting over leading axes."""
        return self.layout.distribution(counts)


@dataclass(frozen=True)
class SegmentBaseline:
    """Reference of one slice (or of all rows): same bins as the overall baseline."""

    rows: int
    features: dict[str, FeatureBaseline]
    prediction: FeatureBaseline | None = None
    label: FeatureBaseline | None = None
    performance: dict[str, float] | None = None
    probabilities: dict[str, FeatureBaseline] = field(default_factory=dict)


@dataclass(frozen=True)
class Calibration:
    """Null distributions of each statistic per subject and window size.

    ``statistics[stat][subject][i]`` summarises the statistic between the reference and random
    samples of ``window_sizes[i]`` rows drawn from it; ``subject`` is a feature name or
    :data:`PREDICTION_SUBJECT`.
    """

    window_sizes: tuple[int, ...]
    replicates: int
    seed: int
    epsilon: float
    statistics: dict[str, dict[str, tuple[NullSummary, ...]]]

    def summaries(self, statistic: str, subject: str) -> tuple[NullSummary, ...]:
        """Null summaries of one statistic and subject, one per window size (empty if none)."""
        return self.statistics.get(statistic, {}).get(subject, ())


@dataclass(frozen=True)
class BuildParameters:
    """The options a baseline was built with (recorded in ``source.parameters``)."""

    prediction: str | None
    label: str | None
    timestamp: str | None
    exclude: tuple[str, ...]
    categorical: tuple[str, ...]
    segments: tuple[str, ...]
    bins: int
    top_k: int
    max_known_values: int
    max_segment_values: int
    min_segment_rows: int
    window_sizes: tuple[int, ...]
    replicates: int
    seed: int
    epsilon: float
    prediction_proba: str | None = None


@dataclass(frozen=True)
class SourceInfo:
    """Where the reference came from: file name and sha256 (if any), shape and build options."""

    rows: int
    columns: tuple[str, ...]
    parameters: BuildParameters
    file: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class Baseline:
    """Everything driftwarden knows about a model's training data.

    ``features`` keep the training file's column order. With ``task == "classification"`` a
    categorical ``prediction`` holds predicted classes (score 1 when equal to
    ``positive_label``), a numeric one holds scores in [0, 1]; the ``label`` is categorical.
    With ``task == "multiclass"`` (or a multiclass prediction without a label) ``classes`` are
    the classes in sorted order, the categorical ``prediction`` holds the predicted class, and
    ``probabilities`` holds, by subject name (:func:`class_subject`), each class's probability
    when the training data gave them.
    With ``task == "regression"`` prediction and label are numeric and the label's ``scale`` is
    the one of the performance accumulators.
    """

    model: str
    rows: int
    features: dict[str, FeatureBaseline]
    source: SourceInfo
    prediction: FeatureBaseline | None = None
    label: FeatureBaseline | None = None
    task: Task | None = None
    positive_label: str | None = None
    performance: dict[str, float] | None = None
    segments: dict[str, SegmentBaseline] = field(default_factory=dict)
    calibration: Calibration | None = None
    classes: tuple[str, ...] = ()
    probabilities: dict[str, FeatureBaseline] = field(default_factory=dict)

    @cached_property
    def overall(self) -> SegmentBaseline:
        """The whole reference, shaped like a segment."""
        return SegmentBaseline(
            self.rows,
            self.features,
            self.prediction,
            self.label,
            self.performance,
            self.probabilities,
        )

    def for_segment(self, segment: str | None) -> SegmentBaseline:
        """The reference of a segment key such as ``"platform=ios"``, else the overall one."""
        if segment and segment in self.segments:
            return self.segments[segment]
        return self.overall

    def feature_for(self, name: str, segment: str | None = None) -> FeatureBaseline:
        """A feature's reference in a segment, falling back to the overall reference."""
        return self.for_segment(segment).features[name]

    def null_summaries(self) -> dict[str, dict[str, list[NullSummary]]]:
        """Calibrated null summaries by statistic and subject (empty without calibration)."""
        if self.calibration is None:
            return {}
        return {
            statistic: {subject: list(summaries) for subject, summaries in by_subject.items()}
            for statistic, by_subject in self.calibration.statistics.items()
        }

    @cached_property
    def digest(self) -> str:
        """``"sha256:<hex>"`` of the canonical content (the document without ``digest``)."""
        from baselines.codec import baseline_digest

        return baseline_digest(self)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document (see :func:`baselines.codec.encode_baseline`)."""
        from baselines.codec import encode_baseline

        return encode_baseline(self)

    def save(self, path: str | Path) -> None:
        """Write the baseline file (see :func:`baselines.baseline_file.save_baseline`)."""
        from baselines.baseline_file import save_baseline

        save_baseline(self, path)

    @classmethod
    def load(cls, path: str | Path) -> Baseline:
        """Read and validate a baseline file (see :func:`baselines.baseline_file.load_baseline`)."""
        from baselines.baseline_file import load_baseline

        return load_baseline(path)
