"""The baseline's JSON document: its one typing, and the conversions to and from the values.

The ``TypedDict`` classes below are the document's shape: what :func:`encode_baseline` returns
and what :func:`decode_baseline` validates a parsed document against (pydantic, strict mode),
so a wrong field is reported by its path. ``FeatureDoc`` holds a feature's ``bins`` (edges, or
vocabulary, known-other values and truncation; layouts in :mod:`baselines.binning`); segments
share the overall bins, so their ``ReferenceDoc`` entries leave ``bins`` out. Documents are
serialised with orjson, never pickled.

``digest`` is the sha256 of the canonical content: the document without ``digest``, serialised
by orjson with sorted keys. :func:`decode_baseline` checks the format, the digest and every
field, and raises :class:`~baselines.errors.BaselineError` with a one-line message naming the
problem.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Annotated, Any, Literal, NotRequired, TypeVar

import numpy as np
import orjson
from pydantic import Field, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from baselines.binning import CategoricalLayout, Layout, NumericLayout
from baselines.errors import BaselineError
from baselines.values import (
    Baseline,
    BuildParameters,
    Calibration,
    CategoricalSummary,
    FeatureBaseline,
    NumericSummary,
    SegmentBaseline,
    SourceInfo,
    Summary,
    Task,
)
from detectors.thresholds import NullSummary

FORMAT = "driftwarden.baseline/1"
#: Formats this version of driftwarden can load.
READABLE_FORMATS = (FORMAT,)
REBUILD_HINT = "rebuild it with `driftwarden baseline build`"

T = TypeVar("T")
R = TypeVar("R")


class NumericBinsDoc(TypedDict):
    edges: list[float]


class CategoricalBinsDoc(TypedDict):
    vocabulary: list[str]
    known_other: list[str]
    truncated: bool


class NumericSummaryDoc(TypedDict):
    count: int
    missing: int
    min: float | None
    max: float | None
    mean: float | None
    std: float | None
    quantiles: dict[str, float]


class TopValueDoc(TypedDict):
    value: str
    count: int


class CategoricalSummaryDoc(TypedDict):
    count: int
    missing: int
    distinct: int
    top: list[TopValueDoc]


class NumericReferenceDoc(TypedDict):
    name: str
    kind: Literal["numeric"]
    counts: list[int]
    missing_rate: float
    summary: NumericSummaryDoc


class CategoricalReferenceDoc(TypedDict):
    name: str
    kind: Literal["categorical"]
    counts: list[int]
    missing_rate: float
    summary: CategoricalSummaryDoc


class NumericFeatureDoc(NumericReferenceDoc):
    bins: NumericBinsDoc


class CategoricalFeatureDoc(CategoricalReferenceDoc):
    bins: CategoricalBinsDoc


FeatureDoc = Annotated[NumericFeatureDoc | CategoricalFeatureDoc, Field(discriminator="kind")]
ReferenceDoc = Annotated[NumericReferenceDoc | CategoricalReferenceDoc, Field(discriminator="kind")]


class SegmentDoc(TypedDict):
    rows: int
    features: list[ReferenceDoc]
    prediction: ReferenceDoc | None
    label: ReferenceDoc | None
    performance: dict[str, float] | None
    probabilities: NotRequired[list[ReferenceDoc]]


class CalibrationDoc(TypedDict):
    window_sizes: list[int]
    replicates: int
    seed: int
    epsilon: float
    statistics: dict[str, dict[str, list[dict[str, Any]]]]


class ParametersDoc(TypedDict):
    prediction: str | None
    label: str | None
    timestamp: str | None
    exclude: list[str]
    categorical: list[str]
    segments: list[str]
    bins: int
    top_k: int
    max_known_values: int
    max_segment_values: int
    min_segment_rows: int
    window_sizes: list[int]
    replicates: int
    seed: int
    epsilon: float
    prediction_proba: NotRequired[str]


class SourceDoc(TypedDict):
    file: str | None
    sha256: str | None
    rows: int
    columns: list[str]
    parameters: ParametersDoc


class BaselineDoc(TypedDict):
    format: str
    digest: str
    model: str
    task: Task | None
    positive_label: str | None
    rows: int
    features: list[FeatureDoc]
    prediction: FeatureDoc | None
    label: FeatureDoc | None
    performance: dict[str, float] | None
    segments: dict[str, SegmentDoc]
    calibration: CalibrationDoc | None
    source: SourceDoc
    classes: NotRequired[list[str]]
    probabilities: NotRequired[list[FeatureDoc]]


def encode_baseline(baseline: Baseline) -> dict[str, Any]:
    """The JSON document of ``baseline``, ``format`` and ``digest`` first."""
    content = _content(baseline)
    digest = canonical_digest(content)
    return {"format": content.pop("format"), "digest": digest, **content}


def baseline_digest(baseline: Baseline) -> str:
    """``"sha256:<hex>"`` of the canonical content of ``baseline`` (its document without
    ``digest``)."""
    return canonical_digest(_content(baseline))


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


def decode_baseline(doc: object, *, origin: str) -> Baseline:
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
            f"{origin} does not match its digest: the file was edited or corrupted; {REBUILD_HINT}"
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


def _content(baseline: Baseline) -> dict[str, Any]:
    """The document without ``digest``; the multiclass parts only when there are some (so the
    documents, and digests, of other baselines stay as they were)."""
    multiclass: dict[str, Any] = {}
    if baseline.classes:
        multiclass["classes"] = list(baseline.classes)
    if baseline.probabilities:
        multiclass["probabilities"] = [_feature_doc(f) for f in baseline.probabilities.values()]
    return multiclass | {
        "format": FORMAT,
        "model": baseline.model,
        "task": baseline.task,
        "positive_label": baseline.positive_label,
        "rows": baseline.rows,
        "features": [_feature_doc(feature) for feature in baseline.features.values()],
        "prediction": _optional(baseline.prediction, _feature_doc),
        "label": _optional(baseline.label, _feature_doc),
        "performance": None if baseline.performance is None else dict(baseline.performance),
        "segments": {key: _segment_doc(segment) for key, segment in baseline.segments.items()},
        "calibration": _optional(baseline.calibration, _calibration_doc),
        "source": _source_doc(baseline.source),
    }


def _numeric_summary_doc(summary: NumericSummary) -> NumericSummaryDoc:
    return {
        "count": summary.count,
        "missing": summary.missing,
        "min": summary.min,
        "max": summary.max,
        "mean": summary.mean,
        "std": summary.std,
        "quantiles": dict(summary.quantiles),
    }


def _categorical_summary_doc(summary: CategoricalSummary) -> CategoricalSummaryDoc:
    return {
        "count": summary.count,
        "missing": summary.missing,
        "distinct": summary.distinct,
        "top": [{"value": value, "count": count} for value, count in summary.top],
    }


def _reference_doc(feature: FeatureBaseline) -> NumericReferenceDoc | CategoricalReferenceDoc:
    """A feature's document without the bins (as stored for segments)."""
    if isinstance(feature.summary, NumericSummary):
        return {
            "name": feature.name,
            "kind": "numeric",
            "counts": list(feature.counts),
            "missing_rate": feature.missing_rate,
            "summary": _numeric_summary_doc(feature.summary),
        }
    return {
        "name": feature.name,
        "kind": "categorical",
        "counts": list(feature.counts),
        "missing_rate": feature.missing_rate,
        "summary": _categorical_summary_doc(feature.summary),
    }


