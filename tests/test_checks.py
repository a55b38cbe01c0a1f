"""Checks: a value and two thresholds per subject, fixed or calibrated, with correction."""

from __future__ import annotations

import numpy as np

from baselines.values import PREDICTION_SUBJECT as PREDICTION
from detectors.thresholds import NullSummary, summarize_null, threshold_for_size
from monitor.config import AlertConfig, TierThresholds
from monitor.evaluate.checks import (
    CANARY,
    PERFORMANCE,
    Versus,
    canary_checks,
    drift_tiers,
    window_checks,
)
from monitor.evaluate.levels import CheckInput
from monitor.evaluate.scoring import SubjectScores, WindowScores
from monitor.window.windower import WindowCounts, WindowKey

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
    config = {"drift": {"mode": "fixed"}}
    assert _psi_thresholds(config, {"a": 0.0, "b": 0.3}) == {"a": (0.1, 0.25), "b": (0.1, 0.25)}


def test_by_default_a_drift_check_needs_both_the_practical_and_the_statistical_threshold() -> None:
    """The default rule compares PSI with the higher of the fixed tier and the null's threshold
    at the window's size: the null's at 10 events, the fixed tier at 1000 (null 99% ≈ 0.023)."""
    calibration = {"psi": {"a": [NULL]}}
    few = SubjectScores(10, 10, {"psi": 0.0}, {"missing_rate": 0.0}, 0.0)
    many = SubjectScores(1000, 1000, {"psi": 0.0}, {"missing_rate": 0.0}, 0.0)
    small = _window_checks({"a": few}, {}, calibration)[0]
    large = _window_checks({"a": many}, {}, calibration)[0]
    null_warning = threshold_for_size([NULL], 10, 0.01)
    assert null_warning > 0.1
    assert (small.warning, small.intervention) == (
        null_warning,
        threshold_for_size([NULL], 10, 0.001),
    )
    assert (large.warning, large.intervention) == (0.1, 0.25)


def test_a_drift_check_has_both_kinds_of_thresholds_in_every_mode() -> None:
    """Whatever the mode, a drift check's practical and statistical thresholds are known (the
    report shows both); the statistical ones are NaN without a calibration."""
    many = SubjectScores(1000, 1000, {"psi": 0.0}, {"missing_rate": 0.0}, 0.0)
    scores = WindowScores(WINDOW, {"a": many, "b": many}, None, None, {}, {})
    for mode in ("fixed", "calibrated", "both"):
        config = AlertConfig(drift={"mode": mode})  # type: ignore[arg-type]
        tiers = drift_tiers(scores, config, {"psi": {"a": [NULL]}})
        assert tiers["a"] == (0.1, 0.25, NULL.quantiles[0.01], NULL.quantiles[0.001])
        assert tiers["b"][:2] == (0.1, 0.25)
        assert np.isnan(tiers["b"][2:]).all()


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


WINDOW = WindowCounts(
    WindowKey("m", "", ""), 0, 10, 250, np.zeros(3, np.int64), np.zeros(0, np.int64)
)


def _window_checks(
    subjects: dict[str, SubjectScores],
    config: dict[str, object] | None = None,
    calibration: dict[str, dict[str, list[NullSummary]]] | None = None,
    *,
    prediction: SubjectScores | None = None,
    performance: tuple[dict[str, float], dict[str, float]] = ({}, {}),
) -> list[CheckInput]:
    scores = WindowScores(WINDOW, subjects, prediction, None, *performance)
    return window_checks(scores, AlertConfig(**config or {}), calibration or {}, frozenset())  # type: ignore[arg-type]


def test_a_feature_gets_drift_missing_unseen_and_out_of_range_checks() -> None:
    """A feature's checks: its drift statistic, missing excess over the reference, and two rates."""
    color = SubjectScores(
        200,
        250,
        {"psi": 0.02},
        {"missing_rate": 0.2, "unseen_rate": 0.03, "out_of_range_rate": 0.07},
        0.05,
    )
    assert _window_checks({"color": color}) == [
        CheckInput("color", "psi", 0.02, 0.1, 0.25, True),
        CheckInput("color", "missing_rate", 0.2 - 0.05, 0.05, 0.2, True),
        CheckInput("color", "unseen_rate", 0.03, 0.01, 0.05, True),
        CheckInput("color", "out_of_range_rate", 0.07, 0.05, 0.2, True),
    ]


