"""Specification of calibrated thresholds and multiple-testing corrections."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest
import scipy.stats
from hypothesis import given
from hypothesis import strategies as st

from detectors.statistics import DISTRIBUTION_STATISTICS, psi
from detectors.thresholds import (
    FALSE_ALARM_GRID,
    NullSummary,
    benjamini_hochberg,
    bonferroni,
    null_pvalue,
    summarize_null,
    summarize_nulls,
    threshold_at,
    threshold_for_size,
    thresholds_for_sizes,
)

GAMMA_SHAPE, GAMMA_SCALE = 2.0, 0.01
rates = st.floats(1e-5, 0.9)


@pytest.fixture(scope="module")
def gamma_null() -> NullSummary:
    """Summary of 20 000 draws from a gamma(2, 0.01) null (seed 0)."""
    draws = np.random.default_rng(0).gamma(GAMMA_SHAPE, GAMMA_SCALE, 20_000)
    return summarize_null(draws, n=1000)


@pytest.fixture(scope="module")
def psi_nulls() -> list[NullSummary]:
    """PSI null summaries at window sizes 100 and 1000 for a 10-bin reference (seed 1)."""
    rng = np.random.default_rng(1)
    reference = rng.integers(50, 500, 10)
    shares = reference / reference.sum()
    summaries = []
    for n in (100, 1000):
        samples = rng.multinomial(n, shares, size=1000)
        summaries.append(summarize_null(np.asarray(psi(reference, samples)), n))
    return summaries


def point_mass(n: int, value: float) -> NullSummary:
    """A null with no spread: every grid quantile equals value."""
    return NullSummary(n, dict.fromkeys(FALSE_ALARM_GRID, value), 0.0, 0.0)


def test_threshold_at_recovers_the_99th_percentile_of_a_known_null(
    gamma_null: NullSummary,
) -> None:
    """At a 1% false-alarm rate the threshold is within 3% of the true 99th percentile."""
    true_quantile = scipy.stats.gamma.ppf(0.99, GAMMA_SHAPE, scale=GAMMA_SCALE)
    assert threshold_at(gamma_null, 0.01) == pytest.approx(true_quantile, rel=0.03)


def test_threshold_at_uses_the_gamma_tail_beyond_the_grid(gamma_null: NullSummary) -> None:
    """At 1e-5, far beyond the grid, the threshold is within 10% of the true quantile."""
    true_quantile = scipy.stats.gamma.isf(1e-5, GAMMA_SHAPE, scale=GAMMA_SCALE)
    assert threshold_at(gamma_null, 1e-5) == pytest.approx(true_quantile, rel=0.10)


def test_summarize_null_fits_the_gamma_by_moments(gamma_null: NullSummary) -> None:
    """The method-of-moments fit recovers shape 2 and scale 0.01 within 5%."""
    assert (gamma_null.shape, gamma_null.scale) == pytest.approx(
        (GAMMA_SHAPE, GAMMA_SCALE), rel=0.05
    )


def test_summarize_null_stores_upper_quantiles_for_higher_is_drift() -> None:
    """For a drift-when-high statistic the 5% entry is the 95th percentile."""
    summary = summarize_null(np.arange(101, dtype=np.float64), n=50)
    assert (summary.quantiles[0.05], summary.quantiles[0.5]) == (95.0, 50.0)


def test_summarize_null_stores_lower_quantiles_for_lower_is_drift() -> None:
    """For a p-value-like statistic the 5% entry is the 5th percentile."""
    summary = summarize_null(np.arange(101, dtype=np.float64) / 100, n=50, higher_is_drift=False)
    assert summary.quantiles[0.05] == pytest.approx(0.05, rel=1e-12)


def test_threshold_at_a_grid_rate_is_the_stored_quantile(gamma_null: NullSummary) -> None:
    """On the calibrated grid no interpolation happens."""
    assert threshold_at(gamma_null, 0.05) == gamma_null.quantiles[0.05]


@given(rates, rates)
def test_a_lower_false_alarm_rate_never_lowers_the_threshold(first: float, second: float) -> None:
    """Thresholds increase as the accepted false-alarm rate decreases, across the grid edges."""
    draws = np.random.default_rng(2).gamma(0.7, 0.02, 2000)
    summary = summarize_null(draws, n=200)
    low, high = sorted((first, second))
    assert threshold_at(summary, low) >= threshold_at(summary, high)


def test_lower_is_drift_thresholds_fall_with_the_false_alarm_rate() -> None:
    """For p-values a stricter false-alarm rate means a smaller threshold, also past the grid."""
    draws = np.random.default_rng(4).uniform(0.0, 1.0, 5000)
    summary = summarize_null(draws, n=200, higher_is_drift=False)
    thresholds = [threshold_at(summary, rate) for rate in (0.7, 0.1, 0.001, 1e-5)]
    assert thresholds == sorted(thresholds, reverse=True)
    assert thresholds[1] == pytest.approx(0.1, abs=0.02)


def test_null_pvalue_is_the_fitted_gamma_survival_probability(gamma_null: NullSummary) -> None:
    """At the true 99th percentile the p-value is close to 0.01."""
    value = scipy.stats.gamma.ppf(0.99, GAMMA_SHAPE, scale=GAMMA_SCALE)
    assert null_pvalue(gamma_null, value) == pytest.approx(0.01, rel=0.1)


@given(
    shape=st.floats(0.05, 50.0),
    scale=st.floats(1e-4, 10.0),
    higher_is_drift=st.booleans(),
    value=st.floats(-1.0, 100.0),
)
def test_null_pvalue_is_scipy_stats_gamma_to_the_bit(
    shape: float, scale: float, higher_is_drift: bool, value: float
) -> None:
    """The p-value equals scipy.stats.gamma's sf (or cdf for lower-is-drift) exactly."""
    summary = NullSummary(
        100, {0.05: 0.1}, shape=shape, scale=scale, higher_is_drift=higher_is_drift
    )
    tail = scipy.stats.gamma.sf if higher_is_drift else scipy.stats.gamma.cdf
    assert null_pvalue(summary, value) == float(tail(value, shape, scale=scale))


