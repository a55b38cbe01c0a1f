"""Thresholds calibrated at a false-alarm rate, and multiple-testing corrections.

The baseline stores, per statistic, feature and window size n, a ``NullSummary`` of the
statistic's null distribution: its values between the full reference and random samples
of size n drawn from distributions the reference is consistent with (see
``baselines.calibration``). A threshold at
false-alarm rate ``a`` is the value the null exceeds with probability ``a`` (for
statistics where lower means drift, such as p-values, the value it falls below with
probability ``a``).

Between calibrated rates the empirical quantiles are interpolated (linearly in the value,
logarithmically in the rate); beyond them a gamma fitted by the method of moments
supplies the tail. Between calibrated window sizes thresholds are interpolated log-log in
n; outside, they follow the null's scaling law ``threshold ∝ n ** -exponent``: exponent 1
for divergences (PSI, KL, chi-square statistic), 1/2 for distances (JS, Hellinger,
Wasserstein, KS), 0 for p-values (``StatisticSpec.null_exponent`` holds the value per
statistic). The 1/n law is asymptotic: at small n with sparsely filled bins, smoothing makes
PSI's null fall faster than 1/n, so extrapolating below the smallest calibrated size
underestimates the threshold; calibrate the smallest window size in use.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from detectors.quantiles import sorted_quantiles
from detectors.statistics import DISTRIBUTION_STATISTICS

FALSE_ALARM_GRID: Final = (0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001)

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class NullSummary:
    """Null distribution of one statistic at window size ``n``.

    ``quantiles`` maps a false-alarm rate to the statistic's threshold at that rate;
    ``shape`` and ``scale`` are the fitted gamma, both 0.0 when the null is a point mass
    (zero variance). ``higher_is_drift`` is False for p-value statistics.
    """

    n: int
    quantiles: Mapping[float, float]
    shape: float
    scale: float
    higher_is_drift: bool = True

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError(f"null summary window size n={self.n}; it must be at least 1")
        if not self.quantiles:
            raise ValueError("null summary has no quantiles; summarise with summarize_null")
        if not all(0 < rate < 1 and math.isfinite(v) for rate, v in self.quantiles.items()):
            raise ValueError("null quantiles need rates in (0, 1) and finite values; re-calibrate")
        if not (self.shape >= 0 and self.scale >= 0 and math.isfinite(self.shape * self.scale)):
            raise ValueError("gamma shape and scale must be finite and >= 0; re-calibrate")

    @property
    def is_point_mass(self) -> bool:
        """True when the null has no spread (no gamma fitted)."""
        return self.shape == 0 or self.scale == 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict (rates become string keys).

        >>> NullSummary(100, {0.05: 0.1}, 2.0, 0.01).to_dict()["quantiles"]
        {'0.05': 0.1}
        """
        return {
            "n": self.n,
            "higher_is_drift": self.higher_is_drift,
            "quantiles": {repr(rate): value for rate, value in sorted(self.quantiles.items())},
            "shape": self.shape,
            "scale": self.scale,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NullSummary:
        """Rebuild a summary from ``to_dict`` output.

        >>> summary = NullSummary(100, {0.05: 0.1}, 2.0, 0.01)
        >>> NullSummary.from_dict(summary.to_dict()) == summary
        True
        """
        missing = {"n", "higher_is_drift", "quantiles", "shape", "scale"} - set(data)
        if missing:
            raise ValueError(
                f"null summary lacks {sorted(missing)}; rebuild the baseline to re-calibrate"
            )
        return cls(
            n=int(data["n"]),
            quantiles={float(rate): float(v) for rate, v in data["quantiles"].items()},
            shape=float(data["shape"]),
            scale=float(data["scale"]),
            higher_is_drift=bool(data["higher_is_drift"]),
        )


def summarize_null(values: ArrayLike, n: int, *, higher_is_drift: bool = True) -> NullSummary:
    """Summarise sampled null values of a statistic at window size ``n``.

    >>> summary = summarize_null(np.random.default_rng(0).gamma(2.0, 0.01, 1000), n=500)
    >>> round(summary.quantiles[0.05], 3), round(summary.shape, 1)
    (0.047, 2.0)
    """
    samples = np.asarray(values, dtype=np.float64).ravel()
    return summarize_nulls(samples[np.newaxis], [n], higher_is_drift=higher_is_drift)[0]


def summarize_nulls(
    values: ArrayLike, sizes: Sequence[int], *, higher_is_drift: bool = True
) -> tuple[NullSummary, ...]:
    """:func:`summarize_null` of each row of ``values``, row ``i`` sampled at ``sizes[i]``.

    One sort serves every row, so calibration summarises a subject's window sizes at once.

    >>> draws = np.random.default_rng(0).gamma(2.0, 0.01, (2, 1000))
    >>> summarize_nulls(draws, [100, 500])[1] == summarize_null(draws[1], 500)
    True
    """
    samples = np.sort(np.asarray(values, dtype=np.float64), axis=-1)
    if samples.ndim != 2 or samples.shape[0] != len(sizes):
        raise ValueError(f"got null values of shape {samples.shape} for {len(sizes)} sizes")
    if samples.shape[1] < 2:
        raise ValueError(f"got {samples.shape[1]} null values; sample at least 2 (e.g. 1000)")
    if not np.all(np.isfinite(samples)) or np.any(samples[:, 0] < 0):
        raise ValueError("null values must be finite and non-negative; check the statistic")
    levels = [1.0 - rate if higher_is_drift else rate for rate in FALSE_ALARM_GRID]
    quantiles = sorted_quantiles(samples, levels).tolist()
    means = samples.mean(axis=1).tolist()
    variances = samples.var(axis=1, ddof=1).tolist()
    return tuple(
        NullSummary(
            n=n,
            quantiles=dict(zip(FALSE_ALARM_GRID, row, strict=True)),
            shape=shape,
            scale=scale,
            higher_is_drift=higher_is_drift,
        )
        for n, row, (shape, scale) in zip(
            sizes, quantiles, map(_gamma_moments, means, variances), strict=True
        )
    )


def _gamma_moments(mean: float, variance: float) -> tuple[float, float]:
    """Gamma ``(shape, scale)`` with this mean and variance; ``(0, 0)`` for a point mass."""
    shape, scale = (mean * mean / variance, variance / mean) if variance > 0 else (0.0, 0.0)
    if not (math.isfinite(shape) and math.isfinite(scale)):
        return 0.0, 0.0
    return shape, scale


def null_pvalue(summary: NullSummary, value: ArrayLike) -> float | FloatArray:
    """Probability under the fitted null of a value at least as extreme as ``value``.

    >>> summary = NullSummary(100, {0.05: 0.1}, shape=1.0, scale=0.05)
    >>> round(null_pvalue(summary, 0.1), 4)
    0.1353
    >>> null_pvalue(summary, [0.0, 0.05]).round(4).tolist()
    [1.0, 0.3679]
    """
    observed = np.asarray(value, dtype=np.float64)
    if not np.all(np.isfinite(observed)):
        raise ValueError("statistic values must be finite; check the statistic")
    if summary.is_point_mass:
        point = max(summary.quantiles.values())
        as_extreme = observed <= point if summary.higher_is_drift else observed >= point
        probabilities = np.where(as_extreme, 1.0, 0.0)
    else:
        probabilities = _gamma_tail(observed, summary)
    return float(probabilities) if probabilities.ndim == 0 else probabilities


def threshold_at(summary: NullSummary, false_alarm_rate: float) -> float:
    """Threshold that the null crosses with probability ``false_alarm_rate``.

    Inside the calibrated rates the empirical quantiles are interpolated linearly in the
    value and logarithmically in the rate. Beyond them the fitted gamma's quantile curve
    is shifted to pass through the nearest calibrated quantile, so thresholds stay
    continuous and monotone in the rate (never below 0).

    >>> summary = NullSummary(100, {0.1: 0.2, 0.01: 0.4}, shape=0.0, scale=0.0)
    >>> round(threshold_at(summary, 0.01), 3), round(threshold_at(summary, 10 ** -1.5), 3)
    (0.4, 0.3)
    """
    _check_rate(false_alarm_rate)
    rates = sorted(summary.quantiles)
    values = [summary.quantiles[rate] for rate in rates]
    if rates[0] <= false_alarm_rate <= rates[-1]:
        interpolated = np.interp(math.log(false_alarm_rate), np.log(rates), values)
        return float(interpolated)
    anchor = rates[0] if false_alarm_rate < rates[0] else rates[-1]
    if summary.is_point_mass:
        return summary.quantiles[anchor]
    shift = _gamma_tail_quantile(false_alarm_rate, summary) - _gamma_tail_quantile(anchor, summary)
    return max(summary.quantiles[anchor] + shift, 0.0)


def _gamma_tail(observed: FloatArray, summary: NullSummary) -> FloatArray:
    """The fitted gamma's drift-side tail probability at ``observed`` (values below 0 are 0).

    The regularized incomplete gamma functions are what ``scipy.stats.gamma``'s ``sf`` and
    ``cdf`` evaluate, at the same scaled points; ``scipy.special`` is imported here, on first
    use, so that commands which never score a window do not pay for loading it.
    """
    from scipy.special import gammainc, gammaincc

    scaled = np.maximum(observed, 0.0) / summary.scale
    tail = gammaincc if summary.higher_is_drift else gammainc
    return np.asarray(tail(summary.shape, scaled), dtype=np.float64)


def _gamma_tail_quantile(rate: float, summary: NullSummary) -> float:
    """The value beyond which the fitted gamma's drift-side tail holds ``rate`` of its mass.

    >>> _gamma_tail_quantile(0.5, NullSummary(100, {0.05: 0.1}, shape=1.0, scale=2.0))
    1.386294361119891
    """
    from scipy.special import gammainccinv, gammaincinv

    inverse = gammainccinv if summary.higher_is_drift else gammaincinv
    return float(inverse(summary.shape, rate)) * summary.scale


def threshold_for_size(
    summaries: Sequence[NullSummary],
    n: int,
    false_alarm_rate: float,
    *,
    statistic: str = "psi",
    exponent: float | None = None,
) -> float:
    """Threshold for window size ``n`` from summaries calibrated at other sizes.

    Log-log interpolation in n between calibrated sizes; outside them the nearest size's
    threshold scaled by ``(n_calibrated / n) ** exponent``. ``exponent`` defaults to the
    ``null_exponent`` registered for ``statistic`` (1 for PSI-like divergences, 1/2 for
    distances, 0 for p-values). One size of :func:`thresholds_for_sizes`.

    >>> small = NullSummary(100, {0.05: 0.2}, shape=0.0, scale=0.0)
    >>> large = NullSummary(1000, {0.05: 0.02}, shape=0.0, scale=0.0)
    >>> [round(threshold_for_size([small, large], n, 0.05), 4) for n in (50, 316, 2000)]
    [0.4, 0.0633, 0.01]
    >>> round(threshold_for_size([small, large], 4000, 0.05, statistic="js"), 4)
    0.01
    """
    sizes = np.array([n], dtype=np.float64)
    found = thresholds_for_sizes(
        summaries, sizes, false_alarm_rate, statistic=statistic, exponent=exponent
    )
    return float(found[0])


def thresholds_for_sizes(
    summaries: Sequence[NullSummary],
    sizes: ArrayLike,
    false_alarm_rate: float,
    *,
    statistic: str = "psi",
    exponent: float | None = None,
) -> FloatArray:
    """:func:`threshold_for_size` at every window size of ``sizes`` at once (one per window of
    the windows closing together).

    >>> small = NullSummary(100, {0.05: 0.2}, shape=0.0, scale=0.0)
    >>> large = NullSummary(1000, {0.05: 0.02}, shape=0.0, scale=0.0)
    >>> thresholds_for_sizes([small, large], [50, 100, 316, 2000], 0.05).round(4).tolist()
    [0.4, 0.2, 0.0633, 0.01]
    """
    if exponent is None:
        if statistic not in DISTRIBUTION_STATISTICS:
            raise ValueError(
                f"unknown statistic {statistic!r}; use one of {sorted(DISTRIBUTION_STATISTICS)}"
            )
        exponent = DISTRIBUTION_STATISTICS[statistic].null_exponent
    n = np.asarray(sizes, dtype=np.float64)
    if np.any(n < 1):
        raise ValueError(f"window size n={n.min():g}; it must be at least 1")
    ordered = sorted(summaries, key=lambda summary: summary.n)
    check_window_sizes([summary.n for summary in ordered])
    calibrated = np.array([summary.n for summary in ordered], dtype=np.float64)
    thresholds = np.array([threshold_at(summary, false_alarm_rate) for summary in ordered])
    below = thresholds[0] * (calibrated[0] / n) ** exponent
    above = thresholds[-1] * (calibrated[-1] / n) ** exponent
    outside = np.where(n <= calibrated[0], below, above)
    if len(calibrated) == 1:
        return np.asarray(outside, dtype=np.float64)
    inside = (n > calibrated[0]) & (n < calibrated[-1])
    return np.where(inside, _log_log(calibrated, thresholds, n), outside)


def check_window_sizes(sizes: Sequence[int]) -> None:
    """Refuse the window sizes (ascending) of a subject's null summaries if there are none or
    one repeats.

    >>> check_window_sizes([100, 100])
    Traceback (most recent call last):
    ...
    ValueError: null summaries repeat a window size in [100, 100]; keep one per size
    """
    if not sizes:
        raise ValueError("no null summaries; calibrate at least one window size in the baseline")
    if len(set(sizes)) != len(sizes):
        raise ValueError(f"null summaries repeat a window size in {list(sizes)}; keep one per size")


def _log_log(calibrated: FloatArray, thresholds: FloatArray, n: FloatArray) -> FloatArray:
    """Thresholds between calibrated sizes (at least two): exact at a calibrated size, log-log
    between two (linear in ``log n`` where one of the two thresholds is 0); meaningless for
    ``n`` outside the calibrated sizes.

    >>> _log_log(np.array([100.0, 1000.0]), np.array([0.2, 0.0]), np.array([316.0])).round(4)
    array([0.1])
    """
    upper = np.clip(np.searchsorted(calibrated, n), 1, len(calibrated) - 1)
    low, high = thresholds[upper - 1], thresholds[upper]
    position = np.log(n / calibrated[upper - 1]) / np.log(calibrated[upper] / calibrated[upper - 1])
    positive = (low > 0) & (high > 0)
    safe_low, safe_high = np.where(positive, low, 1.0), np.where(positive, high, 1.0)
    log_log = np.exp(np.log(safe_low) + position * np.log(safe_high / safe_low))
    between = np.where(positive, log_log, low + position * (high - low))
    found: FloatArray = np.where(calibrated[upper] == n, high, between)
    return found


def bonferroni(false_alarm_rate: float, tests: int) -> float:
    """Per-test false-alarm rate that keeps the family-wise rate over ``tests`` tests.

    >>> bonferroni(0.01, 20)
    0.0005
    """
    _check_rate(false_alarm_rate)
    if tests < 1:
        raise ValueError(f"tests={tests}; pass the number of tests, at least 1")
    return false_alarm_rate / tests


def benjamini_hochberg(pvalues: ArrayLike, fdr: float) -> NDArray[np.bool_]:
    """Which hypotheses the Benjamini-Hochberg procedure rejects at false discovery rate ``fdr``.

    All given p-values form one family, whatever the array shape.

    >>> benjamini_hochberg([0.001, 0.02, 0.03, 0.5], fdr=0.05).tolist()
    [True, True, True, False]
    """
    _check_rate(fdr)
    observed = np.asarray(pvalues, dtype=np.float64)
    if not np.all((observed >= 0) & (observed <= 1)):
        raise ValueError("p-values must lie in [0, 1]; check the statistic feeding the test")
    flat = observed.ravel()
    order = np.argsort(flat)
    tests = flat.size
    adjusted = flat[order] * (tests / np.arange(1, tests + 1))
    adjusted = np.minimum.accumulate(adjusted[::-1])[::-1]
    rejected = np.empty(tests, dtype=np.bool_)
    rejected[order] = adjusted <= fdr
    return rejected.reshape(observed.shape)


def _check_rate(rate: float) -> None:
    if not 0 < rate < 1:
        raise ValueError(f"rate {rate} is outside (0, 1); pass e.g. 0.01")
