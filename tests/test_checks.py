"""Checks: a value and two thresholds per subject, fixed or calibrated, with correction."""

from __future__ import annotations

import numpy as np

from detectors.thresholds import NullSummary, summarize_null
from monitor.checks import window_checks
from monitor.config import AlertConfig
from monitor.evaluate import SubjectScores, WindowScores
from monitor.windows import WindowCounts, WindowKey

NULL = summarize_null(np.random.default_rng(0).gamma(4.5, 0.002, 4000), n=1000)


def _scores(psi: dict[str, float], *, events: int = 1000, missing: float = 0.0) -> WindowScores:
    window = WindowCounts(
        WindowKey("m", "v1", ""), 0, 10, events, np.zeros(3, np.int64), np.zeros(0, np.int64)
    )
    features = {
        name: SubjectScores(
            events,
            events,
            {"psi": value, "js": 0.0},
            {"missing_rate": missing, "out_of_range_rate": 0.0},
            0.0,
        )
        for name, value in psi.items()
    }
    return WindowScores(window, features, None, None, {}, {})


def _calibration(names: list[str]) -> dict[str, dict[str, list[NullSummary]]]:
    return {"psi": {name: [NULL] for name in names}}


def _psi_thresholds(
    config: dict[str, object], psi: dict[str, float]
) -> dict[str, tuple[float, float]]:
    checks = window_checks(
        _scores(psi), AlertConfig(**config), _calibration(list(psi)), frozenset()
    )  # type: ignore[arg-type]
    return {c.subject: (c.warning, c.intervention) for c in checks if c.check == "psi"}


def test_fixed_thresholds_are_the_configured_ones() -> None:
    """In fixed mode every feature's PSI check uses 0.1 / 0.25."""
    assert _psi_thresholds({}, {"a": 0.0, "b": 0.3}) == {"a": (0.1, 0.25), "b": (0.1, 0.25)}


def test_calibrated_threshold_sits_at_the_false_alarm_quantile() -> None:
    """A calibrated warning threshold is the null's 99th percentile at a 1% rate."""
    got = _psi_thresholds({"drift": {"mode": "calibrated"}}, {"a": 0.0})["a"]
    assert got[0] == NULL.quantiles[0.01]
    assert got[1] == NULL.quantiles[0.001]


def test_bonferroni_raises_thresholds_with_more_features() -> None:
    """Bonferroni over 20 features uses the 0.05% quantile for a 1% warning rate."""
    names = {f"f{i}": 0.0 for i in range(20)}
    plain = _psi_thresholds({"drift": {"mode": "calibrated"}}, names)["f0"][0]
    corrected = _psi_thresholds(
        {"drift": {"mode": "calibrated", "correction": "bonferroni"}}, names
    )["f0"][0]
    assert corrected > plain


def test_benjamini_hochberg_relaxes_the_cut_when_many_features_drift() -> None:
    """With most features far out, BH's common cut is looser than Bonferroni's."""
    names = {f"f{i}": (1.0 if i < 15 else 0.0) for i in range(20)}
    bonferroni = _psi_thresholds(
        {"drift": {"mode": "calibrated", "correction": "bonferroni"}}, names
    )["f19"][0]
    bh = _psi_thresholds({"drift": {"mode": "calibrated", "correction": "bh"}}, names)["f19"][0]
    assert bh < bonferroni


def test_missing_excess_on_a_critical_feature_intervenes_at_one_percent() -> None:
    """A critical feature's missing-rate check intervenes at 1% excess over the reference."""
    checks = window_checks(_scores({"a": 0.0}, missing=0.02), AlertConfig(), {}, frozenset({"a"}))
    (missing,) = [c for c in checks if c.check == "missing_rate"]
    assert (missing.value, missing.intervention) == (0.02, 0.01)


def test_too_few_events_make_checks_insufficient() -> None:
    """Below min_events the drift check is marked insufficient."""
    checks = window_checks(_scores({"a": 0.5}, events=50), AlertConfig(), {}, frozenset())
    assert not next(c for c in checks if c.check == "psi").sufficient


def test_a_feature_missing_from_every_event_is_checked() -> None:
    """A critical feature absent from all events of a window intervenes (not insufficient data)."""
    window = WindowCounts(
        WindowKey("m", "", ""), 0, 10, 500, np.zeros(3, np.int64), np.zeros(0, np.int64)
    )
    gone = SubjectScores(0, 500, {"psi": 0.0}, {"missing_rate": 1.0, "out_of_range_rate": 0.0}, 0.0)
    checks = window_checks(
        WindowScores(window, {"a": gone}, None, None, {}, {}), AlertConfig(), {}, frozenset({"a"})
    )
    (missing,) = [c for c in checks if c.check == "missing_rate"]
    assert missing.sufficient and missing.value == 1.0 and missing.intervention == 0.01


def test_ordered_statistic_falls_back_to_psi_for_categorical_features() -> None:
    """With statistic ks, a categorical feature (no ks) is checked by PSI at PSI's defaults."""
    window = WindowCounts(
        WindowKey("m", "", ""), 0, 10, 500, np.zeros(3, np.int64), np.zeros(0, np.int64)
    )
    color = SubjectScores(
        500, 500, {"psi": 0.3, "js": 0.2}, {"missing_rate": 0.0, "unseen_rate": 0.0}, 0.0
    )
    config = AlertConfig(drift={"statistic": "ks", "warning": 0.05, "intervention": 0.1})  # type: ignore[arg-type]
    checks = window_checks(
        WindowScores(window, {"color": color}, None, None, {}, {}), config, {}, frozenset()
    )
    (drift,) = [c for c in checks if c.check in ("psi", "ks")]
    assert (drift.check, drift.value, drift.warning, drift.intervention) == ("psi", 0.3, 0.1, 0.25)
