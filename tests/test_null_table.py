"""Specification of stacked null summaries: the thresholds of many subjects, window sizes and
false-alarm rates at once equal, to the last bit, each computed alone."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.null_table import NullTable
from detectors.statistics import DISTRIBUTION_STATISTICS
from detectors.thresholds import (
    FALSE_ALARM_GRID,
    NullSummary,
    summarize_nulls,
    threshold_for_size,
)
from monitor.evaluate.calibrations import StackedCalibrations

STATISTICS = sorted(DISTRIBUTION_STATISTICS)
rates = st.one_of(
    st.sampled_from([*FALSE_ALARM_GRID, 0.01 / 21, 0.001 / 21, 0.9, 1e-6]),
    st.floats(1e-7, 0.99),
)


@st.composite
def subjects(draw: st.DrawFn) -> tuple[str, list[NullSummary]]:
    """A statistic and its null summaries at one to three window sizes: quantiles at some of
    the grid's rates or at rates of their own, a gamma or a point mass."""
    statistic = draw(st.sampled_from(STATISTICS))
    higher = DISTRIBUTION_STATISTICS[statistic].higher_is_drift
    sizes = draw(st.lists(st.integers(2, 20_000), min_size=1, max_size=3, unique=True))
    summaries = []
    for n in sizes:
        grid = draw(
            st.one_of(
                st.lists(st.sampled_from(FALSE_ALARM_GRID), min_size=1, max_size=9, unique=True),
                st.lists(st.floats(1e-4, 0.9), min_size=1, max_size=4, unique=True),
            )
        )
        values = draw(st.lists(st.floats(0.0, 2.0), min_size=len(grid), max_size=len(grid)))
        shape, scale = draw(
            st.one_of(
                st.just((0.0, 0.0)),
                st.tuples(st.floats(0.2, 20.0), st.floats(1e-4, 0.5)),
            )
        )
        summaries.append(NullSummary(n, dict(zip(grid, values, strict=True)), shape, scale, higher))
    return statistic, summaries


@settings(max_examples=60, deadline=None)
@given(
    st.lists(subjects(), min_size=1, max_size=6),
    st.lists(st.tuples(st.integers(0, 5), st.integers(1, 40_000), rates), min_size=1, max_size=40),
)
def test_stacked_thresholds_equal_each_threshold_for_size(
    table_subjects: list[tuple[str, list[NullSummary]]],
    asked: list[tuple[int, int, float]],
) -> None:
    """Every (subject, window size, rate) asked of the table at once gets the very float
    ``threshold_for_size`` gives for that subject's summaries alone."""
    table = NullTable.stack(
        [nulls for _, nulls in table_subjects],
        [DISTRIBUTION_STATISTICS[statistic].null_exponent for statistic, _ in table_subjects],
    )
    rows = [row % len(table_subjects) for row, _, _ in asked]
    found = table.thresholds(rows, [n for _, n, _ in asked], [rate for _, _, rate in asked])
    with np.errstate(all="ignore"):  # its log-log overflows at sizes it then leaves out
        expected = [
            threshold_for_size(table_subjects[row][1], n, rate, statistic=table_subjects[row][0])
            for row, (_, n, rate) in zip(rows, asked, strict=True)
        ]
    assert [_bits(value) for value in found.tolist()] == [_bits(value) for value in expected]


def _bits(value: float) -> str:
    """The float's exact bits (NaN equal to NaN)."""
    return "nan" if math.isnan(value) else value.hex()


def test_calibrated_thresholds_of_a_baseline_equal_each_one_alone() -> None:
    """Summaries as calibration writes them (PSI at 100 and 1,000 events, the KS p-value's
    at one size), asked at sizes around and between them and at corrected rates, give
    ``threshold_for_size``'s floats."""
    draws = np.random.default_rng(3).gamma(2.0, 0.01, (2, 1000))
    psi = list(summarize_nulls(draws, [100, 1000]))
    pvalue = list(summarize_nulls(draws[:1] * 10, [500], higher_is_drift=False))
    table = NullTable.stack([psi, pvalue], [1.0, 0.0])
    sizes = np.array([1, 60, 100, 316, 999, 1000, 5000])
    for rate in (0.01, 0.001, 0.01 / 21, 0.001 / 21):
        assert table.thresholds(0, sizes, rate).tolist() == [
            threshold_for_size(psi, int(n), rate) for n in sizes
        ]
        assert table.thresholds(1, sizes, rate).tolist() == [
            threshold_for_size(pvalue, int(n), rate, exponent=0.0) for n in sizes
        ]


def test_a_subject_without_null_summaries_has_no_statistical_threshold() -> None:
    """Row -1 (no calibration) gives NaN beside the others' thresholds."""
    table = NullTable.stack([[NullSummary(100, {0.01: 0.3}, 0.0, 0.0)]], [1.0])
    assert np.isnan(table.thresholds([-1, 0], 100, 0.01)).tolist() == [True, False]


def test_stacking_refuses_a_window_size_calibrated_twice() -> None:
    """Two summaries at one window size are refused when stacked, as threshold_for_size
    refuses them."""
    twice = [NullSummary(100, {0.01: 0.1}, 0.0, 0.0), NullSummary(100, {0.01: 0.2}, 0.0, 0.0)]
    with pytest.raises(ValueError, match="repeat a window size"):
        NullTable.stack([twice], [1.0])


def test_a_window_size_below_one_is_refused() -> None:
    """A window of no events has no threshold: the caller passes at least 1."""
    table = NullTable.stack([[NullSummary(100, {0.01: 0.3}, 0.0, 0.0)]], [1.0])
    with pytest.raises(ValueError, match="at least 1"):
        table.thresholds(0, 0, 0.01)


def test_stacked_calibrations_find_each_subject_of_each_calibration() -> None:
    """Rows are found by calibration, statistic and subject; a subject or statistic without
    summaries has row -1, and a calibration first seen when asked is stacked then."""
    null = [NullSummary(100, {0.01: 0.3}, 0.0, 0.0)]
    first = {"psi": {"x": null, "y": null}}
    stacked = StackedCalibrations([first])
    assert stacked.rows(first, "psi", ["y", "z", "x"]).tolist() == [1, -1, 0]
    assert stacked.rows(first, "ks", ["x"]).tolist() == [-1]
    later = {"psi": {"x": [NullSummary(100, {0.01: 0.5}, 0.0, 0.0)]}}
    row = stacked.rows(later, "psi", ["x"])
    assert row.tolist() == [2]
    assert stacked.table("psi").thresholds(row, 100, 0.01).tolist() == [0.5]
