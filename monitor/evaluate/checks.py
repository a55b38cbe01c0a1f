"""Turn a window's scores into checks: one value (higher is worse) and two thresholds each.

Checks per feature and for the prediction: the configured drift statistic (fixed thresholds, or
calibrated from the baseline's null distribution at a false-alarm rate, optionally corrected
across the model's subjects with Bonferroni or Benjamini–Hochberg), the missing-rate excess over
the reference (critical features escalate at ``missing.critical``), the unseen-category rate
and the out-of-range rate. Performance: the relative degradation of each configured metric.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from baselines.values import PREDICTION_SUBJECT
from detectors.performance import metric_direction, relative_drop
from detectors.thresholds import (
    NullSummary,
    benjamini_hochberg,
    bonferroni,
    null_pvalue,
    threshold_for_size,
)
from monitor.config import AlertConfig, DriftThresholds, TierThresholds
from monitor.evaluate.levels import CheckInput
from monitor.evaluate.scoring import ModelColumns, SubjectColumns, SubjectScores, WindowScores
from monitor.window.slot_layout import LABEL

PERFORMANCE = "performance"
CANARY = "canary_psi"


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
    by_statistic: dict[str, dict[str, SubjectScores]] = {}
    for name, subject in subjects.items():
        by_statistic.setdefault(chosen[name], {})[name] = subject
    drift: dict[str, tuple[float, float]] = {}
    for statistic, group in by_statistic.items():
        events = [s.events for s in group.values()]
        values = [s.statistics[statistic] for s in group.values()]
        summaries = calibration.get(statistic, {})
        drift.update(_drift_thresholds(list(group), events, values, alerts, statistic, summaries))
    checks: list[CheckInput] = []
    for name, subject in subjects.items():
        enough = subject.events >= alerts.min_events
        warning, intervention = drift[name]
        statistic = chosen[name]
        value = subject.statistics[statistic]
        checks.append(CheckInput(name, statistic, value, warning, intervention, enough))
        checks.extend(_rate_checks(name, subject, alerts, name in critical))
    checks.extend(performance_checks(scores.performance, scores.reference_performance, alerts))
    return checks


class CheckColumns(NamedTuple):
    """The subject checks of windows scored together (a :class:`ModelColumns`), as
    :func:`window_checks` makes them for each: per check the position of its subject in the
    layout and its name, then per window (row) and check (column) the value, the two thresholds
    and whether the window had enough events."""

    checks: tuple[tuple[int, str], ...]
    value: np.ndarray
    warning: np.ndarray
    intervention: np.ndarray
    sufficient: np.ndarray


def subject_checks(
    model: ModelColumns,
    alerts: AlertConfig,
    calibrations: Sequence[dict[str, dict[str, list[NullSummary]]]],
    critical: Sequence[frozenset[str]],
) -> CheckColumns:
    """The checks of every subject (features, then the prediction) of windows scored together,
    each window with its calibration (``critical``: each layout's critical features):
    :func:`window_checks` without the performance checks, a check at a time over all the
    windows."""
    windows = len(calibrations)
    positions = [p for p, s in enumerate(model.layouts[0].subjects) if s.name != LABEL]
    chosen = {p: drift_statistic(model.subjects[p], alerts.drift.statistic) for p in positions}
    drift = _drift_columns(model, chosen, alerts, calibrations)
    missing = alerts.missing
    checks: list[tuple[int, str]] = []
    columns: list[tuple[np.ndarray, np.ndarray | float, np.ndarray | float, np.ndarray]] = []
    for p in positions:
        subject = model.subjects[p]
        enough = subject.events >= alerts.min_events
        checks.append((p, chosen[p]))
        columns.append((subject.statistics[chosen[p]], *drift[p], enough))
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
    return CheckColumns(tuple(checks), *parts)


def _drift_columns(
    model: ModelColumns,
    chosen: Mapping[int, str],
    alerts: AlertConfig,
    calibrations: Sequence[dict[str, dict[str, list[NullSummary]]]],
) -> dict[int, tuple[np.ndarray | float, np.ndarray | float]]:
    """Each subject's drift thresholds: constants when fixed, else one pair per window."""
    drift = alerts.drift
    if drift.mode == "fixed":
        defaults = DriftThresholds()
        return {
            p: (drift.warning, drift.intervention)
            if statistic == drift.statistic
            else (defaults.warning, defaults.intervention)
            for p, statistic in chosen.items()
        }
    windows = len(calibrations)
    out = {p: (np.empty(windows), np.empty(windows)) for p in chosen}
    by_statistic: dict[str, list[int]] = {}
    for p, statistic in chosen.items():
        by_statistic.setdefault(statistic, []).append(p)
    names = [model.names(p) for p in range(len(model.subjects))]
    which = model.model_of.tolist()
    for statistic, group in by_statistic.items():
        events = [model.subjects[p].events.tolist() for p in group]
        values = [model.subjects[p].statistics[statistic].tolist() for p in group]
        for i, calibration in enumerate(calibrations):
            subjects = [names[p][which[i]] for p in group]
            pairs = _drift_thresholds(
                subjects,
                [column[i] for column in events],
                [column[i] for column in values],
                alerts,
                statistic,
                calibration.get(statistic, {}),
            )
            for p, name in zip(group, subjects, strict=True):
                out[p][0][i], out[p][1][i] = pairs[name]
    return {p: (warning, intervention) for p, (warning, intervention) in out.items()}


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


def _drift_thresholds(
    names: list[str],
    events: list[int],
    values: list[float],
    alerts: AlertConfig,
    statistic: str,
    summaries: dict[str, list[NullSummary]],
) -> dict[str, tuple[float, float]]:
    """Per subject of one window judged by ``statistic`` (its events and value alongside), the
    warning and intervention thresholds."""
    drift = alerts.drift
    if drift.mode == "fixed":
        fixed = (
            (drift.warning, drift.intervention)
            if statistic == drift.statistic
            else (DriftThresholds().warning, DriftThresholds().intervention)
        )
        return dict.fromkeys(names, fixed)
    rates = (drift.false_alarm_rate.warning, drift.false_alarm_rate.intervention)
    if drift.correction == "bonferroni":
        per_tier = [[bonferroni(a, len(names))] * len(names) for a in rates]
    elif drift.correction == "bh":
        per_tier = [_bh_rates(names, events, values, summaries, a) for a in rates]
    else:
        per_tier = [[a] * len(names) for a in rates]
    out: dict[str, tuple[float, float]] = {}
    for i, name in enumerate(names):
        nulls = summaries.get(name)
        if not nulls:
            out[name] = (drift.warning, drift.intervention)
            continue
        n = max(1, events[i])
        out[name] = (
            threshold_for_size(nulls, n, per_tier[0][i], statistic=statistic),
            threshold_for_size(nulls, n, per_tier[1][i], statistic=statistic),
        )
    return out


def _bh_rates(
    names: Sequence[str],
    events: Sequence[int],
    values: Sequence[float],
    summaries: dict[str, list[NullSummary]],
    fdr: float,
) -> list[float]:
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
    cut = max(1, rejected) * fdr / max(1, len(names))
    return [cut] * len(names)


def _nearest(summaries: list[NullSummary], n: int) -> NullSummary:
    return min(summaries, key=lambda s: abs(np.log(max(1, n)) - np.log(s.n)))
