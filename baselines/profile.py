"""One reference column binned once: its layout, per-row slots and summaries of any row subset.

Binning happens once per column on all rows; a segment's reference then only counts the slots
of its rows, so every segment shares the overall bins.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from baselines.binning import (
    CategoricalLayout,
    FloatArray,
    IntArray,
    Layout,
    NumericLayout,
    categorical_layout,
    numeric_edges,
    slot_counts,
    value_frequencies,
)
from baselines.errors import BaselineError
from baselines.values import (
    SUMMARY_QUANTILES,
    CategoricalSummary,
    FeatureBaseline,
    NumericSummary,
    Summary,
)
from detectors.quantiles import sorted_quantiles

BoolArray = npt.NDArray[np.bool_]

#: Most frequent values listed in a categorical summary.
TOP_VALUES = 10


def numeric_summary(values: FloatArray) -> NumericSummary:
    """Count, missing (NaN), range, mean, population std and quantiles of numeric values.

    Examples
    --------
    >>> summary = numeric_summary(np.array([1.0, 2.0, 3.0, np.nan]))
    >>> summary.count, summary.missing, summary.mean, round(summary.std, 4)
    (3, 1, 2.0, 0.8165)
    >>> summary.quantiles["p50"], summary.quantiles["p99"]
    (2.0, 2.98)
    """
    missing = int(np.count_nonzero(np.isnan(values)))
    present = np.sort(values)[: values.size - missing]  # NaN sorts last
    if present.size == 0:
        return NumericSummary(0, missing, None, None, None, None, {})
    quantiles = sorted_quantiles(present, list(SUMMARY_QUANTILES.values()))
    return NumericSummary(
        count=int(present.size),
        missing=missing,
        min=float(present[0]),
        max=float(present[-1]),
        mean=float(present.mean()),
        std=float(present.std()),
        quantiles={
            name: float(value) for name, value in zip(SUMMARY_QUANTILES, quantiles, strict=True)
        },
    )


def categorical_summary(strings: pa.Array) -> CategoricalSummary:
    """Count, missing (null), distinct values and the most frequent ones of category strings.

    Examples
    --------
    >>> categorical_summary(pa.array(["a", "b", "a", None]))
    CategoricalSummary(count=3, missing=1, distinct=2, top=(('a', 2), ('b', 1)))
    """
    values, counts = value_frequencies(strings)
    top = tuple(
        (value, int(count))
        for value, count in zip(values[:TOP_VALUES], counts[:TOP_VALUES], strict=True)
    )
    return CategoricalSummary(
        count=int(counts.sum()), missing=strings.null_count, distinct=len(values), top=top
    )


@dataclass(frozen=True)
class BinnedColumn:
    """A reference column with its frozen layout and the slot of every row.

    ``values`` are float64 (NaN = missing) for numeric layouts and category strings (null =
    missing) for categorical ones.
    """

    name: str
    layout: Layout
    values: FloatArray | pa.Array
    slots: IntArray

    def reference(self, rows: BoolArray | None = None) -> FeatureBaseline:
        """The reference of all rows, or of the rows where ``rows`` is true."""
        slots = self.slots if rows is None else self.slots[rows]
        summary: Summary
        if isinstance(self.values, pa.Array):
            strings = self.values if rows is None else self.values.filter(pa.array(rows))
            summary = categorical_summary(strings)
        else:
            summary = numeric_summary(self.values if rows is None else self.values[rows])
        counts = slot_counts(slots, self.layout.n_slots)
        return FeatureBaseline(self.name, self.layout, tuple(counts.tolist()), summary)


def rebin(column: BinnedColumn, layout: Layout) -> BinnedColumn:
    """The same reference values counted into another frozen layout of the same kind.

    >>> column = bin_numeric("x", np.array([1.0, 2.0, 3.0]), bins=2)
    >>> rebin(column, NumericLayout((0.0, 2.5))).slots.tolist()
    [1, 1, 2]
    """
    if layout.kind != column.layout.kind:
        raise BaselineError(
            f"column '{column.name}' is {column.layout.kind} here but {layout.kind} in the "
            "baseline whose bins were asked for; give both baselines the same column kinds "
            "(--categorical)"
        )
    return BinnedColumn(column.name, layout, column.values, layout.slots(column.values))


def bin_numeric(name: str, values: FloatArray, bins: int) -> BinnedColumn:
    """Bin float64 values (NaN = missing; at least one value must be present).

    Examples
    --------
    >>> column = bin_numeric("x", np.array([1.0, 2.0, np.nan]), bins=10)
    >>> column.layout.edges, column.slots.tolist()
    ((1.0, 1.5, 2.0), [1, 2, 4])
    """
    present = values[~np.isnan(values)]
    layout = NumericLayout(tuple(numeric_edges(present, bins).tolist()))
    return BinnedColumn(name, layout, values, layout.slots(values))


def bin_categorical(
    name: str, strings: pa.Array, top_k: int, max_known_values: int
) -> BinnedColumn:
    """Bin category strings (null = missing; at least one value must be present).

    Examples
    --------
    >>> column = bin_categorical("c", pa.array(["b", "a", "b", None]), 1, 10)
    >>> column.layout.vocabulary, column.layout.known_other, column.slots.tolist()
    (('b',), ('a',), [0, 1, 0, 3])
    """
    values, _ = value_frequencies(strings)
    layout: CategoricalLayout = categorical_layout(values, top_k, max_known_values)
    return BinnedColumn(name, layout, strings, layout.slots(strings))
