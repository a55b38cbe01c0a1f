"""Per-event values the online detectors need, buffered per open window until it closes.

Two streams use it: the prediction score of every event (``score``) and, for joined
prediction/label pairs, the error indicator and the absolute error (``error``, ``abs_error``).
Values are buffered per (model, version, window start) as they arrive; when the window closes,
:meth:`ValueBuffers.take` returns them sorted by (time, tie-break) — (partition, offset) for
events, the event id for pairs — so the order is the same however partitions or topics
interleaved, and across a restart. Feeding them to detectors is stage 2's work
(:mod:`monitor.evaluate.detector_feed`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from monitor.batches import EventBatch, FloatArray, IntArray
from monitor.packed import pack, pack_column, unpack, unpack_column
from monitor.window.grid import WindowGrid, as_grid
from monitor.window.slot_layout import ModelLayout

Part = tuple[IntArray, pa.Array, dict[str, FloatArray]]
"""Time (ms), tie-break and the value of each stream for some events."""


class ValueBuffers:
    """The open windows' values of ``streams`` per (model, version); with no streams (no
    detector configured) nothing is buffered."""

    def __init__(self, streams: Sequence[str], grid: WindowGrid | int) -> None:
        self.streams = tuple(sorted(set(streams)))
        self.grid = as_grid(grid)
        self.buffers: dict[tuple[str, str, int], list[Part]] = {}

    def add(
        self,
        model: str,
        version: str,
        times: IntArray,
        tiebreak: pa.Array,
        values: Mapping[str, FloatArray],
    ) -> None:
        """Buffer one model version's values under the windows of their times."""
        if not self.streams or not len(times):
            return
        starts = self.grid.start(self.grid.index(times))
        if starts.min() == starts.max():  # one window: the part as given (nothing changes it)
            part = (times, tiebreak, dict(values))
            self.buffers.setdefault((model, version, int(starts[0])), []).append(part)
            return
        for start in np.unique(starts).tolist():
            rows = np.flatnonzero(starts == start)
            part = (
                times[rows],
                tiebreak.take(pa.array(rows)),
                {name: column[rows] for name, column in values.items()},
            )
            self.buffers.setdefault((model, version, int(start)), []).append(part)

    def add_runs(
        self,
        keys: Sequence[tuple[str, str, int]],
        bounds: Sequence[int],
        times: IntArray,
        tiebreak: pa.Array,
        values: Mapping[str, FloatArray],
    ) -> None:
        """Buffer values already grouped by window: run ``i``, from ``bounds[i]`` to
        ``bounds[i + 1]``, is of ``keys[i]`` (model, version, window start).

        >>> buffers = ValueBuffers(("score",), 10)
        >>> scores = {"score": np.array([.5, .7, .9])}
        >>> buffers.add_runs([("m", "", 0), ("m", "", 10)], [0, 2, 3], np.array([3, 5, 12]),
        ...                  pa.array([1, 2, 3]), scores)
        >>> [(start, time.tolist()) for _, _, start, time, _, _ in buffers.drain()]
        [(0, [3, 5]), (10, [12])]
        """
        if not self.streams:
            return
        for key, low, high in zip(keys, bounds[:-1], bounds[1:], strict=True):
            part = (
                times[low:high],
                tiebreak.slice(low, high - low),
                {name: column[low:high] for name, column in values.items()},
            )
            self.buffers.setdefault(key, []).append(part)

    def add_pairs(self, joined: EventBatch, layouts: Mapping[str, ModelLayout]) -> None:
        """Buffer the error indicator and absolute error of joined pairs."""
        if not self.streams or not len(joined):
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

    def take(self, model: str, version: str, start_ms: int) -> dict[str, FloatArray]:
        """A closing window's values per stream, in (time, tie-break) order; none buffered,
        ``{}``. The window's buffer is gone after."""
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
        return {s: np.concatenate([p[2][s] for p in parts])[order] for s in self.streams}

    def drain(self) -> list[tuple[str, str, int, IntArray, pa.Array, dict[str, FloatArray]]]:
        """Every buffer in arrival order, unsorted, as (model, version, window start, times,
        tie-breaks, values per stream), sorted by key; none is kept.

        >>> buffers = ValueBuffers(("score",), 10)
        >>> buffers.add("m", "", np.array([3, 12]), pa.array([1, 2]), {"score": np.array([.5, .7])})
        >>> [(m, start, time.tolist()) for m, _, start, time, _, _ in buffers.drain()]
        [('m', 0, [3]), ('m', 10, [12])]
        >>> buffers.buffers
        {}
        """
        drained = [
            (model, version, start, *_joined(parts, self.streams))
            for (model, version, start), parts in sorted(self.buffers.items())
        ]
        self.buffers = {}
        return drained

    def discard_through(self, closed_through_ms: int) -> None:
        """Drop values of windows that already closed (late ones)."""
        keys = list(self.buffers)
        starts = np.array([start for _, _, start in keys], dtype=np.int64)
        closed = self.grid.start(self.grid.index(starts) + 1) <= closed_through_ms
        for i in np.flatnonzero(closed).tolist():
            del self.buffers[keys[i]]

    def state(self) -> list[dict[str, Any]]:
        """The buffered values of the streams, packed (:mod:`monitor.packed`), in sorted order."""
        out = []
        for (model, version, start), parts in sorted(self.buffers.items()):
            time, tie, values = _joined(parts, self.streams)
            out.append(
                {
                    "model": model,
                    "model_version": version,
                    "start_ms": start,
                    "time": pack(time),
                    "tie": pack_column(tie),
                    "values": {s: pack(values[s]) for s in self.streams},
                }
            )
        return out

    def restored(self, state: Sequence[Mapping[str, Any]]) -> ValueBuffers:
        """A new instance for these streams holding what :meth:`state` saved."""
        buffers = ValueBuffers(self.streams, self.grid)
        for b in state:
            part = (
                unpack(b["time"], np.int64),
                unpack_column(b["tie"]),
                {s: unpack(v, np.float64) for s, v in b["values"].items()},
            )
            buffers.buffers[(b["model"], b["model_version"], int(b["start_ms"]))] = [part]
        return buffers


def _joined(parts: list[Part], streams: tuple[str, ...]) -> Part:
    """One buffer's parts as one, in arrival order."""
    if len(parts) == 1:
        time, tie, values = parts[0]
        return time, tie, {s: values[s] for s in streams}
    return (
        np.concatenate([p[0] for p in parts]),
        pa.concat_arrays([p[1] for p in parts]),
        {s: np.concatenate([p[2][s] for p in parts]) for s in streams},
    )
