"""Drift statistics between two binned distributions.

Every statistic compares ``reference`` counts with ``current`` counts laid out in the same
``k`` bins, both of shape ``(k,)`` or ``(..., k)``. Counts are normalised to proportions
inside, so any non-negative counts (integers or floats) work. Leading axes broadcast: the
baseline calibration scores 1000 multinomial samples against one reference as an ``(R, k)``
array, and evaluation scores every subject of every closing window with one call per
statistic, row ``i`` of ``reference`` against row ``i`` of ``current`` (a row's result is
bit-identical to scoring that row alone: every reduction runs along the last axis). Two 1-D
sides give a Python ``float``, otherwise an array of shape ``(...)``.

Empty sides: when ``current`` (or ``reference``) counts are all zero there is nothing to
compare, and every statistic returns its no-drift value: 0.0, or 1.0 for the p-value
``chi2_pvalue``. Callers gate on a minimum sample size anyway.

Smoothing rule (PSI, KL and chi-square): proportions equal to 0 are replaced by
``epsilon`` (``DEFAULT_EPSILON = 1e-4``) *without renormalising*. This is Evidently's rule
while every non-zero share exceeds 1e-4, so then on identical bins our PSI equals Evidently's
(Evidently smooths a side whose smallest share is at most 1e-4 with that share / 1e6 instead).
KL then renormalises both smoothed vectors and chi-square the smoothed reference (see their
docstrings); JS, Hellinger, Wasserstein and KS need no smoothing. No statistic returns inf or
NaN.

``DISTRIBUTION_STATISTICS`` names every statistic with a uniform ``compute`` call, so
evaluation and calibration iterate over it without branching per statistic.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]
Statistic = float | FloatArray

DEFAULT_EPSILON: Final = 1e-4


def proportions(counts: ArrayLike) -> FloatArray:
    """Normalise counts to proportions along the last axis; all-zero rows stay all zero.

    >>> proportions([1, 3, 0]).tolist()
    [0.25, 0.75, 0.0]
    >>> proportions([[2, 2], [0, 0]]).tolist()
    [[0.5, 0.5], [0.0, 0.0]]
    """
    return _shares(_counts(counts, "counts"))


def _shares(values: FloatArray) -> FloatArray:
    """Proportions of already validated counts."""
    total = values.sum(axis=-1, keepdims=True)
    shares: FloatArray = np.divide(values, total, out=np.zeros_like(values), where=total > 0)
    return shares


def psi(reference: ArrayLike, current: ArrayLike, epsilon: float = DEFAULT_EPSILON) -> Statistic:
    """Population stability index ``sum((cur - ref) * ln(cur / ref))`` on smoothed proportions.

    >>> round(psi([50, 50], [60, 40]), 4)
    0.0405
    >>> psi([50, 50], [[50, 50], [60, 40]]).round(4).tolist()
    [0.0, 0.0405]
    """
    return _psi(_Pair.of(reference, current), epsilon)


def _psi(pair: _Pair, epsilon: float) -> Statistic:
    ref_p, cur_p = pair.smoothed(epsilon)
    values = np.sum((cur_p - ref_p) * (np.log(cur_p) - np.log(ref_p)), axis=-1)
    return pair.result(values, no_drift=0.0)


def kl_divergence(
    reference: ArrayLike, current: ArrayLike, epsilon: float = DEFAULT_EPSILON
) -> Statistic:
    """Kullback-Leibler divergence KL(current || reference) in nats.

    Both proportion vectors are smoothed, then renormalised to sum to 1 (exactly what
    ``scipy.stats.entropy(cur_smoothed, ref_smoothed)`` computes); renormalising keeps the
    divergence non-negative, which the raw smoothed vectors would not guarantee.

    >>> round(kl_divergence([50, 50], [60, 40]), 4)
    0.0201
    """
    return _kl(_Pair.of(reference, current), epsilon)


def _kl(pair: _Pair, epsilon: float) -> Statistic:
    ref_p, cur_p = (_normalise(side) for side in pair.smoothed(epsilon))
    values = np.maximum(np.sum(cur_p * (np.log(cur_p) - np.log(ref_p)), axis=-1), 0.0)
    return pair.result(values, no_drift=0.0)


def js_distance(reference: ArrayLike, current: ArrayLike) -> Statistic:
    """Jensen-Shannon distance (square root of the divergence, base 2), in [0, 1].

    Equals ``scipy.spatial.distance.jensenshannon(ref, cur, base=2)``; no smoothing is
    needed because ``0 * log 0 = 0``.

    >>> round(js_distance([50, 50], [60, 40]), 4)
    0.0854
    >>> js_distance([1, 0], [0, 1])
    1.0
    """
    return _js(_Pair.of(reference, current))


def _js(pair: _Pair) -> Statistic:
    from scipy.special import rel_entr  # on first use: commands that score nothing skip it

    ref_p, cur_p = pair.ref_shares, pair.cur_shares
    mixture = (ref_p + cur_p) / 2.0
    divergence = np.sum(rel_entr(ref_p, mixture), axis=-1) + np.sum(
        rel_entr(cur_p, mixture), axis=-1
    )
    values = np.sqrt(np.clip(divergence / math.log(2.0) / 2.0, 0.0, 1.0))
    return pair.result(values, no_drift=0.0)


def hellinger(reference: ArrayLike, current: ArrayLike) -> Statistic:
    """Hellinger distance ``sqrt(0.5 * sum((sqrt p - sqrt q)^2))``, in [0, 1].

    >>> round(hellinger([50, 50], [60, 40]), 4)
    0.0712
    >>> hellinger([1, 0], [0, 1])
    1.0
    """
    return _hellinger(_Pair.of(reference, current))


def _hellinger(pair: _Pair) -> Statistic:
    gaps = np.sqrt(pair.ref_shares) - np.sqrt(pair.cur_shares)
    values = np.sqrt(np.clip(0.5 * np.sum(gaps * gaps, axis=-1), 0.0, 1.0))
    return pair.result(values, no_drift=0.0)


def chi2_pvalue(
    reference: ArrayLike, current: ArrayLike, epsilon: float = DEFAULT_EPSILON
) -> Statistic:
    """Chi-square goodness-of-fit p-value of the current counts against the reference.

    Bins empty on both sides are dropped. Expected counts are the smoothed reference
    proportions of the remaining bins, renormalised to sum to the current total. Degrees
    of freedom are the remaining bins minus one; with fewer than one the p-value is 1.0.
    Low values mean drift.

    >>> round(chi2_pvalue([50, 50], [60, 40]), 4)
    0.0455
    >>> chi2_pvalue([50, 50, 0], [50, 50, 0])
    1.0
    """
    return _chi2_pvalue(_Pair.of(reference, current), epsilon)


def _chi2_pvalue(pair: _Pair, epsilon: float) -> Statistic:
    from scipy.special import chdtrc  # on first use: commands that score nothing skip it

    ref, cur = pair.ref, pair.cur
    kept = (ref > 0) | (cur > 0)
    ref_p = np.where(kept, _smooth(pair.ref_shares, epsilon), 0.0)
    ref_total = ref_p.sum(axis=-1, keepdims=True)
    # Both windows empty: every ref_p is 0, and 0 / 1 keeps the expected shares 0.
    expected = ref_p / np.where(ref_total > 0, ref_total, 1.0)
    squared_gaps = (pair.cur_shares - expected) ** 2
    # sum((observed - n e)^2 / (n e)) on shares; a statistic beyond float range gives p = 0.
    # A bin in neither window has a gap of 0 and adds 0 / 1 = 0, computed like the others.
    with np.errstate(over="ignore"):
        terms = squared_gaps / np.where(kept, expected, 1.0)
        statistic = cur.sum(axis=-1) * np.sum(terms, axis=-1)
    freedom = np.sum(kept, axis=-1) - 1
    values = np.where(freedom >= 1, chdtrc(np.maximum(freedom, 1), statistic), 1.0)
    return pair.result(values, no_drift=1.0)


def wasserstein(
    reference: ArrayLike, current: ArrayLike, centers: ArrayLike, scale: ArrayLike = 1.0
) -> Statistic:
    """Wasserstein-1 distance between the binned distributions placed at bin ``centers``.

    Divided by ``scale`` (the reference standard deviation) so it reads in reference
    standard deviations; see ``effective_scale`` for non-positive scales. Equals
    ``scipy.stats.wasserstein_distance(centers, centers, ref, cur) / scale``. Stacked rows
    may each have their own ``centers`` (shape ``(..., k)``) and ``scale`` (shape ``(...)``).

    >>> wasserstein([1, 0, 0], [0, 0, 1], centers=[0.0, 1.0, 2.0])
    2.0
    >>> wasserstein([1, 1], [[1, 1], [0, 2]], centers=[0.0, 4.0], scale=2.0).tolist()
    [0.0, 1.0]
    >>> wasserstein([[1, 1], [1, 1]], [0, 2], centers=[[0.0, 4.0], [0.0, 1.0]],
    ...             scale=[2.0, 1.0]).tolist()
    [1.0, 0.5]
    """
    return _wasserstein(_Pair.of(reference, current), centers, scale)


def _wasserstein(pair: _Pair, centers: ArrayLike, scale: ArrayLike) -> Statistic:
    positions = _centers(centers, pair.ref.shape[-1])
    values = np.sum(pair.cdf_gaps[..., :-1] * np.diff(positions), axis=-1) / _effective_scales(
        scale
    )
    return pair.result(values, no_drift=0.0)


def ks_distance(reference: ArrayLike, current: ArrayLike) -> Statistic:
    """Kolmogorov-Smirnov distance: the largest gap between the two binned CDFs, in [0, 1].

    >>> ks_distance([1, 1, 2], [2, 1, 1])
    0.25
    """
    return _ks(_Pair.of(reference, current))


def _ks(pair: _Pair) -> Statistic:
    values = np.clip(np.max(pair.cdf_gaps, axis=-1), 0.0, 1.0)
    return pair.result(values, no_drift=0.0)


def rate(part: ArrayLike, total: ArrayLike) -> Statistic:
    """``part / total``, 0.0 where ``total`` is 0 (missing, out-of-range and unseen rates).

    >>> rate(3, 200)
    0.015
    >>> rate([1, 5], [0, 10]).tolist()
    [0.0, 0.5]
    """
    numerator = np.asarray(part, dtype=np.float64)
    denominator = np.asarray(total, dtype=np.float64)
    shape = np.broadcast_shapes(numerator.shape, denominator.shape)
    values = np.divide(
        numerator, denominator, out=np.zeros(shape, dtype=np.float64), where=denominator != 0
    )
    return float(values) if values.ndim == 0 else values


def effective_scale(scale: float) -> float:
    """The divisor used for ``scale``: itself when positive and finite, otherwise 1.0.

    A constant reference has standard deviation 0; falling back to 1.0 keeps the
    statistic finite and in the data's own units.

    >>> effective_scale(2.5), effective_scale(0.0)
    (2.5, 1.0)
    """
    return float(_effective_scales(scale))


def _effective_scales(scale: ArrayLike) -> FloatArray:
    """``effective_scale`` of every entry of ``scale``."""
    scales = np.asarray(scale, dtype=np.float64)
    divisors: FloatArray = np.where(np.isfinite(scales) & (scales > 0), scales, 1.0)
    return divisors


@dataclass(frozen=True)
class StatisticSpec:
    """How to call one statistic and how to read it.

    ``higher_is_drift`` is False for p-values. ``uses_epsilon`` marks the smoothed
    statistics, ``needs_centers`` those that take bin ``centers`` and ``scale``, and
    ``ordered_bins`` those that only make sense when bins are ordered (numeric features,
    not categorical vocabularies). ``null_exponent`` is how the statistic shrinks with the
    window size n under the null (values scale as ``n ** -null_exponent``): 1 for
    divergences (PSI, KL), 1/2 for distances (JS, Hellinger, Wasserstein, KS), 0 for the
    chi-square p-value, whose null distribution does not depend on n.
    """

    name: str
    core: Callable[[_Pair, float, Any, Any], Statistic]
    higher_is_drift: bool
    uses_epsilon: bool
    needs_centers: bool
    ordered_bins: bool
    null_exponent: float

    def compute(
        self,
        reference: ArrayLike,
        current: ArrayLike,
        *,
        epsilon: float = DEFAULT_EPSILON,
        centers: ArrayLike | None = None,
        scale: ArrayLike = 1.0,
    ) -> Statistic:
        """Evaluate the statistic, passing each the arguments it takes.

        >>> DISTRIBUTION_STATISTICS["ks"].compute([1, 1], [2, 0], centers=[0.0, 1.0])
        0.5
        """
        return self.evaluate(_Pair.of(reference, current), epsilon, centers, scale)

    def evaluate(
        self, pair: _Pair, epsilon: float, centers: ArrayLike | None, scale: ArrayLike
    ) -> Statistic:
        """The statistic on already validated counts (shared across statistics)."""
        if self.needs_centers and centers is None:
            raise ValueError(
                f"statistic {self.name!r} needs bin centers; pass centers= for numeric"
                " features or skip it for categorical ones"
            )
        return self.core(pair, epsilon, centers, scale)


def compute_all(
    names: Iterable[str],
    reference: ArrayLike,
    current: ArrayLike,
    *,
    epsilon: float = DEFAULT_EPSILON,
    centers: ArrayLike | None = None,
    scale: ArrayLike = 1.0,
) -> dict[str, Statistic]:
    """Several statistics of one pair of count vectors (or of stacked pairs, row by row),
    validating and normalising them once.

    >>> {k: round(v, 4) for k, v in compute_all(["psi", "js"], [50, 50], [60, 40]).items()}
    {'psi': 0.0405, 'js': 0.0854}
    >>> compute_all(["ks"], [[1, 1], [2, 0]], [[2, 0], [2, 0]])["ks"].tolist()
    [0.5, 0.0]
    """
    pair = _Pair.of(reference, current)
    return {
        name: DISTRIBUTION_STATISTICS[name].evaluate(pair, epsilon, centers, scale)
        for name in names
    }


DISTRIBUTION_STATISTICS: Final[dict[str, StatisticSpec]] = {
    spec.name: spec
    for spec in (
        StatisticSpec("psi", lambda p, e, c, s: _psi(p, e), True, True, False, False, 1.0),
        StatisticSpec("kl", lambda p, e, c, s: _kl(p, e), True, True, False, False, 1.0),
        StatisticSpec("js", lambda p, e, c, s: _js(p), True, False, False, False, 0.5),
        StatisticSpec(
            "hellinger", lambda p, e, c, s: _hellinger(p), True, False, False, False, 0.5
        ),
        StatisticSpec(
            "wasserstein", lambda p, e, c, s: _wasserstein(p, c, s), True, False, True, True, 0.5
        ),
        StatisticSpec("ks", lambda p, e, c, s: _ks(p), True, False, False, True, 0.5),
        StatisticSpec(
            "chi2_pvalue", lambda p, e, c, s: _chi2_pvalue(p, e), False, True, False, False, 0.0
        ),
    )
}


def _counts(values: ArrayLike, name: str) -> FloatArray:
    if np.ndim(values) == 0:  # before _row_major, which makes a scalar a one-bin array
        raise ValueError(f"{name} is a scalar; pass an array with one count per bin")
    array = _row_major(values)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or inf; pass finite bin counts")
    if np.any(array < 0):
        raise ValueError(f"{name} contains negative counts; pass non-negative bin counts")
    return array


def _row_major(values: ArrayLike) -> FloatArray:
    """``values`` as a C-contiguous float64 array.

    numpy reduces the last axis of a C-contiguous array row by row, each row summed exactly as
    that row alone would be; for other layouts (a Fortran-ordered or broadcast stack) it may
    accumulate column by column instead, which rounds differently.
    """
    array: FloatArray = np.ascontiguousarray(values, dtype=np.float64)
    return array


class _Pair:
    """Validated reference/current counts with the intermediate results statistics share."""

    def __init__(self, ref: FloatArray, cur: FloatArray) -> None:
        self.ref = ref
        self.cur = cur
        self._smoothed: dict[float, tuple[FloatArray, FloatArray]] = {}

    @classmethod
    def of(cls, reference: ArrayLike, current: ArrayLike) -> _Pair:
        ref = _counts(reference, "reference")
        cur = _counts(current, "current")
        if ref.shape[-1] != cur.shape[-1]:
            raise ValueError(
                f"reference has {ref.shape[-1]} bins but current has {cur.shape[-1]};"
                " count both with the same bin layout"
            )
        return cls(ref, cur)

    @cached_property
    def ref_shares(self) -> FloatArray:
        return _shares(self.ref)

    @cached_property
    def cur_shares(self) -> FloatArray:
        return _shares(self.cur)

    @cached_property
    def cdf_gaps(self) -> FloatArray:
        gaps: FloatArray = np.abs(
            np.cumsum(self.ref_shares, axis=-1) - np.cumsum(self.cur_shares, axis=-1)
        )
        return gaps

    @cached_property
    def empty(self) -> NDArray[np.bool_]:
        empty: NDArray[np.bool_] = (self.ref.sum(axis=-1) == 0) | (self.cur.sum(axis=-1) == 0)
        return empty

    def smoothed(self, epsilon: float) -> tuple[FloatArray, FloatArray]:
        if epsilon not in self._smoothed:
            self._smoothed[epsilon] = (
                _smooth(self.ref_shares, epsilon),
                _smooth(self.cur_shares, epsilon),
            )
        return self._smoothed[epsilon]

    def result(self, values: ArrayLike, no_drift: float) -> Statistic:
        result = np.where(self.empty, no_drift, values).astype(np.float64)
        return float(result) if result.ndim == 0 else result


def _smooth(values: FloatArray, epsilon: float) -> FloatArray:
    if not (math.isfinite(epsilon) and epsilon > 0):
        raise ValueError(f"epsilon must be a positive number, got {epsilon}; use DEFAULT_EPSILON")
    return np.where(values == 0, epsilon, values)


def _normalise(values: FloatArray) -> FloatArray:
    result: FloatArray = values / values.sum(axis=-1, keepdims=True)
    return result


def _centers(centers: ArrayLike, bins: int) -> FloatArray:
    positions = _row_major(centers)
    if positions.ndim == 0 or positions.shape[-1] != bins:
        raise ValueError(
            f"centers has shape {positions.shape} but the counts have {bins} bins;"
            " pass one center per bin"
        )
    if not np.all(np.isfinite(positions)) or np.any(np.diff(positions, axis=-1) < 0):
        raise ValueError("centers must be finite and non-decreasing; pass the sorted bin centers")
    return positions
