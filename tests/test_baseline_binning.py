"""Slot layouts: frozen edges, vocabularies, slot indices and the distributions statistics see."""

from __future__ import annotations

import bisect
import math

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from baselines.binning import (
    CategoricalLayout,
    NumericLayout,
    categorical_layout,
    numeric_edges,
    slot_counts,
    to_category_strings,
    value_frequencies,
)

finite_floats = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


def expected_numeric_slot(value: float, edges: list[float]) -> int:
    """The slot layout of ``baselines.binning`` written out for one value."""
    k = len(edges) - 1
    if math.isnan(value):
        return k + 2
    if value < edges[0]:
        return 0
    if value > edges[-1]:
        return k + 1
    return 1 + bisect.bisect_right(edges[1:-1], value)


def test_quantile_edges_span_the_reference_from_min_to_max() -> None:
    """Edges are quantiles at equal probabilities, from the minimum to the maximum."""
    values = np.arange(101.0)
    assert numeric_edges(values, 4).tolist() == [0.0, 25.0, 50.0, 75.0, 100.0]


def test_quantile_ties_collapse_into_fewer_bins() -> None:
    """Tied quantiles give one edge, never an empty duplicate bin."""
    values = np.array([0.0] * 80 + list(np.arange(1.0, 21.0)))
    edges = numeric_edges(values, 10)
    assert edges.tolist() == pytest.approx([0.0, 0.2, 10.1, 20.0])
    assert np.all(np.diff(edges) > 0)


def test_low_cardinality_feature_gets_one_bin_per_value() -> None:
    """With at most ``bins`` distinct values, edges sit at the midpoints between them."""
    values = np.array([3.0, 1.0, 2.0, 2.0, 3.0])
    edges = numeric_edges(values, 10)
    assert edges.tolist() == [1.0, 1.5, 2.5, 3.0]
    layout = NumericLayout(tuple(edges.tolist()))
    assert layout.slots(np.array([1.0, 2.0, 3.0])).tolist() == [1, 2, 3]


def test_constant_feature_has_one_bin() -> None:
    """A constant reference gets edges [v, v]: one bin, anything else is out of range."""
    edges = numeric_edges(np.array([7.0, 7.0, 7.0]), 10)
    layout = NumericLayout(tuple(edges.tolist()))
    assert layout.edges == (7.0, 7.0)
    assert layout.n_slots == 4
    assert layout.slots(np.array([7.0, 6.0, 8.0, np.nan])).tolist() == [1, 0, 2, 3]
    assert layout.centers.tolist() == [7.0]


def test_numeric_slots_of_a_hand_example() -> None:
    """Values land in below / b_i (left-closed, last bin closed) / above / missing."""
    layout = NumericLayout((0.0, 10.0, 20.0, 30.0))
    values = np.array([-0.5, 0.0, 5.0, 10.0, 19.9, 20.0, 30.0, 30.5, np.nan, -np.inf, np.inf])
    assert layout.slots(values).tolist() == [0, 1, 1, 2, 2, 3, 3, 4, 5, 0, 4]
    assert (layout.below_slot, layout.above_slot, layout.missing_slot) == (0, 4, 5)
    assert layout.out_of_range_slots == (0, 4)


def test_numeric_centers_are_bin_midpoints() -> None:
    """Each bin's center is the midpoint of its edges."""
    assert NumericLayout((0.0, 10.0, 30.0)).centers.tolist() == [5.0, 20.0]


def test_numeric_distribution_drops_out_of_range_and_missing() -> None:
    """``below``, ``above`` and missing are not part of the distribution (they have checks of
    their own)."""
    layout = NumericLayout((0.0, 1.0, 2.0, 3.0))
    counts = np.array([[1, 10, 20, 30, 2, 99], [0, 1, 1, 1, 0, 0]])
    assert layout.distribution(counts).tolist() == [[10, 20, 30], [1, 1, 1]]


@given(
    reference=st.lists(finite_floats, min_size=1, max_size=60),
    values=st.lists(st.one_of(finite_floats, st.just(math.nan)), max_size=60),
    bins=st.integers(min_value=1, max_value=12),
)
def test_numeric_slots_match_the_documented_layout(
    reference: list[float], values: list[float], bins: int
) -> None:
    """Vectorised slots equal the per-value definition, edges increase, counts add up."""
    edges = numeric_edges(np.array(reference), bins)
    constant = len(edges) == 2 and edges[0] == edges[1]
    assert constant or np.all(np.diff(edges) > 0)
    assert edges[0] == min(reference) and edges[-1] == max(reference)
    assert len(edges) - 1 <= bins
    layout = NumericLayout(tuple(edges.tolist()))
    slots = layout.slots(np.array(values, dtype=np.float64))
    assert slots.tolist() == [expected_numeric_slot(v, list(layout.edges)) for v in values]
    counts = slot_counts(slots, layout.n_slots)
    assert counts.sum() == len(values)
    edges = list(layout.edges)
    assert layout.distribution(counts).sum() == sum(edges[0] <= v <= edges[-1] for v in values)