def test_exactly_min_events_is_enough() -> None:
    """A subject with exactly min_events events (and total) has sufficient data in every check."""
    x = SubjectScores(100, 100, {"psi": 0.0}, {"missing_rate": 0.0, "out_of_range_rate": 0.0}, 0.0)
    assert [c.sufficient for c in _window_checks({"x": x})] == [True, True, True]


def test_the_prediction_is_checked_under_its_own_subject_name() -> None:
    """The prediction's scores are checked after the features, as the prediction subject."""
    score = SubjectScores(300, 300, {"psi": 0.4}, {"missing_rate": 0.0}, 0.0)
    checks = _window_checks({}, prediction=score)
    assert [(c.subject, c.check, c.value) for c in checks] == [
        (PREDICTION, "psi", 0.4),
        (PREDICTION, "missing_rate", 0.0),
    ]


def test_the_configured_statistic_drives_the_drift_check() -> None:
    """With statistic js, a feature that has JS is checked by its JS value at the fixed tiers."""
    x = SubjectScores(300, 300, {"psi": 0.5, "js": 0.02}, {"missing_rate": 0.0}, 0.0)
    config = {"drift": {"statistic": "js", "warning": 0.03, "intervention": 0.06}}
    drift = _window_checks({"x": x}, config)[0]
    assert (drift.check, drift.value, drift.warning, drift.intervention) == ("js", 0.02, 0.03, 0.06)


def test_fixed_mode_uses_the_configured_thresholds() -> None:
    """Fixed thresholds set in the config replace PSI's defaults for the configured statistic."""
    config = {"drift": {"mode": "fixed", "warning": 0.2, "intervention": 0.4}}
    got = _psi_thresholds(config, {"a": 0.0})
    assert got == {"a": (0.2, 0.4)}


def test_calibrated_mode_without_any_calibration_keeps_the_fixed_thresholds() -> None:
    """A calibrated model whose baseline has no null for the statistic uses the fixed thresholds."""
    x = SubjectScores(300, 300, {"psi": 0.0}, {"missing_rate": 0.0}, 0.0)
    drift = _window_checks({"x": x}, {"drift": {"mode": "calibrated"}})[0]
    assert (drift.warning, drift.intervention) == (0.1, 0.25)


def test_the_default_rule_without_any_calibration_is_the_practical_one() -> None:
    """A baseline without a null calibration (an old file) is judged by the fixed tiers alone."""
    x = SubjectScores(120, 120, {"psi": 0.0}, {"missing_rate": 0.0}, 0.0)
    drift = _window_checks({"x": x})[0]
    assert (drift.warning, drift.intervention) == (0.1, 0.25)


def test_an_uncalibrated_feature_keeps_the_fixed_thresholds_under_bh() -> None:
    """Under BH, a feature with no null keeps 0.1 / 0.25 and the calibrated one after it its cut."""
    plain = SubjectScores(1000, 1000, {"psi": 0.0}, {"missing_rate": 0.0}, 0.0)
    checks = _window_checks(
        {"b": plain, "a": plain},
        {"drift": {"mode": "calibrated", "correction": "bh"}},
        {"psi": {"a": [NULL]}},
    )
    drift = {c.subject: (c.warning, c.intervention) for c in checks if c.check == "psi"}
    assert drift == {
        "b": (0.1, 0.25),
        "a": (
            threshold_for_size([NULL], 1000, 0.01 / 2),
            threshold_for_size([NULL], 1000, 0.001 / 2),
        ),
    }


def test_benjamini_hochberg_sets_every_threshold_at_the_common_cut() -> None:
    """BH with 15 of 20 features rejected sets every warning threshold at rate 15 × 1% / 20."""
    names = {f"f{i}": (1.0 if i < 15 else 0.0) for i in range(20)}
    got = _psi_thresholds({"drift": {"mode": "calibrated", "correction": "bh"}}, names)["f19"]
    assert got[0] == threshold_for_size([NULL], 1000, 15 * 0.01 / 20)


def test_benjamini_hochberg_with_one_quiet_feature_uses_the_plain_rate() -> None:
    """BH over a single feature that is not rejected cuts at the uncorrected rate (1 × 1% / 1)."""
    bh = _psi_thresholds({"drift": {"mode": "calibrated", "correction": "bh"}}, {"a": 0.0})
    assert bh["a"] == (NULL.quantiles[0.01], NULL.quantiles[0.001])


