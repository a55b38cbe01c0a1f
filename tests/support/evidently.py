"""Evidently's PSI rules written out in numpy, to compare driftwarden's PSI with (the tests
need no Evidently installed; ``tests/fixtures/peer_agreement.json`` pins its real results)."""

from __future__ import annotations

import numpy as np


def evidently_zero_share(shares: np.ndarray) -> float | None:
    """Evidently's replacement for zero shares on one side: 1e-4, or min share / 1e6 if <= 1e-4.

    >>> evidently_zero_share(np.array([0.5, 0.0, 0.5]))
    0.0001
    >>> evidently_zero_share(np.array([0.5, 0.5])) is None
    True
    """
    if np.all(shares > 0):
        return None
    smallest = float(shares[shares > 0].min())
    return smallest / 1e6 if smallest <= 1e-4 else 1e-4


def evidently_psi(reference: np.ndarray, current: np.ndarray) -> float:
    """Evidently's _psi on counts (shares, zero-share replacement, sum), written out in numpy.

    >>> round(evidently_psi(np.array([50.0, 50.0]), np.array([25.0, 75.0])), 4)
    0.2747
    """
    ref, cur = reference / reference.sum(), current / current.sum()
    ref = np.where(ref == 0, evidently_zero_share(ref) or 0.0, ref)
    cur = np.where(cur == 0, evidently_zero_share(cur) or 0.0, cur)
    return float(np.sum((ref - cur) * np.log(ref / cur)))
