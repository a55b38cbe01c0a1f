"""The slot layouts of every configured model, binning a batch of all their events at once.

A batch of many models is binned per subject name, not per model and subject: the numeric
subjects of one name (``f00`` of every model that has it) share one pass over the batch, each
event compared with the boundaries of its own model (a table of every model's boundaries, padded
with NaN, which no value is ``>=``). The slot found is the one :meth:`ModelLayout.slots` finds,
since both count the boundaries at or below the value. Categorical subjects are binned per model
(their vocabularies are looked up as text).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from baselines.binning import NumericLayout
from baselines.values import FeatureBaseline
from monitor.batches import EventBatch, IntArray
from monitor.window.slot_layout import ModelLayout, column


@dataclass(frozen=True)
class _NumericName:
    """One numeric subject name across models: per model, its boundaries (NaN-padded), the
    slot of missing values and the subject's offset in the model's count vector (-1: none)."""

    name: str
    feature: FeatureBaseline
    boundaries: np.ndarray
    missing: IntArray
    offset: IntArray


class ModelSet:
    """Bins the events of several models in one batch: see the module docstring."""

    def __init__(self, layouts: Sequence[ModelLayout]) -> None:
        self.layouts = tuple(layouts)
        numeric: dict[str, list[tuple[int, int, FeatureBaseline]]] = {}
        self.categorical: list[tuple[int, int, FeatureBaseline, str]] = []
        for m, layout in enumerate(self.layouts):
            for subject in layout.subjects:
                if isinstance(subject.baseline.layout, NumericLayout):
                    numeric.setdefault(subject.name, []).append(
                        (m, subject.offset, subject.baseline)
                    )
                else:
                    self.categorical.append((m, subject.offset, subject.baseline, subject.name))
        self.numeric = [
            _numeric_name(name, found, len(self.layouts)) for name, found in numeric.items()
        ]

    def positions(
        self, batch: EventBatch, rows: IntArray, model_of: IntArray
    ) -> list[tuple[IntArray | None, IntArray]]:
        """Where each of ``rows`` counts, per subject: ``(which of rows, or None for all of
        them; the position in its model's count vector)``.

        ``model_of`` holds each row's model (an index into the layouts) and must not decrease:
        the rows of one model are together.
        """
        out: list[tuple[IntArray | None, IntArray]] = []
        one = len(model_of) > 0 and model_of[0] == model_of[-1]  # one model: scalars suffice
        for numeric in self.numeric:
            offset = numeric.offset[model_of[:1] if one else model_of]
            has = offset >= 0
            if one and not has[0]:
                continue
            which = None if one or bool(has.all()) else np.flatnonzero(has)
            mine = model_of if which is None else model_of[which]
            values = column(
                batch, numeric.name, numeric.feature, rows if which is None else rows[which]
            )
            slot = _at_or_above(numeric.boundaries, values, mine)
            missing = np.isnan(values)
            slot[missing] = numeric.missing[mine[missing]]
            slot += offset if which is None else offset[which]
            out.append((which, slot))
        if self.categorical:
            starts = np.searchsorted(model_of, np.arange(len(self.layouts) + 1))
            for m, at, feature, name in self.categorical:
                lo, hi = int(starts[m]), int(starts[m + 1])
                if lo < hi:
                    which = None if hi - lo == len(rows) else np.arange(lo, hi)
                    out.append(
                        (which, at + feature.slots(column(batch, name, feature, rows[lo:hi])))
                    )
        return out


def _at_or_above(boundaries: np.ndarray, values: np.ndarray, model_of: IntArray) -> IntArray:
    """How many of its own model's ``boundaries`` (a row each, a column per model) each value
    is at or above; one comparison pass per row, as ``baselines.binning`` bins one model.
    ``model_of`` does not decrease (the rows of a model are together), so each row's
    boundaries are repeated per model rather than gathered per value."""
    if not len(values):
        return np.zeros(0, dtype=np.int64)
    one = int(model_of[0]) if model_of[0] == model_of[-1] else None
    runs = None if one is not None else np.bincount(model_of, minlength=boundaries.shape[1])
    count = np.zeros(len(values), dtype=np.uint8 if len(boundaries) < 256 else np.int64)
    at_or_above = np.empty(len(values), dtype=np.bool_)
    for boundary in boundaries:
        np.greater_equal(
            values, boundary[one] if runs is None else np.repeat(boundary, runs), out=at_or_above
        )
        np.add(count, at_or_above.view(np.uint8), out=count)
    return count.astype(np.int64)


def _numeric_name(
    name: str, found: list[tuple[int, int, FeatureBaseline]], n_models: int
) -> _NumericName:
    width = max(
        len(f.layout.boundaries) for _, _, f in found if isinstance(f.layout, NumericLayout)
    )
    boundaries = np.full((width, n_models), np.nan)
    missing = np.zeros(n_models, dtype=np.int64)
    offset = np.full(n_models, -1, dtype=np.int64)
    for m, at, feature in found:
        assert isinstance(feature.layout, NumericLayout)
        own = feature.layout.boundaries
        boundaries[: len(own), m] = own
        missing[m] = feature.layout.missing_slot
        offset[m] = at
    return _NumericName(name, found[0][2], boundaries, missing, offset)
