"""Which rule an event breaks first: every reject reason after parsing, in judging order.

A message that is not a JSON object was already rejected (``oversize``, ``invalid_json``,
``non_finite_number``, ``not_an_object``). Every parsed event then gets at most one reason, the
first it earns in this order:

1. ``wrong_type`` of ``schema_version``, then ``unknown_schema_version``;
2. ``non_finite_number``: ±inf in a numeric part (flat files; JSON cannot carry it this far);
3. ``wrong_type``: model, model_version, event_id, timestamp, the features and segments
   objects, numeric then categorical features, prediction, label, segment values;
4. ``missing_model``, ``unknown_model``;
5. ``missing_timestamp``, ``invalid_timestamp``, ``future_timestamp``.

Each flag is a vectorised mask over the batch; the detail names the part and what it expects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from monitor.batches import BoolArray, IntArray
from monitor.columns import text_codes
from monitor.decode.columns import Column, Fields
from monitor.decode.config import DecodeLimits, EventSchema, FieldMapping
from monitor.decode.reasons import (
    FUTURE_TIMESTAMP,
    INVALID_TIMESTAMP,
    MISSING_MODEL,
    MISSING_TIMESTAMP,
    NON_FINITE_NUMBER,
    UNKNOWN_MODEL,
    UNKNOWN_SCHEMA_VERSION,
    WRONG_TYPE,
)
from monitor.decode.timestamps import in_event_time_range
from monitor.decode.values import (
    Numbers,
    Texts,
    Times,
    Versions,
    read_categories,
    read_classes,
    read_names,
    read_numbers,
    read_scores,
    read_times,
    read_versions,
)

ReadT = TypeVar("ReadT", Numbers, Texts, Times, Versions)

_CATEGORY = "a string, number or bool"
_SCALAR = "a number, string, bool or null"


@dataclass(frozen=True)
class Part(Generic[ReadT]):
    """One part's interpretation, with the name it was found under and what it expects."""

    name: str
    read: ReadT
    expected: str = ""


@dataclass(frozen=True)
class Parts:
    """Every part of a batch's events, interpreted (see :mod:`monitor.decode.values`)."""

    versions: Part[Versions]
    model: Part[Texts]
    model_version: Part[Texts]
    event_id: Part[Texts]
    times: Part[Times]
    containers: tuple[Column, ...]
    numeric: dict[str, Part[Numbers]]
    categorical: dict[str, Part[Texts]]
    prediction: Part[Numbers] | Part[Texts] | None
    label: Part[Numbers] | Part[Texts] | None
    segments: dict[str, Part[Texts]]

    @classmethod
    def read(cls, fields: Fields, schema: EventSchema) -> Parts:
        """Interpret every part of ``fields``."""
        size, scalars = fields.size, fields.scalars

        def part(column: Column, read: ReadT, expected: str = "") -> Part[ReadT]:
            return Part(column.name, read, expected)

        def target(name: str, kind: str | None) -> Part[Numbers] | Part[Texts] | None:
            if kind is None:
                return None
            column = scalars[name]
            if kind == "numeric":
                scores = read_scores(column, size, schema.positive_class)
                return part(column, scores, "a number or an object of class probabilities")
            if kind == "classes":
                classes = read_classes(column, size)
                return part(
                    column, classes, "a class, a number or an object of class probabilities"
                )
            return part(column, read_categories(column, size), _CATEGORY)

        def categories(columns: dict[str, Column]) -> dict[str, Part[Texts]]:
            return {n: part(c, read_categories(c, size), _CATEGORY) for n, c in columns.items()}

        version, model, timestamp = (
            scalars["schema_version"],
            scalars["model"],
            scalars["timestamp"],
        )
        identifiers = categories({k: scalars[k] for k in ("model_version", "event_id")})
        return cls(
            versions=part(version, read_versions(version, size)),
            model=part(model, read_names(model, size), "a string"),
            model_version=identifiers["model_version"],
            event_id=identifiers["event_id"],
            times=part(
                timestamp, read_times(timestamp, size), "RFC 3339 text or epoch milliseconds"
            ),
            containers=fields.containers,
            numeric={n: part(c, read_numbers(c, size), _SCALAR) for n, c in fields.numeric.items()},
            categorical=categories(fields.categorical),
            prediction=target("prediction", schema.prediction_kind),
            label=target("label", schema.label_kind),
            segments=categories(fields.segments),
        )

    def non_finite(self) -> list[tuple[str, BoolArray]]:
        """(name, rows) of the numeric parts holding ±inf, in judging order."""
        numbers: list[Part[Any]] = [self.times, *self.numeric.values()]
        numbers += [p for p in (self.prediction, self.label) if p and isinstance(p.read, Numbers)]
        return [(p.name, p.read.non_finite) for p in numbers]

    def wrong_types(self) -> list[tuple[str, BoolArray, str]]:
        """(name, rows, expected) of every part, in judging order."""
        leading: list[Part[Any]] = [self.model, self.model_version, self.event_id, self.times]
        found = [(p.name, p.read.wrong, p.expected) for p in leading]
        found += [(c.name, c.wrong, "an object") for c in self.containers if c.wrong is not None]
        trailing: list[Part[Any]] = [*self.numeric.values(), *self.categorical.values()]
        trailing += [p for p in (self.prediction, self.label) if p is not None]
        trailing += self.segments.values()
        found += [(p.name, p.read.wrong, p.expected) for p in trailing]
        return found


