"""Turn a window's scores into checks: one value (higher is worse) and two thresholds each.

Checks per feature and for the prediction: the configured drift statistic, judged by two kinds
of thresholds (:class:`DriftTiers`): practical (the fixed tiers) and statistical (calibrated from
the baseline's null distribution at the window's size and a false-alarm rate, optionally
corrected across the model's subjects with Bonferroni or Benjamini–Hochberg); ``mode: both``
(the default) raises only beyond both, ``fixed`` and ``calibrated`` use one. The missing-rate
excess over
the reference (critical features escalate at ``missing.critical``), the unseen-category rate
and the out-of-range rate. Performance: the relative degradation of each configured metric.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple

import numpy as np

from baselines.values import PREDICTION_SUBJECT
from detectors.performance import metric_direction, relative_drop
from detectors.statistics import DISTRIBUTION_STATISTICS
from detectors.thresholds import (
    NullSummary,
    benjamini_hochberg,
    bonferroni,
    null_pvalue,
    threshold_for_size,
)
from monitor.config import AlertConfig, DriftThresholds, TierThresholds
from monitor.evaluate.calibrations import Calibration, StackedCalibrations
from monitor.evaluate.levels import CheckInput
from monitor.evaluate.scoring import ModelColumns, SubjectColumns, SubjectScores, WindowScores
from monitor.window.slot_layout import LABEL

PERFORMANCE = "performance"
CANARY = "canary_psi"
#: Check names of the drift statistic: thresholds of both kinds (:class:`DriftTiers`).
DRIFT_CHECKS = frozenset(DISTRIBUTION_STATISTICS)


@dataclass(frozen=True)
class Versus:
    """A version's window compared with the stable version's window of the same time."""

    stable_version: str
    subjects: Mapping[str, SubjectScores]
    sufficient: bool


def canary_checks(versus: Versus, tiers: TierThresholds) -> list[CheckInput]:
    """One ``canary_psi`` check per feature and the prediction."""
    return [
        CheckInput(
            name, CANARY, s.statistics["psi"], tiers.warning, tiers.intervention, versus.sufficient
        )
        for name, s in versus.subjects.items()
    ]


def window_checks(
    scores: WindowScores,
    alerts: AlertConfig,
    calibration: dict[str, dict[str, list[NullSummary]]],
    critical: frozenset[str],
) -> list[CheckInput]:
    """Every check of one window, in a fixed order (features, prediction, performance)."""
    subjects: dict[str, SubjectScores] = dict(scores.features)
    if scores.prediction is not None:
        subjects[PREDICTION_SUBJECT] = scores.prediction
    chosen = {name: drift_statistic(s, alerts.drift.statistic) for name, s in subjects.items()}
    drift = drift_tiers(scores, alerts, calibration)
    checks: list[CheckInput] = []
    for name, subject in subjects.items():
        enough = subject.events >= alerts.min_events
        warning, intervention = drift[name].applied(alerts.drift.mode)
        statistic = chosen[name]
        value = subject.statistics[statistic]
        checks.append(CheckInput(name, statistic, value, warning, intervention, enough))
        checks.extend(_rate_checks(name, subject, alerts, name in critical))
    checks.extend(performance_checks(scores.performance, scores.reference_performance, alerts))
    return checks


class DriftTiers(NamedTuple):
    """A drift check's two kinds of (warning, intervention) thresholds: practical (the fixed
    tiers) and statistical (the null's at the window's size and false-alarm rates; NaN where
    the baseline has no calibration for the subject). Floats for one window, arrays for many."""

    practical_warning: Any
    practical_intervention: Any
    statistical_warning: Any
    statistical_intervention: Any

    def applied(self, mode: str) -> tuple[Any, Any]:
        """The (warning, intervention) thresholds a check is compared with: the practical ones
        (``fixed``), the statistical ones (``calibrated``), or the higher of the two, so that a
        value must be beyond both (``both``); the practical ones where there is no statistical
        threshold."""
        practical = (self.practical_warning, self.practical_intervention)
        if mode == "fixed":
            return practical
        statistical = (self.statistical_warning, self.statistical_intervention)
        pick = np.fmax if mode == "both" else _statistical_or
        chosen = [pick(p, q) for p, q in zip(practical, statistical, strict=True)]
        if np.ndim(chosen[0]) == 0:
            return float(chosen[0]), float(chosen[1])
        return chosen[0], chosen[1]


def _statistical_or(practical: Any, statistical: Any) -> Any:
    """The statistical threshold, the practical one where there is none."""
    return np.where(np.isnan(statistical), practical, statistical)


def drift_tiers(
    scores: WindowScores,
    alerts: AlertConfig,
    calibration: dict[str, dict[str, list[NullSummary]]],
) -> dict[str, DriftTiers]:
    """Each subject's drift thresholds of both kinds in one window, by subject name."""
    subjects: dict[str, SubjectScores] = dict(scores.features)
    if scores.prediction is not None:
        subjects[PREDICTION_SUBJECT] = scores.prediction
    by_statistic: dict[str, dict[str, SubjectScores]] = {}
    for name, subject in subjects.items():
        statistic = drift_statistic(subject, alerts.drift.statistic)
        by_statistic.setdefault(statistic, {})[name] = subject
    out: dict[str, DriftTiers] = {}
    for statistic, group in by_statistic.items():
        events = [s.events for s in group.values()]
        values = [s.statistics[statistic] for s in group.values()]
        summaries = calibration.get(statistic, {})
        practical = _practical(alerts, statistic)
        statistical = _statistical(list(group), events, values, alerts, statistic, summaries)
        for name in group:
            out[name] = DriftTiers(*practical, *statistical[name])
    return out


