"""Slot layouts: how a feature value becomes an integer slot index.

This is a contract shared by the baseline (reference counts) and the live windows (current
counts): both turn values into slots with the functions here, so their counts line up exactly.

Numeric feature with ``k`` bins and frozen edges ``e_0 < … < e_k`` (``e_0`` is the reference
minimum, ``e_k`` the reference maximum; a constant feature has edges ``[v, v]`` and one bin)::

    slot 0            below     value < e_0
    slot 1 + i        b_i       i = searchsorted(e[1:-1], value, "right"), e_0 <= value <= e_k
    slot k + 1        above     value > e_k
    slot k + 2        missing   NaN

Categorical feature with vocabulary ``v_0 … v_{K-1}`` (top-K reference values by frequency,
ties broken by value)::

    slot i            v_i
    slot K            other     seen in the reference, but not in the top K
    slot K + 1        unseen    never seen in the reference
    slot K + 2        missing   null

Categorical values are compared as text, canonicalised by :func:`to_category_strings`.

The statistics do not see the slots directly but :meth:`NumericLayout.distribution` /
:meth:`CategoricalLayout.distribution`: only the values comparable with the reference, each
excluded slot being reported by a check of its own, so that one cause raises one alert. Numeric
layouts drop ``below``, ``above`` (the ``out_of_range_rate`` check) and ``missing`` (the
``missing_rate`` check): k values. Categorical layouts drop ``unseen`` (the ``unseen_rate``
check) and ``missing``: K + 1 values, the vocabulary and ``other``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar, TypeVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from detectors.quantiles import sorted_quantiles

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
CountT = TypeVar("CountT", np.int64, np.float64)

#: Largest magnitude below which every integral float is written without a decimal point.
_EXACT_INTEGER_LIMIT = 2.0**53


def _count_at_or_below(boundaries: FloatArray, values: FloatArray) -> IntArray:
    """How many ``boundaries`` are ``<= value``, per value (right-sided ``searchsorted``).

    For the few boundaries of a binned feature, one branch-free comparison pass per boundary
    is about ten times faster than a binary search per value (no mispredicted branches).

    Examples
    --------
    >>> _count_at_or_below(np.array([0.0, 1.0]), np.array([-1.0, 0.0, 0.5, 2.0, np.nan])).tolist()
    [0, 1, 1, 2, 0]
    """
    if len(boundaries) > 64:
        found: IntArray = np.searchsorted(boundaries, values, side="right")
        found[np.isnan(values)] = 0
        return found
    count = np.zeros(len(values), dtype=np.uint8)
    at_or_above = np.empty(len(values), dtype=np.bool_)
    for boundary in boundaries:
        np.greater_equal(values, boundary, out=at_or_above)
        count += at_or_above.view(np.uint8)
    return count.astype(np.int64)


def numeric_edges(values: FloatArray, bins: int) -> FloatArray:
    """Frozen bin edges for the non-missing reference ``values``.

    Quantiles at ``bins`` equal probabilities, made strictly increasing (ties collapse into
    fewer bins). Low-cardinality features (at most ``bins`` distinct values) get one bin per
    value, with edges at the midpoints; a constant feature gets ``[v, v]`` (one bin).

    Examples
    --------
    >>> numeric_edges(np.arange(11.0), 5).tolist()
    [0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
    >>> numeric_edges(np.array([0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 3.0]), 2).tolist()
    [0.0, 3.0]
    >>> numeric_edges(np.array([1.0, 2.0, 2.0, 4.0]), 10).tolist()
    [1.0, 1.5, 3.0, 4.0]
    >>> numeric_edges(np.array([7.0, 7.0]), 10).tolist()
    [7.0, 7.0]
    >>> numeric_edges(np.array([1e6, np.nextafter(1e6, 0)]), 10).tolist()
    [999999.9999999999, 1000000.0]
    """
    if values.size == 0:
        raise ValueError("numeric_edges needs at least one value")
    ordered = np.sort(values)
    starts = np.flatnonzero(ordered[1:] != ordered[:-1]) + 1
    if starts.size < bins:  # at most ``bins`` distinct values
        distinct = ordered[np.concatenate([[0], starts])]
        midpoints = (distinct[:-1] + distinct[1:]) / 2.0
        low_cardinality: FloatArray = np.concatenate([distinct[:1], midpoints, distinct[-1:]])
        # two values one float apart have no midpoint strictly between them: they share a bin
        return low_cardinality if distinct.size == 1 else np.unique(low_cardinality)
    edges: FloatArray = np.unique(sorted_quantiles(ordered, np.linspace(0.0, 1.0, bins + 1)))
    return edges


def to_category_strings(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Canonical text of categorical values, the form compared everywhere.

    Strings stay as they are, booleans become ``"true"``/``"false"``, integers and integral
    floats are written without decimals, other floats in their shortest round-trip form.
    Nulls (and NaN) become null. Dictionary arrays are decoded first.

    Examples
    --------
    >>> to_category_strings(pa.array([19.0, 2.5, None, float("nan")])).to_pylist()
    ['19', '2.5', None, None]
    >>> to_category_strings(pa.array([True, False])).to_pylist()
    ['true', 'false']
    >>> to_category_strings(pa.array([19, -3])).to_pylist()
    ['19', '-3']
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    kind = values.type
    if pa.types.is_dictionary(kind):
        return to_category_strings(values.dictionary_decode())
    if pa.types.is_null(kind):
        return pa.nulls(len(values), pa.string())
    if pa.types.is_decimal(kind):
        return to_category_strings(values.cast(pa.float64()))
    if pa.types.is_floating(kind):
        return _float_strings(values)
    if (
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_string_view(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_integer(kind)
    ):
        return values.cast(pa.string())
    raise TypeError(f"cannot use values of type {kind} as categories")


def _float_strings(values: pa.Array) -> pa.Array:
    """Floats as category text: integral values as integers, NaN as null."""
    wide = values.cast(pa.float64())
    integral = pc.and_(pc.equal(pc.floor(wide), wide), pc.less(pc.abs(wide), _EXACT_INTEGER_LIMIT))
    as_integers = pc.if_else(integral, wide, None).cast(pa.int64()).cast(pa.string())
    text = pc.if_else(integral, as_integers, values.cast(pa.string()))
    return pc.if_else(pc.is_nan(wide), pa.scalar(None, pa.string()), text)


def value_frequencies(strings: pa.Array) -> tuple[list[str], IntArray]:
    """Distinct non-null values and their counts, most frequent first, ties by value.

    Examples
    --------
    >>> values, counts = value_frequencies(pa.array(["b", "a", "b", None, "c", "a"]))
    >>> values, counts.tolist()
    (['a', 'b', 'c'], [2, 2, 1])
    """
    frequencies = pc.value_counts(pc.drop_null(strings))
    table = pa.table({"value": frequencies.field("values"), "count": frequencies.field("counts")})
    ordered = table.sort_by([("count", "descending"), ("value", "ascending")])
    counts: IntArray = ordered.column("count").to_numpy().astype(np.int64)
    return ordered.column("value").to_pylist(), counts


def slot_counts(slots: IntArray, n_slots: int) -> IntArray:
    """Number of values in each slot.

    Examples
    --------
    >>> slot_counts(np.array([0, 2, 2]), 4).tolist()
    [1, 0, 2, 0]
    """
    counts: IntArray = np.bincount(slots, minlength=n_slots).astype(np.int64)
    return counts


@dataclass(frozen=True)
class NumericLayout:
    """Slots of a numeric feature: ``[below, b_0 … b_{k-1}, above, missing]``."""

    edges: tuple[float, ...]

    kind: ClassVar[str] = "numeric"

    @cached_property
    def edge_array(self) -> FloatArray:
        """The edges as a float64 array."""
        return np.asarray(self.edges, dtype=np.float64)

    @property
    def n_bins(self) -> int:
        """Number of bins ``k`` between the edges."""
        return len(self.edges) - 1

    @property
    def n_slots(self) -> int:
        """``k + 3``: the bins plus below, above and missing."""
        return self.n_bins + 3

    @property
    def below_slot(self) -> int:
        """Slot of values below the reference minimum."""
        return 0

    @property
    def above_slot(self) -> int:
        """Slot of values above the reference maximum."""
        return self.n_bins + 1

    @property
    def missing_slot(self) -> int:
        """Slot of missing values (NaN)."""
        return self.n_bins + 2

    @property
    def out_of_range_slots(self) -> tuple[int, int]:
        """The ``below`` and ``above`` slots."""
        return (self.below_slot, self.above_slot)

    @cached_property
    def centers(self) -> FloatArray:
        """Midpoint of each bin (a constant feature has one bin centred on its value).

        Examples
        --------
        >>> NumericLayout((0.0, 1.0, 3.0)).centers.tolist()
        [0.5, 2.0]
        """
        edges = self.edge_array
        centers: FloatArray = (edges[:-1] + edges[1:]) / 2.0
        return centers

    def slots(self, values: FloatArray) -> IntArray:
        """Slot index of each float64 value (NaN is missing).

        Examples
        --------
        >>> NumericLayout((0.0, 1.0, 3.0)).slots(np.array([-1, 0, 1, 3, 4, np.nan])).tolist()
        [0, 1, 2, 2, 3, 4]
        """
        slots = _count_at_or_below(self.boundaries, values)
        slots[np.isnan(values)] = self.missing_slot
        return slots

    @cached_property
    def boundaries(self) -> FloatArray:
        """``[e_0 … e_{k-1}, next float above e_k]``: one right-sided search gives every slot.

        Below ``e_0`` lands on 0, ``[e_i, e_{i+1})`` on ``i + 1``, ``e_k`` itself on ``k`` (the
        last bin is closed), above ``e_k`` on ``k + 1`` and NaN (sorted last) is fixed up after.
        """
        edges = self.edge_array
        return np.append(edges[:-1], np.nextafter(edges[-1], np.inf))

    def distribution(self, counts: npt.NDArray[CountT]) -> npt.NDArray[CountT]:
        """The ``k`` bin counts the statistics see: ``below``, ``above`` and ``missing`` are
        dropped (their rates are checks of their own). Broadcasts over leading axes.

        Examples
        --------
        >>> NumericLayout((0.0, 1.0, 3.0)).distribution(np.array([1, 2, 3, 4, 5])).tolist()
        [2, 3]
        """
        return counts[..., 1 : self.n_bins + 1].copy()


@dataclass(frozen=True)
class CategoricalLayout:
    """Slots of a categorical feature: ``[v_0 … v_{K-1}, other, unseen, missing]``.

    ``known_other`` holds the reference values outside the vocabulary (capped at build time;
    ``truncated`` records that the cap dropped some, which then count as unseen).
    """

    vocabulary: tuple[str, ...]
    known_other: tuple[str, ...] = ()
    truncated: bool = False

    kind: ClassVar[str] = "categorical"

    @cached_property
    def _lookup(self) -> pa.Array:
        """Vocabulary followed by the other known values, for one ``index_in`` pass."""
        return pa.array(self.vocabulary + self.known_other, pa.string())

    @property
    def n_slots(self) -> int:
        """``K + 3``: the vocabulary plus other, unseen and missing."""
        return len(self.vocabulary) + 3

    @property
    def other_slot(self) -> int:
        """Slot of reference values outside the top K."""
        return len(self.vocabulary)

    @property
    def unseen_slot(self) -> int:
        """Slot of values never seen in the reference."""
        return len(self.vocabulary) + 1

    @property
    def missing_slot(self) -> int:
        """Slot of missing values (null)."""
        return len(self.vocabulary) + 2

    def slots(self, values: pa.Array) -> IntArray:
        """Slot index of each value of a string array (from :func:`to_category_strings`).

        Examples
        --------
        >>> layout = CategoricalLayout(("a", "b"), known_other=("c",))
        >>> layout.slots(pa.array(["b", "c", "zz", None, "a", ""])).tolist()
        [1, 2, 3, 4, 0, 3]

        A dictionary array of strings is binned once per dictionary entry:

        >>> layout.slots(pa.array(["b", None, "zz", "b"]).dictionary_encode()).tolist()
        [1, 4, 3, 1]
        """
        if pa.types.is_dictionary(values.type):
            by_entry = np.append(self.slots(values.dictionary), self.missing_slot)
            entries = pc.fill_null(values.indices, len(values.dictionary))
            found: IntArray = by_entry[entries.to_numpy(zero_copy_only=False)]
            return found
        positions = pc.fill_null(pc.index_in(values, value_set=self._lookup), -1)
        index = positions.to_numpy(zero_copy_only=False).astype(np.int64)
        slots: IntArray = np.where(index < 0, self.unseen_slot, np.minimum(index, self.other_slot))
        slots[pc.is_null(values).to_numpy(zero_copy_only=False)] = self.missing_slot
        return slots

    def distribution(self, counts: npt.NDArray[CountT]) -> npt.NDArray[CountT]:
        """The ``K + 1`` counts the statistics see, vocabulary and ``other``: ``unseen`` and
        ``missing`` are dropped (their rates are checks of their own). Broadcasts over leading
        axes.

        Examples
        --------
        >>> CategoricalLayout(("a", "b")).distribution(np.array([1, 2, 3, 4, 5])).tolist()
        [1, 2, 3]
        """
        return counts[..., : self.unseen_slot].copy()


def categorical_layout(values: list[str], top_k: int, max_known_values: int) -> CategoricalLayout:
    """Layout from reference values ordered most frequent first (see :func:`value_frequencies`).

    Examples
    --------
    >>> layout = categorical_layout(["a", "b", "c", "d"], top_k=2, max_known_values=1)
    >>> layout.vocabulary, layout.known_other, layout.truncated
    (('a', 'b'), ('c',), True)
    """
    others = values[top_k:]
    return CategoricalLayout(
        vocabulary=tuple(values[:top_k]),
        known_other=tuple(others[:max_known_values]),
        truncated=len(others) > max_known_values,
    )


Layout = NumericLayout | CategoricalLayout
