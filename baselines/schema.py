"""The baseline file: frozen value types, saving, and loading with validation.

A baseline is one JSON object (written with orjson, never pickled)::

    {"format": "driftwarden.baseline/1", "digest": "sha256:<hex>", "model": "car-loan",
     "task": "classification" | "regression" | null, "positive_label": "1" | null, "rows": 200000,
     "features": [FEATURE, …],             # in the order of the training file's columns
     "prediction": FEATURE | null, "label": FEATURE | null,
     "performance": {"accuracy": …} | null,
     "segments": {"platform=ios": {"rows", "features": [REFERENCE, …], "prediction",
                                   "label", "performance"}, …},
     "calibration": {"window_sizes", "replicates", "seed", "epsilon",
                     "statistics": {stat: {feature or "__prediction__": [NullSummary, …]}}} | null,
     "source": {"file", "sha256", "rows", "columns", "parameters": {…}}}

``FEATURE`` is ``{"name", "kind", "bins", "counts", "missing_rate", "summary"}`` with ``bins``
``{"edges"}`` (numeric) or ``{"vocabulary", "known_other", "truncated"}`` (categorical) and
``counts`` the reference slot counts (layouts in :mod:`baselines.binning`). Segments share the
overall bins, so their ``REFERENCE`` entries leave ``bins`` out. :mod:`baselines.documents`
types each shape.

``digest`` is the sha256 of the canonical content: the document without ``digest``, serialised
by orjson with sorted keys. :meth:`Baseline.load` checks the format, the digest and every field,
and raises :class:`~baselines.errors.BaselineError` with a one-line message naming the problem.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
import orjson
import pyarrow as pa
from pydantic import TypeAdapter, ValidationError

from baselines.binning import CategoricalLayout, FloatArray, IntArray, Layout, NumericLayout
from baselines.documents import (
    BaselineDoc,
    CalibrationDoc,
    CategoricalFeatureDoc,
    CategoricalReferenceDoc,
    CategoricalSummaryDoc,
    NumericFeatureDoc,
    NumericReferenceDoc,
    NumericSummaryDoc,
    ParametersDoc,
    SegmentDoc,
    SourceDoc,
    Task,
)
from baselines.errors import BaselineError
from detectors.statistics import DISTRIBUTION_STATISTICS, Statistic, compute_all
from detectors.thresholds import NullSummary

FORMAT = "driftwarden.baseline/1"
#: Formats this version of driftwarden can load.
READABLE_FORMATS = (FORMAT,)
#: Calibration subject name of the prediction (features use their own names).
PREDICTION_SUBJECT = "__prediction__"
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
REBUILD_HINT = "rebuild it with `driftwarden baseline build`"

T = TypeVar("T")
R = TypeVar("R")


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

    def to_dict(self) -> NumericSummaryDoc:
        """The JSON document of this summary."""
        return {
            "count": self.count,
            "missing": self.missing,
            "min": self.min,
            "max": self.max,
            "mean": self.mean,
            "std": self.std,
            "quantiles": dict(self.quantiles),
        }

    @classmethod
    def from_dict(cls, doc: NumericSummaryDoc) -> NumericSummary:
        """Rebuild from a validated document."""
        return cls(
            doc["count"],
            doc["missing"],
            doc["min"],
            doc["max"],
            doc["mean"],
            doc["std"],
            dict(doc["quantiles"]),
        )


@dataclass(frozen=True)
class CategoricalSummary:
    """Summary of a categorical reference: value counts and the most frequent values."""

    count: int
    missing: int
    distinct: int
    top: tuple[tuple[str, int], ...]

    def to_dict(self) -> CategoricalSummaryDoc:
        """The JSON document of this summary."""
        return {
            "count": self.count,
            "missing": self.missing,
            "distinct": self.distinct,
            "top": [{"value": value, "count": count} for value, count in self.top],
        }

    @classmethod
    def from_dict(cls, doc: CategoricalSummaryDoc) -> CategoricalSummary:
        """Rebuild from a validated document."""
        top = tuple((entry["value"], entry["count"]) for entry in doc["top"])
        return cls(doc["count"], doc["missing"], doc["distinct"], top)


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

    def reference_dict(self) -> NumericReferenceDoc | CategoricalReferenceDoc:
        """The JSON document without the bins (as stored for segments)."""
        if isinstance(self.summary, NumericSummary):
            return {
                "name": self.name,
                "kind": "numeric",
                "counts": list(self.counts),
                "missing_rate": self.missing_rate,
                "summary": self.summary.to_dict(),
            }
        return {
            "name": self.name,
            "kind": "categorical",
            "counts": list(self.counts),
            "missing_rate": self.missing_rate,
            "summary": self.summary.to_dict(),
        }

    def to_dict(self) -> NumericFeatureDoc | CategoricalFeatureDoc:
        """The JSON document of this feature."""
        if isinstance(self.layout, NumericLayout) and isinstance(self.summary, NumericSummary):
            return {
                "name": self.name,
                "kind": "numeric",
                "bins": {"edges": list(self.layout.edges)},
                "counts": list(self.counts),
                "missing_rate": self.missing_rate,
                "summary": self.summary.to_dict(),
            }
        if isinstance(self.layout, CategoricalLayout) and isinstance(
            self.summary, CategoricalSummary
        ):
            return {
                "name": self.name,
                "kind": "categorical",
                "bins": {
                    "vocabulary": list(self.layout.vocabulary),
                    "known_other": list(self.layout.known_other),
                    "truncated": self.layout.truncated,
                },
                "counts": list(self.counts),
                "missing_rate": self.missing_rate,
                "summary": self.summary.to_dict(),
            }
        raise ValueError(f"feature {self.name!r} pairs a {self.kind} layout with another summary")

    @classmethod
    def from_dict(
        cls, doc: NumericFeatureDoc | CategoricalFeatureDoc, *, where: str = "feature"
    ) -> FeatureBaseline:
        """Rebuild from a validated document; ``where`` names it in error messages."""
        layout: Layout
        if doc["kind"] == "numeric":
            layout = NumericLayout(tuple(doc["bins"]["edges"]))
            _check_edges(layout.edges, f"{where}.bins.edges")
        else:
            bins = doc["bins"]
            layout = CategoricalLayout(
                tuple(bins["vocabulary"]), tuple(bins["known_other"]), bins["truncated"]
            )
        return cls.from_reference(doc, layout, where=where)

    @classmethod
    def from_reference(
        cls,
        doc: NumericReferenceDoc | CategoricalReferenceDoc,
        layout: Layout,
        *,
        where: str = "feature",
    ) -> FeatureBaseline:
        """Rebuild a validated document without bins (a segment's) on the overall ``layout``."""
        summary: Summary
        if doc["kind"] == "numeric":
            summary = NumericSummary.from_dict(doc["summary"])
        else:
            summary = CategoricalSummary.from_dict(doc["summary"])
        if layout.kind != doc["kind"]:
            raise _InvalidField(
                f"{where}.kind", f"is {doc['kind']} but the overall feature is {layout.kind}"
            )
        counts = tuple(doc["counts"])
        if len(counts) != layout.n_slots or any(count < 0 for count in counts):
            raise _InvalidField(
                f"{where}.counts",
                f"needs {layout.n_slots} non-negative slot counts for its bins, got {len(counts)}",
            )
        return cls(doc["name"], layout, counts, summary)


@dataclass(frozen=True)
class SegmentBaseline:
    """Reference of one slice (or of all rows): same bins as the overall baseline."""

    rows: int
    features: dict[str, FeatureBaseline]
    prediction: FeatureBaseline | None = None
    label: FeatureBaseline | None = None
    performance: dict[str, float] | None = None

    def to_dict(self) -> SegmentDoc:
        """The JSON document of this segment (features without bins)."""
        return {
            "rows": self.rows,
            "features": [feature.reference_dict() for feature in self.features.values()],
            "prediction": _optional(self.prediction, FeatureBaseline.reference_dict),
            "label": _optional(self.label, FeatureBaseline.reference_dict),
            "performance": None if self.performance is None else dict(self.performance),
        }

    @classmethod
    def from_dict(
        cls, doc: SegmentDoc, overall: SegmentBaseline, *, where: str = "segment"
    ) -> SegmentBaseline:
        """Rebuild from a validated document on the bins of the ``overall`` reference."""
        names = [feature["name"] for feature in doc["features"]]
        if names != list(overall.features):
            raise _InvalidField(
                f"{where}.features", "does not list the same features as the overall baseline"
            )
        features = {
            name: FeatureBaseline.from_reference(
                feature, overall.features[name].layout, where=f"{where}.features[{i}]"
            )
            for i, (name, feature) in enumerate(zip(names, doc["features"], strict=True))
        }
        return cls(
            rows=doc["rows"],
            features=features,
            prediction=_segment_reference(
                doc["prediction"], overall.prediction, f"{where}.prediction"
            ),
            label=_segment_reference(doc["label"], overall.label, f"{where}.label"),
            performance=doc["performance"],
        )


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

    def to_dict(self) -> CalibrationDoc:
        """The JSON document of the calibration."""
        return {
            "window_sizes": list(self.window_sizes),
            "replicates": self.replicates,
            "seed": self.seed,
            "epsilon": self.epsilon,
            "statistics": {
                statistic: {
                    subject: [summary.to_dict() for summary in summaries]
                    for subject, summaries in by_subject.items()
                }
                for statistic, by_subject in self.statistics.items()
            },
        }

    @classmethod
    def from_dict(cls, doc: CalibrationDoc, *, where: str = "calibration") -> Calibration:
        """Rebuild from a validated document; every subject needs one summary per window size."""
        sizes = tuple(doc["window_sizes"])
        statistics: dict[str, dict[str, tuple[NullSummary, ...]]] = {}
        for statistic, by_subject in doc["statistics"].items():
            statistics[statistic] = {}
            for subject, entries in by_subject.items():
                path = f"{where}.statistics.{statistic}.{subject}"
                if len(entries) != len(sizes):
                    raise _InvalidField(path, f"needs one summary per window size {list(sizes)}")
                statistics[statistic][subject] = tuple(
                    _null_summary(entry, f"{path}[{i}]") for i, entry in enumerate(entries)
                )
        return cls(sizes, doc["replicates"], doc["seed"], doc["epsilon"], statistics)


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

    def to_dict(self) -> ParametersDoc:
        """The JSON document of the parameters."""
        return {
            "prediction": self.prediction,
            "label": self.label,
            "timestamp": self.timestamp,
            "exclude": list(self.exclude),
            "categorical": list(self.categorical),
            "segments": list(self.segments),
            "bins": self.bins,
            "top_k": self.top_k,
            "max_known_values": self.max_known_values,
            "max_segment_values": self.max_segment_values,
            "min_segment_rows": self.min_segment_rows,
            "window_sizes": list(self.window_sizes),
            "replicates": self.replicates,
            "seed": self.seed,
            "epsilon": self.epsilon,
        }

    @classmethod
    def from_dict(cls, doc: ParametersDoc) -> BuildParameters:
        """Rebuild from a validated document."""
        return cls(
            prediction=doc["prediction"],
            label=doc["label"],
            timestamp=doc["timestamp"],
            exclude=tuple(doc["exclude"]),
            categorical=tuple(doc["categorical"]),
            segments=tuple(doc["segments"]),
            bins=doc["bins"],
            top_k=doc["top_k"],
            max_known_values=doc["max_known_values"],
            max_segment_values=doc["max_segment_values"],
            min_segment_rows=doc["min_segment_rows"],
            window_sizes=tuple(doc["window_sizes"]),
            replicates=doc["replicates"],
            seed=doc["seed"],
            epsilon=doc["epsilon"],
        )


@dataclass(frozen=True)
class SourceInfo:
    """Where the reference came from: file name and sha256 (if any), shape and build options."""

    rows: int
    columns: tuple[str, ...]
    parameters: BuildParameters
    file: str | None = None
    sha256: str | None = None

    def to_dict(self) -> SourceDoc:
        """The JSON document of the source."""
        return {
            "file": self.file,
            "sha256": self.sha256,
            "rows": self.rows,
            "columns": list(self.columns),
            "parameters": self.parameters.to_dict(),
        }

    @classmethod
    def from_dict(cls, doc: SourceDoc) -> SourceInfo:
        """Rebuild from a validated document."""
        return cls(
            rows=doc["rows"],
            columns=tuple(doc["columns"]),
            parameters=BuildParameters.from_dict(doc["parameters"]),
            file=doc["file"],
            sha256=doc["sha256"],
        )


@dataclass(frozen=True)
class Baseline:
    """Everything driftwarden knows about a model's training data.

    ``features`` keep the training file's column order. With ``task == "classification"`` a
    categorical ``prediction`` holds predicted classes (score 1 when equal to
    ``positive_label``), a numeric one holds scores in [0, 1]; the ``label`` is categorical.
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

    @cached_property
    def overall(self) -> SegmentBaseline:
        """The whole reference, shaped like a segment."""
        return SegmentBaseline(
            self.rows, self.features, self.prediction, self.label, self.performance
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
        return canonical_digest(self._content())

    def _content(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "model": self.model,
            "task": self.task,
            "positive_label": self.positive_label,
            "rows": self.rows,
            "features": [feature.to_dict() for feature in self.features.values()],
            "prediction": _optional(self.prediction, FeatureBaseline.to_dict),
            "label": _optional(self.label, FeatureBaseline.to_dict),
            "performance": None if self.performance is None else dict(self.performance),
            "segments": {key: segment.to_dict() for key, segment in self.segments.items()},
            "calibration": _optional(self.calibration, Calibration.to_dict),
            "source": self.source.to_dict(),
        }

    def to_dict(self) -> dict[str, Any]:
        """The JSON document, ``format`` and ``digest`` first."""
        content = self._content()
        digest = canonical_digest(content)
        return {"format": content.pop("format"), "digest": digest, **content}

    @classmethod
    def from_dict(cls, doc: object, *, origin: str = "baseline") -> Baseline:
        """Check format, digest and fields of a parsed document and rebuild the baseline.

        ``origin`` names the document in error messages (the file path when loading).
        """
        if not isinstance(doc, dict):
            raise BaselineError(f"{origin} is not a JSON object; {REBUILD_HINT}")
        found = doc.get("format")
        if found not in READABLE_FORMATS:
            raise BaselineError(
                f"{origin} has format {found!r}, but this version of driftwarden reads only"
                f" {', '.join(READABLE_FORMATS)}; {REBUILD_HINT}"
            )
        stored = doc.get("digest")
        content = {key: value for key, value in doc.items() if key != "digest"}
        if stored != canonical_digest(content):
            raise BaselineError(
                f"{origin} does not match its digest: the file was edited or corrupted;"
                f" {REBUILD_HINT}"
            )
        try:
            valid = _document_adapter().validate_python(doc, strict=True)
        except ValidationError as error:
            first = error.errors()[0]
            raise _InvalidField(_field_path(first["loc"]), first["msg"]).at(origin) from None
        try:
            return _baseline_from_doc(valid)
        except _InvalidField as error:
            raise error.at(origin) from None

    def save(self, path: str | Path) -> None:
        """Write the baseline as indented JSON (atomically: a temporary file, then a rename)."""
        path = Path(path)
        data = orjson.dumps(self.to_dict(), option=orjson.OPT_INDENT_2) + b"\n"
        temporary = path.with_name(f".{path.name}.tmp")
        try:
            temporary.write_bytes(data)
            os.replace(temporary, path)
        except OSError as error:
            temporary.unlink(missing_ok=True)
            raise BaselineError(
                f"cannot write baseline {path}: {error.strerror or error};"
                " check that the directory exists and is writable"
            ) from error

    @classmethod
    def load(cls, path: str | Path) -> Baseline:
        """Read and validate a baseline file; raises :class:`BaselineError` on any problem."""
        path = Path(path)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise BaselineError(
                f"baseline file {path} does not exist; check the path or build it with"
                " `driftwarden baseline build`"
            ) from None
        except OSError as error:
            raise BaselineError(
                f"cannot read baseline file {path}: {error.strerror or error};"
                " check the path and its permissions"
            ) from None
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            raise BaselineError(
                f"baseline file {path} is not valid JSON ({error}); {REBUILD_HINT}"
            ) from None
        return cls.from_dict(doc, origin=f"baseline file {path}")


def canonical_digest(content: Mapping[str, Any]) -> str:
    """``"sha256:<hex>"`` of ``content`` serialised by orjson with sorted keys.

    Examples
    --------
    >>> canonical_digest({"b": 1, "a": [1.5]}) == canonical_digest({"a": [1.5], "b": 1})
    True
    >>> canonical_digest({"a": 1})[:7]
    'sha256:'
    """
    canonical = orjson.dumps(content, option=orjson.OPT_SORT_KEYS)
    return "sha256:" + hashlib.sha256(canonical).hexdigest()


def _baseline_from_doc(doc: BaselineDoc) -> Baseline:
    features: dict[str, FeatureBaseline] = {}
    for i, feature_doc in enumerate(doc["features"]):
        feature = FeatureBaseline.from_dict(feature_doc, where=f"features[{i}]")
        if feature.name in features:
            raise _InvalidField(f"features[{i}].name", f"repeats {feature.name!r}")
        features[feature.name] = feature
    if doc["task"] == "classification" and doc["positive_label"] is None:
        raise _InvalidField("positive_label", "is required for classification")
    prediction = _optional_feature(doc["prediction"], "prediction")
    label = _optional_feature(doc["label"], "label")
    overall = SegmentBaseline(doc["rows"], features, prediction, label, doc["performance"])
    calibration = doc["calibration"]
    return Baseline(
        model=doc["model"],
        rows=doc["rows"],
        features=features,
        source=SourceInfo.from_dict(doc["source"]),
        prediction=prediction,
        label=label,
        task=doc["task"],
        positive_label=doc["positive_label"],
        performance=doc["performance"],
        segments={
            key: SegmentBaseline.from_dict(segment, overall, where=f"segments.{key}")
            for key, segment in doc["segments"].items()
        },
        calibration=None if calibration is None else Calibration.from_dict(calibration),
    )


def _optional_feature(
    doc: NumericFeatureDoc | CategoricalFeatureDoc | None, where: str
) -> FeatureBaseline | None:
    return None if doc is None else FeatureBaseline.from_dict(doc, where=where)


def _segment_reference(
    doc: NumericReferenceDoc | CategoricalReferenceDoc | None,
    overall: FeatureBaseline | None,
    where: str,
) -> FeatureBaseline | None:
    if doc is None:
        return None
    if overall is None:
        raise _InvalidField(where, "is set but the overall baseline has none")
    return FeatureBaseline.from_reference(doc, overall.layout, where=where)


def _optional(value: T | None, convert: Callable[[T], R]) -> R | None:
    return None if value is None else convert(value)


def _null_summary(entry: dict[str, Any], where: str) -> NullSummary:
    try:
        return NullSummary.from_dict(entry)
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise _InvalidField(where, str(error)) from None


def _check_edges(edges: Sequence[float], where: str) -> None:
    values = np.asarray(edges, dtype=np.float64)
    constant = values.size == 2 and values[0] == values[1]
    if values.size < 2 or not np.all(np.isfinite(values)):
        raise _InvalidField(where, "needs at least two finite edges")
    if not constant and not np.all(np.diff(values) > 0):
        raise _InvalidField(where, "must be strictly increasing")


def _field_path(location: Sequence[int | str]) -> str:
    """``features[0].bins.edges`` from a pydantic error location (union tags left out)."""
    path = ""
    previous: int | str | None = None
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in ("numeric", "categorical") and (
            isinstance(previous, int) or previous in ("prediction", "label")
        ):
            pass
        else:
            path += f".{part}" if path else part
        previous = part
    return path or "(document)"


class _InvalidField(Exception):
    """A field of a baseline document is wrong; :meth:`at` names the document."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem

    def at(self, origin: str) -> BaselineError:
        return BaselineError(
            f"{origin} has an invalid field {self.path} ({self.problem}); {REBUILD_HINT}"
        )


@cache
def _document_adapter() -> TypeAdapter[BaselineDoc]:
    return TypeAdapter(BaselineDoc)
