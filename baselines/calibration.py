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

from baselines.threads import map_columns
from baselines.values import Calibration, FeatureBaseline
from detectors.statistics import DISTRIBUTION_STATISTICS
from detectors.thresholds import NullSummary, summarize_nulls


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

    Each subject draws from its own generator, spawned from ``seed`` in the order given, so the
    result is deterministic however many threads calibrate the subjects side by side (numpy's
    draws and arithmetic release the GIL). ``on_subject`` is called after each subject
    (progress reporting).

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
    generators = np.random.SeedSequence(seed).spawn(len(subjects))

    def null_summaries(
        job: tuple[tuple[str, FeatureBaseline], np.random.SeedSequence],
    ) -> dict[str, tuple[NullSummary, ...]]:
        (_, feature), seeds = job
        rng = np.random.default_rng(seeds)
        return _null_summaries(feature, rng, window_sizes, replicates, epsilon)

    jobs = zip(subjects, generators, strict=True)
    for (subject, _), summaries in zip(subjects, map_columns(null_summaries, jobs), strict=True):
        for name, at_sizes in summaries.items():
            statistics[name][subject] = at_sizes
        on_subject()
    return Calibration(
        window_sizes=tuple(window_sizes),
        replicates=replicates,
        seed=seed,
        epsilon=epsilon,
        statistics={name: by_subject for name, by_subject in statistics.items() if by_subject},
    )


def _null_summaries(
    feature: FeatureBaseline,
    rng: np.random.Generator,
    window_sizes: Sequence[int],
    replicates: int,
    epsilon: float,
) -> dict[str, tuple[NullSummary, ...]]:
    """Per statistic, the null summary at each window size of one subject."""
    concentration = feature.reference_distribution + 0.5
    samples = np.stack(
        [rng.multinomial(n, rng.dirichlet(concentration, size=replicates)) for n in window_sizes]
    )
    return {
        name: summarize_nulls(
            np.atleast_2d(sampled),
            window_sizes,
            higher_is_drift=DISTRIBUTION_STATISTICS[name].higher_is_drift,
        )
        for name, sampled in feature.score(samples, epsilon=epsilon).items()
    }
