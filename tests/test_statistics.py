"""Specification of the drift statistics on binned distributions."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
import scipy.stats
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from numpy.typing import NDArray
from scipy.spatial.distance import jensenshannon

from detectors.statistics import (
    DEFAULT_EPSILON,
    DISTRIBUTION_STATISTICS,
    chi2_pvalue,
    compute_all,
    effective_scale,
    hellinger,
    js_distance,
    kl_divergence,
    ks_distance,
    proportions,
    psi,
    rate,
    wasserstein,
)
from tests.support.evidently import evidently_psi

FloatArray = NDArray[np.float64]

count = st.one_of(
    st.just(0.0), st.integers(1, 10**6).map(float), st.floats(0.5, 1e6, allow_nan=False)
)


extreme_count = st.one_of(count, st.floats(0.0, 1e200, allow_subnormal=True))


@st.composite
def count_pairs(
    draw: st.DrawFn, elements: st.SearchStrategy[float] = count
) -> tuple[FloatArray, FloatArray]:
    """Two count vectors over the same 1 to 12 bins, zeros likely on either side."""
    bins = draw(st.integers(1, 12))
    reference = draw(arrays(np.float64, bins, elements=elements))
    current = draw(arrays(np.float64, bins, elements=elements))
    return reference, current


@st.composite
def nonempty_pairs(draw: st.DrawFn) -> tuple[FloatArray, FloatArray]:
    """Two count vectors over the same bins, each with at least one positive count."""
    reference, current = draw(count_pairs())
    reference[draw(st.integers(0, reference.size - 1))] += 1.0
    current[draw(st.integers(0, current.size - 1))] += 1.0
    return reference, current


def centers_for(bins: int) -> FloatArray:
    """Unevenly spaced increasing bin centers."""
    return np.cumsum(np.linspace(0.5, 2.0, bins))


def evaluate(name: str, reference: FloatArray, current: FloatArray) -> float:
    """One statistic from the registry on 1-D inputs, with centers for those needing them."""
    value = DISTRIBUTION_STATISTICS[name].compute(
        reference, current, centers=centers_for(reference.size), scale=1.7
    )
    assert isinstance(value, float)
    return value


def evaluate_all(
    reference: FloatArray, current: FloatArray, names: list[str] | None = None
) -> dict[str, float]:
    """The named statistics (all registered ones by default) on 1-D inputs."""
    return {name: evaluate(name, reference, current) for name in names or DISTRIBUTION_STATISTICS}


def smoothed_psi(reference: FloatArray, current: FloatArray) -> float:
    """The documented PSI written out: shares, zero shares set to 1e-4 without renormalising,
    then the sum. Evidently's rule only while every non-zero share exceeds 1e-4 (see
    tests/test_peer_agreement.py, which checks against Evidently's own rule and numbers)."""
    reference_percents = reference / reference.sum()
    current_percents = current / current.sum()
    np.place(reference_percents, reference_percents == 0, 0.0001)
    np.place(current_percents, current_percents == 0, 0.0001)
    values = (reference_percents - current_percents) * np.log(reference_percents / current_percents)
    return float(np.sum(values))


def smoothed(counts: FloatArray) -> FloatArray:
    """Proportions with zeros replaced by the default epsilon, not renormalised."""
    shares = counts / counts.sum()
    return np.where(shares == 0, DEFAULT_EPSILON, shares)


DISTANCE_NAMES = [name for name, spec in DISTRIBUTION_STATISTICS.items() if spec.higher_is_drift]
SYMMETRIC_NAMES = ["psi", "js", "hellinger", "ks", "wasserstein"]


def test_proportions_normalise_each_row_and_leave_empty_rows_zero() -> None:
    """Counts become shares of their row total; an all-zero row stays zero."""
    assert proportions([[1, 3], [0, 0]]).tolist() == [[0.25, 0.75], [0.0, 0.0]]


def test_psi_matches_the_textbook_formula() -> None:
    """PSI of 50/50 against 60/40 is 0.1 ln 1.2 + 0.1 ln 1.25."""
    assert psi([50, 50], [60, 40]) == pytest.approx(0.1 * math.log(1.2) + 0.1 * math.log(1.25))


