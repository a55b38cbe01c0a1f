"""The baselines' null summaries stacked once, for the statistical thresholds of every window
closing together in one computation.

A calibration is a baseline's null summaries by statistic and subject
(``Baseline.null_summaries``). :class:`StackedCalibrations` puts, per statistic, every
(calibration, subject) with summaries in a row of one :class:`~detectors.null_table.NullTable`,
the first time a window is judged by that statistic (a calibration never changes, and most
statistics a baseline calibrates judge no check), and finds the rows of a window's subjects.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from detectors.null_table import NullTable
from detectors.statistics import DISTRIBUTION_STATISTICS
from detectors.thresholds import NullSummary

Calibration = dict[str, dict[str, list[NullSummary]]]


class StackedCalibrations:
    """The null summaries of calibrations, a :class:`NullTable` per statistic."""

    def __init__(self, calibrations: Iterable[Calibration] = ()) -> None:
        self._known = {id(calibration): calibration for calibration in calibrations}  # kept
        self._tables: dict[str, tuple[NullTable, dict[tuple[int, str], int]]] = {}

    def rows(self, calibration: Calibration, statistic: str, subjects: Sequence[str]) -> np.ndarray:
        """The rows of ``subjects`` in ``statistic``'s table (:meth:`table`) for
        ``calibration`` (-1 where it has no null summaries); a calibration not known yet is
        stacked now."""
        if self._known.get(id(calibration)) is not calibration:
            self._known[id(calibration)] = calibration
            self._tables.clear()
        _, index = self._stacked(statistic)
        key = id(calibration)
        return np.array([index.get((key, name), -1) for name in subjects], dtype=np.int64)

    def table(self, statistic: str) -> NullTable:
        """The null summaries of every calibration's subjects for ``statistic``, stacked."""
        return self._stacked(statistic)[0]

    def _stacked(self, statistic: str) -> tuple[NullTable, dict[tuple[int, str], int]]:
        found = self._tables.get(statistic)
        if found is None:
            index: dict[tuple[int, str], int] = {}
            nulls: list[list[NullSummary]] = []
            for key, calibration in self._known.items():
                for name, summaries in calibration.get(statistic, {}).items():
                    if summaries:
                        index[(key, name)] = len(nulls)
                        nulls.append(summaries)
            exponent = DISTRIBUTION_STATISTICS[statistic].null_exponent
            table = NullTable.stack(nulls, [exponent] * len(nulls))
            found = self._tables[statistic] = (table, index)
        return found
