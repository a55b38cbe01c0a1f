"""Build a baseline from training data: bin every column once, count, slice, calibrate.

``build_baseline`` works on a pyarrow table; ``build_baseline_file`` is what
``driftwarden baseline build`` calls (read, build, save). Both raise
:class:`~baselines.errors.BaselineError` for user mistakes, with a one-line message.
The result depends only on the table's content and the options: the same input gives the same
bytes.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypedDict, Unpack

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from baselines.binning import to_category_strings, value_frequencies
from baselines.calibration import calibrate
from baselines.columns import (
    ColumnRoles,
    assign_columns,
    category_strings,
    no_values_error,
    numeric_values,
)
from baselines.defaults import DEFAULT_BINS, DEFAULT_TOP_K, DEFAULT_WINDOW_SIZES
from baselines.errors import BaselineError
from baselines.profile import BinnedColumn, bin_categorical, bin_numeric, rebin
from baselines.progress import delayed_progress
from baselines.reader import InputFile, read_table
from baselines.targets import Targets, resolve_targets
from baselines.threads import map_columns
from baselines.values import (
    PREDICTION_SUBJECT,
    Baseline,
    BuildParameters,
    SegmentBaseline,
    SourceInfo,
)
from detectors.statistics import DEFAULT_EPSILON

BoolArray = npt.NDArray[np.bool_]


class BuildOptions(TypedDict, total=False):
    """The options of :func:`build_baseline` besides the table, model, progress and source."""

    prediction: str | None
    prediction_proba: str | None
    label: str | None
    timestamp: str | None
    exclude: Sequence[str]
    categorical: Sequence[str]
    segments: Sequence[str]
    bins: int
    top_k: int
    max_known_values: int
    max_segment_values: int
    min_segment_rows: int
    window_sizes: Sequence[int]
    replicates: int
    seed: int
    epsilon: float
    bins_from: Baseline | None


def build_baseline(
    table: pa.Table,
    *,
    model: str,
    prediction: str | None = None,
    prediction_proba: str | None = None,
    label: str | None = None,
    timestamp: str | None = None,
    exclude: Sequence[str] = (),
    categorical: Sequence[str] = (),
    segments: Sequence[str] = (),
    bins: int = DEFAULT_BINS,
    top_k: int = DEFAULT_TOP_K,
    max_known_values: int = 10_000,
    max_segment_values: int = 20,
    min_segment_rows: int = 200,
    window_sizes: Sequence[int] = DEFAULT_WINDOW_SIZES,
    replicates: int = 1000,
    seed: int = 0,
    epsilon: float = DEFAULT_EPSILON,
    bins_from: Baseline | None = None,
    progress: bool = False,
    source: InputFile | None = None,
) -> Baseline:
    """Build the baseline of ``model`` from a training table.

    ``prediction_proba`` is a pattern with one ``*`` naming one column of probabilities per
    class (see :mod:`baselines.multiclass`). Every column not named as prediction, label,
    timestamp or segment, not excluded and not
    reserved (``event_id``, ``model``, ``model_version``) is a feature: numeric for number
    types (unless listed in ``categorical``), categorical for text and bools. Segments are the
    ``max_segment_values`` most frequent values of each ``segments`` column that have at least
    ``min_segment_rows`` rows. Calibration draws ``replicates`` samples per window size.
    With ``bins_from`` (the baseline of the model's other version), every column is counted into
    that baseline's frozen bins instead of its own, so two versions' windows can be compared
    slot by slot (canary vs stable); the columns must be the same.
    """
    parameters = BuildParameters(
        prediction=prediction,
        label=label,
        timestamp=timestamp,
        exclude=_names(exclude),
        categorical=_names(categorical),
        segments=_names(segments),
        bins=bins,
        top_k=top_k,
        max_known_values=max_known_values,
        max_segment_values=max_segment_values,
        min_segment_rows=min_segment_rows,
        window_sizes=tuple(sorted(set(window_sizes))),
        replicates=replicates,
        seed=seed,
        epsilon=epsilon,
        prediction_proba=prediction_proba,
    )
    _check_options(model, parameters)
    roles, parameters = assign_columns(table.schema, parameters)
    if not roles.features and roles.prediction is None:
        raise BaselineError(
            "no feature or prediction columns are left in the input; check --exclude and the"
            " column names"
        )
    with delayed_progress(progress) as bar:
        task = bar.add_task("Binning columns", total=len(roles.features) + 1)

        def bin_feature(feature: tuple[str, str]) -> BinnedColumn:
            binned = _bin_feature(table, *feature, parameters)
            bar.advance(task)
            return binned

        columns = list(map_columns(bin_feature, roles.features.items()))
        targets = resolve_targets(table, roles, parameters)
        if bins_from is not None:
            columns, targets = _bins_like(bins_from, columns, targets)
        bar.advance(task)
        masks = _segment_masks(table, roles, parameters)
        task = bar.add_task("Slicing segments", total=len(masks))
        segment_baselines = {}
        for key, rows in masks:
            segment_baselines[key] = _reference(columns, targets, rows, table.num_rows)
            bar.advance(task)
        overall = _reference(columns, targets, None, table.num_rows)
        subjects = list(overall.features.items())
        if overall.prediction is not None:
            subjects.append((PREDICTION_SUBJECT, overall.prediction))
        subjects.extend(overall.probabilities.items())
        task = bar.add_task("Calibrating statistics", total=len(subjects))
        calibration = calibrate(
            subjects,
            window_sizes=parameters.window_sizes,
            replicates=parameters.replicates,
            seed=parameters.seed,
            epsilon=parameters.epsilon,
            on_subject=lambda: bar.advance(task),
        )
    return Baseline(
        model=model,
        rows=table.num_rows,
        features=overall.features,
        source=SourceInfo(
            rows=table.num_rows,
            columns=tuple(table.column_names),
            parameters=parameters,
            file=None if source is None else source.name,
            sha256=None if source is None else source.sha256,
        ),
        prediction=overall.prediction,
        label=overall.label,
        task=targets.task,
        positive_label=targets.positive_label,
        performance=overall.performance,
        segments=segment_baselines,
        calibration=calibration,
        classes=targets.classes,
        probabilities=overall.probabilities,
    )


def build_baseline_file(
    input_path: str | Path,
    output_path: str | Path,
    *,
    model: str,
    progress: bool = False,
    empty_is_missing: bool = True,
    **options: Unpack[BuildOptions],
) -> Baseline:
    """Read a training file, build its baseline, save it to ``output_path`` and return it.

    An empty CSV field is missing unless ``empty_is_missing`` is False
    (:func:`baselines.reader.csv_options`)."""
    with ThreadPoolExecutor(1, thread_name_prefix="sha256") as pool:
        source = pool.submit(InputFile.of, input_path)  # hashing releases the GIL: overlap it
        table = read_table(input_path, progress=progress, empty_is_missing=empty_is_missing)
        baseline = build_baseline(
            table, model=model, progress=progress, source=source.result(), **options
        )
    baseline.save(output_path)
    return baseline


def _bins_like(
    other: Baseline, columns: list[BinnedColumn], targets: Targets
) -> tuple[list[BinnedColumn], Targets]:
    """Columns and targets counted into ``other``'s layouts (same names required)."""
    mine = sorted(c.name for c in columns)
    theirs = sorted(other.features)
    if mine != theirs:
        raise BaselineError(
            f"--bins-from: its baseline has features {theirs[:8]} but this input has {mine[:8]};"
            " build both versions' baselines from the same columns"
        )
    rebinned = [rebin(c, other.features[c.name].layout) for c in columns]
    replaced: dict[str, BinnedColumn | None] = {}
    for role, column, reference in (
        ("prediction", targets.prediction, other.prediction),
        ("label", targets.label, other.label),
    ):
        if (column is None) != (reference is None):
            raise BaselineError(
                f"--bins-from: one baseline has a {role} and the other not; pass the same "
                f"--{role} to both"
            )
        replaced[role] = (
            None if column is None or reference is None else rebin(column, reference.layout)
        )
    if sorted(targets.probabilities) != sorted(other.probabilities):
        raise BaselineError(
            "--bins-from: the two baselines give probabilities of different classes; pass the"
            " same --prediction-proba columns to both"
        )
    probabilities = {
        name: rebin(column, other.probabilities[name].layout)
        for name, column in targets.probabilities.items()
    }
    return rebinned, dataclasses.replace(
        targets,
        prediction=replaced["prediction"],
        label=replaced["label"],
        probabilities=probabilities,
    )


def _names(names: Sequence[str]) -> tuple[str, ...]:
    """Column names as a tuple (a lone string is one name, not its characters)."""
    return (names,) if isinstance(names, str) else tuple(names)


def _check_options(model: str, parameters: BuildParameters) -> None:
    if not model.strip():
        raise BaselineError("the model name is empty; pass --model NAME")
    minimums = {
        "bins": (parameters.bins, 1),
        "top_k": (parameters.top_k, 1),
        "max_known_values": (parameters.max_known_values, 0),
        "max_segment_values": (parameters.max_segment_values, 1),
        "min_segment_rows": (parameters.min_segment_rows, 1),
        "replicates": (parameters.replicates, 2),
    }
    for option, (value, minimum) in minimums.items():
        if value < minimum:
            raise BaselineError(f"{option} must be at least {minimum}, got {value}")
    sizes = parameters.window_sizes
    if not sizes or sizes[0] < 1:
        raise BaselineError(
            f"window_sizes must be positive event counts, got {list(sizes)}; e.g. 100 1000 10000"
        )
    if not (math.isfinite(parameters.epsilon) and parameters.epsilon > 0):
        raise BaselineError(f"epsilon must be a small positive number, got {parameters.epsilon}")


def _bin_feature(
    table: pa.Table, name: str, kind: str, parameters: BuildParameters
) -> BinnedColumn:
    column = table.column(name)
    exclude = f"leave it out with --exclude {name}"
    if kind == "numeric":
        values = numeric_values(name, column, fix=f"replace them with missing values or {exclude}")
        if np.isnan(values).all():
            raise no_values_error(name, "feature", exclude)
        return bin_numeric(name, values, parameters.bins)
    strings = to_category_strings(column)
    if strings.null_count == len(strings):
        raise no_values_error(name, "feature", exclude)
    return bin_categorical(name, strings, parameters.top_k, parameters.max_known_values)


def _segment_masks(
    table: pa.Table, roles: ColumnRoles, parameters: BuildParameters
) -> list[tuple[str, BoolArray]]:
    """``("field=value", rows)`` for the most frequent values of each segment column."""
    masks = []
    for name in roles.segments:
        strings = category_strings(name, table.column(name))
        values, counts = value_frequencies(strings)
        for value, count in zip(
            values[: parameters.max_segment_values],
            counts[: parameters.max_segment_values],
            strict=True,
        ):
            if count < parameters.min_segment_rows:
                break
            rows = pc.fill_null(pc.equal(strings, value), False).to_numpy(zero_copy_only=False)
            masks.append((f"{name}={value}", rows))
    return masks


def _reference(
    columns: Sequence[BinnedColumn], targets: Targets, rows: BoolArray | None, row_count: int
) -> SegmentBaseline:
    """The reference of all ``row_count`` rows, or of the rows where ``rows`` is true."""
    references = map_columns(lambda column: column.reference(rows), columns)
    features = dict(zip([column.name for column in columns], references, strict=True))
    return SegmentBaseline(
        rows=row_count if rows is None else int(rows.sum()),
        features=features,
        prediction=None if targets.prediction is None else targets.prediction.reference(rows),
        label=None if targets.label is None else targets.label.reference(rows),
        performance=targets.performance(rows),
        probabilities={
            name: column.reference(rows) for name, column in targets.probabilities.items()
        },
    )