def _feature_doc(feature: FeatureBaseline) -> NumericFeatureDoc | CategoricalFeatureDoc:
    layout, summary = feature.layout, feature.summary
    if isinstance(layout, NumericLayout) and isinstance(summary, NumericSummary):
        return {
            "name": feature.name,
            "kind": "numeric",
            "bins": {"edges": list(layout.edges)},
            "counts": list(feature.counts),
            "missing_rate": feature.missing_rate,
            "summary": _numeric_summary_doc(summary),
        }
    if isinstance(layout, CategoricalLayout) and isinstance(summary, CategoricalSummary):
        return {
            "name": feature.name,
            "kind": "categorical",
            "bins": {
                "vocabulary": list(layout.vocabulary),
                "known_other": list(layout.known_other),
                "truncated": layout.truncated,
            },
            "counts": list(feature.counts),
            "missing_rate": feature.missing_rate,
            "summary": _categorical_summary_doc(summary),
        }
    raise ValueError(f"feature {feature.name!r} pairs a {feature.kind} layout with another summary")


def _segment_doc(segment: SegmentBaseline) -> SegmentDoc:
    """A segment's document (features without bins)."""
    doc: SegmentDoc = {
        "rows": segment.rows,
        "features": [_reference_doc(feature) for feature in segment.features.values()],
        "prediction": _optional(segment.prediction, _reference_doc),
        "label": _optional(segment.label, _reference_doc),
        "performance": None if segment.performance is None else dict(segment.performance),
    }
    if segment.probabilities:
        doc["probabilities"] = [_reference_doc(f) for f in segment.probabilities.values()]
    return doc


