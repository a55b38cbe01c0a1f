"""Online detectors fed a closed window's values, window by window, per (model, version).

The values come from :class:`monitor.window.value_buffers.ValueBuffers`, already in (time,
tie-break) order, so detections do not depend on arrival order. Two streams use it: the
prediction score of every event (``detectors.prediction``, reported under the detector's name)
and the errors of joined prediction/label pairs (``detectors.errors``, reported as
``<stream>_<name>``, e.g. ``error_ddm_np``). Detector state carries over from window to window
per (model, version).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from detectors.online import DriftDetector, detector_from_state, make_detector
from monitor.batches import FloatArray

Spec = tuple[str, str, dict[str, Any]]
"""(stream, detector name, parameters)."""


class DetectorFeed:
    """The configured detectors of every (model, version), created when first fed.

    ``prefixed`` names detections ``<stream>_<name>``; otherwise by the detector's name.
    """

    def __init__(self, specs: tuple[Spec, ...], *, prefixed: bool) -> None:
        self.specs = specs
        self.prefixed = prefixed
        self.detectors: dict[tuple[str, str, str], DriftDetector] = {}

    @property
    def streams(self) -> tuple[str, ...]:
        """The streams some detector reads, sorted: what must be buffered for it."""
        return tuple(sorted({stream for stream, _, _ in self.specs}))

    def detections(
        self, model: str, version: str, values: Mapping[str, FloatArray]
    ) -> dict[str, int]:
        """Feed one closed window's ordered values per stream; detections per reported name."""
        out: dict[str, int] = {}
        for stream, name, params in self.specs:
            column = values.get(stream)
            if column is None:
                continue
            column = column[~np.isnan(column)]
            if not len(column):
                continue
            reported = f"{stream}_{name}" if self.prefixed else name
            key = (model, version, reported)
            detector = self.detectors.get(key)
            if detector is None:
                detector = self.detectors[key] = make_detector(name, **params)
            hits = len(detector.update_many(column))
            if hits:
                out[reported] = hits
        return out

    def state(self) -> list[dict[str, Any]]:
        """Every detector's state as JSON data, in sorted order."""
        return [
            {"model": m, "model_version": v, "name": n, "detector": d.state()}
            for (m, v, n), d in sorted(self.detectors.items())
        ]

    def restored(self, state: Sequence[Mapping[str, Any]]) -> DetectorFeed:
        """A new instance with these specs holding the detectors :meth:`state` saved."""
        feed = DetectorFeed(self.specs, prefixed=self.prefixed)
        for d in state:
            key = (d["model"], d["model_version"], d["name"])
            feed.detectors[key] = detector_from_state(d["detector"])
        return feed
