"""The rules every benchmark here follows when it compares two or more sides.

Standard library only (the peers' workers and the confluent worker import it from other venvs).

- Every side gets the same number of attempts, taken in rounds whose order rotates
  (``rotation``), so a spell of a slower machine falls on every side alike.
- Every side is summarised by the same statistic (``spread``: the median, with min and max), and
  ratios and verdicts are taken on the medians.
- A figure made of several steps (a build and a replay) is summed per attempt first, then the
  median of the sums is taken (``per_attempt_totals``), never a sum of different attempts' steps.
- Growth of a resident set is a least-squares slope over many samples (``fitted_growth``), never
  one sample against another.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TypeVar

Side = TypeVar("Side")


def rotation(sides: Sequence[Side], attempts: int) -> Iterator[tuple[int, Side]]:
    """``(attempt, side)`` pairs: every side once per round, each round starting one side later.

    >>> [f"{n}{s}" for n, s in rotation("abc", 3)]
    ['1a', '1b', '1c', '2b', '2c', '2a', '3c', '3a', '3b']
    """
    for attempt in range(1, attempts + 1):
        start = (attempt - 1) % len(sides)
        for side in (*sides[start:], *sides[:start]):
            yield attempt, side


def spread(values: Sequence[float]) -> dict[str, float]:
    """Median, min and max of one side's attempts (and how many there were).

    >>> spread([3.0, 1.0, 2.0, 10.0])
    {'median': 2.5, 'min': 1.0, 'max': 10.0, 'attempts': 4}
    """
    return {
        "median": float(statistics.median(values)),
        "min": float(min(values)),
        "max": float(max(values)),
        "attempts": len(values),
    }


def per_attempt_totals(steps: Sequence[Mapping[int, float]]) -> dict[int, float]:
    """Each attempt's sum over the steps, for the attempts every step finished.

    >>> per_attempt_totals([{1: 0.2, 2: 0.3, 3: 0.25}, {1: 1.0, 3: 0.9}])
    {1: 1.2, 3: 1.15}
    """
    common = set.intersection(*(set(step) for step in steps))
    return {attempt: sum(step[attempt] for step in steps) for attempt in sorted(common)}


def fitted_growth(xs: Sequence[float], ys: Sequence[float]) -> dict[str, float]:
    """Least-squares line through ``(x, y)``: slope, the fitted y at the first and last x, and
    the growth between them as a fraction of the first.

    >>> fit = fitted_growth([0, 1, 2, 3], [100, 98, 104, 102])
    >>> round(fit["slope"], 3), round(fit["growth"], 4), fit["samples"]
    (1.2, 0.0363, 4)
    """
    slope, intercept = statistics.linear_regression(xs, ys)
    first, last = intercept + slope * xs[0], intercept + slope * xs[-1]
    return {
        "slope": slope,
        "fitted_first": first,
        "fitted_last": last,
        "growth": (last - first) / first,
        "samples": len(xs),
    }


def timed_rounds(sides: Mapping[str, Callable[[], float]], attempts: int) -> dict[str, list[float]]:
    """Each side's seconds over ``attempts`` rotating rounds; a side returns its own seconds (so
    it can prepare outside its clock).

    >>> times = timed_rounds({"a": lambda: 1.0, "b": lambda: 2.0}, 3)
    >>> times
    {'a': [1.0, 1.0, 1.0], 'b': [2.0, 2.0, 2.0]}
    """
    out: dict[str, list[float]] = {name: [] for name in sides}
    for _, name in rotation(list(sides), attempts):
        out[name].append(sides[name]())
    return out
