"""Windows that close together, judged at once: their checks as arrays, grouped by which checks
they have, and every check's level stepped in arrays.

The windows of one model share their subject checks (``checks.subject_checks``); a window with
labels adds its performance checks, a canary window its ``canary_psi`` checks, so windows are
grouped by their (subject, check) names: one :class:`CheckGroup` per model and set of names, with
a row per window and a column per check.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from monitor.config import AlertConfig
from monitor.evaluate.calibrations import Calibration, StackedCalibrations
from monitor.evaluate.check_states import CheckStates, rounds
from monitor.evaluate.checks import (
    PERFORMANCE,
    Versus,
    canary_checks,
    performance_checks,
    subject_checks,
)
from monitor.evaluate.levels import CheckInput, Steps
from monitor.evaluate.scoring import ClosingScores, ModelColumns
from monitor.window.slot_layout import ModelLayout
from monitor.window.windower import WindowKey


class CheckGroup(NamedTuple):
    """Windows scored together (``model``) that have the same checks: their positions among the
    windows closing (``members``) and in ``model``'s columns (``rows``), each check's subject
    position in the layout (-1 for performance) and name, and per window (row) and check
    (column) the value, thresholds and sufficiency, and the drift checks' thresholds of both
    kinds (``CheckColumns.tiers``; NaN for other checks)."""

    model: ModelColumns
    members: list[int]
    rows: np.ndarray
    checks: tuple[tuple[int, str], ...]
    value: np.ndarray
    warning: np.ndarray
    intervention: np.ndarray
    sufficient: np.ndarray
    tiers: np.ndarray

    def names(self, layout: int) -> tuple[tuple[str, str], ...]:
        """The (subject, check) names of the checks for the model ``layout`` of the group."""
        return check_names(self.model.layouts[layout], self.checks)


@lru_cache(maxsize=4096)
def check_names(
    layout: ModelLayout, checks: tuple[tuple[int, str], ...]
) -> tuple[tuple[str, str], ...]:
    """The (subject, check) names of ``checks`` (subject position, check) in ``layout``: the
    same tuple every time, so the windows' state rows are found by one lookup."""
    subjects = layout.subjects
    return tuple((PERFORMANCE if p < 0 else subjects[p].name, check) for p, check in checks)


def check_groups(
    scored: ClosingScores,
    versus: Sequence[Versus | None],
    alerts: AlertConfig,
    calibration: Callable[[int], Calibration],
    critical: Callable[[ModelLayout], frozenset[str]],
    stacked: StackedCalibrations,
) -> list[CheckGroup]:
    """The checks of every window closing, grouped (``calibration`` gives a window's by its
    position, ``critical`` a model's critical features; ``stacked`` holds the calibrations'
    null summaries as one table)."""
    out = []
    for model in scored.models:
        columns = subject_checks(
            model,
            alerts,
            [calibration(i) for i in model.members],
            [critical(layout) for layout in model.layouts],
            stacked,
        )
        variants: dict[tuple[tuple[int, str], ...], list[tuple[int, list[CheckInput]]]] = {}
        for row, i in enumerate(model.members):
            extra = performance_checks(
                scored.performance[i], scored.reference_performance[i], alerts
            )
            compared = versus[i]
            if compared is not None:
                extra.extend(canary_checks(compared, alerts.canary))
            if extra:
                layout = model.layouts[model.model_of[row]]
                checks = tuple((_position(layout, c.subject), c.check) for c in extra)
            else:
                checks = ()
            variants.setdefault(checks, []).append((row, extra))
        for checks, members in variants.items():
            rows = np.array([row for row, _ in members])
            parts = [
                columns.value,
                columns.warning,
                columns.intervention,
                columns.sufficient,
                columns.tiers,
            ]
            arrays = [part if len(rows) == len(model.members) else part[rows] for part in parts]
            if checks:
                extras = np.array(
                    [
                        [(c.value, c.warning, c.intervention, c.sufficient) for c in extra]
                        for _, extra in members
                    ]
                )
                arrays = [
                    np.concatenate([a, extras[:, :, k].astype(a.dtype)], axis=1)
                    for k, a in enumerate(arrays[:4])
                ] + [_no_tiers(arrays[4], extras.shape[1])]
            members_at = [model.members[row] for row in rows.tolist()]
            out.append(CheckGroup(model, members_at, rows, columns.checks + checks, *arrays))
    return out


def _no_tiers(tiers: np.ndarray, checks: int) -> np.ndarray:
    """``tiers`` followed by NaN for ``checks`` more checks (not drift checks)."""
    rows, _, kinds = tiers.shape
    return np.concatenate([tiers, np.full((rows, checks, kinds), np.nan)], axis=1)


def _position(layout: ModelLayout, subject: str) -> int:
    """Where a check's subject sits in the layout (-1 for performance)."""
    position = layout.position(subject)
    return -1 if position is None else position


def _runs(values: list[int]) -> list[tuple[int, int, int]]:
    """Each run of equal values: (value, first position, end).

    >>> _runs([3, 3, 1, 3])
    [(3, 0, 2), (1, 2, 3), (3, 3, 4)]
    """
    starts = [i for i in range(len(values)) if i == 0 or values[i] != values[i - 1]]
    return [
        (values[low], low, high)
        for low, high in zip(starts, [*starts[1:], len(values)], strict=True)
    ]


#: The element types of :class:`Steps`: level codes, the margin, streaks.
_STEP_TYPES = (np.int64, np.int64, np.int64, np.float64, np.int64, np.int64)


def step_groups(
    groups: Sequence[CheckGroup],
    keys: Sequence[WindowKey],
    states: CheckStates,
    *,
    consecutive: int,
    hysteresis: float,
) -> list[Steps]:
    """Each group's checks advanced by their window (``keys`` by window position), as matrices
    like the group's; windows of one key are stepped in the order they close."""
    out = [
        Steps(*(np.empty(group.value.shape, dtype) for dtype in _STEP_TYPES)) for group in groups
    ]
    order = {i: g for g, group in enumerate(groups) for i in group.members}
    local = {i: r for group in groups for r, i in enumerate(group.members)}
    for round_ in rounds(keys):
        by_group: dict[int, list[int]] = {}
        for i in round_:
            by_group.setdefault(order[i], []).append(i)
        for g, members in by_group.items():
            group = groups[g]
            at = [local[i] for i in members]
            which = group.model.model_of[group.rows[at]].tolist()
            rows = np.empty((len(at), len(group.checks)), dtype=np.int64)
            for k, low, high in _runs(which):  # in order: new checks get rows as they come
                rows[low:high] = states.rows_of_keys(
                    [keys[i] for i in members[low:high]], group.names(k)
                )
            steps = states.step(
                rows.ravel(),
                (
                    group.value[at].ravel(),
                    group.warning[at].ravel(),
                    group.intervention[at].ravel(),
                    group.sufficient[at].ravel(),
                ),
                consecutive=consecutive,
                hysteresis=hysteresis,
            )
            for whole, part in zip(out[g], steps, strict=True):
                whole[at] = part.reshape(len(at), -1)
    return out
