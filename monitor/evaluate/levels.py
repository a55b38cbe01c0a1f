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
