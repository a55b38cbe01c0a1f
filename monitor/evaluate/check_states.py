"""The alert state of every check of every window key, as arrays stepped many at a time.

Each (window key, subject, check) ever stepped owns a row: its level code (see
:data:`~monitor.evaluate.levels.LEVELS`) and its two streaks. The checks of windows that close
together are gathered by row, advanced by :func:`~monitor.evaluate.levels.step_all` and written
back, so no check costs a Python call; :meth:`CheckStates.states` gives them back as
:class:`~monitor.evaluate.levels.CheckState` objects, keyed as before (snapshots read those).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from monitor.evaluate.levels import CODES, LEVELS, OK, CheckState, Steps, step_all
from monitor.window.windower import WindowKey

CheckKey = tuple[WindowKey, str, str]
"""(window key, subject, check): what one state belongs to."""


class CheckStates:
    """Level and streaks per check, one row each, in the order the checks were first stepped."""

    def __init__(self, states: Mapping[CheckKey, CheckState] | None = None) -> None:
        states = states or {}
        self.rows: dict[WindowKey, dict[tuple[str, str], int]] = {}
        """Per window key, the row of each of its checks (subject, check)."""
        for i, (key, subject, check) in enumerate(states):
            self.rows.setdefault(key, {})[(subject, check)] = i
        self.size = len(states)
        self.level = np.array([CODES[s.level] for s in states.values()], dtype=np.int64)
        self.above_warning = np.array([s.above_warning for s in states.values()], dtype=np.int64)
        self.above_intervention = np.array(
            [s.above_intervention for s in states.values()], dtype=np.int64
        )
        self._blocks: dict[tuple[tuple[str, str], ...], dict[WindowKey, np.ndarray]] = {}

    def __len__(self) -> int:
        return self.size

    def rows_of(self, key: WindowKey, names: tuple[tuple[str, str], ...]) -> np.ndarray:
        """The rows of a window's checks ``names`` (subject, check), new ones added at ok."""
        block: np.ndarray = self.rows_of_keys([key], names)[0]
        return block

    def rows_of_keys(
        self, keys: Sequence[WindowKey], names: tuple[tuple[str, str], ...]
    ) -> np.ndarray:
        """:meth:`rows_of` of windows with the same checks, a row of the result per key."""
        blocks = self._blocks.get(names)
        if blocks is None:
            blocks = self._blocks[names] = {}
        out = []
        for key in keys:
            block = blocks.get(key)
            if block is None:
                block = blocks[key] = self._add(key, names)
            out.append(block)
        return np.stack(out)

    def _add(self, key: WindowKey, names: tuple[tuple[str, str], ...]) -> np.ndarray:
        """The rows of ``key``'s checks ``names``, those not known yet added at ok."""
        known = self.rows.get(key)
        first = self.size
        if known is None:  # a new key: its checks take the next rows, in order
            known = dict(zip(names, range(first, first + len(names)), strict=True))
            if len(known) < len(names):  # a name given twice: one row, as below
                known = {}
            self.rows[key] = known
            self.size += len(known)
        for name in names:  # a known key with new checks
            if name not in known:
                known[name] = self.size
                self.size += 1
        if self.size > len(self.level):
            self._grow(self.size)
        return np.array([known[name] for name in names], dtype=np.int64)

    def _grow(self, size: int) -> None:
        """Room for ``size`` rows at least (doubling, so adding checks stays linear); the new
        rows are at ok with no streak."""
        extra = max(size, 2 * len(self.level), 64) - len(self.level)
        self.level = np.concatenate([self.level, np.full(extra, OK, np.int64)])
        self.above_warning = np.concatenate([self.above_warning, np.zeros(extra, np.int64)])
        self.above_intervention = np.concatenate(
            [self.above_intervention, np.zeros(extra, np.int64)]
        )

    def step(
        self,
        rows: np.ndarray,
        checks: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
        *,
        consecutive: int,
        hysteresis: float,
    ) -> Steps:
        """Advance the checks at ``rows`` (each at most once) by one window each."""
        steps = step_all(
            self.level[rows],
            self.above_warning[rows],
            self.above_intervention[rows],
            checks,
            consecutive=consecutive,
            hysteresis=hysteresis,
        )
        self.level[rows] = steps.after
        self.above_warning[rows] = steps.above_warning
        self.above_intervention[rows] = steps.above_intervention
        return steps

    def states(self) -> dict[CheckKey, CheckState]:
        """Every check's state as a :class:`CheckState`, in row order."""
        size = self.size
        keys: list[CheckKey] = [(WindowKey("", "", ""), "", "")] * size
        for key, known in self.rows.items():
            for (subject, check), row in known.items():
                keys[row] = (key, subject, check)
        return {
            key: CheckState(LEVELS[level], above_warning, above_intervention)
            for key, level, above_warning, above_intervention in zip(
                keys,
                self.level[:size].tolist(),
                self.above_warning[:size].tolist(),
                self.above_intervention[:size].tolist(),
                strict=True,
            )
        }


def rounds(keys: Sequence[WindowKey]) -> list[list[int]]:
    """Positions of ``keys`` split into rounds that hold each key at most once, in order: the
    windows of one key that close together are stepped one after the other.

    >>> a, b = WindowKey("m", "", ""), WindowKey("m", "", "eu")
    >>> rounds([a, b, a, a])
    [[0, 1], [2], [3]]
    """
    out: list[list[int]] = []
    seen: dict[WindowKey, int] = {}
    for i, key in enumerate(keys):
        round_ = seen.get(key, 0)
        seen[key] = round_ + 1
        if round_ == len(out):
            out.append([])
        out[round_].append(i)
    return out
