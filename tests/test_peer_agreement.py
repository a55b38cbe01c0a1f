"""Driftwarden's PSI and JS equal Evidently's PSI and NannyML's Jensen-Shannon on the same bins.

tests/fixtures/peer_agreement.json holds small seeded samples, the bins and counts each peer
built from them, and the peer's own result through its public API (regenerated with the peers
installed by benchmarks/peers/agreement.py). These tests need no peer: they recompute with
``detectors.statistics`` on the stored counts, and pin down the peers' binning and smoothing
rules, which differ from driftwarden's by design (see benchmarks/peers/README.md).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from detectors.statistics import DEFAULT_EPSILON, js_distance, psi
from tests.support.evidently import evidently_psi, evidently_zero_share

FIXTURE = json.loads(
    (Path(__file__).parent / "fixtures" / "peer_agreement.json").read_text(encoding="utf-8")
)
TOLERANCE = 1e-9
EVIDENTLY: list[dict[str, Any]] = FIXTURE["evidently_psi"]
NANNYML: list[dict[str, Any]] = FIXTURE["nannyml_js"]
EVIDENTLY_NUMERIC = [case for case in EVIDENTLY if case["kind"] == "numeric"]
NANNYML_CONTINUOUS = [case for case in NANNYML if case["kind"] == "continuous"]
NANNYML_LEFTOVER = [case for case in NANNYML if case["leftover_bin"]]
(SPARSE_TAIL,) = (case for case in EVIDENTLY if case["name"].startswith("sparse tail"))


def name(case: dict[str, Any]) -> str:
    return str(case["name"])


@pytest.mark.parametrize("case", EVIDENTLY, ids=name)
def test_psi_equals_evidentlys_psi_on_its_bins_and_smoothing(case: dict[str, Any]) -> None:
    """psi() on Evidently's counts, with the zero-share value Evidently used, equals its PSI."""
    epsilon = case["epsilon"] or DEFAULT_EPSILON
    ours = psi(case["reference_counts"], case["current_counts"], epsilon=epsilon)
    assert abs(ours - case["psi"]) <= TOLERANCE


@pytest.mark.parametrize("case", NANNYML, ids=name)
def test_js_distance_equals_nannymls_jensen_shannon_on_its_bins(case: dict[str, Any]) -> None:
    """js_distance() on NannyML's counts (leftover bin included) equals its JS distance."""
    ours = js_distance(case["reference_counts"], case["current_counts"])
    assert abs(ours - case["js"]) <= TOLERANCE


@pytest.mark.parametrize("case", EVIDENTLY, ids=name)
def test_evidently_replaces_zero_shares_by_1e4_unless_a_share_is_at_most_1e4(
    case: dict[str, Any],
) -> None:
    """The fixture's smoothing value follows Evidently's rule applied to its own counts."""
    ref = np.asarray(case["reference_counts"], dtype=float)
    cur = np.asarray(case["current_counts"], dtype=float)
    used = {evidently_zero_share(ref / ref.sum()), evidently_zero_share(cur / cur.sum())} - {None}
    assert used == ({case["epsilon"]} - {None})


def test_only_the_sparse_tail_case_smooths_with_something_else_than_our_default() -> None:
    """Every case but the sparse tail was smoothed with 1e-4, driftwarden's DEFAULT_EPSILON."""
    others = {case["epsilon"] for case in EVIDENTLY if case is not SPARSE_TAIL}
    assert others <= {None, DEFAULT_EPSILON}
    assert SPARSE_TAIL["epsilon"] == pytest.approx(1 / 10_001 / 1e6, rel=1e-12)


def test_default_epsilon_psi_is_far_below_evidentlys_on_a_sparse_tail() -> None:
    """A current share <= 1e-4 makes Evidently smooth zeros to share / 1e6: PSI 7.41 higher."""
    ours = psi(SPARSE_TAIL["reference_counts"], SPARSE_TAIL["current_counts"])
    assert round(SPARSE_TAIL["psi"] - ours, 2) == 7.41


@pytest.mark.parametrize("case", EVIDENTLY_NUMERIC, ids=name)
def test_evidently_bins_numeric_columns_by_sturges_on_reference_and_current(
    case: dict[str, Any],
) -> None:
    """Evidently's edges are np.histogram_bin_edges(reference + current, "sturges")."""
    pooled = np.concatenate([case["reference"], case["current"]])
    edges = np.histogram_bin_edges(pooled, bins="sturges")
    assert edges.tolist() == case["edges"]
    assert np.histogram(case["reference"], edges)[0].tolist() == case["reference_counts"]
    assert np.histogram(case["current"], edges)[0].tolist() == case["current_counts"]


@pytest.mark.parametrize("case", NANNYML_CONTINUOUS, ids=name)
def test_nannyml_bins_continuous_columns_by_doane_on_the_reference_alone(
    case: dict[str, Any],
) -> None:
    """NannyML's edges are np.histogram_bin_edges(reference, "doane")."""
    edges = np.histogram_bin_edges(case["reference"], bins="doane")
    assert edges.tolist() == case["edges"]
    bins = len(edges) - 1
    assert np.histogram(case["reference"], edges)[0].tolist() == case["reference_counts"][:bins]


@pytest.mark.parametrize("case", NANNYML_LEFTOVER, ids=name)
def test_nannyml_leftover_bin_holds_current_values_outside_the_reference_bins(
    case: dict[str, Any],
) -> None:
    """The extra bin has reference count 0 and counts the current values the bins miss."""
    current = np.asarray(case["current"])
    if case["kind"] == "continuous":
        outside = (current < case["edges"][0]) | (current > case["edges"][-1])
    else:
        outside = ~np.isin(current, case["categories"])
    assert case["reference_counts"][-1] == 0
    assert case["current_counts"][-1] == int(outside.sum())


def test_a_separate_leftover_bin_scores_out_of_range_mass_higher_than_folding_it() -> None:
    """Folding the leftover into the top bin (driftwarden's layout) gives a lower JS."""
    (case,) = (c for c in NANNYML_LEFTOVER if c["kind"] == "continuous")
    folded = np.asarray(case["current_counts"][:-1])
    folded[-1] += case["current_counts"][-1]
    ours = float(js_distance(case["reference_counts"][:-1], folded))
    assert round(case["js"], 4) == 0.3172
    assert round(ours, 4) == 0.2143


@given(
    st.integers(2, 12).flatmap(
        lambda k: st.tuples(
            st.lists(st.integers(0, 800), min_size=k, max_size=k),
            st.lists(st.integers(0, 800), min_size=k, max_size=k),
        )
    )
)
def test_default_psi_equals_evidentlys_rule_below_10000_events_per_side(
    counts: tuple[list[int], list[int]],
) -> None:
    """With fewer than 10,000 events a side every non-zero share exceeds 1e-4: same smoothing."""
    reference, current = (np.asarray(side, dtype=float) for side in counts)
    if reference.sum() == 0 or current.sum() == 0:
        return
    assert abs(float(psi(reference, current)) - evidently_psi(reference, current)) <= TOLERANCE