class CheckColumns(NamedTuple):
    """The subject checks of windows scored together (a :class:`ModelColumns`), as
    :func:`window_checks` makes them for each: per check the position of its subject in the
    layout and its name, then per window (row) and check (column) the value, the two thresholds
    it is compared with and whether the window had enough events; ``tiers`` holds per window and
    check the :class:`DriftTiers` (last axis, in their order), NaN for checks of other kinds."""

    checks: tuple[tuple[int, str], ...]
    value: np.ndarray
    warning: np.ndarray
    intervention: np.ndarray
    sufficient: np.ndarray
    tiers: np.ndarray


def subject_checks(
    model: ModelColumns,
    alerts: AlertConfig,
    calibrations: Sequence[Calibration],
    critical: Sequence[frozenset[str]],
    stacked: StackedCalibrations,
) -> CheckColumns:
    """The checks of every subject (features, then the prediction) of windows scored together,
    each window with its calibration (``critical``: each layout's critical features;
    ``stacked``: the calibrations' null summaries as one table): :func:`window_checks` without
    the performance checks, a check at a time over all the windows."""
    windows = len(calibrations)
    positions = [p for p, s in enumerate(model.layouts[0].subjects) if s.name != LABEL]
    chosen = {p: drift_statistic(model.subjects[p], alerts.drift.statistic) for p in positions}
    drift = _drift_columns(model, chosen, alerts, calibrations, stacked)
    missing = alerts.missing
    checks: list[tuple[int, str]] = []
    columns: list[tuple[np.ndarray, np.ndarray | float, np.ndarray | float, np.ndarray]] = []
    drift_at: list[int] = []
    for p in positions:
        subject = model.subjects[p]
        enough = subject.events >= alerts.min_events
        drift_at.append(len(checks))
        checks.append((p, chosen[p]))
        applied = drift[p].applied(alerts.drift.mode)
        columns.append((subject.statistics[chosen[p]], *applied, enough))
        excess = subject.rates["missing_rate"] - subject.reference_missing_rate
        warning: np.ndarray | float = missing.warning
        intervention: np.ndarray | float = missing.intervention
        is_critical = np.array(
            [name in c for name, c in zip(model.names(p), critical, strict=True)]
        )
        if is_critical.any():
            rows = is_critical[model.model_of]
            warning = np.where(rows, min(missing.warning, missing.critical), missing.warning)
            intervention = np.where(rows, missing.critical, missing.intervention)
        checks.append((p, "missing_rate"))
        columns.append(
            (
                np.where(excess > 0.0, excess, 0.0),
                warning,
                intervention,
                subject.total >= alerts.min_events,
            )
        )
        for check, tier in (
            ("unseen_rate", alerts.unseen),
            ("out_of_range_rate", alerts.out_of_range),
        ):
            if check in subject.rates:
                checks.append((p, check))
                columns.append((subject.rates[check], tier.warning, tier.intervention, enough))
    parts = []
    for part, dtype in ((0, np.float64), (1, np.float64), (2, np.float64), (3, np.bool_)):
        matrix = np.empty((windows, len(columns)), dtype=dtype)
        for c, column in enumerate(columns):
            matrix[:, c] = column[part]
        parts.append(matrix)
    tiers = np.full((windows, len(columns), len(DriftTiers._fields)), np.nan)
    for c, p in zip(drift_at, positions, strict=True):
        for k, values in enumerate(drift[p]):
            tiers[:, c, k] = values
    value, warning_matrix, intervention_matrix, sufficient = parts
    return CheckColumns(
        tuple(checks), value, warning_matrix, intervention_matrix, sufficient, tiers
    )


