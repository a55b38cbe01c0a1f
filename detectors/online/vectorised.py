"""Drift detectors computed with numpy: Page-Hinkley and DDM (river's semantics) and CUSUM.

``update_many`` is vectorised between detections: from the current position it computes the
detector's running quantities over a block with cumulative operations (``np.cumsum``,
``np.minimum.accumulate``, ``scipy.signal.lfilter`` for the fading sums, all sequential
left-to-right), finds the first detection with ``argmax`` on a boolean mask, keeps the state
of that value, resets, and continues after it. After a detection the next block is about as long
as the segment that ended, and blocks double while no drift is found, so the cost is
O(n + detections · segment). Blocks too short to be worth numpy's per-call overhead (a few
values between close drifts, or a short input) are stepped through one value at a time.

The state carries running sums rather than means, and ``update(x)`` performs the same
floating-point operations in the same order on Python floats, so feeding a stream in any
chunking (one value, a few, or all at once) gives bit-identical states and detections.

Page-Hinkley and DDM report the same detections and warnings as river's ``PageHinkley`` and
``DDM``. Their arithmetic differs from river's only in rounding (river updates a running mean,
these divide a running sum), some 1e-12 relative, so a detection could differ only where a test
statistic lands that close to its threshold.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Mapping
from typing import Any, ClassVar, Self

import numpy as np
import numpy.typing as npt

from detectors.online.base import (
    DriftDetector,
    as_binary_stream,
    as_stream,
    check_binary_value,
    check_value,
    checked_state,
    decode_float,
    encode_float,
)

FloatArray = npt.NDArray[np.float64]

_FIRST_BLOCK = 4096
_MIN_BLOCK = 64  # below this, numpy's per-call overhead outweighs a Python loop
_MAX_BLOCK = 1 << 18
_MODES = ("both", "up", "down")


def _check_mode(mode: str) -> None:
    if mode not in _MODES:
        raise ValueError(f"mode {mode!r} is not one of {', '.join(_MODES)}")


def _faded_sums(terms: FloatArray, alpha: float, starts: FloatArray) -> FloatArray:
    """Per row, ``y[i] = alpha * y[i - 1] + terms[i]`` from ``y[-1] = start``, step by step."""
    from scipy.signal import lfilter  # on first use: scipy.signal takes long to import

    sums: FloatArray
    sums, _ = lfilter([1.0], [1.0, -alpha], terms, axis=-1, zi=alpha * starts[:, np.newaxis])
    return sums


def _first_true(mask: npt.NDArray[np.bool_]) -> int:
    """Index of the first True in ``mask``, or -1."""
    return int(np.argmax(mask)) if mask.any() else -1


class _BlockDetector(DriftDetector):
    """Drives a detector block by block; subclasses say how to feed one value and one block."""

    _binary: ClassVar[bool] = False
    _drift: bool

    def update(self, x: float) -> Self:
        value = check_binary_value(x) if self._binary else check_value(x)
        if self._drift:
            self.reset()
        self._step(value)
        return self

    def update_many(self, values: npt.ArrayLike) -> npt.NDArray[np.int64]:
        stream = as_binary_stream(values) if self._binary else as_stream(values)
        hits: list[int] = []
        start, size, segment = 0, _FIRST_BLOCK, 0
        while start < stream.size:
            if self._drift:
                self.reset()
            block = stream[start : start + size]
            hit = self._advance(block) if block.size >= _MIN_BLOCK else self._step_through(block)
            if hit < 0:
                start += block.size
                segment += block.size
                size = min(2 * size, _MAX_BLOCK)
            else:
                hits.append(start + hit)
                start += hit + 1
                segment += hit + 1
                # The next segment is likely about as long as this one: try that much first.
                size = min(segment + segment // 4 + 1, _MAX_BLOCK)
                segment = 0
        return np.asarray(hits, dtype=np.int64)

    @property
    def drift_detected(self) -> bool:
        return self._drift

    @abc.abstractmethod
    def _step(self, x: float) -> None:
        """Feed one checked value to a detector whose drift flag is down."""

    def _step_through(self, block: FloatArray) -> int:
        """``_advance`` one value at a time: faster for the few values between close drifts."""
        for i, x in enumerate(block.tolist()):
            self._step(x)
            if self._drift:
                return i
        return -1

    @abc.abstractmethod
    def _advance(self, block: FloatArray) -> int:
        """Feed ``block`` up to and including its first drift; return that index, or -1."""


class PageHinkleyNumpy(_BlockDetector):
    """River's Page-Hinkley test, vectorised.

    Same parameters, defaults and detections as ``river.drift.PageHinkley``: deviations from the
    running mean, faded by ``alpha`` and offset by ``delta``, are summed upwards and downwards;
    from ``min_instances`` values on, a drift is a sum moving more than ``threshold`` away from
    its extreme, in the direction(s) of ``mode`` ("both", "up" or "down").

    Examples
    --------
    >>> import random
    >>> rng = random.Random(12345)
    >>> stream = rng.choices([0, 1], k=1000) + rng.choices(range(4, 8), k=1000)
    >>> PageHinkleyNumpy().update_many(stream)
    array([1006])
    """

    name = "page_hinkley_np"

    def __init__(
        self,
        min_instances: int = 30,
        delta: float = 0.005,
        threshold: float = 50.0,
        alpha: float = 1 - 0.0001,
        mode: str = "both",
    ) -> None:
        _check_mode(mode)
        self.min_instances = min_instances
        self.delta = delta
        self.threshold = threshold
        self.alpha = alpha
        self.mode = mode
        self.reset()

    def reset(self) -> None:
        self._drift = False
        self._n = 0
        self._total = 0.0
        self._sum_increase = 0.0
        self._sum_decrease = 0.0
        self._min_increase = math.inf
        self._max_decrease = -1.0

    def _step(self, x: float) -> None:
        self._n += 1
        self._total += x
        deviation = x - self._total / self._n
        self._sum_increase = self.alpha * self._sum_increase + (deviation - self.delta)
        self._sum_decrease = self.alpha * self._sum_decrease + (deviation + self.delta)
        self._min_increase = min(self._min_increase, self._sum_increase)
        self._max_decrease = max(self._max_decrease, self._sum_decrease)
        if self._n >= self.min_instances:
            rise = self._sum_increase - self._min_increase
            fall = self._max_decrease - self._sum_decrease
            self._drift = (self.mode != "down" and rise > self.threshold) or (
                self.mode != "up" and fall > self.threshold
            )

    def _advance(self, block: FloatArray) -> int:
        count = np.arange(self._n + 1, self._n + block.size + 1, dtype=np.float64)
        total = block.copy()
        total[0] += self._total
        np.cumsum(total, out=total)
        deviation = block - total / count
        increase, decrease = _faded_sums(
            np.stack((deviation - self.delta, deviation + self.delta)),
            self.alpha,
            np.array([self._sum_increase, self._sum_decrease]),
        )
        low = np.minimum(np.minimum.accumulate(increase), self._min_increase)
        high = np.maximum(np.maximum.accumulate(decrease), self._max_decrease)

        first = max(0, self.min_instances - self._n - 1)
        crossed = np.zeros(max(0, block.size - first), dtype=np.bool_)
        if self.mode != "down":
            crossed |= increase[first:] - low[first:] > self.threshold
        if self.mode != "up":
            crossed |= high[first:] - decrease[first:] > self.threshold
        hit = _first_true(crossed)
        at = block.size - 1 if hit < 0 else first + hit

        self._n += at + 1
        self._total = float(total[at])
        self._sum_increase = float(increase[at])
        self._sum_decrease = float(decrease[at])
        self._min_increase = float(low[at])
        self._max_decrease = float(high[at])
        self._drift = hit >= 0
        return -1 if hit < 0 else at

    def state(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "params": self.params(),
            "n": self._n,
            "total": self._total,
            "sum_increase": self._sum_increase,
            "sum_decrease": self._sum_decrease,
            "min_increase": encode_float(self._min_increase),
            "max_decrease": self._max_decrease,
            "drift_detected": self._drift,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Self:
        state = checked_state(cls, state)
        detector = cls(**state["params"])
        detector._n = int(state["n"])
        detector._total = float(state["total"])
        detector._sum_increase = float(state["sum_increase"])
        detector._sum_decrease = float(state["sum_decrease"])
        detector._min_increase = decode_float(state["min_increase"])
        detector._max_decrease = float(state["max_decrease"])
        detector._drift = bool(state["drift_detected"])
        return detector


class DDMNumpy(_BlockDetector):
    """River's Drift Detection Method (DDM), vectorised; fed 0/1 error indicators (1 = error).

    Same parameters, defaults, detections and warnings as ``river.drift.binary.DDM``: after
    ``warm_start`` values, with ``p`` the error rate and ``s = sqrt(p (1 - p) / n)``, it keeps
    the ``(p_min, s_min)`` where ``p + s`` was lowest, warns when ``p + s`` exceeds
    ``p_min + warning_threshold * s_min`` and detects a drift past ``drift_threshold``.

    Examples
    --------
    >>> import random
    >>> rng = random.Random(42)
    >>> stream = rng.choices([0, 1], k=1000) + rng.choices([0, 1], k=1000, weights=[0.3, 0.7])
    >>> DDMNumpy().update_many(stream)
    array([1334])
    """

    name = "ddm_np"
    _binary = True

    def __init__(
        self, warm_start: int = 30, warning_threshold: float = 2.0, drift_threshold: float = 3.0
    ) -> None:
        self.warm_start = warm_start
        self.warning_threshold = warning_threshold
        self.drift_threshold = drift_threshold
        self.reset()

    @property
    def warning_detected(self) -> bool:
        return self._warning

    def reset(self) -> None:
        self._drift = False
        self._warning = False
        self._n = 0
        self._errors = 0
        self._p_min = 0.0
        self._s_min = 0.0
        self._ps_min = math.inf

    def _step(self, x: float) -> None:
        self._n += 1
        self._errors += int(x)
        p = self._errors / self._n
        s = math.sqrt(p * (1.0 - p) / self._n)
        if self._n > self.warm_start:
            ps = p + s
            if ps <= self._ps_min:
                self._p_min, self._s_min, self._ps_min = p, s, ps
            self._drift = ps > self._p_min + self.drift_threshold * self._s_min
            self._warning = not self._drift and (
                ps > self._p_min + self.warning_threshold * self._s_min
            )

    def _advance(self, block: FloatArray) -> int:
        errors = np.cumsum(block)
        errors += self._errors
        first = max(0, self.warm_start - self._n)
        if first >= block.size:
            self._n += block.size
            self._errors = int(errors[-1])
            return -1

        # Position 0 of every array below stands for the state before the block, so that the
        # running minimum and the values at its position need no special case for "none yet".
        size = block.size - first
        count = np.arange(self._n + first + 1, self._n + block.size + 1, dtype=np.float64)
        p = np.empty(size + 1)
        p[0] = self._p_min
        np.divide(errors[first:], count, out=p[1:])
        s = np.empty(size + 1)
        s[0] = self._s_min
        spread = s[1:]
        np.subtract(1.0, p[1:], out=spread)
        spread *= p[1:]
        spread /= count
        np.sqrt(spread, out=spread)
        ps = p + s
        ps[0] = self._ps_min
        lowest = np.minimum.accumulate(ps)
        # index of the latest minimum of p + s up to each value (0: the one before the block)
        where_lowest = np.arange(size + 1)
        where_lowest[1:][ps[1:] > lowest[:-1]] = 0
        np.maximum.accumulate(where_lowest, out=where_lowest)
        limits = self.drift_threshold * s
        limits += p
        hit = _first_true(ps[1:] > limits[where_lowest[1:]])
        at = size - 1 if hit < 0 else hit

        lowest_at = int(where_lowest[at + 1])
        self._n += first + at + 1
        self._errors = int(errors[first + at])
        self._p_min = float(p[lowest_at])
        self._s_min = float(s[lowest_at])
        self._ps_min = float(lowest[at + 1])
        self._drift = hit >= 0
        self._warning = not self._drift and bool(
            ps[at + 1] > self._p_min + self.warning_threshold * self._s_min
        )
        return -1 if hit < 0 else first + at

    def state(self) -> dict[str, Any]:
        started = math.isfinite(self._ps_min)
        return {
            "name": self.name,
            "params": self.params(),
            "n": self._n,
            "errors": self._errors,
            "p_min": self._p_min if started else None,
            "s_min": self._s_min if started else None,
            "ps_min": encode_float(self._ps_min),
            "drift_detected": self._drift,
            "warning_detected": self._warning,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Self:
        state = checked_state(cls, state)
        detector = cls(**state["params"])
        detector._n = int(state["n"])
        detector._errors = int(state["errors"])
        detector._p_min = float(state["p_min"] or 0.0)
        detector._s_min = float(state["s_min"] or 0.0)
        detector._ps_min = decode_float(state["ps_min"])
        detector._drift = bool(state["drift_detected"])
        detector._warning = bool(state["warning_detected"])
        return detector


class CUSUMNumpy(_BlockDetector):
    """Tabular CUSUM on standardised values ``z = (x - target) / sigma``, vectorised.

    ``C+ = max(0, C+ + z - k)`` watches for an upward shift and ``C- = max(0, C- - z - k)`` for
    a downward one; a drift is either sum (as ``mode`` says: "both", "up" or "down") exceeding
    ``h``. ``k`` and ``h`` are in standard deviations (defaults 0.5 and 5: the textbook design
    for a one-sigma shift). A ``target`` or ``sigma`` left as None is estimated (mean, sample
    standard deviation) from the first ``min_instances`` values, which are not scored; a
    constant reference (zero deviation) is dropped and the next ``min_instances`` values taken.
    After a drift the sums restart from zero and estimated parameters are estimated anew.

    Examples
    --------
    Montgomery's example (target 10, sigma 1): the mean shifts to 11 after observation 20 and
    ``C+`` first exceeds 5 at observation 29 (index 28), where it is 5.28.

    >>> x = [9.45, 7.99, 9.29, 11.66, 12.16, 10.18, 8.04, 11.46, 9.20, 10.34, 9.03, 11.47,
    ...      10.51, 9.40, 10.08, 9.37, 10.62, 10.31, 8.52, 10.84, 10.90, 9.33, 12.29, 11.50,
    ...      10.60, 11.08, 10.38, 11.62, 11.31, 10.52]
    >>> cusum = CUSUMNumpy(target=10.0, sigma=1.0)
    >>> cusum.update_many(x[:29]), round(cusum.upper_sum, 2), cusum.lower_sum
    (array([28]), 5.28, 0.0)

    The next value finds the sums restarted from zero:

    >>> cusum.update(x[29]).drift_detected, round(cusum.upper_sum, 2)
    (False, 0.02)
    """

    name = "cusum"

    def __init__(
        self,
        target: float | None = None,
        sigma: float | None = None,
        k: float = 0.5,
        h: float = 5.0,
        min_instances: int = 30,
        mode: str = "both",
    ) -> None:
        _check_mode(mode)
        if sigma is not None and not sigma > 0:
            raise ValueError(f"sigma must be positive, got {sigma}; or None to estimate it")
        if not k >= 0:
            raise ValueError(f"k must be zero or positive, got {k}")
        if not h > 0:
            raise ValueError(f"h must be positive, got {h}")
        if (target is None or sigma is None) and min_instances < 2:
            raise ValueError(
                f"min_instances must be at least 2 to estimate target/sigma, got {min_instances}"
            )
        self.target = target
        self.sigma = sigma
        self.k = k
        self.h = h
        self.min_instances = min_instances
        self.mode = mode
        self.reset()

    @property
    def upper_sum(self) -> float:
        """``C+`` after the last value: the evidence, in standard deviations, of a rise."""
        return self._up - self._up_floor

    @property
    def lower_sum(self) -> float:
        """``C-`` after the last value: the evidence, in standard deviations, of a fall."""
        return self._down - self._down_floor

    def reset(self) -> None:
        self._drift = False
        self._reference: list[float] = []
        self._target = self.target
        self._sigma = self.sigma
        # C = S - min(0, S_1, ..., S_i) with S the running sum of the increments.
        self._up = self._up_floor = 0.0
        self._down = self._down_floor = 0.0

    def _calibrate(self) -> None:
        reference = np.asarray(self._reference)
        target = self.target if self.target is not None else float(np.mean(reference))
        sigma = self.sigma if self.sigma is not None else float(np.std(reference, ddof=1))
        self._reference = []
        if sigma > 0:
            self._target, self._sigma = target, sigma

    def _step(self, x: float) -> None:
        if self._target is None or self._sigma is None:
            self._reference.append(x)
            if len(self._reference) == self.min_instances:
                self._calibrate()
            return
        z = (x - self._target) / self._sigma
        self._up += z - self.k
        self._up_floor = min(self._up_floor, self._up)
        self._down += -z - self.k
        self._down_floor = min(self._down_floor, self._down)
        self._drift = (self.mode != "down" and self._up - self._up_floor > self.h) or (
            self.mode != "up" and self._down - self._down_floor > self.h
        )

    def _advance(self, block: FloatArray) -> int:
        start = 0
        while self._target is None or self._sigma is None:
            taken = block[start : start + self.min_instances - len(self._reference)]
            self._reference.extend(taken.tolist())
            start += taken.size
            if len(self._reference) < self.min_instances:
                return -1
            self._calibrate()
        values = block[start:]
        if values.size == 0:
            return -1

        z = (values - self._target) / self._sigma
        up = z - self.k
        up[0] += self._up
        np.cumsum(up, out=up)
        up_floor = np.minimum(np.minimum.accumulate(up), self._up_floor)
        down = -z - self.k
        down[0] += self._down
        np.cumsum(down, out=down)
        down_floor = np.minimum(np.minimum.accumulate(down), self._down_floor)

        crossed = np.zeros(values.size, dtype=np.bool_)
        if self.mode != "down":
            crossed |= up - up_floor > self.h
        if self.mode != "up":
            crossed |= down - down_floor > self.h
        hit = _first_true(crossed)
        at = values.size - 1 if hit < 0 else hit

        self._up, self._up_floor = float(up[at]), float(up_floor[at])
        self._down, self._down_floor = float(down[at]), float(down_floor[at])
        self._drift = hit >= 0
        return -1 if hit < 0 else start + at

    def state(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "params": self.params(),
            "reference": list(self._reference),
            "target": self._target,
            "sigma": self._sigma,
            "upper": [self._up, self._up_floor],
            "lower": [self._down, self._down_floor],
            "drift_detected": self._drift,
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Self:
        state = checked_state(cls, state)
        detector = cls(**state["params"])
        detector._reference = [float(x) for x in state["reference"]]
        detector._target = None if state["target"] is None else float(state["target"])
        detector._sigma = None if state["sigma"] is None else float(state["sigma"])
        detector._up, detector._up_floor = (float(x) for x in state["upper"])
        detector._down, detector._down_floor = (float(x) for x in state["lower"])
        detector._drift = bool(state["drift_detected"])
        return detector