def test_a_calibrated_threshold_for_no_events_is_sized_for_one_event() -> None:
    """A feature with no events in the window gets the calibrated threshold of one event."""
    gone = SubjectScores(0, 250, {"psi": 0.0}, {"missing_rate": 1.0}, 0.0)
    drift = _window_checks({"a": gone}, {"drift": {"mode": "calibrated"}}, {"psi": {"a": [NULL]}})[
        0
    ]
    assert drift.warning == threshold_for_size([NULL], 1, 0.01)


def test_a_calibrated_threshold_scales_with_the_window_as_its_statistic_does() -> None:
    """A calibrated JS threshold at 250 events follows JS's size scaling, not PSI's."""
    x = SubjectScores(250, 250, {"psi": 0.0, "js": 0.0}, {"missing_rate": 0.0}, 0.0)
    config = {"drift": {"statistic": "js", "mode": "calibrated"}}
    drift = _window_checks({"x": x}, config, {"js": {"x": [NULL]}})[0]
    assert (drift.warning, drift.intervention) == (
        threshold_for_size([NULL], 250, 0.01, statistic="js"),
        threshold_for_size([NULL], 250, 0.001, statistic="js"),
    )
    assert drift.warning != threshold_for_size([NULL], 250, 0.01, statistic="psi")


def test_performance_is_checked_for_each_metric_both_windows_have() -> None:
    """A metric missing from the window is skipped; the next one gets its relative drop."""
    checks = _window_checks(
        {}, performance=({"n": 1000.0, "roc_auc": 0.72}, {"accuracy": 0.9, "roc_auc": 0.8})
    )
    assert checks == [CheckInput(PERFORMANCE, "roc_auc", (0.8 - 0.72) / 0.8, 0.05, 0.1, True)]


def test_performance_without_a_labeled_count_is_insufficient() -> None:
    """Performance without a labeled count ``n`` is insufficient, even at min_labels 1."""
    checks = _window_checks(
        {},
        {"performance": {"min_labels": 1}},
        performance=({"accuracy": 0.8}, {"accuracy": 0.9}),
    )
    assert [c.sufficient for c in checks] == [False]


def test_a_canary_gets_one_psi_check_per_subject_against_the_stable_version() -> None:
    """Each subject of a canary is checked by its PSI against the stable version, canary tiers."""
    x = SubjectScores(300, 300, {"psi": 0.3, "js": 0.1}, {"missing_rate": 0.0}, 0.0)
    score = SubjectScores(300, 300, {"psi": 0.05}, {"missing_rate": 0.0}, 0.0)
    versus = Versus("v1", {"x": x, PREDICTION: score}, sufficient=False)
    assert canary_checks(versus, TierThresholds(warning=0.1, intervention=0.25)) == [
        CheckInput("x", CANARY, 0.3, 0.1, 0.25, False),
        CheckInput(PREDICTION, CANARY, 0.05, 0.1, 0.25, False),
    ]


def test_benjamini_hochberg_judges_a_one_event_window_by_the_one_event_null() -> None:
    """A 1-event window's p-value comes from the null for 1 event, not the one for 3."""
    one = NullSummary(1, {0.01: 0.4, 0.001: 0.6}, shape=0.0, scale=0.0)  # 0.3 is null here
    three = NullSummary(3, {0.01: 0.1}, shape=0.0, scale=0.0)  # 0.3 would be drift here
    nulls = [one, three]
    single = SubjectScores(1, 1, {"psi": 0.3}, {"missing_rate": 0.0}, 0.0)
    checks = _window_checks(
        {"a": single, "b": single},
        {"drift": {"mode": "calibrated", "correction": "bh"}},
        {"psi": {"a": nulls, "b": nulls}},
    )
    warnings = [c.warning for c in checks if c.check == "psi"]
    assert warnings == [0.46020599913279625] * 2  # rate 0.01 / 2: neither feature is a discovery


def test_benjamini_hochberg_judges_each_feature_by_the_null_nearest_its_size() -> None:
    """With nulls for 100 and 1000 events, 1000-event features are judged by the 1000 one."""
    small = summarize_null(np.random.default_rng(1).gamma(4.5, 0.02, 4000), n=100)
    nulls = [small, NULL]
    drifting = SubjectScores(1000, 1000, {"psi": 0.05}, {"missing_rate": 0.0}, 0.0)
    checks = _window_checks(
        {"a": drifting, "b": drifting},
        {"drift": {"mode": "calibrated", "correction": "bh"}},
        {"psi": {"a": nulls, "b": nulls}},
    )
    warnings = [c.warning for c in checks if c.check == "psi"]
    assert warnings == [threshold_for_size(nulls, 1000, 2 * 0.01 / 2)] * 2