def test_psi_smooths_zero_proportions_with_epsilon_without_renormalising() -> None:
    """An empty reference bin counts as 1e-4 while the other bins keep their shares."""
    expected = (0.5 - 1e-4) * math.log(0.5 / 1e-4) + (0.5 - 1.0) * math.log(0.5)
    assert psi([0, 10], [5, 5]) == pytest.approx(expected, rel=1e-12)


@given(nonempty_pairs())
def test_psi_is_the_sum_over_epsilon_smoothed_shares(pair: tuple[FloatArray, FloatArray]) -> None:
    """PSI equals the documented formula on shares whose zeros are set to 1e-4."""
    reference, current = pair
    assert psi(reference, current) == pytest.approx(
        smoothed_psi(reference, current), rel=1e-9, abs=1e-12
    )


def test_psi_smooths_with_1e4_also_beside_a_share_below_1e4() -> None:
    """Next to a reference share of 1e-4 an empty bin still counts as 1e-4, where Evidently's
    rule would take that share / 1e6 and add (0.5 - 1e-10) ln(0.5 / 1e-10) instead."""
    reference, current = np.array([1.0, 9_999.0, 0.0]), np.array([0.0, 1.0, 1.0])
    kept = (0.5 - 0.9999) * math.log(0.5 / 0.9999)
    assert psi(reference, current) == pytest.approx(
        kept + (0.5 - 1e-4) * math.log(0.5 / 1e-4), rel=1e-12
    )
    assert evidently_psi(reference, current) == pytest.approx(
        kept + (0.5 - 1e-10) * math.log(0.5 / 1e-10), rel=1e-12
    )


def test_kl_divergence_matches_scipy_entropy_without_zero_bins() -> None:
    """Without empty bins KL(current || reference) is scipy's relative entropy."""
    reference, current = np.array([10.0, 30.0, 60.0]), np.array([25.0, 25.0, 50.0])
    expected = scipy.stats.entropy(current, reference)
    assert kl_divergence(reference, current) == pytest.approx(expected, rel=1e-12)


@given(nonempty_pairs())
def test_kl_divergence_is_scipy_entropy_of_the_smoothed_proportions(
    pair: tuple[FloatArray, FloatArray],
) -> None:
    """KL is scipy's entropy of the smoothed proportions, which scipy renormalises."""
    reference, current = pair
    expected = scipy.stats.entropy(smoothed(current), smoothed(reference))
    assert kl_divergence(reference, current) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_kl_divergence_is_not_symmetric() -> None:
    """KL measures current against reference, so swapping them changes the value."""
    assert kl_divergence([10, 90], [50, 50]) != pytest.approx(kl_divergence([50, 50], [10, 90]))


@given(nonempty_pairs())
def test_js_distance_equals_scipy_jensenshannon_base_2(
    pair: tuple[FloatArray, FloatArray],
) -> None:
    """JS distance agrees with scipy.spatial.distance.jensenshannon(base=2) to 1e-12."""
    reference, current = pair
    with np.errstate(invalid="ignore"):
        expected = jensenshannon(reference, current, base=2)
    # scipy takes sqrt of a rounding-level negative divergence as NaN where we give 0.
    assert js_distance(reference, current) == pytest.approx(
        np.nan_to_num(expected, nan=0.0), abs=1e-12
    )


def test_js_distance_and_hellinger_are_one_on_disjoint_supports() -> None:
    """Distributions without common bins are at the maximal distance 1."""
    assert (js_distance([3, 0, 0], [0, 2, 5]), hellinger([3, 0, 0], [0, 2, 5])) == (1.0, 1.0)


def test_hellinger_matches_its_definition() -> None:
    """Hellinger of 0.25/0.75 against 0.5/0.5 is sqrt(0.5 * sum of squared root gaps)."""
    gaps = (math.sqrt(0.25) - math.sqrt(0.5)) ** 2 + (math.sqrt(0.75) - math.sqrt(0.5)) ** 2
    assert hellinger([1, 3], [2, 2]) == pytest.approx(math.sqrt(0.5 * gaps), rel=1e-12)


