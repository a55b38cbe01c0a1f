"""Event-time tumbling windows of exact integer slot counts, keyed by (model, version, segment).

Each accepted event adds to the overall window of its model and version (segment ``""``) and to
one window per configured segment field (``platform=ios``). Each event is given a group per
(model, window start, version, segment); a batch of all models is binned once per subject name
(``ModelSet.positions``), and the windows of every model in the batch are updated by one
``np.bincount`` per subject over (group, slot) codes.
This is stage 1, one counter per source partition (:mod:`monitor.window.source_counters`): it
counts and judges lateness by its partition's own watermark, but closes nothing. What it
counted since the last hand-over goes to stage 2 as partials (:mod:`monitor.exchange.handover`),
which merges them and closes a window once the watermark of every partition minus the allowed
lateness passes its end (:mod:`monitor.exchange.open_windows`). Counts are integers, so partial
windows merge exactly (``WindowCounts.merge``). The versions and segment values that get windows
of their own were decided before, by :mod:`monitor.window.caps`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from baselines.values import PREDICTION_SUBJECT
from monitor.batches import BoolArray, EventBatch, FloatArray, IntArray
from monitor.columns import text_codes
from monitor.join.label_join import Pairs
from monitor.window.caps import Caps, codes_by_owner
from monitor.window.grid import WindowGrid
from monitor.window.model_set import ModelSet
from monitor.window.open_counts import OpenCounts
from monitor.window.slot_layout import ModelLayout
from monitor.window.value_buffers import ValueBuffers
from monitor.window.watermark import Watermarks

_OFFSETS = 1 << 40  # partition × this + offset: one sortable tie-break per event
_CODES_PER_PASS = 1 << 21
"""Slot codes counted by one ``np.bincount`` (16 MiB of them at most, then the next pass)."""


class WindowKey(NamedTuple):
    """What a window is about; sorts in report order."""

    model: str
    model_version: str
    segment: str


@dataclass
class WindowCounts:
    """Everything a closed window is scored from; its counts are integers, so merging is exact."""

    key: WindowKey
    start_ms: int
    end_ms: int
    events: int
    counts: IntArray
    performance: IntArray
    detections: dict[str, int] = field(default_factory=dict)
    values: dict[str, FloatArray] = field(default_factory=dict)
    """Of a closed overall window: its buffered per-event values per stream, in feeding order."""

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


@dataclass
class LateCounts:
    """Events dropped for arriving after their window closed, per model."""

    by_model: dict[str, int] = field(default_factory=dict)

    def add(self, model: str, n: int) -> None:
        if n:
            self.by_model[model] = self.by_model.get(model, 0) + n


class WindowCounter:
    """Stage 1: the counts of every model's windows since the last :meth:`drain`, the
    watermark per source partition, and (with ``buffer_scores``, ``error_streams``) the
    prediction scores and pair errors the online detectors are fed when an overall window
    closes."""

    def __init__(
        self,
        caps: Caps,
        *,
        grid: WindowGrid,
        allowed_lateness_ms: int,
        buffer_scores: bool = False,
        error_streams: tuple[str, ...] = (),
    ) -> None:
        """Count the models of ``caps`` (whose folding decided the versions and segment values
        with windows of their own) on ``grid``."""
        self.caps = caps
        self.layouts = caps.layouts
        self.grid = grid
        self.allowed_lateness_ms = allowed_lateness_ms
        self.segment_fields = caps.segment_fields
        self.watermarks = Watermarks()
        # windows ending at or before this were passed by the watermark: their events are late
        self.passed_through = np.iinfo(np.int64).min
        # the offsets counted since the last hand-over: [first, end) (first None: none yet)
        self.first: int | None = None
        self.end = 0
        self.late = LateCounts()
        self.late_labels = LateCounts()
        self.counted: OpenCounts[WindowKey] = OpenCounts()
        self.model_set = ModelSet(list(self.layouts.values()))
        self.model_index = {model: i for i, model in enumerate(self.layouts)}
        self.scored = np.array(  # models whose numeric prediction feeds the score detectors
            [_numeric_prediction(layout) for layout in self.layouts.values()], dtype=np.bool_
        )
        self.score_values = ValueBuffers(("score",) if buffer_scores else (), self.grid)
        self.error_values = ValueBuffers(error_streams, self.grid)

    def add(self, batch: EventBatch, pairs: Pairs | None = None) -> None:
        """Count a batch of predictions (and the label pairs it completed) into their windows."""
        if not len(batch):
            self._pass()
            return
        self._covers(batch)
        watermark = self.watermarks.advance(batch.event_time_ms, batch.partition)
        windows = self.grid.index(batch.event_time_ms)
        late = self.grid.start(windows + 1) <= self._horizon(watermark)
        parts = [
            (model, rows)
            for model, _, rows in self._by_model(batch.model, late, self.late)
            if len(rows)
        ]
        self._count(batch, parts, windows)
        if pairs is not None:
            self._count_pairs(pairs, watermark)
        self._pass()

    def add_labels(self, labels: EventBatch, pairs: Pairs | None) -> None:
        """Advance the watermark with a batch of label events and count the pairs they completed
        (performance only: a label adds no event to a window)."""
        if len(labels):
            self._covers(labels)
            watermark = self.watermarks.advance(labels.event_time_ms, labels.partition)
            if pairs is not None:
                self._count_pairs(pairs, watermark)
        self._pass()

    def _by_model(
        self, models: pa.Array, late: BoolArray, late_counts: LateCounts
    ) -> list[tuple[str, ModelLayout, IntArray]]:
        """``(model, layout, its rows not late)`` for each configured model in ``models``, in
        config order; each one's late rows are added to ``late_counts``. One stable sort
        groups the rows of every model."""
        codes, names = text_codes(models)
        index = np.array([self.model_index.get(name, -1) for name in names] + [-1])
        model_of = index[codes]  # a null model's code -1 takes the last entry: no model
        known = model_of >= 0
        n = len(self.layouts)
        late_per_model = np.bincount(model_of[late & known], minlength=n).tolist()
        kept = np.flatnonzero(~late & known)
        rows = kept[np.argsort(model_of[kept], kind="stable")]
        bounds = np.searchsorted(model_of[rows], np.arange(n + 1)).tolist()
        layouts = list(self.layouts.items())
        out = []
        for m in sorted({i for i in index.tolist() if i >= 0}):
            model, layout = layouts[m]
            late_counts.add(model, late_per_model[m])
            out.append((model, layout, rows[bounds[m] : bounds[m + 1]]))
        return out

    def _horizon(self, watermark: IntArray) -> IntArray:
        """Per event: windows ending at or before this are closed when it arrives."""
        return np.maximum(watermark - self.allowed_lateness_ms, self.passed_through)

    def _covers(self, batch: EventBatch) -> None:
        """Take the batch's offsets into the range counted since the last hand-over."""
        low, high = int(batch.offset.min()), int(batch.offset.max()) + 1
        self.first = low if self.first is None else min(self.first, low)
        self.end = max(self.end, high)

    def _pass(self) -> None:
        """After a batch: windows the watermark minus the allowed lateness has passed take no
        more events."""
        current = self.watermarks.current()
        if current is not None:
            self.passed_through = max(self.passed_through, current - self.allowed_lateness_ms)

    def _count_pairs(self, pairs: Pairs, watermark: IntArray) -> None:
        """Add joined pairs to the performance of their windows, each judged late or not by the
        watermark in force when the event completing it arrived."""
        joined = pairs.batch
        self.error_values.add_pairs(joined, self.layouts)
        windows = self.grid.index(joined.event_time_ms)
        late = self.grid.start(windows + 1) <= self._horizon(watermark[pairs.trigger])
        parts = [
            (model, rows)
            for model, layout, rows in self._by_model(joined.model, late, self.late_labels)
            if len(rows) and layout.performance_size
        ]
        self._count(joined, parts, windows, labeled=True)

    def _count(
        self,
        batch: EventBatch,
        parts: list[tuple[str, IntArray]],
        windows: IntArray,
        *,
        labeled: bool = False,
    ) -> None:
        """Count the ``(model, rows)`` of a batch into their windows (``windows``: each row's
        window number on the grid), every model at once; ``labeled`` pairs add performance
        only."""
        if not parts:
            return
        rows = np.concatenate([rows for _, rows in parts])
        model_of = np.repeat(
            np.array([self.model_index[model] for model, _ in parts], dtype=np.int64),
            [len(rows) for _, rows in parts],
        )
        counted = _Counted(
            rows,
            model_of,
            windows[rows],
            *_version_codes(batch.model_version, rows),
        )
        groups = _Groups(self._memberships(batch, counted), self.layouts)
        groups.add_performance(self._performance(batch, parts))
        if labeled:
            counts = np.zeros(int(groups.base[-1]), dtype=np.int64)
        else:
            counts = groups.counts(self.model_set.positions(batch, rows, model_of))
            self._detect(batch, counted)
        self.counted.add(
            groups.keys,
            np.zeros_like(groups.events) if labeled else groups.events,
            groups.base,
            counts,
            groups.perf_base,
            groups.performance,
        )

    def _memberships(
        self, batch: EventBatch, counted: _Counted
    ) -> list[tuple[IntArray, list[tuple[WindowKey, int, int]]]]:
        """Per membership (overall, then one per segment field): each counted row's group (-1
        when it has no value for the field), and the key, window start and end of each
        group."""
        rows, model_of, windows, version_codes, version_names = counted
        owner = np.full(len(batch), -1, dtype=np.int64)
        if self.segment_fields:
            owner[rows] = model_of
        models = list(self.layouts)
        segments: list[tuple[IntArray, list[list[str]]]] = [
            (np.zeros(len(rows), dtype=np.int64), [[""]] * len(models))
        ]
        for f in self.segment_fields:
            column = batch.segments.get(f)
            if column is not None:
                owners = [self.caps.segment_values[(m, f)] for m in models]
                codes, names = codes_by_owner(owners, column, owner)
                segments.append((codes[rows], [[f"{f}={n}" for n in of_m] for of_m in names]))
        first = int(windows.min())
        used_windows, window_index = _compact(windows - first)
        window_starts = self.grid.start(used_windows + first).tolist()
        window_ends = self.grid.start(used_windows + first + 1).tolist()
        n_versions = len(version_names)
        base = (model_of * len(used_windows) + window_index) * n_versions + version_codes
        out = []
        for segment_codes, segment_names in segments:
            width = max(len(names) for names in segment_names)
            group = np.where(segment_codes >= 0, base * width + segment_codes, -1)
            present = group >= 0
            used, local = _compact(group if present.all() else group[present])
            found = np.full(len(rows), -1, dtype=np.int64)
            found[present] = local
            keys = []
            for g in used.tolist():
                rest, segment = divmod(g, width)
                rest, version = divmod(rest, n_versions)
                model, window = divmod(rest, len(used_windows))
                key = WindowKey(
                    models[model], version_names[version], segment_names[model][segment]
                )
                keys.append((key, window_starts[window], window_ends[window]))
            out.append((found, keys))
        return out

    def _performance(
        self, batch: EventBatch, parts: list[tuple[str, IntArray]]
    ) -> tuple[IntArray, IntArray, IntArray]:
        """Every model's additions to the performance accumulators: (position among the rows
        of all ``parts``, slot, weight)."""
        found = [(np.zeros(0, dtype=np.int64),) * 3]
        offset = 0
        for model, rows in parts:
            perf = self.layouts[model].performance_contributions(batch, rows)
            if perf is not None:
                positions, slots, weights = perf
                found.append((positions + offset, slots, weights))
            offset += len(rows)
        positions, slots, weights = (np.concatenate(column) for column in zip(*found, strict=True))
        return positions, slots, weights

    def _detect(self, batch: EventBatch, counted: _Counted) -> None:
        """Buffer the counted rows' prediction scores for their model version's detectors, fed
        when windows close; the rows of every (model, version, window) are found by one
        sort."""
        if not self.score_values.streams or not isinstance(batch.prediction, np.ndarray):
            return
        rows, model_of, windows, version_codes, version_names = counted
        scores = batch.prediction[rows]
        keep = self.scored[model_of] & ~np.isnan(scores)
        if not keep.all():
            rows, model_of, scores = rows[keep], model_of[keep], scores[keep]
            windows, version_codes = windows[keep], version_codes[keep]
        if not len(rows):
            return
        first = int(windows.min())
        span = int(windows.max()) - first + 1
        group = (model_of * len(version_names) + version_codes) * span + (windows - first)
        order = np.argsort(group, kind="stable")
        group = group[order]
        runs = np.flatnonzero(np.diff(group)) + 1
        heads = group[np.concatenate([[0], runs])]
        model_version, window = np.divmod(heads, span)
        model, version = np.divmod(model_version, len(version_names))
        models = list(self.layouts)
        rows = rows[order]
        self.score_values.add_runs(
            [
                (models[m], version_names[v], start)
                for m, v, start in zip(
                    model.tolist(),
                    version.tolist(),
                    self.grid.start(window + first).tolist(),
                    strict=True,
                )
            ],
            [0, *runs.tolist(), len(rows)],
            batch.event_time_ms[rows],
            pa.array(batch.partition[rows] * _OFFSETS + batch.offset[rows]),
            {"score": scores[order]},
        )


