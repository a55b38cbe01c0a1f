"""What a stream may make grow, capped: model versions and segment values with windows of their own.

Per model at most ``max_versions`` model versions and, per segment field, ``max_segment_values``
values get windows of their own, first come, with those the configuration (or the baseline's
per-segment references) names first; the events of the others are counted under ``__other__``
and in ``capped`` (by cap: ``model_versions``, ``segment_values``). :meth:`Caps.fold` rewrites a
batch before it is joined and counted, so every stage-1 counter of a process sees the same
values.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from monitor.batches import EventBatch, IntArray
from monitor.columns import text_codes
from monitor.window.slot_layout import ModelLayout

OTHER = "__other__"


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
        codes, names = codes_by_owner([self], values, np.zeros(len(values), dtype=np.int64))
        return codes, names[0]

    def learn(self, arrived: list[str]) -> None:
        """Give the first of the values not yet known (in order of arrival) the room left."""
        room = self.cap - len(self.known)
        for value in arrived:
            if room <= 0:
                return
            if value not in self.known:
                self.known[value] = len(self.known)
                room -= 1


def codes_by_owner(
    owners: list[SegmentValues], values: pa.Array, owner: IntArray
) -> tuple[IntArray, list[list[str]]]:
    """``SegmentValues.codes`` of each row under its own owner (``owner[i]`` indexes
    ``owners``; -1 for a row of none), for all owners in one pass over the rows; and each
    owner's code names.

    >>> owners, values = [SegmentValues(1), SegmentValues(2)], pa.array(["x", "y", "y", "x"])
    >>> codes, names = codes_by_owner(owners, values, np.array([0, 0, 1, 1]))
    >>> codes.tolist(), names
    ([0, 1, 0, 1], [['x', '__other__'], ['y', 'x', '__other__']])
    """
    text, distinct = text_codes(values)
    codes = _known_codes(owners, distinct)[owner, text]  # text -1 (null) reads the last column
    other = np.array([len(of_owner.known) for of_owner in owners], dtype=np.int64)
    room = np.array([of_owner.cap > len(of_owner.known) for of_owner in owners], dtype=np.bool_)
    new = (owner >= 0) & (text >= 0) & room[owner] & (codes == other[owner])
    if new.any():  # only until every owner's values are known or its room is taken
        width = len(distinct)
        seen, first = np.unique(owner[new] * width + text[new], return_index=True)
        arrival = seen[np.argsort(first, kind="stable")].tolist()  # (owner, value) by first row
        by_owner: dict[int, list[str]] = {}
        for pair in arrival:
            by_owner.setdefault(pair // width, []).append(distinct[pair % width])
        for i, arrived in by_owner.items():
            owners[i].learn(arrived)
        codes = _known_codes(owners, distinct)[owner, text]
    names = [[*of_owner.known, OTHER] for of_owner in owners]
    codes[owner < 0] = -1
    return codes, names


def _known_codes(owners: list[SegmentValues], distinct: list[str]) -> IntArray:
    """Per owner, the code of each distinct value (``__other__``'s when unknown), then -1 for
    null."""
    table = np.full((len(owners), len(distinct) + 1), -1, dtype=np.int64)
    for i, of_owner in enumerate(owners):
        other = len(of_owner.known)
        table[i, : len(distinct)] = [of_owner.known.get(value, other) for value in distinct]
    return table


class Caps:
    """The kept versions and segment values of every model, and the events folded so far."""

    def __init__(
        self,
        layouts: Mapping[str, ModelLayout],
        *,
        segment_fields: tuple[str, ...] = (),
        max_segment_values: int = 20,
        max_versions: int = 20,
        preferred_versions: Mapping[str, tuple[str, ...]] | None = None,
    ) -> None:
        self.layouts = layouts
        self.segment_fields = segment_fields
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
        self.model_index = {model: i for i, model in enumerate(layouts)}

    def fold(self, batch: EventBatch) -> EventBatch:
        """``batch`` with each model's versions past ``max_versions`` and segment values past
        ``max_segment_values`` as ``__other__`` (the batch itself when none is), counted in
        ``capped`` (``model_versions``, ``segment_values``)."""
        if not len(batch):
            return batch
        capped = [("model_version", batch.model_version)]
        capped += [(f, batch.segments[f]) for f in self.segment_fields if f in batch.segments]
        owner = self._owner(batch.model)
        folded = {}
        for name, column in capped:
            codes, names = codes_by_owner(
                [
                    self.version_values[model]
                    if name == "model_version"
                    else self.segment_values[(model, name)]
                    for model in self.layouts
                ],
                column,
                owner,
            )
            last = np.array([len(of_model) - 1 for of_model in names], dtype=np.int64)
            other = (owner >= 0) & (codes == last[owner])
            count = int(np.count_nonzero(other))
            self.capped["model_versions" if name == "model_version" else "segment_values"] += count
            if count:
                folded[name] = pc.if_else(pa.array(other), OTHER, column)
        if not folded:
            return batch
        version = folded.pop("model_version", batch.model_version)
        return replace(batch, model_version=version, segments={**batch.segments, **folded})

    def _owner(self, models: pa.Array) -> IntArray:
        """Each row's model as an index into ``layouts`` (-1 for a model not configured)."""
        codes, names = text_codes(models)
        lookup = [self.model_index.get(name, -1) for name in names]
        return np.array([*lookup, -1], dtype=np.int64)[codes]


def _preferred(layout: ModelLayout, field_name: str) -> tuple[str, ...]:
    """Segment values the baseline has its own reference for get their own windows first."""
    prefix = f"{field_name}="
    return tuple(k[len(prefix) :] for k in layout.baseline.segments if k.startswith(prefix))