@given(shape=st.floats(0.05, 50.0), scale=st.floats(1e-4, 10.0), higher_is_drift=st.booleans())
def test_thresholds_past_the_grid_follow_scipy_stats_gamma_to_the_bit(
    shape: float, scale: float, higher_is_drift: bool
) -> None:
    """Beyond the grid the threshold is the anchor shifted by scipy.stats.gamma's quantiles."""
    anchor = 0.05
    summary = NullSummary(
        100, {anchor: 0.1}, shape=shape, scale=scale, higher_is_drift=higher_is_drift
    )
    tail = scipy.stats.gamma.isf if higher_is_drift else scipy.stats.gamma.ppf
    shift = float(tail(1e-4, shape, scale=scale)) - float(tail(anchor, shape, scale=scale))
    assert threshold_at(summary, 1e-4) == max(0.1 + shift, 0.0)


def test_null_pvalue_is_vectorised(gamma_null: NullSummary) -> None:
    """An array of values gives an array of p-values equal to the scalar ones."""
    values = [0.0, 0.02, 0.08]
    batched = null_pvalue(gamma_null, values)
    assert isinstance(batched, np.ndarray)
    assert batched.tolist() == [null_pvalue(gamma_null, v) for v in values]


def test_a_point_mass_null_has_no_gamma_and_a_constant_threshold() -> None:
    """Zero-variance null values give shape 0, scale 0 and the same threshold at every rate."""
    summary = summarize_null(np.full(50, 0.25), n=100)
    thresholds = {threshold_at(summary, rate) for rate in (0.9, 0.05, 1e-6)}
    assert (summary.shape, summary.scale, thresholds) == (0.0, 0.0, {0.25})


def test_a_point_mass_null_gives_p_values_of_one_or_zero() -> None:
    """Values up to the point are fully expected, values beyond it impossible."""
    summary = point_mass(100, 0.25)
    assert np.asarray(null_pvalue(summary, [0.1, 0.25, 0.3])).tolist() == [1.0, 1.0, 0.0]


def test_threshold_for_size_returns_calibrated_thresholds_at_calibrated_sizes(
    psi_nulls: list[NullSummary],
) -> None:
    """At a calibrated window size the threshold is that summary's own."""
    assert threshold_for_size(psi_nulls, 1000, 0.01) == threshold_at(psi_nulls[1], 0.01)


def test_threshold_for_size_interpolates_log_log_between_sizes() -> None:
    """Thresholds following a 1/n law are reproduced exactly between calibrated sizes."""
    summaries = [point_mass(100, 0.5), point_mass(10_000, 0.005)]
    assert threshold_for_size(summaries, 1000, 0.01) == pytest.approx(0.05, rel=1e-12)


