"""Thin wrappers over river's drift detectors, with river's parameter names and defaults.

Each wrapper holds one river detector and forwards every value to it, so detections are
river's own. ADWIN, KSWIN and Page-Hinkley take real values; DDM, EDDM, HDDM_A and HDDM_W take
0/1 error indicators (1 = error) and also raise warnings.

Checkpoints: the state of PageHinkley, DDM, EDDM, HDDM_A and KSWIN is river's attributes as
JSON. ADWIN and HDDM_W keep part of their state inside river's compiled (Rust) objects, so
their river object is pickled into base64 inside the JSON; that is acceptable only because
checkpoints are files driftwarden writes itself, never user input. Every state records river's
version, and restoring under another version is refused.
"""

from __future__ import annotations

import base64
import collections
import functools
import importlib
import math
import pickle
import random
from collections.abc import Iterable, Mapping
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


@functools.cache
def river_version() -> str:
    """The installed river's version, recorded in every state (read once, when first needed)."""
    from importlib.metadata import version  # slow to import: only where a state is written

    return version("river")


class RiverDetector(DriftDetector):
    """A river drift detector behind the ``DriftDetector`` interface."""

    # river's class as ``module.Class`` below ``river``: river is imported when a detector is
    # built, so commands and configurations without river-backed detectors never load it
    _river_name: ClassVar[str]
    _binary: ClassVar[bool] = False
    # The river attributes that make up its state as JSON; empty means pickle the detector.
    _saved: ClassVar[tuple[str, ...]] = ()

    _river: Any

    @classmethod
    def _river_class(cls) -> Any:
        module, _, name = cls._river_name.rpartition(".")
        return getattr(importlib.import_module(f"river.{module}"), name)

    def reset(self) -> None:
        self._river = self._river_class()(**self.params())

    def update(self, x: float) -> Self:
        self._river.update(check_binary_value(x) if self._binary else check_value(x))
        return self

    def update_many(self, values: npt.ArrayLike) -> npt.NDArray[np.int64]:
        stream = as_binary_stream(values) if self._binary else as_stream(values)
        detector = self._river
        update = detector.update
        hits = []
        for i, x in enumerate(stream.tolist()):
            update(x)
            if detector.drift_detected:
                hits.append(i)
        return np.asarray(hits, dtype=np.int64)

    @property
    def drift_detected(self) -> bool:
        return bool(self._river.drift_detected)

    @property
    def warning_detected(self) -> bool:
        return bool(self._river.warning_detected) if self._binary else False

    def state(self) -> dict[str, Any]:
        state = {"name": self.name, "river_version": river_version(), "params": self.params()}
        if self._saved:
            state["attributes"] = {
                name: _encode(getattr(self._river, name)) for name in self._saved
            }
        else:
            state["pickle"] = base64.b64encode(pickle.dumps(self._river)).decode("ascii")
        return state

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> Self:
        state = checked_state(cls, state)
        written_with = state.get("river_version")
        if written_with != river_version():
            raise ValueError(
                f"{cls.name} state was written with river {written_with}, this is river "
                f"{river_version()}; delete the checkpoint to start the detector afresh"
            )
        detector = cls(**state["params"])
        if cls._saved:
            for name in cls._saved:
                setattr(detector._river, name, _decode(state["attributes"][name]))
        else:
            restored = pickle.loads(base64.b64decode(state["pickle"]))
            if type(restored) is not cls._river_class():
                raise ValueError(f"{cls.name} state holds a {type(restored).__name__}")
            detector._river = restored
        return detector


