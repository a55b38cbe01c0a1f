"""Calibrated thresholds of many subjects at once: their null summaries stacked as arrays.

A :class:`NullTable` holds the null summaries of many subjects (a row each: a feature of a
model judged by one statistic), stacked once, since a baseline's calibration never changes.
:meth:`NullTable.thresholds` gives the thresholds of any number of (row, window size,
false-alarm rate) at once, each equal to the last bit to what
:func:`~detectors.thresholds.threshold_for_size` gives for that row's summaries, which stays
the one-at-a-time reference. The rule is the same (linear interpolation in the log rate as
``np.interp`` does it, the fitted gamma's tail beyond the calibrated rates, log-log in n
between calibrated sizes and the null's scaling law outside them), written over arrays with
the same floating-point operations in the same order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from detectors.thresholds import NullSummary, check_window_sizes

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class NullTable:
    """The null summaries of several subjects: a row per subject, a column per calibrated window
    size (ascending; ``count`` of them per row, then padding), and along the last axis each
    summary's rates (ascending; ``grid`` of them, then +inf) with their logs and quantiles.
    ``exponent`` is each row's scaling law in n (see
    :func:`~detectors.thresholds.threshold_for_size`)."""

    sizes: FloatArray
    count: IntArray
    grid: IntArray
    rates: FloatArray
    log_rates: FloatArray
    values: FloatArray
    shape: FloatArray
    scale: FloatArray
    point_mass: BoolArray
    higher_is_drift: BoolArray
    exponent: tuple[float, ...]

    @classmethod
    def stack(cls, nulls: Sequence[Sequence[NullSummary]], exponents: Sequence[float]) -> NullTable:
        """A row per subject: its null summaries (one per window size, at least one) and the
        exponent of its statistic's scaling law.

        >>> table = NullTable.stack([[NullSummary(100, {0.05: 0.2}, 0.0, 0.0)]], [1.0])
        >>> table.thresholds(0, [50, 200], 0.05).tolist()
        [0.4, 0.1]
        """
        if len(nulls) != len(exponents):
            raise ValueError(
                f"got the null summaries of {len(nulls)} subjects and {len(exponents)} "
                "exponents; pass one exponent per subject"
            )
        ordered = [sorted(summaries, key=lambda s: s.n) for summaries in nulls]
        for summaries in ordered:
            check_window_sizes([summary.n for summary in summaries])
        rows = len(ordered)
        width = max([2, *map(len, ordered)])  # two at least: log-log takes neighbours
        flat = [
            (r * width + k, s) for r, of_row in enumerate(ordered) for k, s in enumerate(of_row)
        ]
        grids = [tuple(sorted(summary.quantiles)) for _, summary in flat]
        depth = max([1, *map(len, grids)])
        logs = {grid: np.log(grid).tolist() for grid in set(grids)}  # as threshold_at takes them
        padding = [math.inf] * depth
        at = [position for position, _ in flat]
        columns = {
            "sizes": (np.inf, [s.n for _, s in flat]),
            "grid": (1, list(map(len, grids))),
            "shape": (0.0, [s.shape for _, s in flat]),
            "scale": (0.0, [s.scale for _, s in flat]),
            "point_mass": (True, [s.is_point_mass for _, s in flat]),
            "higher_is_drift": (True, [s.higher_is_drift for _, s in flat]),
        }
        by_size = {}
        for name, (fill, found) in columns.items():
            column = np.full(rows * width, fill)
            column[at] = found
            by_size[name] = column.reshape(rows, width)
        by_rate = {}
        for name, found in (
            ("rates", [[*grid, *padding[len(grid) :]] for grid in grids]),
            ("log_rates", [[*logs[grid], *padding[len(grid) :]] for grid in grids]),
            (
                "values",
                [
                    [*(s.quantiles[a] for a in grid), *padding[len(grid) :]]
                    for grid, (_, s) in zip(grids, flat, strict=True)
                ],
            ),
        ):
            column = np.full((rows * width, depth), np.inf)
            if at:
                column[at] = found
            by_rate[name] = column.reshape(rows, width, depth)
        return cls(
            sizes=by_size["sizes"],
            count=np.array([len(of_row) for of_row in ordered], dtype=np.int64),
            grid=by_size["grid"].astype(np.int64),
            rates=by_rate["rates"],
            log_rates=by_rate["log_rates"],
            values=by_rate["values"],
            shape=by_size["shape"],
            scale=by_size["scale"],
            point_mass=by_size["point_mass"].astype(np.bool_),
            higher_is_drift=by_size["higher_is_drift"].astype(np.bool_),
            exponent=tuple(exponents),
        )

    def thresholds(self, rows: ArrayLike, sizes: ArrayLike, rates: ArrayLike) -> FloatArray:
        """The threshold of each (row, window size, false-alarm rate), the three broadcast
        together; NaN where the row is negative (a subject without calibration).

        >>> small = NullSummary(100, {0.05: 0.2}, shape=0.0, scale=0.0)
        >>> large = NullSummary(1000, {0.05: 0.02}, shape=0.0, scale=0.0)
        >>> table = NullTable.stack([[small, large]], [1.0])
        >>> table.thresholds([0, 0, 0, -1], [50, 316, 2000, 50], 0.05).round(4).tolist()
        [0.4, 0.0633, 0.01, nan]
        """
        row, n, rate = np.broadcast_arrays(
            np.asarray(rows, dtype=np.int64),
            np.asarray(sizes, dtype=np.float64),
            np.asarray(rates, dtype=np.float64),
        )
        if np.any(n < 1):
            raise ValueError(f"window size n={n.min():g}; it must be at least 1")
        wrong = ~((rate > 0) & (rate < 1))
        if wrong.any():
            raise ValueError(f"rate {rate[wrong][0]} is outside (0, 1); pass e.g. 0.01")
        out = np.full(row.shape, np.nan)
        known = row >= 0
        if known.any():
            pair_rows, pair_rates, at = _distinct_pairs(row[known], rate[known])
            calibrated = self._at_rates(pair_rows, pair_rates)
            out[known] = self._for_sizes(pair_rows[at], calibrated[at], n[known])
        return out

    def _at_rates(self, rows: IntArray, rates: FloatArray) -> FloatArray:
        """:func:`~detectors.thresholds.threshold_at` of each calibrated size of ``rows[i]`` at
        ``rates[i]``: a row per pair, a column per size."""
        rate = rates[:, np.newaxis]
        grid = self.grid[rows]
        values = self.values[rows]
        low, high = self.rates[rows, :, 0], _at(self.rates[rows], grid - 1)
        first, last = values[:, :, 0], _at(values, grid - 1)
        log_rate = np.array([math.log(a) for a in rates.tolist()])[:, np.newaxis]
        inside = _interpolated(self.log_rates[rows], values, grid, log_rate)
        below = rate < low
        anchor, anchored = np.where(below, low, high), np.where(below, first, last)
        within = (low <= rate) & (rate <= high)
        found: FloatArray = np.where(within, inside, anchored)  # a point mass keeps its anchor
        beyond = ~within & ~self.point_mass[rows]
        if beyond.any():  # the gamma's tail, shifted to pass through the anchor
            shape, scale = self.shape[rows][beyond], self.scale[rows][beyond]
            higher = self.higher_is_drift[rows][beyond]
            rate_of = np.broadcast_to(rate, beyond.shape)[beyond]
            shift = _tail_quantile(rate_of, shape, scale, higher) - _tail_quantile(
                anchor[beyond], shape, scale, higher
            )
            moved = anchored[beyond] + shift
            found[beyond] = np.where(moved < 0.0, 0.0, moved)
        return found

    def _for_sizes(self, rows: IntArray, calibrated: FloatArray, n: FloatArray) -> FloatArray:
        """Each element's threshold at window size ``n[i]`` from its row's thresholds at the
        calibrated sizes (``calibrated[i]``)."""
        sizes, count = self.sizes[rows], self.count[rows]
        first_size, last_size = sizes[:, 0], _at(sizes, count - 1)
        first, last = calibrated[:, 0], _at(calibrated, count - 1)
        exponent = np.array(self.exponent)[rows]
        below, above = np.empty(len(rows)), np.empty(len(rows))
        for power in set(self.exponent):  # `** power` as threshold_for_size raises to it
            mine = exponent == power
            below[mine] = first[mine] * (first_size[mine] / n[mine]) ** power
            above[mine] = last[mine] * (last_size[mine] / n[mine]) ** power
        found: FloatArray = np.where(n <= first_size, below, above)
        inside = (n > first_size) & (n < last_size)
        if inside.any():
            with np.errstate(all="ignore"):  # as extreme as the reference's, without warnings
                found[inside] = _log_log(
                    sizes[inside], count[inside], calibrated[inside], n[inside]
                )
        return found


def _distinct_pairs(rows: IntArray, rates: FloatArray) -> tuple[IntArray, FloatArray, IntArray]:
    """The distinct (row, rate) pairs (rows, rates), and each element's pair among them."""
    distinct_rates, rate_at = np.unique(rates, return_inverse=True)
    width = int(rows.max()) + 1
    pairs, at = np.unique(rate_at.astype(np.int64) * width + rows, return_inverse=True)
    return pairs % width, distinct_rates[pairs // width], at.astype(np.int64)


def _at(values: FloatArray, index: IntArray) -> FloatArray:
    """``values[..., index]`` along the last axis, an index per element of the others."""
    found: FloatArray = np.take_along_axis(values, index[..., np.newaxis], axis=-1)[..., 0]
    return found


def _interpolated(dx: FloatArray, dy: FloatArray, grid: IntArray, x: FloatArray) -> FloatArray:
    """``np.interp(x, dx, dy)`` of every (pair, size), its ``grid`` first points (ascending;
    +inf after them), with ``np.interp``'s arithmetic: ``dy[j]`` at a point and at either end,
    else ``slope * (x - dx[j]) + dy[j]`` (from ``dx[j + 1]`` if that is NaN)."""
    j = np.sum(dx <= x[..., np.newaxis], axis=-1) - 1
    lower = np.clip(j, 0, grid - 1)
    upper = np.minimum(lower + 1, grid - 1)
    x0, x1, y0, y1 = _at(dx, lower), _at(dx, upper), _at(dy, lower), _at(dy, upper)
    with np.errstate(all="ignore"):  # at the ends the slope is 0/0, and not used
        slope = (y1 - y0) / (x1 - x0)
        found = slope * (x - x0) + y0
        again = np.isnan(found)
        found = np.where(again, slope * (x - x1) + y1, found)
        found = np.where(again & np.isnan(found) & (y0 == y1), y0, found)
    exact = (j < 0) | (j >= grid - 1) | (x0 == x)
    interpolated: FloatArray = np.where(exact, y0, found)
    return interpolated


def _tail_quantile(
    rate: FloatArray, shape: FloatArray, scale: FloatArray, higher_is_drift: BoolArray
) -> FloatArray:
    """The fitted gammas' drift-side tail quantiles at ``rate``
    (``thresholds._gamma_tail_quantile``, element by element)."""
    from scipy.special import gammainccinv, gammaincinv

    inverse = np.empty(len(rate))
    inverse[higher_is_drift] = gammainccinv(shape[higher_is_drift], rate[higher_is_drift])
    lower = ~higher_is_drift
    inverse[lower] = gammaincinv(shape[lower], rate[lower])
    found: FloatArray = inverse * scale
    return found


def _log_log(
    sizes: FloatArray, count: IntArray, calibrated: FloatArray, n: FloatArray
) -> FloatArray:
    """``thresholds._log_log`` of each element between two of its calibrated sizes (``sizes``,
    ``count`` of them, padded with +inf) with their thresholds (``calibrated``)."""
    upper = np.clip(np.sum(sizes < n[:, np.newaxis], axis=1), 1, count - 1)
    low_size, high_size = _at(sizes, upper - 1), _at(sizes, upper)
    low, high = _at(calibrated, upper - 1), _at(calibrated, upper)
    position = np.log(n / low_size) / np.log(high_size / low_size)
    positive = (low > 0) & (high > 0)
    safe_low, safe_high = np.where(positive, low, 1.0), np.where(positive, high, 1.0)
    log_log = np.exp(np.log(safe_low) + position * np.log(safe_high / safe_low))
    between = np.where(positive, log_log, low + position * (high - low))
    found: FloatArray = np.where(high_size == n, high, between)
    return found