def _calibration_doc(calibration: Calibration) -> CalibrationDoc:
    return {
        "window_sizes": list(calibration.window_sizes),
        "replicates": calibration.replicates,
        "seed": calibration.seed,
        "epsilon": calibration.epsilon,
        "statistics": {
            statistic: {
                subject: [summary.to_dict() for summary in summaries]
                for subject, summaries in by_subject.items()
            }
            for statistic, by_subject in calibration.statistics.items()
        },
    }


def _parameters_doc(parameters: BuildParameters) -> ParametersDoc:
    doc: ParametersDoc = {
        "prediction": parameters.prediction,
        "label": parameters.label,
        "timestamp": parameters.timestamp,
        "exclude": list(parameters.exclude),
        "categorical": list(parameters.categorical),
        "segments": list(parameters.segments),
        "bins": parameters.bins,
        "top_k": parameters.top_k,
        "max_known_values": parameters.max_known_values,
        "max_segment_values": parameters.max_segment_values,
        "min_segment_rows": parameters.min_segment_rows,
        "window_sizes": list(parameters.window_sizes),
        "replicates": parameters.replicates,
        "seed": parameters.seed,
        "epsilon": parameters.epsilon,
    }
    if parameters.prediction_proba is not None:
        doc["prediction_proba"] = parameters.prediction_proba
    return doc


def _source_doc(source: SourceInfo) -> SourceDoc:
    return {
        "file": source.file,
        "sha256": source.sha256,
        "rows": source.rows,
        "columns": list(source.columns),
        "parameters": _parameters_doc(source.parameters),
    }


def _baseline_from_doc(doc: BaselineDoc) -> Baseline:
    features: dict[str, FeatureBaseline] = {}
    for i, feature_doc in enumerate(doc["features"]):
        feature = _feature_from_doc(feature_doc, f"features[{i}]")
        if feature.name in features:
            raise _InvalidField(f"features[{i}].name", f"repeats {feature.name!r}")
        features[feature.name] = feature
    if doc["task"] == "classification" and doc["positive_label"] is None:
        raise _InvalidField("positive_label", "is required for classification")
    classes = tuple(doc.get("classes", ()))
    if doc["task"] == "multiclass" and not classes:
        raise _InvalidField("classes", "is required for multiclass")
    if list(classes) != sorted(set(classes)):
        raise _InvalidField("classes", "must be distinct and sorted")
    prediction = _optional_feature(doc["prediction"], "prediction")
    label = _optional_feature(doc["label"], "label")
    probabilities = {
        feature.name: feature
        for feature in (
            _feature_from_doc(entry, f"probabilities[{i}]")
            for i, entry in enumerate(doc.get("probabilities", []))
        )
    }
    overall = SegmentBaseline(
        doc["rows"], features, prediction, label, doc["performance"], probabilities
    )
    calibration = doc["calibration"]
    return Baseline(
        model=doc["model"],
        rows=doc["rows"],
        features=features,
        source=_source_from_doc(doc["source"]),
        prediction=prediction,
        label=label,
        task=doc["task"],
        positive_label=doc["positive_label"],
        performance=doc["performance"],
        segments={
            key: _segment_from_doc(segment, overall, f"segments.{key}")
            for key, segment in doc["segments"].items()
        },
        calibration=None if calibration is None else _calibration_from_doc(calibration),
        classes=classes,
        probabilities=probabilities,
    )


def _feature_from_doc(
    doc: NumericFeatureDoc | CategoricalFeatureDoc, where: str
) -> FeatureBaseline:
    """A feature from a validated document; ``where`` names it in error messages."""
    layout: Layout
    if doc["kind"] == "numeric":
        layout = NumericLayout(tuple(doc["bins"]["edges"]))
        _check_edges(layout.edges, f"{where}.bins.edges")
    else:
        bins = doc["bins"]
        layout = CategoricalLayout(
            tuple(bins["vocabulary"]), tuple(bins["known_other"]), bins["truncated"]
        )
    return _reference_from_doc(doc, layout, where)