def _drift_columns(
    model: ModelColumns,
    chosen: Mapping[int, str],
    alerts: AlertConfig,
    calibrations: Sequence[Calibration],
    stacked: StackedCalibrations,
) -> dict[int, DriftTiers]:
    """Each subject's drift thresholds of both kinds, one element per window: the statistical
    ones of every window, subject and tier judged by one statistic in one computation."""
    by_statistic: dict[str, list[int]] = {}
    for p, statistic in chosen.items():
        by_statistic.setdefault(statistic, []).append(p)
    names = [model.names(p) for p in range(len(model.subjects))]
    which = model.model_of.tolist()
    out: dict[int, DriftTiers] = {}
    for statistic, group in by_statistic.items():
        rates = _window_rates(model, group, names, which, alerts, statistic, calibrations)
        combos: dict[tuple[int, int], int] = {}  # (calibration, model) of each window
        firsts: list[int] = []
        for i, calibration in enumerate(calibrations):
            if combos.setdefault((id(calibration), which[i]), len(combos)) == len(firsts):
                firsts.append(i)
        rows = np.stack(
            [
                stacked.rows(calibrations[i], statistic, [names[p][which[i]] for p in group])
                for i in firsts
            ]
        )
        combo = [combos[(id(calibration), which[i])] for i, calibration in enumerate(calibrations)]
        sizes = np.stack([np.maximum(model.subjects[p].events, 1) for p in group], axis=1)
        statistical = stacked.table(statistic).thresholds(
            rows[combo], sizes, np.array(rates).T[:, :, np.newaxis]
        )
        practical = _practical(alerts, statistic)
        for j, p in enumerate(group):
            out[p] = DriftTiers(*practical, statistical[0, :, j], statistical[1, :, j])
    return out


def _window_rates(
    model: ModelColumns,
    group: list[int],
    names: list[list[str]],
    which: list[int],
    alerts: AlertConfig,
    statistic: str,
    calibrations: Sequence[Calibration],
) -> list[tuple[float, float]]:
    """Per window, the (warning, intervention) false-alarm rates of the subjects at ``group``
    judged by ``statistic``, after the configured correction."""
    if alerts.drift.correction != "bh":  # the same in every window
        return [_tier_rates(alerts, len(group), None)] * len(calibrations)
    events = [model.subjects[p].events.tolist() for p in group]
    values = [model.subjects[p].statistics[statistic].tolist() for p in group]
    out = []
    for i, calibration in enumerate(calibrations):
        cut = partial(
            _bh_cut,
            [names[p][which[i]] for p in group],
            [column[i] for column in events],
            [column[i] for column in values],
            calibration.get(statistic, {}),
        )
        out.append(_tier_rates(alerts, len(group), cut))
    return out


def drift_statistic(subject: SubjectScores | SubjectColumns, configured: str) -> str:
    """The configured statistic, or PSI where it does not apply.

    KS and Wasserstein need ordered bins, so categorical subjects are judged by PSI (with PSI's
    default fixed thresholds 0.1 / 0.25, or its own calibration).
    """
    return configured if configured in subject.statistics else "psi"


