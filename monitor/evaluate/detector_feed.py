"""Online detectors fed window by window in a fixed order, so arrival order never matters.

Two streams use it: the prediction score of every event (``detectors.prediction``, reported
under the detector's name) and the errors of joined prediction/label pairs
(``detectors.errors``, reported as ``<stream>_<name>``, e.g. ``error_ddm_np``). Values are
buffered per (model, version, window start) as they arrive; when the overall window of that
model and version closes, its values are fed to each detector sorted by (time, tie-break) —
(partition, offset) for events, the event id for pairs — so the detections are the same however
partitions or topics interleaved and across a restart. Detector state carries over from window
to window per (model, version).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from detectors.online import DriftDetector, detector_from_state, make_detector
from monitor.batches import EventBatch, FloatArray, IntArray
from monitor.packed import pack, pack_column, unpack, unpack_column
from monitor.window.slot_layout import ModelLayout

Part = tuple[IntArray, pa.Array, dict[str, FloatArray]]
"""Time (ms), tie-break and the value of each stream for some events."""

Spec = tuple[str, str, dict[str, Any]]
"""(stream, detector name, parameters)."""


class WindowStreams:
    """Per (model, version): the configured detectors and the open windows' buffered values.

    ``prefixed`` names detections ``<stream>_<name>``; otherwise by the detector's name.
    """

    def __init__(self, specs: tuple[Spec, ...], size_ms: int, *, prefixed: bool) -> None:
        self.specs = specs
        self.size_ms = size_ms
        self.prefixed = prefixed
        self.buffers: dict[tuple[str, str, int], list[Part]] = {}
        self.detectors: dict[tuple[str, str, str], DriftDetector] = {}

    def add(
        self,
        model: str,
        version: str,
        times: IntArray,
        tiebreak: pa.Array,
        values: Mapping[str, FloatArray],
    ) -> None:
        """Buffer one model version's values under the windows of their times."""
        if not self.specs or not len(times):
            return
        starts = times // self.size_ms * self.size_ms
        for start in np.unique(starts).tolist():
            rows = np.flatnonzero(starts == start)
            part = (
                times[rows],
                tiebreak.take(pa.array(rows)),
                {name: column[rows] for name, column in values.items()},
            )
            self.buffers.setdefault((model, version, int(start)), []).append(part)

    def add_pairs(self, joined: EventBatch, layouts: Mapping[str, ModelLayout]) -> None:
        """Buffer the error indicator and absolute error of joined pairs."""
        if not self.specs or not len(joined):
            return
        keys = pc.binary_join_element_wise(joined.model, joined.model_version.fill_null(""), "\x1f")
        encoded = pc.dictionary_encode(keys)
        groups = encoded.indices.to_numpy(zero_copy_only=False)
        for code, text in enumerate(encoded.dictionary.to_pylist()):
            model, version = text.split("\x1f")
            layout = layouts.get(model)
            if layout is None or not layout.performance_size:
                continue
            rows = np.flatnonzero(groups == code)
            wrong, absolute = layout.errors(joined, rows)
            ids = joined.event_id.take(pa.array(rows))
            times = joined.event_time_ms[rows]
            self.add(model, version, times, ids, {"error": wrong, "abs_error": absolute})

    def detections(self, model: str, version: str, start_ms: int) -> dict[str, int]:
        """Feed one closed window's values to the detectors; detections per reported name."""
        parts = self.buffers.pop((model, version, start_ms), [])
        if not parts:
            return {}
        order = pc.sort_indices(
            pa.table(
                {
                    "time": np.concatenate([p[0] for p in parts]),
                    "tie": pa.concat_arrays([p[1] for p in parts]),
                }
            ),
            sort_keys=[("time", "ascending"), ("tie", "ascending")],
        ).to_numpy()
        out: dict[str, int] = {}
        for stream, name, params in self.specs:
            values = np.concatenate([p[2][stream] for p in parts])[order]
            values = values[~np.isnan(values)]
            if not len(values):
                continue
            reported = f"{stream}_{name}" if self.prefixed else name
            key = (model, version, reported)
            detector = self.detectors.get(key)
            if detector is None:
                detector = self.detectors[key] = make_detector(name, **params)
            hits = len(detector.update_many(values))
            if hits:
                out[reported] = hits
        return out

    def discard_through(self, closed_through_ms: int) -> None:
        """Drop values of windows that already closed (late ones)."""
        for key in [k for k in self.buffers if k[2] + self.size_ms <= closed_through_ms]:
            del self.buffers[key]

    def state(self) -> dict[str, Any]:
        """Buffered values (packed, :mod:`monitor.packed`) and detector states as JSON data, in
        sorted order."""
        streams = sorted({stream for stream, _, _ in self.specs})
        return {
            "buffers": [
                {
                    "model": model,
                    "model_version": version,
                    "start_ms": start,
                    "time": pack(np.concatenate([p[0] for p in parts])),
                    "tie": pack_column(pa.concat_arrays([p[1] for p in parts])),
                    "values": {s: pack(np.concatenate([p[2][s] for p in parts])) for s in streams},
                }
                for (model, version, start), parts in sorted(self.buffers.items())
            ],
            "detectors": [
                {"model": m, "model_version": v, "name": n, "detector": d.state()}
                for (m, v, n), d in sorted(self.detectors.items())
            ],
        }

    def restored(self, state: Mapping[str, Any]) -> WindowStreams:
        """A new instance with these specs holding what :meth:`state` saved."""
        streams = WindowStreams(self.specs, self.size_ms, prefixed=self.prefixed)
        streams._restore(state)
        return streams

    def _restore(self, state: Mapping[str, Any]) -> None:
        for b in state["buffers"]:
            part = (
                unpack(b["time"], np.int64),
                unpack_column(b["tie"]),
                {s: unpack(v, np.float64) for s, v in b["values"].items()},
            )
            self.buffers[(b["model"], b["model_version"], int(b["start_ms"]))] = [part]
        for d in state["detectors"]:
            key = (d["model"], d["model_version"], d["name"])
            self.detectors[key] = detector_from_state(d["detector"])
