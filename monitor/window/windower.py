"""Event-time tumbling windows of exact integer slot counts, keyed by (model, version, segment).

Each accepted event adds to the overall window of its model and version (segment ``""``) and to
one window per configured segment field (``platform=ios``). A batch is binned once per subject
(``ModelLayout.slots``) and given a group index per (window start, version, segment); all windows
of the batch are then updated by one ``np.bincount`` per subject (``ModelLayout.counts``).
Windows close when the watermark minus the allowed lateness passes their end; ``flush`` closes
the rest at end of input.
Counts are integers, so partial windows merge exactly (``WindowCounts.merge``).

What a stream may make grow is capped: per model at most ``max_versions`` model versions and,
per segment field, ``max_segment_values`` values get windows of their own (first come, with
those the configuration names first); the events of the others are counted under ``__other__``
and in ``capped`` (by cap: ``model_versions``, ``segment_values``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from baselines.values import PREDICTION_SUBJECT
from monitor.batches import BoolArray, EventBatch, IntArray
from monitor.columns import take_rows, text_codes
from monitor.evaluate.detector_feed import WindowStreams
from monitor.join.label_join import Pairs
from monitor.window.slot_layout import ModelLayout
from monitor.window.watermark import Watermarks

OTHER = "__other__"
_OFFSETS = 1 << 40  # partition × this + offset: one sortable tie-break per event


class WindowKey(NamedTuple):
    """What a window is about; sorts in report order."""

    model: str
    model_version: str
    segment: str


@dataclass
class WindowCounts:
    """Everything a closed window is scored from; integers only, so merging is exact."""

    key: WindowKey
    start_ms: int
    end_ms: int
    events: int
    counts: IntArray
    performance: IntArray
    detections: dict[str, int] = field(default_factory=dict)

    def merge(self, other: WindowCounts) -> WindowCounts:
        """The window holding both parts' events (same key and bounds).

        >>> key, no_perf = WindowKey("m", "", ""), np.zeros(0, np.int64)
        >>> a = WindowCounts(key, 0, 10, 2, np.array([1, 1]), no_perf)
        >>> b = WindowCounts(key, 0, 10, 1, np.array([0, 1]), no_perf)
        >>> a.merge(b).counts.tolist(), a.merge(b).events
        ([1, 2], 3)
        """
        if (self.key, self.start_ms, self.end_ms) != (other.key, other.start_ms, other.end_ms):
            raise ValueError("only parts of the same window can be merged")
        names = sorted(set(self.detections) | set(other.detections))
        return WindowCounts(
            self.key,
            self.start_ms,
            self.end_ms,
            self.events + other.events,
            self.counts + other.counts,
            self.performance + other.performance,
            {n: self.detections.get(n, 0) + other.detections.get(n, 0) for n in names},
        )


class SegmentValues:
    """First-come assignment of a segment field's values to at most ``cap`` windows each."""

    def __init__(self, cap: int, preferred: tuple[str, ...] = ()) -> None:
        self.cap = cap
        self.known: dict[str, int] = {}
        for value in preferred[:cap]:
            self.known.setdefault(value, len(self.known))

    def codes(self, values: pa.Array) -> tuple[IntArray, list[str]]:
        """Code per value (-1 for null) and the name of each code (``__other__`` past the cap,
        always the last).

        >>> values = SegmentValues(2)
        >>> codes, names = values.codes(pa.array(["a", "b", None, "c", "a"]))
        >>> codes.tolist(), names
        ([0, 1, -1, 2, 0], ['a', 'b', '__other__'])
        """
        room = self.cap - len(self.known)
        if room > 0:  # the first values not yet known take the room left, in order of arrival
            distinct = pc.unique(values.drop_null())
            known = pa.array(list(self.known), pa.string())
            new = distinct.filter(pc.invert(pc.is_in(distinct, value_set=known)))
            for value in new.slice(0, room).to_pylist():
                self.known[value] = len(self.known)
        names = [*self.known, OTHER]
        index = pc.index_in(values, value_set=pa.array(list(self.known), pa.string()))
        codes = index.fill_null(len(self.known)).to_numpy(zero_copy_only=False).astype(np.int64)
        codes[pc.is_null(values).to_numpy(zero_copy_only=False)] = -1
        return codes, names


