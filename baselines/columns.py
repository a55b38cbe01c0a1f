"""Which column of the training data plays which role, and whether a feature is numeric.

Every column is a feature unless it is the prediction, the label, the timestamp, a segment
column, excluded, or one of the event contract's reserved columns (``event_id``, ``model``,
``model_version``). When the prediction, label or timestamp is not named, a column called
``prediction``, ``label`` or ``timestamp`` takes that role (a file of logged events is then
training data as is).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import pyarrow as pa

from baselines.binning import FloatArray, to_category_strings
from baselines.errors import BaselineError
from baselines.values import BuildParameters

Kind = Literal["numeric", "categorical"]

#: Event-contract columns that are never features.
RESERVED_COLUMNS = ("event_id", "model", "model_version")
#: Columns taking the prediction/label/timestamp role when none is named.
DEFAULT_ROLE_COLUMNS = ("prediction", "label", "timestamp")

#: Longest list of available columns quoted in an error message.
_LISTED_COLUMNS = 30


@dataclass(frozen=True)
class ColumnRoles:
    """The role of every used column; ``features`` map names to kinds in input order."""

    features: dict[str, Kind]
    prediction: str | None
    label: str | None
    timestamp: str | None
    segments: tuple[str, ...]
    probabilities: dict[str, str] = field(default_factory=dict)


def column_kind(name: str, kind: pa.DataType, *, categorical: bool = False) -> Kind:
    """``"numeric"`` for numbers (unless ``categorical``), ``"categorical"`` for text and bools.

    Raises :class:`BaselineError` for other types (lists, structs, timestamps, …).

    Examples
    --------
    >>> column_kind("age", pa.int64()), column_kind("age", pa.int64(), categorical=True)
    ('numeric', 'categorical')
    >>> column_kind("country", pa.dictionary(pa.int32(), pa.string()))
    'categorical'
    """
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return "categorical" if categorical else "numeric"
    if (
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_string_view(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_dictionary(kind)
        or pa.types.is_null(kind)
    ):
        return "categorical"
    raise BaselineError(
        f"column '{name}' has type {kind}, which is neither numeric nor categorical;"
        f" leave it out with --exclude {name}"
    )


def assign_columns(
    schema: pa.Schema, parameters: BuildParameters
) -> tuple[ColumnRoles, BuildParameters]:
    """The roles of the columns, and ``parameters`` with the default role columns filled in.

    Raises :class:`BaselineError` when a named column is not in ``schema`` or a feature has
    an unsupported type.
    """
    names = list(schema.names)
    _require(names, [parameters.prediction], "--prediction")
    _require(names, [parameters.label], "--label")
    _require(names, [parameters.timestamp], "--timestamp")
    _require(names, parameters.segments, "--segments")
    _require(names, parameters.exclude, "--exclude")
    _require(names, parameters.categorical, "--categorical")
    parameters = _with_default_roles(names, parameters)
    probabilities = probability_columns(names, parameters.prediction_proba)
    taken = {
        *probabilities.values(),
        *RESERVED_COLUMNS,
        *DEFAULT_ROLE_COLUMNS,
        *parameters.segments,
        *parameters.exclude,
        *(
            name
            for name in (parameters.prediction, parameters.label, parameters.timestamp)
            if name is not None
        ),
    }
    features = {
        field.name: column_kind(
            field.name, field.type, categorical=field.name in parameters.categorical
        )
        for field in schema
        if field.name not in taken
    }
    roles = ColumnRoles(
        features=features,
        prediction=parameters.prediction,
        label=parameters.label,
        timestamp=parameters.timestamp,
        segments=parameters.segments,
        probabilities=probabilities,
    )
    return roles, parameters


def probability_columns(names: Sequence[str], pattern: str | None) -> dict[str, str]:
    """Class → column of the columns ``pattern`` matches, by class (the part ``*`` matched).

    Examples
    --------
    >>> probability_columns(["x", "proba_b", "proba_a"], "proba_*")
    {'a': 'proba_a', 'b': 'proba_b'}
    """
    if pattern is None:
        return {}
    if pattern.count("*") != 1:
        raise BaselineError(
            f"--prediction-proba {pattern!r} needs exactly one '*' standing for the class name,"
            " e.g. 'proba_*'"
        )
    found = columns_matching(names, pattern)
    if not found:
        listed = ", ".join(names[:_LISTED_COLUMNS])
        raise BaselineError(
            f"--prediction-proba {pattern!r} matches no column; available columns: {listed}"
        )
    return found


def columns_matching(names: Sequence[str], pattern: str) -> dict[str, str]:
    """Class → column of the ``names`` that ``pattern`` (one ``*``) matches, sorted by class;
    empty when none does or the pattern has no single ``*``.

    >>> columns_matching(["p_b", "p_a", "q"], "p_*"), columns_matching(["p_a"], "p_a")
    ({'a': 'p_a', 'b': 'p_b'}, {})
    """
    if pattern.count("*") != 1:
        return {}
    before, after = pattern.split("*")
    matcher = re.compile(re.escape(before) + "(.+)" + re.escape(after))
    found = {m.group(1): m.group(0) for m in map(matcher.fullmatch, names) if m is not None}
    return dict(sorted(found.items()))


def _with_default_roles(names: Sequence[str], parameters: BuildParameters) -> BuildParameters:
    def role(column: str, given: str | None) -> str | None:
        usable = column in names and column not in parameters.exclude
        return column if given is None and usable else given

    return replace(
        parameters,
        prediction=role("prediction", parameters.prediction),
        label=role("label", parameters.label),
        timestamp=role("timestamp", parameters.timestamp),
    )


def _require(names: Sequence[str], wanted: Sequence[str | None], option: str) -> None:
    for name in wanted:
        if name is not None and name not in names:
            listed = ", ".join(names[:_LISTED_COLUMNS])
            more = (
                f" (and {len(names) - _LISTED_COLUMNS} more)"
                if len(names) > _LISTED_COLUMNS
                else ""
            )
            raise BaselineError(
                f"column '{name}' ({option}) is not in the input; available columns: {listed}{more}"
            )


def numeric_values(name: str, column: pa.Array | pa.ChunkedArray, *, fix: str) -> FloatArray:
    """A numeric column as float64 with NaN for nulls; infinite values are a user error.

    ``fix`` completes the error message (what the user should do about infinities).

    Examples
    --------
    >>> numeric_values("x", pa.array([1, None, 3]), fix="").tolist()
    [1.0, nan, 3.0]
    """
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    values: FloatArray = np.asarray(
        column.cast(pa.float64(), safe=False).to_numpy(zero_copy_only=False), dtype=np.float64
    )
    infinite = int(np.count_nonzero(np.isinf(values)))
    if infinite:
        raise BaselineError(f"column '{name}' has {infinite} infinite values; {fix}")
    return values


def category_strings(name: str, column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A column as canonical category text (see :func:`baselines.binning.to_category_strings`)."""
    column_kind(name, column.type)
    return to_category_strings(column)


def no_values_error(name: str, option: str, fix: str) -> BaselineError:
    """The error for a column whose values are all missing."""
    return BaselineError(f"column '{name}' ({option}) has no values, every row is missing; {fix}")