def test_threshold_for_size_extrapolates_psi_as_one_over_n() -> None:
    """Beyond the calibrated sizes a PSI threshold scales as 1/n."""
    summaries = [point_mass(100, 0.4), point_mass(1000, 0.04)]
    assert threshold_for_size(summaries, 4000, 0.01) == pytest.approx(0.01, rel=1e-12)


def test_threshold_for_size_extrapolates_distances_as_one_over_sqrt_n() -> None:
    """For JS the registered exponent 1/2 applies: a quarter of the size doubles the threshold."""
    summaries = [point_mass(100, 0.4), point_mass(1000, 0.04)]
    assert threshold_for_size(summaries, 25, 0.01, statistic="js") == pytest.approx(0.8)


def test_an_explicit_exponent_overrides_the_statistic() -> None:
    """exponent=0 keeps the nearest calibrated threshold whatever the size."""
    summaries = [point_mass(100, 0.4), point_mass(1000, 0.04)]
    assert threshold_for_size(summaries, 10, 0.01, statistic="psi", exponent=0.0) == 0.4


def test_threshold_for_size_rejects_an_unknown_statistic() -> None:
    """The statistic must be one of the registered ones."""
    with pytest.raises(ValueError, match="unknown statistic 'psy'"):
        threshold_for_size([point_mass(100, 0.4)], 10, 0.01, statistic="psy")


def test_larger_windows_get_lower_psi_thresholds(psi_nulls: list[NullSummary]) -> None:
    """For PSI the threshold falls as the window grows, inside and outside the calibration."""
    sizes = [20, 100, 200, 500, 1000, 5000]
    thresholds = [threshold_for_size(psi_nulls, n, 0.01) for n in sizes]
    assert all(a > b for a, b in itertools.pairwise(thresholds))


@pytest.mark.parametrize("name", list(DISTRIBUTION_STATISTICS))
def test_null_thresholds_scale_with_the_registered_exponent(name: str) -> None:
    """From n=1000 to n=10000 a 20% threshold shrinks by 10 ** null_exponent, within 10%."""
    spec = DISTRIBUTION_STATISTICS[name]
    rng = np.random.default_rng(1)
    reference = rng.integers(50, 500, 10)
    shares = reference / reference.sum()
    thresholds = []
    for n in (1000, 10_000):
        samples = rng.multinomial(n, shares, size=4000)
        values = spec.compute(reference, samples, centers=np.arange(10.0), scale=3.0)
        summary = summarize_null(np.asarray(values), n, higher_is_drift=spec.higher_is_drift)
        thresholds.append(threshold_at(summary, 0.2))
    assert thresholds[0] / thresholds[1] == pytest.approx(10**spec.null_exponent, rel=0.1)


def test_registry_exponents_match_the_null_scaling_of_each_statistic() -> None:
    """Divergences scale as 1/n, distances as 1/sqrt(n), the p-value not at all."""
    exponents = {name: spec.null_exponent for name, spec in DISTRIBUTION_STATISTICS.items()}
    assert exponents == {
        "psi": 1.0,
        "kl": 1.0,
        "js": 0.5,
        "hellinger": 0.5,
        "wasserstein": 0.5,
        "ks": 0.5,
        "chi2_pvalue": 0.0,
    }


def test_repeated_window_sizes_are_rejected() -> None:
    """Two summaries for the same n are ambiguous."""
    with pytest.raises(ValueError, match="repeat a window size"):
        threshold_for_size([point_mass(100, 0.1), point_mass(100, 0.2)], 200, 0.01)


def test_null_summary_round_trips_through_json(gamma_null: NullSummary) -> None:
    """to_dict output survives strict JSON and from_dict rebuilds an equal summary."""
    text = json.dumps(gamma_null.to_dict(), allow_nan=False)
    assert NullSummary.from_dict(json.loads(text)) == gamma_null


def test_from_dict_names_missing_fields() -> None:
    """A summary without its gamma fit is refused with the missing keys named."""
    with pytest.raises(ValueError, match=r"\['scale', 'shape'\]"):
        NullSummary.from_dict({"n": 10, "higher_is_drift": True, "quantiles": {"0.5": 1.0}})


def test_bonferroni_divides_the_rate_by_the_number_of_tests() -> None:
    """Twenty tests at a 1% family-wise rate get 0.05% each."""
    assert bonferroni(0.01, 20) == pytest.approx(0.0005, rel=1e-15)