@dataclass
class LateCounts:
    """Events dropped for arriving after their window closed, per model."""

    by_model: dict[str, int] = field(default_factory=dict)

    def add(self, model: str, n: int) -> None:
        if n:
            self.by_model[model] = self.by_model.get(model, 0) + n


class Windower:
    """Open windows of every model, their watermark, and the per-event online detectors."""

    def __init__(
        self,
        layouts: Mapping[str, ModelLayout],
        *,
        size_ms: int,
        allowed_lateness_ms: int,
        segment_fields: tuple[str, ...] = (),
        max_segment_values: int = 20,
        max_versions: int = 20,
        preferred_versions: Mapping[str, tuple[str, ...]] | None = None,
        prediction_detectors: tuple[tuple[str, dict[str, object]], ...] = (),
    ) -> None:
        self.layouts = layouts
        self.size_ms = size_ms
        self.allowed_lateness_ms = allowed_lateness_ms
        self.segment_fields = segment_fields
        self.watermarks = Watermarks()
        self.closed_through = np.iinfo(np.int64).min  # no window ending at or before reopens
        self.late = LateCounts()
        self.late_labels = LateCounts()
        self.open: dict[tuple[WindowKey, int], WindowCounts] = {}
        self.segment_values = {
            (model, f): SegmentValues(max_segment_values, _preferred(layout, f))
            for model, layout in layouts.items()
            for f in segment_fields
        }
        preferred = preferred_versions or {}
        self.version_values = {
            model: SegmentValues(max_versions, preferred.get(model, ())) for model in layouts
        }
        self.capped: Counter[str] = Counter()
        self.score_streams = WindowStreams(
            tuple(("score", name, dict(params)) for name, params in prediction_detectors),
            size_ms,
            prefixed=False,
        )

    def add(self, batch: EventBatch, pairs: Pairs | None = None) -> list[WindowCounts]:
        """Count a batch of predictions (and the label pairs it completed) into their windows;
        return the windows this closed, in report order."""
        if not len(batch):
            return self._close_at_watermark()
        watermark = self.watermarks.advance(batch.event_time_ms, batch.partition)
        starts = batch.event_time_ms // self.size_ms * self.size_ms
        late = starts + self.size_ms <= self._horizon(watermark)
        for model, layout, mine in self._by_model(batch.model):
            self.late.add(model, int(np.count_nonzero(mine & late)))
            rows = np.flatnonzero(mine & ~late)
            if len(rows):
                self._count(model, layout, batch, rows, starts[rows])
        if pairs is not None:
            self._count_pairs(pairs, watermark)
        return self._close_at_watermark()

    def fold(self, batch: EventBatch) -> EventBatch:
        """``batch`` with each model's versions past ``max_versions`` and segment values past
        ``max_segment_values`` as ``__other__`` (the batch itself when none is), counted in
        ``capped`` (``model_versions``, ``segment_values``)."""
        if not len(batch):
            return batch
        capped = [("model_version", batch.model_version)]
        capped += [(f, batch.segments[f]) for f in self.segment_fields if f in batch.segments]
        by_model = self._by_model(batch.model)
        folded = {}
        for name, column in capped:
            other = np.zeros(len(batch), dtype=np.bool_)
            for model, _, mine in by_model:
                rows = np.flatnonzero(mine)
                values = (
                    self.version_values[model]
                    if name == "model_version"
                    else self.segment_values[(model, name)]
                )
                codes, names = values.codes(take_rows(column, rows))
                other[rows] = codes == len(names) - 1
            count = int(np.count_nonzero(other))
            self.capped["model_versions" if name == "model_version" else "segment_values"] += count
            if count:
                folded[name] = pc.if_else(pa.array(other), OTHER, column)
        if not folded:
            return batch
        version = folded.pop("model_version", batch.model_version)
        return replace(batch, model_version=version, segments={**batch.segments, **folded})

    def add_labels(self, labels: EventBatch, pairs: Pairs | None) -> list[WindowCounts]:
        """Advance the watermark with a batch of label events and count the pairs they completed
        (performance only: a label adds no event to a window); return the windows this closed."""
        if len(labels):
            watermark = self.watermarks.advance(labels.event_time_ms, labels.partition)
            if pairs is not None:
                self._count_pairs(pairs, watermark)
        return self._close_at_watermark()

    def _by_model(self, models: pa.Array) -> list[tuple[str, ModelLayout, BoolArray]]:
        """``(model, layout, rows of that model)`` for each configured model, in config order."""
        codes, names = text_codes(models)
        code_of = {name: code for code, name in enumerate(names)}
        return [
            (model, layout, codes == code_of[model])
            for model, layout in self.layouts.items()
            if model in code_of
        ]

    def _horizon(self, watermark: IntArray) -> IntArray:
        """Per event: windows ending at or before this are closed when it arrives."""
        return np.maximum(watermark - self.allowed_lateness_ms, self.closed_through)

    def _close_at_watermark(self) -> list[WindowCounts]:
        current = self.watermarks.current()
        if current is None:
            return []
        return self._close(current - self.allowed_lateness_ms)

    def _count_pairs(self, pairs: Pairs, watermark: IntArray) -> None:
        """Add joined pairs to the performance of their windows, each judged late or not by the
        watermark in force when the event completing it arrived."""
        joined = pairs.batch
        starts = joined.event_time_ms // self.size_ms * self.size_ms
        late = starts + self.size_ms <= self._horizon(watermark[pairs.trigger])
        for model, layout, mine in self._by_model(joined.model):
            self.late_labels.add(model, int(np.count_nonzero(mine & late)))
            rows = np.flatnonzero(mine & ~late)
            if len(rows) and layout.performance_size:
                self._count(model, layout, joined, rows, starts[rows], labeled=True)

    def flush(self) -> list[WindowCounts]:
        """Close every open window (end of a replay)."""
        return self._close(None)

    def _close(self, watermark: int | None) -> list[WindowCounts]:
        if watermark is not None:
            self.closed_through = max(self.closed_through, watermark)
        ready = sorted(
            (k for k, w in self.open.items() if watermark is None or w.end_ms <= watermark),
            key=lambda k: (k[1], k[0]),
        )
        closed = [self.open.pop(k) for k in ready]
        for window in closed:
            if not window.key.segment:
                key = window.key
                found = self.score_streams.detections(key.model, key.model_version, window.start_ms)
                window.detections.update(found)
        self.score_streams.discard_through(self.closed_through)
        return closed

    def _count(
        self,
        model: str,
        layout: ModelLayout,
        batch: EventBatch,
        rows: IntArray,
        starts: IntArray,
        *,
        labeled: bool = False,
    ) -> None:
        """Count events into their windows; ``labeled`` pairs add performance only."""
        slots = None if labeled else layout.slots(batch, rows)
        versions = take_rows(batch.model_version, rows).fill_null("")
        version_codes, version_names = text_codes(versions)
        memberships: list[tuple[IntArray, list[str]]] = [
            (np.zeros(len(rows), dtype=np.int64), [""])
        ]
        for f in self.segment_fields:
            column = batch.segments.get(f)
            if column is None:
                continue
            codes, names = self.segment_values[(model, f)].codes(take_rows(column, rows))
            memberships.append((codes, [f"{f}={name}" for name in names]))
        perf = layout.performance_contributions(batch, rows)
        first = int(starts.min())
        used_windows, window_index = _compact((starts - first) // self.size_ms)
        window_starts = used_windows * self.size_ms + first
        base = window_index * len(version_names) + version_codes
        for segment_codes, segment_names in memberships:
            group = np.where(segment_codes >= 0, base * len(segment_names) + segment_codes, -1)
            self._add_groups(
                model, layout, group, slots, perf, (window_starts, version_names, segment_names)
            )
        if not labeled:
            self._detect(model, layout, batch, rows, versions)

    def _add_groups(
        self,
        model: str,
        layout: ModelLayout,
        group: IntArray,
        slots: list[IntArray] | None,
        perf: tuple[IntArray, IntArray, IntArray] | None,
        names: tuple[IntArray, list[str], list[str]],
    ) -> None:
        """Add the events of each group (-1 = not in this segment field) to its open window."""
        present = group >= 0
        everyone = bool(present.all())
        used, local = _compact(group if everyone else group[present])
        if slots is None:  # label pairs: performance only
            counts = np.zeros((len(used), layout.size), dtype=np.int64)
            events = np.zeros(len(used), dtype=np.int64)
        else:
            mine = slots if everyone else [found[present] for found in slots]
            counts = layout.counts(mine, local if len(used) > 1 else None, len(used))
            events = np.bincount(local, minlength=len(used))
        perf_totals = np.zeros((len(used), layout.performance_size), dtype=np.int64)
        if perf is not None:
            positions, perf_slots, weights = perf
            owner = group[positions]
            keep = owner >= 0
            np.add.at(
                perf_totals, (np.searchsorted(used, owner[keep]), perf_slots[keep]), weights[keep]
            )
        window_starts, version_names, segment_names = names
        n_segments, n_versions = len(segment_names), len(version_names)
        for i, g in enumerate(used.tolist()):
            window, rest = divmod(g, n_versions * n_segments)
            version, segment = divmod(rest, n_segments)
            start = int(window_starts[window])
            key = WindowKey(model, version_names[version], segment_names[segment])
            part = WindowCounts(
                key, start, start + self.size_ms, int(events[i]), counts[i], perf_totals[i]
            )
            existing = self.open.get((key, start))
            self.open[(key, start)] = part if existing is None else existing.merge(part)

    def _detect(
        self,
        model: str,
        layout: ModelLayout,
        batch: EventBatch,
        rows: IntArray,
        versions: pa.Array,
    ) -> None:
        """Buffer each version's prediction scores for its detectors, fed when windows close."""
        prediction = layout.by_name.get(PREDICTION_SUBJECT)
        if not self.score_streams.specs or prediction is None:
            return
        if prediction.baseline.kind != "numeric" or not isinstance(batch.prediction, np.ndarray):
            return
        scores = batch.prediction[rows]
        tiebreak = batch.partition[rows] * _OFFSETS + batch.offset[rows]
        for version in pc.unique(versions).to_pylist():
            mine = pc.equal(versions, version).to_numpy(zero_copy_only=False) & ~np.isnan(scores)
            self.score_streams.add(
                model,
                version,
                batch.event_time_ms[rows][mine],
                pa.array(tiebreak[mine]),
                {"score": scores[mine]},
            )


def _compact(groups: IntArray) -> tuple[IntArray, IntArray]:
    """The distinct group ids (sorted) and each element's index among them.

    Same result as ``np.unique(groups, return_inverse=True)``, by a dense lookup when the ids
    are small (the usual case: a few windows × versions × segment values) instead of a sort.

    >>> [a.tolist() for a in _compact(np.array([7, 3, 7, 9]))]
    [[3, 7, 9], [1, 0, 1, 2]]
    """
    if len(groups) == 0:
        return groups, groups
    top = int(groups.max())
    if top > 4 * len(groups) + 1024:
        used, local = np.unique(groups, return_inverse=True)
        return used, local.astype(np.int64)
    seen = np.bincount(groups, minlength=top + 1) > 0
    used = np.flatnonzero(seen)
    lookup = np.cumsum(seen) - 1
    return used, lookup[groups]


def _preferred(layout: ModelLayout, field_name: str) -> tuple[str, ...]:
    """Segment values the baseline has its own reference for get their own windows first."""
    prefix = f"{field_name}="
    return tuple(k[len(prefix) :] for k in layout.baseline.segments if k.startswith(prefix))