class _Counted(NamedTuple):
    """The rows of a batch being counted, in model order: each one's model (an index into the
    layouts), window number and version code, and the version names."""

    rows: IntArray
    model_of: IntArray
    windows: IntArray
    version_codes: IntArray
    version_names: list[str]


class _Groups:
    """The windows one batch adds to, every model's: their keys and events, and where each
    one's slot counts (``base[i]`` on) and performance (``perf_base[i]`` on) sit in two flat
    vectors."""

    def __init__(
        self,
        memberships: list[tuple[IntArray, list[tuple[WindowKey, int, int]]]],
        layouts: Mapping[str, ModelLayout],
    ) -> None:
        self.keys = [key for _, keys in memberships for key in keys]
        self.rows = []  # per membership: each row's group among all (-1: none)
        events, first = [], 0
        for group, keys in memberships:
            present = group >= 0
            events.append(np.bincount(group[present], minlength=len(keys)))
            self.rows.append(np.where(present, group + first, -1))
            first += len(keys)
        self.events: IntArray = np.concatenate(events)
        sizes = [
            (layouts[key.model].size, layouts[key.model].performance_size)
            for key, _, _ in self.keys
        ]
        self.base = _starts([size for size, _ in sizes])
        self.perf_base = _starts([size for _, size in sizes])
        self.performance = np.zeros(int(self.perf_base[-1]), dtype=np.int64)

    def add_performance(self, perf: tuple[IntArray, IntArray, IntArray]) -> None:
        """Add performance contributions: (position among the rows, slot, weight)."""
        positions, slots, weights = perf
        for group in self.rows:
            owner = group[positions]
            keep = owner >= 0
            np.add.at(self.performance, self.perf_base[owner[keep]] + slots[keep], weights[keep])

    def counts(self, positions: list[tuple[IntArray | None, IntArray]]) -> IntArray:
        """The flat vector of every group's slot counts, from where each row counts per subject
        (``ModelSet.positions``): one ``np.bincount`` for the codes of several subjects, every
        model and group (a pass over the vector per :data:`_CODES_PER_PASS` codes, not per
        subject)."""
        base = self.base
        starts = [np.where(group >= 0, base[group], -1) for group in self.rows]
        everyone = [bool((group >= 0).all()) for group in self.rows]
        counts = np.zeros(int(base[-1]), dtype=np.int64)
        codes: list[IntArray] = []
        pending = 0
        for which, position in positions:
            for start, all_in in zip(starts, everyone, strict=True):
                mine = start if which is None else start[which]
                if all_in:
                    codes.append(mine + position)
                else:
                    keep = mine >= 0
                    codes.append(mine[keep] + position[keep])
                pending += len(codes[-1])
            if pending >= _CODES_PER_PASS:
                counts += np.bincount(np.concatenate(codes), minlength=len(counts))
                codes, pending = [], 0
        if codes:
            counts += np.bincount(np.concatenate(codes), minlength=len(counts))
        return counts


def _version_codes(versions: pa.Array, rows: IntArray) -> tuple[IntArray, list[str]]:
    """The version code of each of ``rows`` and the versions' names (a missing version is
    ``""``), from the codes of the whole column (coded once per batch).

    >>> codes, names = _version_codes(pa.array(["v2", None, "v1"]), np.array([2, 1]))
    >>> codes.tolist(), names
    ([1, 2], ['v2', 'v1', ''])
    """
    codes, names = text_codes(versions)
    codes = codes[rows]
    missing = codes < 0
    if missing.any():
        if "" not in names:
            names.append("")
        codes = np.where(missing, names.index(""), codes)
    return codes, names


def _starts(sizes: list[int]) -> IntArray:
    """Where each of consecutive blocks of these sizes starts, then their total."""
    return np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])


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


def _numeric_prediction(layout: ModelLayout) -> bool:
    prediction = layout.by_name.get(PREDICTION_SUBJECT)
    return prediction is not None and prediction.baseline.kind == "numeric"
