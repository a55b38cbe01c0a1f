"""Specification of quantiles read from sorted data: the same floats as ``numpy.quantile``."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from detectors.quantiles import sorted_quantiles

finite = st.floats(-1e300, 1e300, allow_nan=False, allow_infinity=False)
levels = st.lists(st.floats(0.0, 1.0), min_size=1, max_size=12)


@given(arrays(np.float64, st.integers(1, 300), elements=finite), levels)
def test_sorted_quantiles_equal_numpy_quantile_bit_for_bit(values: np.ndarray, at: list[float]):
    """For any finite data and levels in [0, 1], the result is numpy.quantile's, exactly."""
    expected = np.quantile(values, at)
    assert sorted_quantiles(np.sort(values), at).tobytes() == expected.tobytes()


@given(arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 50)), elements=finite))
def test_sorted_quantiles_work_row_by_row_along_the_last_axis(values: np.ndarray):
    """Each row of a 2-D input gets numpy.quantile of that row, the levels' axis last."""
    at = [0.0, 0.05, 0.5, 0.95, 1.0]
    expected = np.quantile(values, at, axis=-1).T
    assert sorted_quantiles(np.sort(values, axis=-1), at).tobytes() == expected.tobytes()


def test_sorted_quantiles_of_one_value_are_that_value():
    """A single value is every quantile of itself."""
    assert sorted_quantiles(np.array([2.5]), [0.0, 0.3, 1.0]).tolist() == [2.5, 2.5, 2.5]


def test_sorted_quantiles_refuse_empty_data():
    """No values means no quantiles, said plainly."""
    with pytest.raises(ValueError, match="at least one value"):
        sorted_quantiles(np.array([]), [0.5])


def test_sorted_quantiles_keep_the_sign_of_zero_as_numpy_does():
    """A lone -0.0 gives -0.0 at every level, the value numpy's interpolation produces."""
    values = np.array([-0.0])
    expected = np.quantile(values, [0.0, 1.0])
    assert sorted_quantiles(values, [0.0, 1.0]).tobytes() == expected.tobytes()
    assert np.signbit(expected).all()
