"""Concept-drift detectors on the errors of joined prediction/label pairs.

Pairs are buffered per (model, version, window start) as they are joined; when the overall
window of that model and version closes, its pairs are fed to each detector sorted by
(time, event id), so the detections do not depend on how the label and prediction topics
interleaved. Detector state carries over from window to window per (model, version); a window's
record counts the detections as ``<stream>_<name>`` (e.g. ``error_ddm_np``, ``abs_error_adwin``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from detectors.online import DriftDetector, detector_from_state, make_detector
from monitor.layout import ModelLayout
from monitor.types import EventBatch, FloatArray, IntArray

Part = tuple[IntArray, pa.Array, FloatArray, FloatArray]
"""Time (ms), event keys, error indicator and absolute error of some pairs."""

Spec = tuple[str, str, dict[str, Any]]
"""(stream, detector name, parameters)."""


class ErrorStreams:
    """Per (model, version): the configured detectors and the open windows' pairs."""

    def __init__(self, specs: tuple[Spec, ...], size_ms: int) -> None:
        self.specs = specs
        self.size_ms = size_ms
        self.buffers: dict[tuple[str, str, int], list[Part]] = {}
        self.detectors: dict[tuple[str, str, str], DriftDetector] = {}

    def add(self, joined: EventBatch, layouts: Mapping[str, ModelLayout]) -> None:
        """Buffer the errors of joined pairs under their model, version and window."""
        if not self.specs or not len(joined):
            return
        versions = joined.model_version.fill_null("")
        starts = joined.event_time_ms // self.size_ms * self.size_ms
        keys = pc.binary_join_element_wise(
            joined.model, versions, pc.cast(pa.array(starts), pa.string()), "\x1f"
        )
        encoded = pc.dictionary_encode(keys)
        groups = encoded.indices.to_numpy(zero_copy_only=False)
        for code, text in enumerate(encoded.dictionary.to_pylist()):
            model, version, start = text.split("\x1f")
            layout = layouts.get(model)
            if layout is None or not layout.performance_size:
                continue
            rows = np.flatnonzero(groups == code)
            wrong, absolute = layout.errors(joined, rows)
            ids = joined.event_id.take(pa.array(rows))
            part = (joined.event_time_ms[rows], ids, wrong, absolute)
            self.buffers.setdefault((model, version, int(start)), []).append(part)

    def detections(self, model: str, version: str, start_ms: int) -> dict[str, int]:
        """Feed one closed window's pairs to the detectors; detections per ``<stream>_<name>``."""
        parts = self.buffers.pop((model, version, start_ms), [])
        if not parts:
            return {}
        order = pc.sort_indices(
            pa.table(
                {
                    "time": np.concatenate([p[0] for p in parts]),
                    "id": pa.concat_arrays([p[1] for p in parts]),
                }
            ),
            sort_keys=[("time", "ascending"), ("id", "ascending")],
        ).to_numpy()
        streams = {
            "error": np.concatenate([p[2] for p in parts]),
            "abs_error": np.concatenate([p[3] for p in parts]),
        }
        out: dict[str, int] = {}
        for stream, name, params in self.specs:
            values = streams[stream][order]
            values = values[~np.isnan(values)]
            if not len(values):
                continue
            key = (model, version, f"{stream}_{name}")
            detector = self.detectors.get(key)
            if detector is None:
                detector = self.detectors[key] = make_detector(name, **params)
            hits = len(detector.update_many(values))
            if hits:
                out[key[2]] = hits
        return out

    def discard_through(self, closed_through_ms: int) -> None:
        """Drop pairs of windows that already closed (late pairs)."""
        for key in [k for k in self.buffers if k[2] + self.size_ms <= closed_through_ms]:
            del self.buffers[key]

    def state(self) -> dict[str, Any]:
        """Buffered pairs and detector states as JSON data, in sorted order."""
        return {
            "buffers": [
                {
                    "model": model,
                    "model_version": version,
                    "start_ms": start,
                    "time": np.concatenate([p[0] for p in parts]).tolist(),
                    "ids": pa.concat_arrays([p[1] for p in parts]).to_pylist(),
                    "error": _floats(np.concatenate([p[2] for p in parts])),
                    "abs_error": _floats(np.concatenate([p[3] for p in parts])),
                }
                for (model, version, start), parts in sorted(self.buffers.items())
            ],
            "detectors": [
                {"model": m, "model_version": v, "name": n, "detector": d.state()}
                for (m, v, n), d in sorted(self.detectors.items())
            ],
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        """Take back what :meth:`state` saved."""
        for b in state["buffers"]:
            part = (
                np.asarray(b["time"], np.int64),
                pa.array(b["ids"], pa.string()),
                _unfloats(b["error"]),
                _unfloats(b["abs_error"]),
            )
            self.buffers[(b["model"], b["model_version"], int(b["start_ms"]))] = [part]
        for d in state["detectors"]:
            key = (d["model"], d["model_version"], d["name"])
            self.detectors[key] = detector_from_state(d["detector"])


def _floats(values: FloatArray) -> list[float | None]:
    """JSON numbers, null for NaN."""
    out = values.astype(object)
    out[np.isnan(values)] = None
    return out.tolist()  # type: ignore[no-any-return]


def _unfloats(values: list[float | None]) -> FloatArray:
    """Back from :func:`_floats`."""
    return np.asarray(values, dtype=object).astype(np.float64)