def test_bonferroni_rejects_zero_tests() -> None:
    """The number of tests must be at least one."""
    with pytest.raises(ValueError, match="tests=0"):
        bonferroni(0.01, 0)


@given(
    st.lists(st.floats(0.0, 1.0), min_size=1, max_size=40),
    st.sampled_from([0.01, 0.05, 0.1, 0.2]),
)
def test_benjamini_hochberg_agrees_with_scipy(pvalues: list[float], fdr: float) -> None:
    """Rejections equal scipy's BH-adjusted p-values at or below the FDR."""
    expected = scipy.stats.false_discovery_control(pvalues, method="bh") <= fdr
    assert benjamini_hochberg(pvalues, fdr).tolist() == np.atleast_1d(expected).tolist()


def test_benjamini_hochberg_keeps_the_input_shape() -> None:
    """A 2-D array of p-values is one family and gives a mask of the same shape."""
    mask = benjamini_hochberg(np.array([[0.001, 0.9], [0.02, 0.03]]), 0.05)
    assert mask.tolist() == [[True, False], [True, True]]


def test_benjamini_hochberg_rejects_out_of_range_p_values() -> None:
    """P-values outside [0, 1] (or NaN) point to a broken statistic."""
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        benjamini_hochberg([0.5, math.nan], 0.05)


def test_summarize_nulls_gives_each_row_the_summary_summarize_null_gives_it():
    """Summarising several window sizes at once equals summarising each row on its own."""
    draws = np.random.default_rng(3).gamma(2.0, 0.01, (3, 500))
    together = summarize_nulls(draws, [100, 1000, 10_000], higher_is_drift=False)
    alone = tuple(
        summarize_null(row, n, higher_is_drift=False)
        for row, n in zip(draws, [100, 1000, 10_000], strict=True)
    )
    assert together == alone


def test_summarize_nulls_refuses_a_size_count_that_does_not_match_the_rows():
    """Two rows of null values with three window sizes is a caller error, named as such."""
    with pytest.raises(ValueError, match="for 3 sizes"):
        summarize_nulls(np.ones((2, 10)), [1, 2, 3])


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"n": 0}, r"null summary window size n=0; it must be at least 1"),
        ({"quantiles": {}}, r"null summary has no quantiles; summarise with summarize_null"),
        ({"quantiles": {0.0: 0.1}}, r"null quantiles need rates in \(0, 1\) and finite values"),
        ({"quantiles": {1.0: 0.1}}, r"null quantiles need rates in \(0, 1\) and finite values"),
        ({"quantiles": {1.5: 0.1}}, r"null quantiles need rates in \(0, 1\) and finite values"),
        ({"quantiles": {0.01: math.inf}}, r"null quantiles need rates in \(0, 1\) and finite"),
        ({"shape": -1.0}, r"gamma shape and scale must be finite and >= 0; re-calibrate"),
        ({"scale": math.inf}, r"gamma shape and scale must be finite and >= 0; re-calibrate"),
    ],
)
def test_a_malformed_null_summary_is_refused(fields: dict[str, object], message: str) -> None:
    """A null summary with no window size, bad quantiles or a bad gamma fit says what is wrong."""
    valid: dict[str, object] = {"n": 1, "quantiles": {0.01: 0.1}, "shape": 1.0, "scale": 0.05}
    with pytest.raises(ValueError, match=f"^{message}"):
        NullSummary(**{**valid, **fields})  # type: ignore[arg-type]


def test_a_null_summary_of_one_event_windows_is_valid() -> None:
    """n = 1 is the smallest window size a null summary accepts."""
    assert NullSummary(1, {0.01: 0.1}, 1.0, 0.05).n == 1


def test_bonferroni_over_one_test_is_the_rate_itself() -> None:
    """With a single test Bonferroni leaves the rate as it is; with none it refuses."""
    assert bonferroni(0.05, 1) == 0.05
    with pytest.raises(ValueError, match=r"^tests=0; pass the number of tests, at least 1$"):
        bonferroni(0.05, 0)


@pytest.mark.parametrize("rate", [0.0, 1.0, 1.5])
def test_a_rate_outside_zero_one_is_refused(rate: float) -> None:
    """False-alarm rates of 0, 1 or more are refused, naming the rate and an example."""
    with pytest.raises(ValueError, match=rf"^rate {rate} is outside \(0, 1\); pass e\.g\. 0\.01$"):
        bonferroni(rate, 2)


