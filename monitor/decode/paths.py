"""Where each part the schema asks for lives in a JSON event, derived once per decoder."""

from __future__ import annotations

from dataclasses import dataclass

from monitor.decode.config import SCALAR_FIELDS, EventSchema, FieldMapping

Path = tuple[str, ...]


@dataclass(frozen=True)
class EventPaths:
    """JSON paths of the parts to read, and which of them are read as text-like values.

    - ``scalars``: part name → path; ``prediction``/``label`` only when the schema gives them a
      kind, and ``score_parts`` are those that may hold objects of class probabilities (read as
      numbers, or as classes).
    - ``text_names``: dotted names of the text-like parts, which may also arrive as numbers or
      booleans and are canonicalised to text; the fast JSON path declares their arrow type up
      front so that pyarrow never turns a date-like string into a timestamp.
    - ``columns``: flat files only, part → the column read for it when a file has that column,
      before the one its path names (only parts in ``scalars``).
    - ``reserved``: every mapped path and column, read or not (flat-file columns that are no
      feature).
    """

    scalars: dict[str, Path]
    features: Path
    segments: Path
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    segment_fields: tuple[str, ...]
    text_names: frozenset[str]
    score_parts: frozenset[str]
    columns: dict[str, str]
    reserved: frozenset[str]

    @classmethod
    def of(cls, schema: EventSchema, mapping: FieldMapping) -> EventPaths:
        """The paths of ``schema``'s parts under ``mapping``."""
        kinds = {"prediction": schema.prediction_kind, "label": schema.label_kind}
        scalars = {
            part: tuple(getattr(mapping, part).split("."))
            for part in SCALAR_FIELDS
            if kinds.get(part, "always") is not None
        }
        features = tuple(mapping.features.split("."))
        segments = tuple(mapping.segments.split("."))
        text_parts = ["event_id", "model_version", "timestamp"]
        text_parts += [part for part, kind in kinds.items() if kind == "categorical"]
        text_names = {dotted(scalars[part]) for part in text_parts}
        text_names |= {dotted((*features, name)) for name in schema.categorical_features}
        text_names |= {dotted((*segments, name)) for name in schema.segment_fields}
        return cls(
            scalars,
            features,
            segments,
            schema.numeric_features,
            schema.categorical_features,
            schema.segment_fields,
            frozenset(text_names),
            frozenset(part for part, kind in kinds.items() if kind in ("numeric", "classes")),
            {part: column for part, column in mapping.columns.items() if part in scalars},
            frozenset([*mapping.paths().values(), *mapping.columns.values()]),
        )

    @property
    def known_features(self) -> frozenset[str]:
        """Every feature name the schema knows."""
        return frozenset(self.numeric + self.categorical)


def dotted(path: Path) -> str:
    """A path as written in messages.

    >>> dotted(("features", "car_value"))
    'features.car_value'
    """
    return ".".join(path)
