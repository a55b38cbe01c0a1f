"""Online concept-drift detectors: river's, wrapped, and numpy implementations.

Build one by name with ``make_detector`` (names in ``DETECTORS``), feed it with ``update`` or
``update_many``, checkpoint it with ``state()`` and restore it with ``detector_from_state``.
"""

from detectors.online.base import DriftDetector
from detectors.online.registry import (
    DETECTORS,
    detector_class,
    detector_from_state,
    make_detector,
)
from detectors.online.river_backed import (
    ADWIN,
    DDM,
    EDDM,
    HDDM_A,
    HDDM_W,
    KSWIN,
    PageHinkley,
    RiverDetector,
    river_version,
)
from detectors.online.vectorised import CUSUMNumpy, DDMNumpy, PageHinkleyNumpy

__all__ = [
    "ADWIN",
    "DDM",
    "DETECTORS",
    "EDDM",
    "HDDM_A",
    "HDDM_W",
    "KSWIN",
    "CUSUMNumpy",
    "DDMNumpy",
    "DriftDetector",
    "PageHinkley",
    "PageHinkleyNumpy",
    "RiverDetector",
    "detector_class",
    "detector_from_state",
    "make_detector",
    "river_version",
]