@dataclass
class Verdicts:
    """The first broken rule per event: 0 for none, else 1 + index into ``reasons``."""

    size: int
    reasons: list[tuple[str, str]] = field(default_factory=list)
    code: npt.NDArray[np.int32] = field(init=False)

    def __post_init__(self) -> None:
        self.code = np.zeros(self.size, dtype=np.int32)

    def flag(self, mask: BoolArray, reason: str, detail: str) -> None:
        """Give ``reason`` to the events in ``mask`` that broke no earlier rule."""
        if not mask.any():
            return
        hit = mask & (self.code == 0)
        if hit.any():
            self.reasons.append((reason, detail))
            self.code[hit] = len(self.reasons)


@dataclass(frozen=True)
class Judgement:
    """The verdicts of a batch, with the model names and event times the good events keep."""

    verdicts: Verdicts
    model: pa.Array
    event_time_ms: IntArray


def judge(
    parts: Parts,
    schema: EventSchema,
    mapping: FieldMapping,
    limits: DecodeLimits,
    record_ms: IntArray | None,
    now_ms: int,
) -> Judgement:
    """Flag every event with the first rule it breaks (see the module docstring)."""
    verdicts = Verdicts(len(parts.times.read.ms))
    _judge_parts(parts, limits, verdicts)
    model = parts.model.read.values
    if mapping.default_model is not None:
        model = pc.fill_null(model, mapping.default_model)
    _judge_model(model, schema, mapping, verdicts)
    event_time_ms = _judge_time(parts.times, mapping, limits, verdicts, record_ms, now_ms)
    return Judgement(verdicts, model, event_time_ms)


def _judge_parts(parts: Parts, limits: DecodeLimits, verdicts: Verdicts) -> None:
    """Flag wrong schema versions, non-finite numbers and parts of the wrong type."""
    version = parts.versions
    verdicts.flag(version.read.wrong, WRONG_TYPE, f"{version.name}: expected an integer")
    supported = sorted(limits.supported_schema_versions)
    unsupported = ~np.isin(version.read.values, supported)
    for value in np.unique(version.read.values[unsupported]):
        detail = f"{version.name} {value} is not supported (supported: {supported})"
        verdicts.flag(version.read.values == value, UNKNOWN_SCHEMA_VERSION, detail)
    for name, flags in parts.non_finite():
        detail = f"{name}: NaN or infinity; leave the value empty when missing"
        verdicts.flag(flags, NON_FINITE_NUMBER, detail)
    for name, flags, expected in parts.wrong_types():
        verdicts.flag(flags, WRONG_TYPE, f"{name}: expected {expected}")


def _judge_model(
    names: pa.Array, schema: EventSchema, mapping: FieldMapping, verdicts: Verdicts
) -> None:
    """Flag events without a model, then events of a model the schema does not know."""
    codes, distinct = text_codes(names)
    detail = f"no {mapping.model}; set fields.default_model for a single-model stream"
    verdicts.flag(codes < 0, MISSING_MODEL, detail)
    for code, name in enumerate(distinct):
        if name not in schema.models:
            detail = f"model {name!r} is not configured; add it to the models in the config"
            verdicts.flag(codes == code, UNKNOWN_MODEL, detail)


def _judge_time(
    times: Part[Times],
    mapping: FieldMapping,
    limits: DecodeLimits,
    verdicts: Verdicts,
    record_ms: IntArray | None,
    now_ms: int,
) -> IntArray:
    """Flag missing, invalid and future event times; return the event times."""
    read = times.read
    ms, present, invalid = read.ms.copy(), read.present.copy(), read.invalid.copy()
    fallback = mapping.timestamp_fallback
    if fallback and record_ms is not None:
        use = ~present & ~read.wrong & (record_ms >= 0)
        ms[use] = record_ms[use]
        present |= use
        invalid |= use & ~in_event_time_range(record_ms)
    missing = (
        f"no {times.name} and no record timestamp"
        if fallback
        else f"no {times.name}; set fields.timestamp_fallback to use the record timestamp"
    )
    verdicts.flag(~present, MISSING_TIMESTAMP, missing)
    detail = f"{times.name}: expected RFC 3339 text or epoch milliseconds in 1970-2200"
    verdicts.flag(invalid, INVALID_TIMESTAMP, detail)
    future = present & ~invalid & (ms > now_ms + limits.max_future_ms)
    detail = f"{times.name}: more than {limits.max_future_ms} ms ahead of now"
    verdicts.flag(future, FUTURE_TIMESTAMP, detail)
    return ms
