"""The per-record path: one ``orjson.loads`` per message, each message judged on its own.

Taken when the fast path cannot read a batch. Every message that parses to an object keeps its
place; the parts of all of them are then split into one arrow piece per JSON type, so that the
same interpreter as on the fast path (:mod:`monitor.decode.values`) decides what they mean.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from monitor.batches import IntArray
from monitor.decode.columns import Column, Fields, Piece
from monitor.decode.paths import EventPaths, Path, dotted
from monitor.decode.reasons import INVALID_JSON, NON_FINITE_NUMBER, NOT_AN_OBJECT

#: (position in the batch, reject reason, detail) of a message that is not a JSON object.
Failure = tuple[int, str, str]

_INT64 = (-(2**63), 2**63 - 1)


class _NotAnObject:
    """Marks a path whose parent exists but is not an object."""


_NOT_AN_OBJECT = _NotAnObject()


def parse_each(values: Sequence[bytes]) -> tuple[list[dict[str, Any]], IntArray, list[Failure]]:
    """The messages that are JSON objects with their positions, and a failure for each other.

    >>> objects, positions, failures = parse_each([b'{"a": 1}', b"[1]", b'{"a": NaN}', b"{"])
    >>> objects, positions.tolist(), [reason for _, reason, _ in failures]
    ([{'a': 1}], [0], ['not_an_object', 'non_finite_number', 'invalid_json'])
    """
    objects: list[dict[str, Any]] = []
    positions: list[int] = []
    failures: list[Failure] = []
    for position, value in enumerate(values):
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError as error:
            if _has_non_finite_literal(value):
                detail = "NaN or Infinity in the message; send null for a missing value"
                failures.append((position, NON_FINITE_NUMBER, detail))
            else:
                failures.append((position, INVALID_JSON, str(error)))
            continue
        if type(parsed) is dict:
            objects.append(parsed)
            positions.append(position)
        else:
            detail = f"the message is a JSON {_json_kind(parsed)}; send one object per message"
            failures.append((position, NOT_AN_OBJECT, detail))
    return objects, np.array(positions, dtype=np.int64), failures


def fields_from_objects(objects: list[dict[str, Any]], paths: EventPaths) -> Fields:
    """Every part of the parsed ``objects``, split into one arrow piece per JSON type."""
    scalars = {
        part: _column(dotted(path), [_lookup(o, path) for o in objects], part in paths.score_parts)
        for part, path in paths.scalars.items()
    }
    features, features_column = _container(dotted(paths.features), objects, paths.features)
    segments, segments_column = _container(dotted(paths.segments), objects, paths.segments)
    return Fields(
        size=len(objects),
        scalars=scalars,
        numeric={n: _member(paths.features, n, features) for n in paths.numeric},
        categorical={n: _member(paths.features, n, features) for n in paths.categorical},
        segments={n: _member(paths.segments, n, segments) for n in paths.segment_fields},
        containers=(features_column, segments_column),
        unknown_features=_unknown(features, paths.known_features),
    )


def _has_non_finite_literal(value: bytes) -> bool:
    """Whether Python's lenient parser reads ``value`` and meets NaN, ±Infinity or 1e400."""
    found = False

    def constant(_: str) -> None:
        nonlocal found
        found = True

    def number(text: str) -> float:
        nonlocal found
        parsed = float(text)
        found = found or math.isinf(parsed)
        return parsed

    try:
        json.loads(value, parse_constant=constant, parse_float=number)
    except (ValueError, RecursionError):
        return False
    return found


def _json_kind(value: object) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    return "null" if value is None else "number"


def _lookup(node: object, path: Path) -> object:
    """The value at ``path``: None when absent, ``_NOT_AN_OBJECT`` when a parent is a scalar."""
    for part in path:
        if type(node) is not dict:
            return None if node is None else _NOT_AN_OBJECT
        node = node.get(part)
    return node


def _container(
    name: str, objects: list[dict[str, Any]], path: Path
) -> tuple[list[dict[str, Any] | None], Column]:
    """The ``features``/``segments`` object of each event, and a column flagging non-objects."""
    found = [_lookup(o, path) for o in objects]
    wrong = np.array([v is not None and type(v) is not dict for v in found], dtype=np.bool_)
    members = [v if type(v) is dict else None for v in found]
    return members, Column(name, (), wrong)


def _member(path: Path, name: str, containers: list[dict[str, Any] | None]) -> Column:
    values = [None if c is None else c.get(name) for c in containers]
    return _column(dotted((*path, name)), values, probabilities=False)


def _unknown(features: list[dict[str, Any] | None], known: frozenset[str]) -> dict[str, IntArray]:
    rows: dict[str, list[int]] = {}
    for row, values in enumerate(features):
        if values:
            for name, value in values.items():
                if value is not None and name not in known:
                    rows.setdefault(name, []).append(row)
    return {name: np.array(where, dtype=np.int64) for name, where in rows.items()}


def _column(name: str, values: list[object], probabilities: bool) -> Column:
    """One arrow piece per JSON type among ``values``; objects and arrays flagged as wrong.

    With ``probabilities``, objects whose values are all numbers (or null) are kept as a piece.
    """
    texts: list[int] = []
    flags: list[int] = []
    numbers: list[int] = []
    objects: list[int] = []
    wrong: list[int] = []
    for row, value in enumerate(values):
        kind = type(value)
        if value is None:
            continue
        if kind is str:
            texts.append(row)
        elif kind is bool:
            flags.append(row)
        elif kind is int or kind is float:
            numbers.append(row)
        elif isinstance(value, dict) and probabilities and _all_numbers(value):
            objects.append(row)
        else:
            wrong.append(row)
    pieces = []
    if texts:
        pieces.append(_piece(texts, [values[r] for r in texts], pa.string()))
    if flags:
        pieces.append(_piece(flags, [values[r] for r in flags], pa.bool_()))
    if numbers:
        pieces.append(_number_piece(numbers, [values[r] for r in numbers]))
    if objects:
        # probabilities as doubles here: arrow refuses integers beyond 2**53 as float64
        chosen: list[Any] = [_as_floats(values[r]) for r in objects]
        keys = sorted(set().union(*chosen))
        pieces.append(_piece(objects, chosen, pa.struct([(k, pa.float64()) for k in keys])))
    mask = np.zeros(len(values), dtype=np.bool_)
    mask[wrong] = True
    return Column(name, tuple(pieces), mask)


def _piece(rows: list[int], values: list[Any], kind: pa.DataType) -> Piece:
    return Piece(np.array(rows, dtype=np.int64), pa.array(values, type=kind))


def _number_piece(rows: list[int], values: list[Any]) -> Piece:
    """Integers as int64 when all fit, else every number as float64 (pyarrow's promotion)."""
    integral = all(type(v) is int for v in values)
    if integral and _INT64[0] <= min(values) and max(values) <= _INT64[1]:
        return _piece(rows, values, pa.int64())
    return _piece(rows, [float(v) for v in values], pa.float64())


def _as_floats(probabilities: Any) -> dict[str, float | None]:
    """Class probabilities as doubles (the nearest one for large integers), null kept.

    >>> _as_floats({"a": 9007199254740993, "b": None})
    {'a': 9007199254740992.0, 'b': None}
    """
    return {k: None if v is None else float(v) for k, v in probabilities.items()}


def _all_numbers(value: dict[str, Any]) -> bool:
    return all(v is None or type(v) is int or type(v) is float for v in value.values())