def _rate_checks(
    name: str, subject: SubjectScores, alerts: AlertConfig, critical: bool
) -> list[CheckInput]:
    missing = alerts.missing
    excess = max(0.0, subject.rates["missing_rate"] - subject.reference_missing_rate)
    warning, intervention = missing.warning, missing.intervention
    if critical:
        warning, intervention = min(warning, missing.critical), missing.critical
    out = [
        CheckInput(
            name, "missing_rate", excess, warning, intervention, subject.total >= alerts.min_events
        )
    ]
    enough = subject.events >= alerts.min_events
    if "unseen_rate" in subject.rates:
        tier = alerts.unseen
        out.append(
            CheckInput(
                name,
                "unseen_rate",
                subject.rates["unseen_rate"],
                tier.warning,
                tier.intervention,
                enough,
            )
        )
    if "out_of_range_rate" in subject.rates:
        tier = alerts.out_of_range
        out.append(
            CheckInput(
                name,
                "out_of_range_rate",
                subject.rates["out_of_range_rate"],
                tier.warning,
                tier.intervention,
                enough,
            )
        )
    return out


def performance_checks(
    performance: Mapping[str, float], reference: Mapping[str, float], alerts: AlertConfig
) -> list[CheckInput]:
    """One check per configured metric the window and its reference both have."""
    config = alerts.performance
    labeled = performance.get("n", 0.0)
    out = []
    for metric in config.metrics:
        if metric not in performance or metric not in reference:
            continue
        drop = relative_drop(reference[metric], performance[metric], metric_direction(metric))
        out.append(
            CheckInput(
                PERFORMANCE,
                metric,
                drop,
                config.warning,
                config.intervention,
                labeled >= config.min_labels,
            )
        )
    return out


def _practical(alerts: AlertConfig, statistic: str) -> tuple[float, float]:
    """The fixed (warning, intervention) tiers of ``statistic``: the configured ones for the
    configured statistic, PSI's defaults where a subject falls back to PSI."""
    drift = alerts.drift
    if statistic == drift.statistic:
        return drift.warning, drift.intervention
    return DriftThresholds().warning, DriftThresholds().intervention


def _statistical(
    names: list[str],
    events: list[int],
    values: list[float],
    alerts: AlertConfig,
    statistic: str,
    summaries: dict[str, list[NullSummary]],
) -> dict[str, tuple[float, float]]:
    """Per subject of one window judged by ``statistic`` (its events and value alongside), the
    statistical warning and intervention thresholds (NaN without null summaries)."""
    cut = partial(_bh_cut, names, events, values, summaries)
    rates = _tier_rates(alerts, len(names), cut)
    out: dict[str, tuple[float, float]] = {}
    for i, name in enumerate(names):
        nulls = summaries.get(name)
        if not nulls:
            out[name] = (math.nan, math.nan)
            continue
        n = max(1, events[i])
        out[name] = (
            threshold_for_size(nulls, n, rates[0], statistic=statistic),
            threshold_for_size(nulls, n, rates[1], statistic=statistic),
        )
    return out


def _tier_rates(
    alerts: AlertConfig, subjects: int, bh_cut: Callable[[float], float] | None
) -> tuple[float, float]:
    """The (warning, intervention) false-alarm rate of each of ``subjects`` judged together in
    one window, after the configured correction (``bh_cut``: Benjamini–Hochberg's cut at a
    rate, from the window's p-values; needed only for ``bh``)."""
    drift = alerts.drift
    warning, intervention = drift.false_alarm_rate.warning, drift.false_alarm_rate.intervention
    if drift.correction == "bonferroni":
        return bonferroni(warning, subjects), bonferroni(intervention, subjects)
    if drift.correction == "bh":
        assert bh_cut is not None, "Benjamini-Hochberg needs the window's p-values"
        return bh_cut(warning), bh_cut(intervention)
    return warning, intervention


def _bh_cut(
    names: Sequence[str],
    events: Sequence[int],
    values: Sequence[float],
    summaries: dict[str, list[NullSummary]],
    fdr: float,
) -> float:
    """Per-subject false-alarm rate equivalent to a Benjamini–Hochberg decision at ``fdr``.

    Subjects are rejected at p <= k*·fdr/m (k* the number rejected); the threshold of every
    subject is set at that common cut, or at fdr/m when nothing is rejected.
    """
    pvalues = np.array(
        [
            null_pvalue(_nearest(summaries[n], size), value) if summaries.get(n) else 1.0
            for n, size, value in zip(names, events, values, strict=True)
        ]
    )
    rejected = int(np.count_nonzero(benjamini_hochberg(pvalues, fdr)))
    return max(1, rejected) * fdr / max(1, len(names))


def _nearest(summaries: list[NullSummary], n: int) -> NullSummary:
    return min(summaries, key=lambda s: abs(np.log(max(1, n)) - np.log(s.n)))
