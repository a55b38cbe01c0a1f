"""What the decoder reads and where: field paths, the expected fields, and the limits."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from monitor.errors import ConfigError

Kind = Literal["numeric", "categorical"]
#: How the decoder reads a prediction: a kind, or ``"classes"`` (objects of class probabilities
#: kept whole, :func:`~monitor.decode.values.read_classes`) when a model is multiclass.
PredictionKind = Literal["numeric", "categorical", "classes"]

#: Message parts a path may name; ``features`` and ``segments`` are objects of name → value.
SCALAR_FIELDS = (
    "event_id",
    "model",
    "model_version",
    "timestamp",
    "prediction",
    "label",
    "schema_version",
)
CONTAINER_FIELDS = ("features", "segments")


@dataclass(frozen=True)
class FieldMapping:
    """Dotted paths of each part of an event inside the JSON object (every path configurable).

    ``timestamp_fallback`` uses the source's record timestamp (Kafka) for events without one;
    ``default_model`` names the model of events without a model field (single-model streams).
    ``columns`` serve flat files only: part → the column read for that part when a file has
    it, before the column named by the part's path (a training file's names, e.g.
    ``{"prediction": "y_pred_proba"}``).
    """

    event_id: str = "event_id"
    model: str = "model"
    model_version: str = "model_version"
    timestamp: str = "timestamp"
    features: str = "features"
    prediction: str = "prediction"
    label: str = "label"
    segments: str = "segments"
    schema_version: str = "schema_version"
    timestamp_fallback: bool = False
    default_model: str | None = None
    columns: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        paths = self.paths()
        for name, path in paths.items():
            if not path or "" in path.split("."):
                raise ConfigError(
                    f"fields.{name} is {path!r}; write a dotted path like 'meta.{name}'"
                )
        for name, path in paths.items():
            for other_name, other in paths.items():
                if name != other_name and (other == path or other.startswith(path + ".")):
                    raise ConfigError(
                        f"fields.{name} ({path!r}) overlaps fields.{other_name} ({other!r}); "
                        "give each part of the event its own path"
                    )
        self._check_columns(paths)

    def _check_columns(self, paths: Mapping[str, str]) -> None:
        """Each flat-file column names a scalar part, and no other part's column or path."""
        named: dict[str, str] = {}
        for part, column in self.columns.items():
            if part not in SCALAR_FIELDS:
                raise ConfigError(
                    f"fields.columns.{part} is not a part of an event; use one of "
                    f"{', '.join(SCALAR_FIELDS)}"
                )
            if not column:
                raise ConfigError(f"fields.columns.{part} is empty; name a column of the files")
            other = named.get(column) or next(
                (name for name, path in paths.items() if path == column and name != part), None
            )
            if other is not None:
                raise ConfigError(
                    f"fields.columns.{part} ({column!r}) is already the column of {other}; "
                    "give each part of the event its own column"
                )
            named[column] = part

    def paths(self) -> dict[str, str]:
        """Part name → dotted path, for every scalar and container part."""
        return {name: getattr(self, name) for name in SCALAR_FIELDS + CONTAINER_FIELDS}


@dataclass(frozen=True)
class EventSchema:
    """The parts of an event the decoder extracts, with their kinds.

    ``positive_class`` picks the numeric prediction (or label) out of an object of class
    probabilities; when None, the class named ``"1"``, ``"true"`` or ``"yes"`` (in that order of
    preference), else the last class in sorted order. ``prediction_classes`` are the classes
    of the multiclass models (those a waiting prediction keeps the probabilities of).
    """

    models: frozenset[str]
    numeric_features: tuple[str, ...] = ()
    categorical_features: tuple[str, ...] = ()
    prediction_kind: PredictionKind | None = None
    label_kind: Kind | None = None
    segment_fields: tuple[str, ...] = ()
    positive_class: str | None = None
    prediction_classes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        both = sorted(set(self.numeric_features) & set(self.categorical_features))
        if both:
            raise ConfigError(
                f"features {both} are both numeric and categorical; give each feature one kind"
            )
        for name, kind in (("prediction", self.prediction_kind), ("label", self.label_kind)):
            if kind not in (None, "numeric", "categorical", "classes"):
                raise ConfigError(
                    f"{name} kind {kind!r} is unknown; use 'numeric' or 'categorical'"
                )

    @property
    def features(self) -> tuple[str, ...]:
        """Every known feature, numeric first."""
        return self.numeric_features + self.categorical_features


@dataclass(frozen=True)
class DecodeLimits:
    """Bounds beyond which a message becomes a reject instead of an event."""

    max_message_bytes: int = 1_000_000
    max_future_ms: int = 86_400_000
    supported_schema_versions: frozenset[int] = frozenset({1})
    max_unknown_features: int = 100
