"""Online drift detectors by name: build one from configuration or from a checkpointed state."""

from __future__ import annotations

import functools
import inspect
import types
import typing
from collections.abc import Mapping
from typing import Any

from detectors.online.base import DriftDetector
from detectors.online.river_backed import (
    ADWIN,
    DDM,
    EDDM,
    HDDM_A,
    HDDM_W,
    KSWIN,
    PageHinkley,
)
from detectors.online.vectorised import CUSUMNumpy, DDMNumpy, PageHinkleyNumpy

DETECTORS: Mapping[str, type[DriftDetector]] = types.MappingProxyType(
    {
        cls.name: cls
        for cls in (
            ADWIN,
            KSWIN,
            PageHinkley,
            DDM,
            EDDM,
            HDDM_A,
            HDDM_W,
            PageHinkleyNumpy,
            DDMNumpy,
            CUSUMNumpy,
        )
    }
)


def make_detector(name: str, **params: Any) -> DriftDetector:
    """Build the detector registered as ``name`` with constructor ``params``.

    >>> make_detector("page_hinkley_np", threshold=10.0)
    PageHinkleyNumpy(min_instances=30, delta=0.005, threshold=10.0, alpha=0.9999, mode='both')
    """
    cls = detector_class(name)
    hints = _hints(cls)
    for key, value in params.items():
        if key in hints and not _accepts(hints[key], value):
            raise ValueError(
                f"parameter {key!r} of detector {name!r} must be {_describe(hints[key])}, "
                f"got {value!r}"
            )
    try:
        return cls(**params)
    except TypeError as exc:
        accepted = ", ".join(_parameter_names(cls))
        raise ValueError(
            f"bad parameter for detector {name!r}: {exc}; it takes {accepted}"
        ) from exc


def detector_class(name: str) -> type[DriftDetector]:
    """The detector class registered as ``name``.

    >>> detector_class("adwin").__name__
    'ADWIN'
    """
    try:
        return DETECTORS[name]
    except KeyError:
        known = ", ".join(sorted(DETECTORS))
        raise ValueError(f"unknown detector {name!r}; known detectors: {known}") from None


def detector_from_state(state: Mapping[str, Any]) -> DriftDetector:
    """Rebuild a detector from its ``state()``, whatever its type.

    >>> detector = make_detector("cusum", target=0.0, sigma=1.0).update(3.0)
    >>> type(detector_from_state(detector.state())).__name__
    'CUSUMNumpy'
    """
    return detector_class(str(state.get("name"))).from_state(state)


@functools.cache
def _hints(cls: type[DriftDetector]) -> dict[str, Any]:
    """The constructor's annotations, resolved once per class (a model version and segment
    makes its own detectors, and resolving them takes longer than building one)."""
    return typing.get_type_hints(cls.__init__)


def _parameter_names(cls: type[DriftDetector]) -> list[str]:
    return [key for key in inspect.signature(cls.__init__).parameters if key != "self"]


def _accepts(hint: Any, value: Any) -> bool:
    """Whether ``value`` fits a constructor annotation (numbers, strings, bools, None, unions)."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return any(_accepts(option, value) for option in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint in (bool, str):
        return isinstance(value, hint)
    return True


def _describe(hint: Any) -> str:
    if isinstance(hint, types.UnionType):
        return " or ".join(_describe(option) for option in typing.get_args(hint))
    return "None" if hint is type(None) else getattr(hint, "__name__", str(hint))