def test_chi2_pvalue_matches_scipy_chisquare() -> None:
    """60/40 observed against 50/50 expected has scipy's goodness-of-fit p-value."""
    expected = scipy.stats.chisquare([60, 40], [50, 50]).pvalue
    assert chi2_pvalue([500, 500], [60, 40]) == pytest.approx(expected, rel=1e-12)


@given(nonempty_pairs())
def test_chi2_pvalue_tests_against_smoothed_reference_over_nonempty_bins(
    pair: tuple[FloatArray, FloatArray],
) -> None:
    """The p-value is scipy's chisquare on bins non-empty on either side, smoothed reference."""
    reference, current = pair
    kept = (reference > 0) | (current > 0)
    share = smoothed(reference)[kept]
    expected_counts = current.sum() * share / share.sum()
    if kept.sum() < 2:
        expected = 1.0
    else:
        expected = scipy.stats.chisquare(current[kept], expected_counts).pvalue
    assert chi2_pvalue(reference, current) == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_chi2_pvalue_drops_bins_empty_on_both_sides() -> None:
    """Adding bins that are empty in both reference and current leaves the p-value unchanged."""
    assert chi2_pvalue([5, 0, 7, 0], [3, 0, 9, 0]) == chi2_pvalue([5, 7], [3, 9])


def test_chi2_pvalue_is_one_with_a_single_nonempty_bin() -> None:
    """With fewer than one degree of freedom there is no evidence of drift."""
    assert chi2_pvalue([10, 0, 0], [4, 0, 0]) == 1.0


def test_chi2_pvalue_depends_on_the_current_sample_size() -> None:
    """The same shift is more significant with more events."""
    assert chi2_pvalue([1, 1], [600, 400]) < chi2_pvalue([1, 1], [60, 40])


@given(nonempty_pairs(), st.floats(0.1, 10.0))
def test_wasserstein_equals_scipy_on_bin_centers_divided_by_scale(
    pair: tuple[FloatArray, FloatArray], scale: float
) -> None:
    """Wasserstein is scipy's wasserstein_distance of the weighted centers over the scale."""
    reference, current = pair
    centers = centers_for(reference.size)
    expected = scipy.stats.wasserstein_distance(centers, centers, reference, current) / scale
    assert wasserstein(reference, current, centers, scale) == pytest.approx(
        expected, rel=1e-9, abs=1e-12
    )


@pytest.mark.parametrize("scale", [0.0, -2.0, math.nan])
def test_wasserstein_treats_a_non_positive_scale_as_one(scale: float) -> None:
    """A constant reference (std 0) leaves the distance in the data's own units."""
    assert wasserstein([1, 0], [0, 1], [0.0, 3.0], scale) == 3.0


def test_effective_scale_keeps_positive_scales() -> None:
    """Only non-positive or non-finite scales are replaced by 1."""
    assert [effective_scale(s) for s in (0.5, 0.0, -1.0, math.inf)] == [0.5, 1.0, 1.0, 1.0]


def test_ks_distance_is_the_largest_cdf_gap() -> None:
    """CDFs 0.1/0.5/1.0 and 0.4/0.6/1.0 differ most, by 0.3, at the first bin."""
    assert ks_distance([1, 4, 5], [4, 2, 4]) == pytest.approx(0.3, abs=1e-15)


def test_rate_divides_and_gives_zero_for_a_zero_total() -> None:
    """Rates broadcast and an empty denominator means a rate of 0."""
    assert np.asarray(rate([2, 3], [8, 0])).tolist() == [0.25, 0.0]


def test_rate_of_scalars_is_a_float() -> None:
    """Scalar inputs give a Python float."""
    assert rate(1, 4) == 0.25 and isinstance(rate(1, 4), float)


