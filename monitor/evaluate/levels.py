"""The alert state machine of one check: raise after N windows, clear below a hysteresis margin.

A check is a value where higher is worse with a warning and an intervention threshold. It enters
a tier only after its value has been at or above that tier's threshold for ``consecutive``
windows in a row (with enough events); it leaves a tier only when the value falls below the
tier's threshold times ``1 - hysteresis``. Windows with too few events report
``insufficient_data`` and leave the state and its streaks untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple

import numpy as np


class Level(StrEnum):
    """Alert level of one check; ordered by severity via :meth:`rank`."""

    OK = "ok"
    WARNING = "warning"
    INTERVENTION = "intervention"
    INSUFFICIENT_DATA = "insufficient_data"

    @property
    def rank(self) -> int:
        """0 for ok/insufficient_data, 1 for warning, 2 for intervention (the metric value)."""
        return _RANKS.get(self, 0)


_RANKS = {Level.WARNING: 1, Level.INTERVENTION: 2}

#: Levels by code, in rising severity, so the worst of some codes is their maximum (and
#: insufficient_data, code 0, is the worst only when nothing else is known).
LEVELS = (Level.INSUFFICIENT_DATA, Level.OK, Level.WARNING, Level.INTERVENTION)
CODES = {level: code for code, level in enumerate(LEVELS)}
INSUFFICIENT, OK, WARNING, INTERVENTION = range(4)


class CheckInput(NamedTuple):
    """One check's value in one window, with its thresholds (higher is worse).

    A named tuple, like :class:`Step`: a window makes one per check, and a tuple is built
    several times faster than a frozen dataclass.
    """

    subject: str
    check: str
    value: float
    warning: float
    intervention: float
    sufficient: bool


@dataclass
class CheckState:
    """Current level and how many windows in a row each tier's threshold has held."""

    level: Level = Level.OK
    above_warning: int = 0
    above_intervention: int = 0


class Step(NamedTuple):
    """What one window did to a check: the level to report and, if it changed, the threshold."""

    reported: Level
    before: Level
    after: Level
    threshold: float


def step(state: CheckState, check: CheckInput, *, consecutive: int, hysteresis: float) -> Step:
    """Advance ``state`` by one window and say what to report.

    >>> s = CheckState()
    >>> def psi(value: float) -> str:
    ...     check = CheckInput("x", "psi", value, 0.1, 0.25, True)
    ...     return step(s, check, consecutive=2, hysteresis=0.2).after.value
    >>> [psi(0.3), psi(0.3), psi(0.21), psi(0.05)]
    ['ok', 'intervention', 'intervention', 'ok']
    """
    before = state.level
    if not check.sufficient:
        return Step(Level.INSUFFICIENT_DATA, before, before, 0.0)
    value = check.value
    if before is Level.OK and value < check.warning and value < check.intervention:
        state.above_warning = state.above_intervention = 0  # the usual window: nothing moves
        return Step(before, before, before, check.warning)
    state.above_warning = state.above_warning + 1 if check.value >= check.warning else 0
    state.above_intervention = (
        state.above_intervention + 1 if check.value >= check.intervention else 0
    )
    keep = 1.0 - hysteresis
    holds_intervention = before is Level.INTERVENTION and check.value >= check.intervention * keep
    holds_warning = before is not Level.OK and check.value >= check.warning * keep
    if state.above_intervention >= consecutive or holds_intervention:
        after, threshold = Level.INTERVENTION, check.intervention
    elif state.above_warning >= consecutive or holds_warning:
        after = Level.WARNING
        threshold = check.intervention * keep if before is Level.INTERVENTION else check.warning
    else:
        after = Level.OK
        threshold = check.warning if before is Level.OK else check.warning * keep
    state.level = after
    return Step(after, before, after, threshold)


class Steps(NamedTuple):
    """What one window did to many checks at once, element by element as :class:`Step` says
    (levels as codes of :data:`LEVELS`), and the checks' streaks after it."""

    reported: np.ndarray
    before: np.ndarray
    after: np.ndarray
    threshold: np.ndarray
    above_warning: np.ndarray
    above_intervention: np.ndarray


def step_all(
    level: np.ndarray,
    above_warning: np.ndarray,
    above_intervention: np.ndarray,
    checks: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    *,
    consecutive: int,
    hysteresis: float,
) -> Steps:
    """:func:`step` over arrays: the states (level codes and streaks) of many checks advanced by
    one window each, ``checks`` being their (value, warning, intervention, sufficient).

    >>> codes = step_all(np.array([OK, WARNING]), np.array([1, 3]), np.array([0, 0]),
    ...     (np.array([0.3, 0.05]), np.full(2, 0.1), np.full(2, 0.25), np.full(2, True)),
    ...     consecutive=2, hysteresis=0.2)
    >>> [LEVELS[c].value for c in codes.after], codes.threshold.tolist()
    (['warning', 'ok'], [0.1, 0.08000000000000002])
    """
    value, warning, intervention, sufficient = checks
    keep = 1.0 - hysteresis
    at_warning = value >= warning
    at_intervention = value >= intervention
    streak_warning = np.where(at_warning, above_warning + 1, 0)
    streak_intervention = np.where(at_intervention, above_intervention + 1, 0)
    was_intervention = level == INTERVENTION
    holds_intervention = was_intervention & (value >= intervention * keep)
    holds_warning = (level != OK) & (value >= warning * keep)
    to_intervention = (streak_intervention >= consecutive) | holds_intervention
    to_warning = ~to_intervention & ((streak_warning >= consecutive) | holds_warning)
    after = np.where(to_intervention, INTERVENTION, np.where(to_warning, WARNING, OK))
    threshold = np.where(
        to_intervention,
        intervention,
        np.where(
            to_warning,
            np.where(was_intervention, intervention * keep, warning),
            np.where(level == OK, warning, warning * keep),
        ),
    )
    return Steps(
        np.where(sufficient, after, INSUFFICIENT),
        level,
        np.where(sufficient, after, level),
        np.where(sufficient, threshold, 0.0),
        np.where(sufficient, streak_warning, above_warning),
        np.where(sufficient, streak_intervention, above_intervention),
    )
