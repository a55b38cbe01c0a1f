"""JSON shapes of the baseline file, one ``TypedDict`` per value type.

They type the ``to_dict`` output of :mod:`baselines.schema` and are what a loaded file is
validated against (pydantic, strict mode), so a wrong field is reported by its path.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field
from typing_extensions import TypedDict

Task = Literal["classification", "regression"]


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
