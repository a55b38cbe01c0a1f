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

import numpy as np

from baselines.values import PREDICTION_SUBJECT
from detectors.performance import METRIC_DIRECTION, relative_drop
from detectors.thresholds import (
    NullSummary,
    benjamini_hochberg,
    bonferroni,
    null_pvalue,
    threshold_for_size,
)
from monitor.config import AlertConfig, DriftThresholds, TierThresholds
from monitor.evaluate.levels import CheckInput
from monitor.evaluate.scoring import SubjectScores, WindowScores

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
        drift.update(_drift_thresholds(group, alerts, statistic, calibration.get(statistic, {})))
    checks: list[CheckInput] = []
    for name, subject in subjects.items():
        enough = subject.events >= alerts.min_events
        warning, intervention = drift[name]
        statistic = chosen[name]
        value = subject.statistics[statistic]
        checks.append(CheckInput(name, statistic, value, warning, intervention, enough))
        checks.extend(_rate_checks(name, subject, alerts, name in critical))
    checks.extend(_performance_checks(scores, alerts))
    return checks


def drift_statistic(subject: SubjectScores, configured: str) -> str:
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


def _performance_checks(scores: WindowScores, alerts: AlertConfig) -> list[CheckInput]:
    config = alerts.performance
    labeled = scores.performance.get("n", 0.0)
    out = []
    for metric in config.metrics:
        if metric not in scores.performance or metric not in scores.reference_performance:
            continue
        drop = relative_drop(
            scores.reference_performance[metric],
            scores.performance[metric],
            METRIC_DIRECTION[metric],
        )
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
    subjects: dict[str, SubjectScores],
    alerts: AlertConfig,
    statistic: str,
    summaries: dict[str, list[NullSummary]],
) -> dict[str, tuple[float, float]]:
    drift = alerts.drift
    if drift.mode == "fixed":
        fixed = (
            (drift.warning, drift.intervention)
            if statistic == drift.statistic
            else (DriftThresholds().warning, DriftThresholds().intervention)
        )
        return dict.fromkeys(subjects, fixed)
    names = list(subjects)
    rates = (drift.false_alarm_rate.warning, drift.false_alarm_rate.intervention)
    if drift.correction == "bonferroni":
        per_tier = [[bonferroni(a, len(names))] * len(names) for a in rates]
    elif drift.correction == "bh":
        per_tier = [_bh_rates(names, subjects, summaries, statistic, a) for a in rates]
    else:
        per_tier = [[a] * len(names) for a in rates]
    out: dict[str, tuple[float, float]] = {}
    for i, name in enumerate(names):
        nulls = summaries.get(name)
        if not nulls:
            out[name] = (drift.warning, drift.intervention)
            continue
        n = max(1, subjects[name].events)
        out[name] = (
            threshold_for_size(nulls, n, per_tier[0][i], statistic=statistic),
            threshold_for_size(nulls, n, per_tier[1][i], statistic=statistic),
        )
    return out


def _bh_rates(
    names: Sequence[str],
    subjects: dict[str, SubjectScores],
    summaries: dict[str, list[NullSummary]],
    statistic: str,
    fdr: float,
) -> list[float]:
    """Per-subject false-alarm rate equivalent to a Benjamini–Hochberg decision at ``fdr``.

    Subjects are rejected at p <= k*·fdr/m (k* the number rejected); the threshold of every
    subject is set at that common cut, or at fdr/m when nothing is rejected.
    """
    pvalues = np.array(
        [
            null_pvalue(
                _nearest(summaries[n], subjects[n].events), subjects[n].statistics[statistic]
            )
            if summaries.get(n)
            else 1.0
            for n in names
        ]
    )
    rejected = int(np.count_nonzero(benjamini_hochberg(pvalues, fdr)))
    cut = max(1, rejected) * fdr / max(1, len(names))
    return [cut] * len(names)


def _nearest(summaries: list[NullSummary], n: int) -> NullSummary:
    return min(summaries, key=lambda s: abs(np.log(max(1, n)) - np.log(s.n)))