def _reference_from_doc(
    doc: NumericReferenceDoc | CategoricalReferenceDoc, layout: Layout, where: str
) -> FeatureBaseline:
    """A validated document without bins (a segment's) on the overall ``layout``."""
    summary: Summary
    if doc["kind"] == "numeric":
        summary = _numeric_summary_from_doc(doc["summary"])
    else:
        summary = _categorical_summary_from_doc(doc["summary"])
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
    return FeatureBaseline(doc["name"], layout, counts, summary)


def _numeric_summary_from_doc(doc: NumericSummaryDoc) -> NumericSummary:
    return NumericSummary(
        doc["count"],
        doc["missing"],
        doc["min"],
        doc["max"],
        doc["mean"],
        doc["std"],
        dict(doc["quantiles"]),
    )


def _categorical_summary_from_doc(doc: CategoricalSummaryDoc) -> CategoricalSummary:
    top = tuple((entry["value"], entry["count"]) for entry in doc["top"])
    return CategoricalSummary(doc["count"], doc["missing"], doc["distinct"], top)


def _segment_from_doc(doc: SegmentDoc, overall: SegmentBaseline, where: str) -> SegmentBaseline:
    """A segment from a validated document on the bins of the ``overall`` reference."""
    names = [feature["name"] for feature in doc["features"]]
    if names != list(overall.features):
        raise _InvalidField(
            f"{where}.features", "does not list the same features as the overall baseline"
        )
    features = {
        name: _reference_from_doc(feature, overall.features[name].layout, f"{where}.features[{i}]")
        for i, (name, feature) in enumerate(zip(names, doc["features"], strict=True))
    }
    return SegmentBaseline(
        rows=doc["rows"],
        features=features,
        prediction=_segment_reference(doc["prediction"], overall.prediction, f"{where}.prediction"),
        label=_segment_reference(doc["label"], overall.label, f"{where}.label"),
        performance=doc["performance"],
        probabilities=_segment_probabilities(doc.get("probabilities", []), overall, where),
    )


def _segment_probabilities(
    docs: list[NumericReferenceDoc | CategoricalReferenceDoc], overall: SegmentBaseline, where: str
) -> dict[str, FeatureBaseline]:
    """A segment's class probabilities on the overall ones' bins, in the same order."""
    names = [entry["name"] for entry in docs]
    if names != list(overall.probabilities):
        raise _InvalidField(
            f"{where}.probabilities", "does not list the same classes as the overall baseline"
        )
    return {
        name: _reference_from_doc(
            entry, overall.probabilities[name].layout, f"{where}.probabilities[{i}]"
        )
        for i, (name, entry) in enumerate(zip(names, docs, strict=True))
    }


def _calibration_from_doc(doc: CalibrationDoc) -> Calibration:
    """A calibration from a validated document; every subject needs one summary per window
    size."""
    where = "calibration"
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
    return Calibration(sizes, doc["replicates"], doc["seed"], doc["epsilon"], statistics)


def _parameters_from_doc(doc: ParametersDoc) -> BuildParameters:
    return BuildParameters(
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
        prediction_proba=doc.get("prediction_proba"),
    )


def _source_from_doc(doc: SourceDoc) -> SourceInfo:
    return SourceInfo(
        rows=doc["rows"],
        columns=tuple(doc["columns"]),
        parameters=_parameters_from_doc(doc["parameters"]),
        file=doc["file"],
        sha256=doc["sha256"],
    )


def _optional_feature(
    doc: NumericFeatureDoc | CategoricalFeatureDoc | None, where: str
) -> FeatureBaseline | None:
    return None if doc is None else _feature_from_doc(doc, where)


def _segment_reference(
    doc: NumericReferenceDoc | CategoricalReferenceDoc | None,
    overall: FeatureBaseline | None,
    where: str,
) -> FeatureBaseline | None:
    if doc is None:
        return None
    if overall is None:
        raise _InvalidField(where, "is set but the overall baseline has none")
    return _reference_from_doc(doc, overall.layout, where)


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
