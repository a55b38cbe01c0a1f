"""Null calibration: the spread of each statistic between the reference and samples of itself."""

from __future__ import annotations

import pytest
from scipy.stats import chi2

from baselines.binning import CategoricalLayout, NumericLayout
from baselines.calibration import calibrate
from baselines.values import Calibration, CategoricalSummary, FeatureBaseline, NumericSummary

UNIFORM = FeatureBaseline(
    "x",
    NumericLayout(tuple(float(edge) for edge in range(11))),
    (0, *([100] * 10), 0, 7),
    NumericSummary(1000, 7, 0.0, 10.0, 5.0, 2.9, {}),
)
COLOR = FeatureBaseline(
    "color",
    CategoricalLayout(("red", "blue")),
    (60, 40, 0, 0, 0),
    CategoricalSummary(100, 0, 2, (("red", 60), ("blue", 40))),
)


LARGE = FeatureBaseline(
    "x",
    NumericLayout(tuple(float(edge) for edge in range(11))),
    (0, *([100_000] * 10), 0, 0),
    NumericSummary(1_000_000, 0, 0.0, 10.0, 5.0, 2.9, {}),
)


def test_psi_null_median_follows_the_two_sample_chi_square_approximation() -> None:
    """Under no drift n·PSI is about chi-square(k - 1) times (1 + n/N) for a reference of N rows."""
    calibration = calibrate(
        [("x", UNIFORM)], window_sizes=[1000], replicates=2000, seed=0, epsilon=1e-4
    )
    (summary,) = calibration.summaries("psi", "x")
    assert summary.n == 1000
    assert summary.quantiles[0.5] * 1000 == pytest.approx(chi2.median(9) * 2, rel=0.1)


def test_large_reference_null_is_the_one_sample_chi_square() -> None:
    """With a reference far larger than the window, n·PSI is about chi-square(k - 1)."""
    calibration = calibrate(
        [("x", LARGE)], window_sizes=[1000], replicates=2000, seed=0, epsilon=1e-4
    )
    (summary,) = calibration.summaries("psi", "x")
    assert summary.quantiles[0.5] * 1000 == pytest.approx(chi2.median(9), rel=0.1)


def test_chi2_pvalue_is_uniform_under_the_null() -> None:
    """With a large reference the p-value falls below 0.05 in about 5% of null samples."""
    calibration = calibrate(
        [("x", LARGE)], window_sizes=[1000], replicates=2000, seed=0, epsilon=1e-4
    )
    (summary,) = calibration.summaries("chi2_pvalue", "x")
    assert not summary.higher_is_drift
    assert summary.quantiles[0.05] == pytest.approx(0.05, abs=0.015)


def test_larger_windows_have_a_tighter_null() -> None:
    """The 1% threshold of JS shrinks as the window grows."""
    calibration = calibrate(
        [("x", LARGE)], window_sizes=[100, 10_000], replicates=500, seed=0, epsilon=1e-4
    )
    small, large = calibration.summaries("js", "x")
    assert (small.n, large.n) == (100, 10_000)
    assert large.quantiles[0.01] < small.quantiles[0.01] / 5


def test_categorical_subjects_skip_statistics_of_ordered_bins() -> None:
    """Wasserstein and KS need ordered bins, so categorical features are not calibrated for them."""
    calibration = calibrate(
        [("x", UNIFORM), ("color", COLOR)], window_sizes=[100], replicates=50, seed=0, epsilon=1e-4
    )
    assert set(calibration.statistics["psi"]) == {"x", "color"}
    assert set(calibration.statistics["wasserstein"]) == {"x"}
    assert set(calibration.statistics["ks"]) == {"x"}
    assert calibration.summaries("ks", "color") == ()


def test_calibration_is_deterministic_for_a_seed() -> None:
    """The same seed gives the same summaries, another seed other ones."""

    def run(seed: int) -> Calibration:
        return calibrate(
            [("x", UNIFORM)], window_sizes=[100], replicates=50, seed=seed, epsilon=1e-4
        )

    first, again, other = run(4), run(4), run(5)
    assert first == again
    assert first != other
    assert (first.window_sizes, first.replicates, first.seed) == ((100,), 50, 4)


def test_calibration_does_not_depend_on_how_many_threads_run_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Subjects calibrated one after another on one thread give what the thread pool gives."""

    def run() -> Calibration:
        return calibrate(
            [("x", UNIFORM), ("color", COLOR), ("y", LARGE)],
            window_sizes=[100, 1000],
            replicates=50,
            seed=7,
            epsilon=1e-4,
        )

    pooled = run()
    monkeypatch.setattr("baselines.calibration.map_columns", map)
    assert run() == pooled


def test_a_subject_draws_the_same_samples_wherever_it_sits_in_the_list() -> None:
    """Each subject's generator comes from the seed and its position, not from earlier draws."""
    alone = calibrate([("x", UNIFORM)], window_sizes=[100], replicates=50, seed=2, epsilon=1e-4)
    first = calibrate(
        [("x", UNIFORM), ("color", COLOR)], window_sizes=[100], replicates=50, seed=2, epsilon=1e-4
    )
    assert first.summaries("psi", "x") == alone.summaries("psi", "x")
