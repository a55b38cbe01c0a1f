"""The online drift detector interface, in river's style, plus input and state helpers.

A detector consumes one value at a time (``update(x) -> self``) or a whole array in order
(``update_many(values)`` returns the indices where a drift was detected), exposes read-only
``drift_detected`` / ``warning_detected`` flags about the last value, and round-trips through a
JSON-serialisable ``state()`` so a checkpointed detector continues exactly where it stopped.
"""

from __future__ import annotations

import abc
import inspect
import math
from collections.abc import Mapping
from typing import Any, ClassVar, Self

import numpy as np
import numpy.typing as npt


class DriftDetector(abc.ABC):
    """An online drift detector fed one value at a time.

    Subclasses store their constructor arguments under their own names (so ``params()`` can
    read them back), set the ``name`` class attribute used by the registry and by ``state()``,
    and raise a drift flag that stays up until the next ``update``, which first resets the
    detector (river's reset-after-drift behaviour).
    """

    name: ClassVar[str]

    @abc.abstractmethod
    def update(self, x: float) -> Self:
        """Feed one value; afterwards ``drift_detected`` says whether it revealed a drift."""

    def update_many(self, values: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Feed ``values`` in order; return the indices into ``values`` where a drift was detected.

        The detector ends in the same state as after calling ``update`` on each value.
        """
        hits = []
        for i, x in enumerate(as_stream(values).tolist()):
            self.update(x)
            if self.drift_detected:
                hits.append(i)
        return np.asarray(hits, dtype=np.int64)

    @property
    @abc.abstractmethod
    def drift_detected(self) -> bool:
        """Whether the last value fed revealed a drift."""

    @property
    def warning_detected(self) -> bool:
        """Whether the last value fed put the detector in its warning zone (never, by default)."""
        return False

    @abc.abstractmethod
    def reset(self) -> None:
        """Forget everything seen, as if freshly constructed with the same parameters."""

    @abc.abstractmethod
    def state(self) -> dict[str, Any]:
        """JSON-serialisable state: ``from_state(state())`` continues exactly like ``self``."""

    @classmethod
    @abc.abstractmethod
    def from_state(cls, state: Mapping[str, Any]) -> Self:
        """Rebuild a detector from what ``state()`` returned (after a JSON round trip)."""

    def params(self) -> dict[str, Any]:
        """The constructor arguments, read back from the attributes of the same names."""
        names = inspect.signature(type(self).__init__).parameters
        return {name: getattr(self, name) for name in names if name != "self"}

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={value!r}" for key, value in self.params().items())
        return f"{type(self).__name__}({args})"


def as_stream(values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Check that ``values`` is a 1-D array of finite numbers and return it as float64.

    >>> as_stream([1, 2.5, True]).tolist()
    [1.0, 2.5, 1.0]
    """
    stream = _one_dimensional(values)
    finite = np.isfinite(stream)
    if not finite.all():
        bad = int(np.argmin(finite))
        raise ValueError(f"value {stream[bad]} at index {bad} is not finite; drop it before")
    return stream


def as_binary_stream(values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    """Check that ``values`` holds only 0/1 error indicators (1 = error) and return them as float64.

    >>> as_binary_stream([True, False, 1]).tolist()
    [1.0, 0.0, 1.0]
    """
    stream = _one_dimensional(values)
    zeros = stream == 0.0
    if np.count_nonzero(zeros) + np.count_nonzero(stream == 1.0) != stream.size:
        bad = int(np.argmin(zeros | (stream == 1.0)))
        raise ValueError(
            f"value {stream[bad]} at index {bad} is not an error indicator; feed 0/1 (1 = error)"
        )
    return stream


def _one_dimensional(values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    stream = np.asarray(values, dtype=np.float64)
    if stream.ndim != 1:
        raise ValueError(f"detectors take a 1-D sequence of values; got {stream.ndim} dimensions")
    return stream


def check_value(x: float) -> float:
    """Check that one value is a finite number and return it as a float.

    >>> check_value(3)
    3.0
    """
    value = float(x)
    if not math.isfinite(value):
        raise ValueError(f"value {value} is not finite; drop it before")
    return value


def check_binary_value(x: float) -> float:
    """Check that one value is a 0/1 error indicator (1 = error) and return it as a float.

    >>> check_binary_value(True)
    1.0
    """
    value = float(x)
    if value not in (0.0, 1.0):
        raise ValueError(f"value {value} is not an error indicator; feed 0/1 (1 = error)")
    return value


def encode_float(x: float) -> float | str:
    """A float as JSON can hold it: infinities become the strings ``"inf"`` / ``"-inf"``.

    >>> encode_float(float("inf")), encode_float(0.5)
    ('inf', 0.5)
    """
    return x if math.isfinite(x) else str(x)


def decode_float(x: float | str) -> float:
    """Invert ``encode_float``.

    >>> decode_float("-inf"), decode_float(0.5)
    (-inf, 0.5)
    """
    return float(x)


def checked_state(cls: type[DriftDetector], state: Mapping[str, Any]) -> Mapping[str, Any]:
    """Return ``state`` after checking that it was written by a detector of type ``cls``."""
    written_by = state.get("name")
    if written_by != cls.name:
        raise ValueError(
            f"state was written by detector {written_by!r}, not {cls.name!r}; "
            "restore it with detector_from_state"
        )
    return state