def _encode(value: Any) -> Any:
    """River attribute values as JSON: plain values as they are, the rest as tagged objects."""
    from river import stats

    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else {"float": encode_float(value)}
    if isinstance(value, stats.Mean):
        return {"mean": [value.n, value._mean]}
    if isinstance(value, stats.Var):
        return {"var": [value.ddof, value.mean.n, value.mean._mean, value._S]}
    if isinstance(value, collections.deque):
        return {"deque": [_encode(x) for x in value], "maxlen": value.maxlen}
    if isinstance(value, random.Random):
        version, internal, gauss_next = value.getstate()
        return {"random": [version, list(internal), gauss_next]}
    raise TypeError(f"cannot save a river attribute of type {type(value).__name__}")


def _decode(value: Any) -> Any:
    """Invert ``_encode``."""
    from river import stats

    if not isinstance(value, dict):
        return value
    if "float" in value:
        return decode_float(value["float"])
    if "mean" in value:
        mean = stats.Mean()
        mean.n, mean._mean = value["mean"]
        return mean
    if "var" in value:
        var = stats.Var(ddof=value["var"][0])
        var.mean.n, var.mean._mean, var._S = value["var"][1:]
        return var
    if "deque" in value:
        return collections.deque((_decode(x) for x in value["deque"]), maxlen=value["maxlen"])
    if "random" in value:
        rng = random.Random()
        version, internal, gauss_next = value["random"]
        rng.setstate((version, tuple(internal), gauss_next))
        return rng
    raise ValueError(f"unknown saved river attribute {sorted(value)}")


class ADWIN(RiverDetector):
    """River's ADWIN: drift when two sub-windows of an adaptive window differ in mean.

    Examples
    --------
    >>> import random
    >>> rng = random.Random(12345)
    >>> stream = rng.choices([0, 1], k=1000) + rng.choices(range(4, 8), k=1000)
    >>> ADWIN().update_many(stream)
    array([1023])
    """

    name = "adwin"
    _river_name = "drift.ADWIN"

    def __init__(
        self,
        delta: float = 0.002,
        clock: int = 32,
        max_buckets: int = 5,
        min_window_length: int = 5,
        grace_period: int = 10,
    ) -> None:
        self.delta = delta
        self.clock = clock
        self.max_buckets = max_buckets
        self.min_window_length = min_window_length
        self.grace_period = grace_period
        self.reset()


class KSWIN(RiverDetector):
    """River's KSWIN: a Kolmogorov-Smirnov test between recent values and a sample of older ones.

    ``seed`` seeds the sampling; river's default None draws a fresh seed on every reset.

    Examples
    --------
    >>> import random
    >>> rng = random.Random(12345)
    >>> stream = rng.choices([0, 1], k=1000) + rng.choices(range(4, 8), k=1000)
    >>> KSWIN(alpha=0.0001, seed=42).update_many(stream)
    array([1016])
    """

    name = "kswin"
    _river_name = "drift.KSWIN"
    _saved = ("p_value", "n", "window", "_rng", "_drift_detected")

    def __init__(
        self,
        alpha: float = 0.005,
        window_size: int = 100,
        stat_size: int = 30,
        seed: int | None = None,
        window: Iterable[float] | None = None,
    ) -> None:
        self.alpha = alpha
        self.window_size = window_size
        self.stat_size = stat_size
        self.seed = seed
        self.window = None if window is None else [float(x) for x in window]
        self.reset()


class PageHinkley(RiverDetector):
    """River's Page-Hinkley test (see ``PageHinkleyNumpy`` for the same detections, faster).

    Examples
    --------
    >>> import random
    >>> rng = random.Random(12345)
    >>> stream = rng.choices([0, 1], k=1000) + rng.choices(range(4, 8), k=1000)
    >>> PageHinkley().update_many(stream)
    array([1006])
    """

    name = "page_hinkley"
    _river_name = "drift.PageHinkley"
    _saved = (
        "_x_mean",
        "_sum_increase",
        "_sum_decrease",
        "_min_increase",
        "_max_decrease",
        "_drift_detected",
    )

    def __init__(
        self,
        min_instances: int = 30,
        delta: float = 0.005,
        threshold: float = 50.0,
        alpha: float = 1 - 0.0001,
        mode: str = "both",
    ) -> None:
        self.min_instances = min_instances
        self.delta = delta
        self.threshold = threshold
        self.alpha = alpha
        self.mode = mode
        self.reset()


