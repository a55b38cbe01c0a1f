"""Null calibration: how much each statistic moves between the reference and samples of itself.

For a subject (a feature or the prediction) and a window size n, ``replicates`` windows of n rows
are drawn from distributions the reference is consistent with and every applicable statistic is
computed between the reference and each sample. Each replicate first draws bin probabilities
from ``Dirichlet(reference counts + 1/2)`` (Jeffreys prior) and then n rows from them
(multinomial), all in one vectorised draw: the reference is itself a finite sample, and sampling
windows from its exact proportions would understate the null spread and raise false alarms on a
small reference. The spread of those
values is what the statistic shows when nothing drifted, so thresholds can be set at a chosen
false-alarm rate instead of guessed (see :mod:`detectors.thresholds`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from baselines.schema import Calibration, FeatureBaseline
from detectors.statistics import DISTRIBUTION_STATISTICS
from detectors.thresholds import NullSummary, summarize_null


def calibrate(
    subjects: Sequence[tuple[str, FeatureBaseline]],
    *,
    window_sizes: Sequence[int],
    replicates: int,
    seed: int,
    epsilon: float,
    on_subject: Callable[[], None] = lambda: None,
) -> Calibration:
    """Null summaries of every applicable statistic per ``(subject name, reference)`` and size.

    One ``numpy.random.default_rng(seed)`` draws the samples in the order given, so the result
    is deterministic. ``on_subject`` is called after each subject (progress reporting).

    Examples
    --------
    >>> from baselines.binning import NumericLayout
    >>> from baselines.profile import numeric_summary
    >>> feature = FeatureBaseline(
    ...     "x", NumericLayout((0.0, 1.0, 2.0)), (0, 50, 50, 0, 0), numeric_summary(np.arange(2.0))
    ... )
    >>> calibration = calibrate([("x", feature)], window_sizes=[100], replicates=200, seed=0,
    ...                         epsilon=1e-4)
    >>> summary = calibration.summaries("psi", "x")[0]
    >>> summary.n, 0.0 < summary.quantiles[0.05] < 0.1
    (100, True)
    """
    statistics: dict[str, dict[str, tuple[NullSummary, ...]]] = {
        name: {} for name in DISTRIBUTION_STATISTICS
    }
    rng = np.random.default_rng(seed)
    for subject, feature in subjects:
        concentration = feature.reference_distribution + 0.5
        samples = np.stack(
            [
                rng.multinomial(n, rng.dirichlet(concentration, size=replicates))
                for n in window_sizes
            ]
        )
        for name, sampled in feature.score(samples, epsilon=epsilon).items():
            higher_is_drift = DISTRIBUTION_STATISTICS[name].higher_is_drift
            statistics[name][subject] = tuple(
                summarize_null(at_size, n, higher_is_drift=higher_is_drift)
                for at_size, n in zip(np.atleast_2d(sampled), window_sizes, strict=True)
            )
        on_subject()
    return Calibration(
        window_sizes=tuple(window_sizes),
        replicates=replicates,
        seed=seed,
        epsilon=epsilon,
        statistics={name: by_subject for name, by_subject in statistics.items() if by_subject},
    )