def test_benjamini_hochberg_takes_a_p_value_of_one_and_refuses_more() -> None:
    """A p-value of exactly 1 is valid and not rejected; 1.5 is refused with the fix."""
    assert benjamini_hochberg([0.001, 1.0], 0.05).tolist() == [True, False]
    with pytest.raises(
        ValueError,
        match=r"^p-values must lie in \[0, 1\]; check the statistic feeding the test$",
    ):
        benjamini_hochberg([0.001, 1.5], 0.05)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ([[0.1]], r"^got 1 null values; sample at least 2 \(e\.g\. 1000\)$"),
        ([[0.1, -0.2]], r"^null values must be finite and non-negative; check the statistic$"),
        ([[0.1, math.inf]], r"^null values must be finite and non-negative; check the statistic$"),
    ],
)
def test_unusable_null_values_are_refused(values: list[list[float]], message: str) -> None:
    """Fewer than two null values, or a negative or infinite one, is refused with the fix."""
    with pytest.raises(ValueError, match=message):
        summarize_nulls(values, [100])


def test_two_null_values_are_enough() -> None:
    """Two null values are the fewest a summary accepts; its gamma fits their mean and variance."""
    (summary,) = summarize_nulls([[0.1, 0.3]], [100])
    assert (summary.shape, summary.scale) == pytest.approx((0.2**2 / 0.02, 0.02 / 0.2))


def test_a_non_finite_statistic_has_no_p_value() -> None:
    """A NaN statistic is refused rather than given a p-value."""
    summary = NullSummary(100, {0.05: 0.1}, shape=1.0, scale=0.05)
    with pytest.raises(ValueError, match=r"^statistic values must be finite; check the statistic$"):
        null_pvalue(summary, math.nan)


def test_a_lower_is_drift_null_gives_the_lower_tail() -> None:
    """For a lower-is-drift statistic the p-value is the gamma CDF: 1 - e^-1 at its mean."""
    summary = NullSummary(100, {0.05: 0.01}, shape=1.0, scale=0.05, higher_is_drift=False)
    assert null_pvalue(summary, 0.05) == pytest.approx(1 - math.exp(-1))


def test_a_lower_is_drift_point_mass_counts_values_at_or_above_it_as_null() -> None:
    """With a point-mass null at 0.5, values at or above it have p = 1 and below it p = 0."""
    summary = NullSummary(100, {0.05: 0.5}, shape=0.0, scale=0.0, higher_is_drift=False)
    assert null_pvalue(summary, [0.4, 0.5, 0.6]).tolist() == [0.0, 1.0, 1.0]


def test_beyond_the_calibrated_rates_a_point_mass_keeps_the_nearest_threshold() -> None:
    """Below the smallest calibrated rate the threshold is its quantile; above the largest, that."""
    summary = NullSummary(100, {0.1: 0.2, 0.01: 0.4}, shape=0.0, scale=0.0)
    assert (threshold_at(summary, 0.001), threshold_at(summary, 0.5)) == (0.4, 0.2)


def test_a_round_trip_keeps_a_lower_is_drift_null() -> None:
    """from_dict reads higher_is_drift back, so a lower-is-drift summary survives to_dict."""
    summary = NullSummary(100, {0.05: 0.1}, 2.0, 0.01, higher_is_drift=False)
    assert NullSummary.from_dict(summary.to_dict()) == summary


def test_null_values_whose_variance_overflows_fit_a_point_mass() -> None:
    """When the null values' variance overflows to infinity the gamma fit is a point mass."""
    with np.errstate(over="ignore"):
        summary = summarize_null([0.0, 2.4e154], n=10)
    assert (summary.shape, summary.scale) == (0.0, 0.0)


def test_threshold_for_size_without_summaries_is_refused() -> None:
    """No calibrated window size at all is refused, saying to calibrate one."""
    message = "no null summaries; calibrate at least one window size in the baseline"
    with pytest.raises(ValueError, match=f"^{message}$"):
        threshold_for_size([], 100, 0.01)


def test_threshold_for_size_takes_one_event_and_refuses_none() -> None:
    """n=1 is the smallest window size; n=0 is refused naming it."""
    summaries = [point_mass(100, 0.4)]
    assert threshold_for_size(summaries, 1, 0.01) == 40.0
    with pytest.raises(ValueError, match=r"^window size n=0; it must be at least 1$"):
        threshold_for_size(summaries, 0, 0.01)