class DDM(RiverDetector):
    """River's Drift Detection Method on 0/1 error indicators (see ``DDMNumpy``, faster).

    Examples
    --------
    >>> import random
    >>> rng = random.Random(42)
    >>> stream = rng.choices([0, 1], k=1000) + rng.choices([0, 1], k=1000, weights=[0.3, 0.7])
    >>> DDM().update_many(stream)
    array([1334])
    """

    name = "ddm"
    _river_name = "drift.binary.DDM"
    _binary = True
    _saved = ("_p", "_p_min", "_s_min", "_ps_min", "_drift_detected", "_warning_detected")

    def __init__(
        self, warm_start: int = 30, warning_threshold: float = 2.0, drift_threshold: float = 3.0
    ) -> None:
        self.warm_start = warm_start
        self.warning_threshold = warning_threshold
        self.drift_threshold = drift_threshold
        self.reset()


class EDDM(RiverDetector):
    """River's Early Drift Detection Method: watches the distance between errors (0/1 input).

    Examples
    --------
    >>> import random
    >>> rng = random.Random(42)
    >>> stream = rng.choices([0, 1], k=1000) + rng.choices([0, 1], k=1000, weights=[0.3, 0.7])
    >>> EDDM(alpha=0.8, beta=0.75).update_many(stream)
    array([1278])
    """

    name = "eddm"
    _river_name = "drift.binary.EDDM"
    _binary = True
    _saved = (
        "_error_distances",
        "_n",
        "_last_error",
        "_n_errors",
        "_p2s_prime_max",
        "_drift_detected",
        "_warning_detected",
    )

    def __init__(self, warm_start: int = 30, alpha: float = 0.95, beta: float = 0.9) -> None:
        self.warm_start = warm_start
        self.alpha = alpha
        self.beta = beta
        self.reset()


class HDDM_A(RiverDetector):
    """River's HDDM_A (``HDDMA``): Hoeffding bounds on moving averages of 0/1 error indicators.

    Examples
    --------
    >>> import random
    >>> rng = random.Random(42)
    >>> stream = rng.choices([0, 1], k=1000) + rng.choices([0, 1], k=1000, weights=[0.3, 0.7])
    >>> HDDM_A().update_many(stream)
    array([1206])
    """

    name = "hddm_a"
    _river_name = "drift.binary.HDDMA"
    _binary = True
    _saved = ("_x_min", "_x_max", "_z", "_drift_detected", "_warning_detected")

    def __init__(
        self,
        drift_confidence: float = 0.001,
        warning_confidence: float = 0.005,
        two_sided_test: bool = False,
    ) -> None:
        self.drift_confidence = drift_confidence
        self.warning_confidence = warning_confidence
        self.two_sided_test = two_sided_test
        self.reset()


class HDDM_W(RiverDetector):
    """River's HDDM_W (``HDDMW``): McDiarmid bounds on weighted averages of 0/1 error indicators.

    Examples
    --------
    >>> import random
    >>> rng = random.Random(42)
    >>> stream = rng.choices([0, 1], k=1000) + rng.choices([0, 1], k=1000, weights=[0.3, 0.7])
    >>> HDDM_W().update_many(stream)
    array([1077])
    """

    name = "hddm_w"
    _river_name = "drift.binary.HDDMW"
    _binary = True

    def __init__(
        self,
        drift_confidence: float = 0.001,
        warning_confidence: float = 0.005,
        lambda_val: float = 0.05,
        two_sided_test: bool = False,
    ) -> None:
        self.drift_confidence = drift_confidence
        self.warning_confidence = warning_confidence
        self.lambda_val = lambda_val
        self.two_sided_test = two_sided_test
        self.reset()