@given(reference=st.lists(finite_floats, min_size=1, max_size=60))
def test_reference_values_are_never_out_of_range(reference: list[float]) -> None:
    """Binning the reference itself leaves the below, above and missing slots empty."""
    layout = NumericLayout(tuple(numeric_edges(np.array(reference), 10).tolist()))
    counts = slot_counts(layout.slots(np.array(reference)), layout.n_slots)
    assert counts[[layout.below_slot, layout.above_slot, layout.missing_slot]].tolist() == [0, 0, 0]


def test_vocabulary_is_ordered_by_frequency_then_value() -> None:
    """Frequency ties are broken by value, so the vocabulary is deterministic."""
    values, counts = value_frequencies(pa.array(["b", "c", "a", "c", "b", None, "d"]))
    assert (values, counts.tolist()) == (["b", "c", "a", "d"], [2, 2, 1, 1])
    layout = categorical_layout(values, top_k=3, max_known_values=10)
    assert layout.vocabulary == ("b", "c", "a")
    assert layout.known_other == ("d",)
    assert not layout.truncated


def test_categorical_slots_tell_other_from_unseen_and_missing() -> None:
    """A known value outside the top K is ``other``; a never-seen one is ``unseen``."""
    layout = CategoricalLayout(("US", "FR"), known_other=("DE",))
    values = pa.array(["FR", "DE", "United States", None, "US", ""])
    assert layout.slots(values).tolist() == [1, 2, 3, 4, 0, 3]
    assert (layout.other_slot, layout.unseen_slot, layout.missing_slot) == (2, 3, 4)


def test_empty_string_is_a_category_not_a_missing_value() -> None:
    """``""`` seen in the reference gets its own vocabulary slot."""
    values, _ = value_frequencies(pa.array(["", "", "x", None]))
    layout = categorical_layout(values, top_k=5, max_known_values=10)
    assert layout.vocabulary == ("", "x")
    assert layout.slots(pa.array(["", None])).tolist() == [0, 4]


def test_known_values_beyond_the_cap_count_as_unseen() -> None:
    """``max_known_values`` truncates the other list and records it."""
    layout = categorical_layout(["a", "b", "c", "d"], top_k=1, max_known_values=2)
    assert (layout.known_other, layout.truncated) == (("b", "c"), True)
    assert layout.slots(pa.array(["c", "d"])).tolist() == [1, 2]


def test_categorical_distribution_drops_unseen_and_missing() -> None:
    """The statistics see vocabulary and other counts (K + 1 values); unseen and missing have
    checks of their own."""
    layout = CategoricalLayout(("a", "b"))
    assert layout.distribution(np.array([[5, 4, 3, 2, 1]])).tolist() == [[5, 4, 3]]


@given(
    reference=st.lists(st.text(max_size=3), min_size=1, max_size=40),
    values=st.lists(st.one_of(st.none(), st.text(max_size=3)), max_size=40),
    top_k=st.integers(min_value=1, max_value=5),
)
def test_categorical_slots_match_the_documented_layout(
    reference: list[str], values: list[str | None], top_k: int
) -> None:
    """Each value's slot follows from vocabulary, known others and nulls; counts add up."""
    ordered, _ = value_frequencies(pa.array(reference, pa.string()))
    layout = categorical_layout(ordered, top_k=top_k, max_known_values=100)
    slots = layout.slots(pa.array(values, pa.string()))

    def expected(value: str | None) -> int:
        if value is None:
            return layout.missing_slot
        if value in layout.vocabulary:
            return layout.vocabulary.index(value)
        return layout.other_slot if value in layout.known_other else layout.unseen_slot

    assert slots.tolist() == [expected(v) for v in values]
    assert slot_counts(slots, layout.n_slots).sum() == len(values)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (pa.array(["a", "", None]), ["a", "", None]),
        (pa.array([True, False, None]), ["true", "false", None]),
        (pa.array([19, -3, None], pa.int32()), ["19", "-3", None]),
        (pa.array([19.0, 2.5, -0.0, float("nan"), None]), ["19", "2.5", "0", None, None]),
        (pa.array([0.1, 1e20, float("inf")]), ["0.1", "1e+20", "inf"]),
        (pa.array(["x", "y", "x"]).dictionary_encode(), ["x", "y", "x"]),
        (pa.array(["a"], pa.large_string()), ["a"]),
        (pa.nulls(2), [None, None]),
    ],
)
def test_category_strings_are_canonical(values: pa.Array, expected: list[str | None]) -> None:
    """Booleans, integers and floats have one text form; nulls and NaN stay missing."""
    result = to_category_strings(values)
    assert result.type == pa.string()
    assert result.to_pylist() == expected


def test_integers_and_integral_floats_are_the_same_category() -> None:
    """``19`` from one source and ``19.0`` from another compare equal (training vs serving)."""
    as_int = to_category_strings(pa.array([19, 123456789012]))
    as_float = to_category_strings(pa.array([19.0, 123456789012.0]))
    assert as_int.to_pylist() == as_float.to_pylist() == ["19", "123456789012"]


def test_unsupported_types_are_not_categories() -> None:
    """Lists cannot be turned into categories."""
    with pytest.raises(TypeError, match="cannot use values of type list"):
        to_category_strings(pa.array([[1], [2]]))