def test_threshold_for_size_interpolates_between_the_two_nearest_of_three_sizes() -> None:
    """Between the second and third of three sizes the threshold is interpolated log-log from
    those two, and beyond the third it is scaled from the third."""
    summaries = [point_mass(100, 0.4), point_mass(1000, 0.1), point_mass(10_000, 0.02)]
    assert threshold_for_size(summaries, 3000, 0.01) == 0.0463987792590601
    assert threshold_for_size(summaries, 20_000, 0.01) == 0.01


def test_threshold_for_size_extrapolates_distances_beyond_the_largest_size() -> None:
    """For JS, four times the largest calibrated size halves its threshold."""
    summaries = [point_mass(100, 0.4), point_mass(1000, 0.04)]
    assert threshold_for_size(summaries, 4000, 0.01, statistic="js") == 0.02


def test_a_threshold_of_zero_is_interpolated_linearly_in_log_n() -> None:
    """Where either neighbouring threshold is 0 the interpolation is linear in log n."""
    rising = [point_mass(100, 0.0), point_mass(10_000, 0.2)]
    falling = [point_mass(100, 0.2), point_mass(10_000, 0.0)]
    assert threshold_for_size(rising, 1000, 0.01) == 0.1
    assert threshold_for_size(falling, 1000, 0.01) == 0.1


def test_thresholds_for_many_window_sizes_follow_the_rule_piece_by_piece() -> None:
    """One call for windows of every size: below the smallest calibrated size the 1/n law,
    exact at calibrated sizes, log-log between them, linear in log n next to a zero."""
    summaries = [point_mass(100, 0.4), point_mass(1_000, 0.04), point_mass(10_000, 0.0)]
    sizes = [50, 100, 316.22776601683796, 1_000, 3_162.2776601683795, 20_000]
    found = thresholds_for_sizes(summaries, sizes, 0.01)
    assert found.tolist() == pytest.approx([0.8, 0.4, 0.12649110640673517, 0.04, 0.02, 0.0])
    assert found[[1, 3]].tolist() == [0.4, 0.04]


def test_benjamini_hochberg_rejects_an_adjusted_p_value_equal_to_the_rate() -> None:
    """A p-value whose adjusted value equals the false discovery rate is a discovery."""
    assert benjamini_hochberg([0.05], 0.05).tolist() == [True]


def test_beyond_the_largest_of_three_calibrated_rates_a_point_mass_keeps_its_threshold() -> None:
    """Above the largest of three calibrated rates the threshold is that rate's quantile."""
    summary = NullSummary(100, {0.1: 0.2, 0.05: 0.3, 0.01: 0.4}, shape=0.0, scale=0.0)
    assert threshold_at(summary, 0.5) == 0.2


def test_null_values_beyond_int64_are_read_as_floats() -> None:
    """Python integers too large for int64 are summarised as their float values."""
    assert summarize_nulls([[0, 2**64]], [10]) == summarize_nulls([[0.0, 2.0**64]], [10])


def test_one_dimensional_null_values_are_refused_by_summarize_nulls() -> None:
    """summarize_nulls takes one row per size: a flat list is refused, naming its shape."""
    with pytest.raises(ValueError, match=r"^got null values of shape \(2,\) for 1 sizes$"):
        summarize_nulls([1.0, 2.0], [10])


def test_a_statistic_beyond_int64_gets_a_p_value() -> None:
    """A statistic given as an integer too large for int64 is compared as its float value."""
    summary = NullSummary(100, {0.05: 0.5}, shape=0.0, scale=0.0)
    assert null_pvalue(summary, 2**64) == 0.0


def test_benjamini_hochberg_refuses_a_missing_p_value() -> None:
    """A None among the p-values reads as NaN and is refused as outside [0, 1]."""
    with pytest.raises(ValueError, match="p-values must lie in"):
        benjamini_hochberg([0.01, None], 0.05)


def test_at_the_largest_calibrated_rate_the_threshold_is_its_quantile_even_below_zero() -> None:
    """At a calibrated rate the stored quantile is returned as is, not floored at 0."""
    summary = NullSummary(100, {0.1: -0.5, 0.01: 0.4}, shape=2.0, scale=0.01)
    assert threshold_at(summary, 0.1) == -0.5
