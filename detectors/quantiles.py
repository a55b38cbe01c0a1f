"""Quantiles of data that is already sorted, identical to ``numpy.quantile`` but without its sort.

``numpy.quantile`` partitions its input on every call. Code that sorts a column once and needs
several of its quantiles (bin edges, summaries, null thresholds) reads them here instead: an
index lookup and numpy's own linear interpolation, so the results are the same floats.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]


def sorted_quantiles(ordered: FloatArray, levels: ArrayLike) -> FloatArray:
    """``numpy.quantile(ordered, levels, axis=-1)`` (method "linear") of ``ordered``, sorted
    ascending along its last axis and free of NaN; the levels' axis comes last.

    Examples
    --------
    >>> ordered = np.array([1.0, 2.0, 4.0, 8.0])
    >>> sorted_quantiles(ordered, [0.0, 0.5, 0.9, 1.0]).tolist()
    [1.0, 3.0, 6.800000000000001, 8.0]
    >>> np.quantile(ordered, [0.0, 0.5, 0.9, 1.0]).tolist()
    [1.0, 3.0, 6.800000000000001, 8.0]
    >>> sorted_quantiles(np.array([[0.0, 1.0], [2.0, 6.0]]), [0.25]).tolist()
    [[0.25], [3.0]]
    """
    size = ordered.shape[-1]
    if size == 0:
        raise ValueError("sorted_quantiles needs at least one value")
    virtual = (size - 1) * np.asarray(levels, dtype=np.float64)
    # numpy's _get_indexes and _get_gamma: at the top, both neighbours are index -1 (the last
    # value) and the weight is measured from that -1, which decides the sign of a zero result
    top = virtual >= size - 1
    lower = np.where(top, -1.0, np.floor(virtual))
    gamma = virtual - lower
    below = lower.astype(np.intp)
    above = np.where(top, -1, below + 1)
    a, b = ordered[..., below], ordered[..., above]
    # numpy's _lerp, step for step: a + (b - a)·γ, taken from b's side when γ ≥ 1/2
    difference = b - a
    result: FloatArray = a + difference * gamma
    np.subtract(b, difference * (1 - gamma), out=result, where=gamma >= 0.5)
    return result