@pytest.mark.parametrize("name", list(DISTRIBUTION_STATISTICS))
def test_statistics_broadcast_over_leading_axes_of_current(name: str) -> None:
    """An (R, S, k) current gives an (R, S) array equal to the row-by-row values."""
    rng = np.random.default_rng(7)
    reference = rng.integers(0, 50, 6).astype(np.float64)
    current = rng.integers(0, 50, (4, 3, 6)).astype(np.float64)
    spec = DISTRIBUTION_STATISTICS[name]
    batched = spec.compute(reference, current, centers=centers_for(6), scale=2.0)
    rows = [
        [spec.compute(reference, row, centers=centers_for(6), scale=2.0) for row in block]
        for block in current
    ]
    assert isinstance(batched, np.ndarray)
    np.testing.assert_allclose(batched, np.asarray(rows, dtype=np.float64), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", list(DISTRIBUTION_STATISTICS))
def test_an_empty_current_window_gives_the_no_drift_value(name: str) -> None:
    """All-zero current counts give 0.0, or 1.0 for the chi-square p-value."""
    no_drift = 0.0 if DISTRIBUTION_STATISTICS[name].higher_is_drift else 1.0
    assert evaluate(name, np.array([5.0, 1.0, 0.0]), np.zeros(3)) == no_drift


@given(pair=count_pairs(extreme_count))
def test_statistics_are_always_finite(pair: tuple[FloatArray, FloatArray]) -> None:
    """No statistic returns inf or NaN: zeros, empty sides and subnormal counts included."""
    values = evaluate_all(*pair)
    assert all(math.isfinite(value) for value in values.values()), values


@given(pair=count_pairs(extreme_count))
def test_statistics_are_non_negative(pair: tuple[FloatArray, FloatArray]) -> None:
    """Every statistic, p-value included, is at least 0."""
    values = evaluate_all(*pair)
    assert all(value >= 0.0 for value in values.values()), values


@given(pair=count_pairs())
def test_bounded_statistics_stay_in_the_unit_interval(pair: tuple[FloatArray, FloatArray]) -> None:
    """JS, Hellinger, KS and the p-value lie in [0, 1]."""
    values = evaluate_all(*pair, names=["js", "hellinger", "ks", "chi2_pvalue"])
    assert all(0.0 <= value <= 1.0 for value in values.values()), values


@given(pair=count_pairs())
def test_statistics_are_zero_on_identical_inputs(pair: tuple[FloatArray, FloatArray]) -> None:
    """A distribution compared with itself shows no drift at all."""
    reference, _ = pair
    values = evaluate_all(reference, reference.copy(), names=DISTANCE_NAMES)
    assert all(value == 0.0 for value in values.values()), values


@given(pair=count_pairs())
def test_chi2_pvalue_is_one_on_identical_inputs(pair: tuple[FloatArray, FloatArray]) -> None:
    """Counts identical to the reference fit it perfectly."""
    reference, _ = pair
    assert chi2_pvalue(reference, reference.copy()) == pytest.approx(1.0, abs=1e-12)


@given(pair=count_pairs())
def test_symmetric_statistics_ignore_argument_order(pair: tuple[FloatArray, FloatArray]) -> None:
    """PSI, JS, Hellinger, KS and Wasserstein give the same value with sides swapped."""
    reference, current = pair
    forward = evaluate_all(reference, current, names=SYMMETRIC_NAMES)
    backward = evaluate_all(current, reference, names=SYMMETRIC_NAMES)
    assert forward == pytest.approx(backward, rel=1e-9, abs=1e-12)


@given(pair=count_pairs(), factor=st.floats(0.1, 10.0))
def test_statistics_ignore_the_scale_of_current_counts(
    pair: tuple[FloatArray, FloatArray], factor: float
) -> None:
    """Multiplying current counts by a positive constant leaves the statistic unchanged."""
    reference, current = pair
    scaled = evaluate_all(reference, current * factor, names=DISTANCE_NAMES)
    unscaled = evaluate_all(reference, current, names=DISTANCE_NAMES)
    # Square-root distances turn a rounding-level 1e-18 divergence into 1e-9: compare squares.
    for name in ("js", "hellinger"):
        scaled[name], unscaled[name] = scaled[name] ** 2, unscaled[name] ** 2
    assert scaled == pytest.approx(unscaled, rel=1e-9, abs=1e-12)


def test_registry_names_every_statistic_and_marks_the_p_value() -> None:
    """Seven statistics are registered; only chi2_pvalue means drift when low."""
    lower_is_drift = [n for n, s in DISTRIBUTION_STATISTICS.items() if not s.higher_is_drift]
    assert (sorted(DISTRIBUTION_STATISTICS), lower_is_drift) == (
        sorted(["psi", "kl", "js", "hellinger", "wasserstein", "ks", "chi2_pvalue"]),
        ["chi2_pvalue"],
    )


def test_registry_compute_passes_epsilon_to_smoothed_statistics() -> None:
    """compute forwards epsilon, so a larger epsilon changes PSI on zero bins."""
    spec = DISTRIBUTION_STATISTICS["psi"]
    assert spec.compute([0, 10], [5, 5], epsilon=0.01) == psi([0, 10], [5, 5], 0.01)


def test_registry_compute_passes_centers_and_scale_to_wasserstein() -> None:
    """compute forwards centers and scale to the statistics that need them."""
    value = DISTRIBUTION_STATISTICS["wasserstein"].compute([1, 0], [0, 1], centers=[0, 4], scale=2)
    assert value == 2.0


def test_registry_compute_without_centers_fails_for_wasserstein() -> None:
    """Statistics placed on bin centers refuse to run without them."""
    with pytest.raises(ValueError, match="needs bin centers"):
        DISTRIBUTION_STATISTICS["wasserstein"].compute([1, 0], [0, 1])


def test_mismatched_bin_layouts_are_rejected() -> None:
    """Reference and current must have the same number of bins."""
    with pytest.raises(ValueError, match="same bin layout"):
        psi([1, 2, 3], [1, 2])


def test_negative_counts_are_rejected() -> None:
    """Counts cannot be negative."""
    with pytest.raises(ValueError, match="negative"):
        js_distance([1, 2], [3, -1])


def test_a_non_positive_epsilon_is_rejected() -> None:
    """Smoothing with epsilon 0 would give infinite PSI, so it is refused."""
    with pytest.raises(ValueError, match="epsilon"):
        psi([0, 1], [1, 0], epsilon=0.0)


def test_unsorted_centers_are_rejected() -> None:
    """Wasserstein needs the bin centers in increasing order."""
    with pytest.raises(ValueError, match="non-decreasing"):
        wasserstein([1, 1], [1, 2], [1.0, 0.0])


def test_proportions_name_the_bad_input_counts() -> None:
    """A negative count given to proportions is refused in a message naming ``counts``."""
    with pytest.raises(ValueError, match=r"^counts contains negative counts; pass non-negative"):
        proportions([1, -1])


def test_rate_broadcasts_a_scalar_against_an_array_on_either_side() -> None:
    """A scalar part over an array of totals, or an array over a scalar, divides element-wise."""
    assert rate([1, 5], 10).tolist() == [0.1, 0.5]
    assert rate(3, [10, 20]).tolist() == [0.3, 0.15]


def test_compute_all_equals_each_statistics_own_function() -> None:
    """compute_all with centers and the default scale gives what wasserstein and KS give alone."""
    reference, current, centers = [50, 30, 20], [20, 30, 50], [0.0, 1.0, 3.0]
    assert compute_all(["wasserstein", "ks"], reference, current, centers=centers) == {
        "wasserstein": wasserstein(reference, current, centers),
        "ks": ks_distance(reference, current),
    }
    assert wasserstein(reference, current, centers) == pytest.approx(0.3 * 1 + 0.3 * 2)


def test_wasserstein_needs_one_center_per_bin() -> None:
    """Two centers for three bins are refused, saying both sizes and the fix."""
    with pytest.raises(
        ValueError,
        match=r"^centers has shape \(2,\) but the counts have 3 bins; pass one center per bin$",
    ):
        wasserstein([1, 1, 1], [1, 1, 1], centers=[0.0, 1.0])


def test_wasserstein_accepts_tied_centers_and_refuses_unsorted_ones() -> None:
    """Equal neighbouring centers are allowed (non-decreasing); a decrease is refused."""
    assert wasserstein([1, 1, 0], [0, 1, 1], centers=[0.0, 0.0, 1.0]) == 0.5
    with pytest.raises(
        ValueError,
        match=r"^centers must be finite and non-decreasing; pass the sorted bin centers$",
    ):
        wasserstein([1, 1, 0], [0, 1, 1], centers=[1.0, 0.0, 2.0])


@pytest.mark.parametrize(
    ("reference", "current", "message"),
    [
        (5, [1, 1], "reference is a scalar; pass an array with one count per bin"),
        ([1, math.nan], [1, 1], "reference contains NaN or inf; pass finite bin counts"),
        ([1, 1], [1, -1], "current contains negative counts; pass non-negative bin counts"),
        ([1, 1], [1, 1, 1], "reference has 2 bins but current has 3; count both with the same"),
    ],
)
def test_bad_counts_are_refused_naming_the_side(
    reference: object, current: object, message: str
) -> None:
    """Scalar, non-finite, negative or mismatched counts are refused, naming the side."""
    with pytest.raises(ValueError, match=f"^{message}"):
        psi(reference, current)  # type: ignore[arg-type]


def test_a_statistic_spec_computes_with_scale_one_by_default() -> None:
    """Computing Wasserstein through its spec without a scale divides by 1."""
    spec = DISTRIBUTION_STATISTICS["wasserstein"]
    assert spec.compute([1, 0], [0, 1], centers=[0.0, 3.0]) == 3.0


def test_a_statistic_that_needs_centers_says_so() -> None:
    """Wasserstein without centers is refused with the fix for numeric and categorical features."""
    with pytest.raises(
        ValueError,
        match=r"^statistic 'wasserstein' needs bin centers; pass centers= for numeric features "
        r"or skip it for categorical ones$",
    ):
        DISTRIBUTION_STATISTICS["wasserstein"].compute([1, 0], [0, 1])


@pytest.mark.parametrize(
    ("distance", "reference", "current"),
    [
        (hellinger, [45, 45, 0, 0, 0, 0], [0, 0, 24, 17, 33, 21]),
        (js_distance, [1] + [0] * 100, [0] + [1] * 100),
        (ks_distance, [6, 23, 1, 0, 0], [0, 0, 0, 1, 1]),
    ],
)
def test_distances_of_disjoint_supports_are_clipped_to_exactly_one(
    distance: Any, reference: list[int], current: list[int]
) -> None:
    """Where rounding puts the unclipped distance at 1 + 2**-52, the distance is exactly 1."""
    assert distance(reference, current) == 1.0


def test_rate_reads_counts_beyond_int64_as_floats() -> None:
    """Counts too large for int64 are divided as floats, not as Python objects."""
    assert rate(2**64, 2**65) == 0.5


def test_effective_scale_reads_an_integer_beyond_int64_as_a_float() -> None:
    """A scale too large for int64 is used as its float value."""
    assert effective_scale(2**70) == 2.0**70


def test_compute_all_passes_its_scale_on() -> None:
    """compute_all divides Wasserstein by the given scale, as wasserstein does alone."""
    reference, current, centers = [50, 30, 20], [20, 30, 50], [0.0, 1.0, 3.0]
    scaled = compute_all(["wasserstein"], reference, current, centers=centers, scale=2.0)
    assert scaled == {"wasserstein": wasserstein(reference, current, centers, scale=2.0)}
    assert scaled["wasserstein"] == pytest.approx((0.3 * 1 + 0.3 * 2) / 2)


def test_chi2_expected_shares_are_the_smoothed_reference_renormalised() -> None:
    """A reference bin of 0 gets epsilon, and the expected shares are divided by their new sum."""
    reference, current, epsilon = [10, 0, 30], [5, 5, 30], 0.01
    expected = np.array([0.25, 0.01, 0.75]) / 1.01
    chi2 = scipy.stats.chisquare(current, f_exp=expected * 40)
    assert chi2_pvalue(reference, current, epsilon) == pytest.approx(chi2.pvalue, rel=1e-12)


def test_chi2_divides_by_a_reference_sum_that_rounds_just_below_one() -> None:
    """Shares of [48, 5, 41, 35, 15] sum to 1 - 2**-53; dividing by that sum, not skipping it
    as if it were at most 1, gives these bits (dividing by 1 instead gives ...43613e-63)."""
    assert chi2_pvalue([48, 5, 41, 35, 15], [39, 48, 40, 34, 16]) == 7.253131716436547e-63
