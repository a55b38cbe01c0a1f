"""What one counter counted since its last hand-over: every window's events, slot counts and
performance in flat vectors, added to in place by one scatter per batch.

A batch's windows come as :class:`~monitor.window.windower.WindowCounter` counts them: their
keys, and their counts back to back in a flat vector (``base[i]`` on). Windows seen before are
found by key; the batch's vector is then added to theirs with one index per slot (the windows of
a batch are distinct, so no slot is added to twice). Nothing is made per window until the hand-
over asks for them (:meth:`OpenCounts.windows`), however many batches a window spans.
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Sequence
from typing import Generic, TypeVar

import numpy as np

from monitor.batches import IntArray

Key = TypeVar("Key", bound=Hashable)
"""What a window is about (a ``WindowKey``)."""


class _Blocks:
    """Blocks of varying sizes (a window's slots) in one vector, grown by doubling."""

    def __init__(self) -> None:
        self.base = np.zeros(1, dtype=np.int64)  # where each block starts, then the end of all
        self.values = np.zeros(0, dtype=np.int64)

    def extend(self, sizes: IntArray) -> None:
        """Add empty blocks of ``sizes`` after the others."""
        ends = self.base[-1] + np.cumsum(sizes, dtype=np.int64)
        self.base = np.concatenate([self.base, ends])
        needed = int(self.base[-1])
        if needed > len(self.values):
            grown = np.zeros(max(needed, 2 * len(self.values)), dtype=np.int64)
            grown[: len(self.values)] = self.values
            self.values = grown

    def add(self, blocks: IntArray, base: IntArray, values: IntArray) -> None:
        """Add ``values`` (block ``i`` from ``base[i]`` to ``base[i + 1]``) to ``blocks``."""
        sizes = np.diff(base)
        target = np.repeat(self.base[blocks] - base[:-1], sizes) + np.arange(base[-1])
        self.values[target] += values

    def blocks(self) -> list[IntArray]:
        """Every block, as views of the vector."""
        base = self.base.tolist()
        return [self.values[a:b] for a, b in itertools.pairwise(base)]


class OpenCounts(Generic[Key]):
    """The windows one counter counted since its last hand-over.

    >>> key, none = ("m", "v1", ""), np.zeros(3, dtype=np.int64)  # no performance
    >>> open_counts: OpenCounts[tuple[str, str, str]] = OpenCounts()
    >>> open_counts.add([(key, 0, 10)], np.array([2]), np.array([0, 2]), np.array([1, 1]),
    ...                 none[:2], none[:0])
    >>> open_counts.add([(key, 10, 20), (key, 0, 10)], np.array([1, 1]), np.array([0, 2, 4]),
    ...                 np.array([0, 1, 3, 0]), none, none[:0])
    >>> [(w[1], w[3], w[4].tolist()) for w in open_counts.windows()]  # start, events, counts
    [(0, 3, [4, 1]), (10, 1, [0, 1])]
    """

    def __init__(self) -> None:
        self.index: dict[tuple[Key, int], int] = {}
        self.bounds: list[tuple[Key, int, int]] = []
        self.events = np.zeros(0, dtype=np.int64)
        self.counts = _Blocks()
        self.performance = _Blocks()

    def __len__(self) -> int:
        return len(self.bounds)

    def add(
        self,
        bounds: Sequence[tuple[Key, int, int]],
        events: IntArray,
        base: IntArray,
        counts: IntArray,
        perf_base: IntArray,
        performance: IntArray,
    ) -> None:
        """Add a batch's windows: ``bounds``, their ``events``, their slot counts
        (``counts[base[i]:base[i + 1]]`` for window ``i``) and performance (by ``perf_base``)."""
        if not bounds:
            return
        index = self.index
        at = np.fromiter(
            (index.get((key, start), -1) for key, start, _ in bounds), np.int64, len(bounds)
        )
        new = np.flatnonzero(at < 0)
        if len(new):
            first = len(self.bounds)
            at[new] = np.arange(first, first + len(new))
            for n, i in enumerate(new.tolist(), start=first):
                key, start, _ = bounds[i]
                index[(key, start)] = n
                self.bounds.append(bounds[i])
            self.events = np.concatenate([self.events, np.zeros(len(new), dtype=np.int64)])
            self.counts.extend(np.diff(base)[new])
            self.performance.extend(np.diff(perf_base)[new])
        self.events[at] += events
        self.counts.add(at, base, counts)
        if perf_base[-1]:
            self.performance.add(at, perf_base, performance)

    def windows(self) -> list[tuple[Key, int, int, int, IntArray, IntArray]]:
        """Every window counted as (key, start, end, events, slot counts, performance), in
        report order (start, then key); the counts are views of this object's vectors, so add
        nothing after."""
        bounds = self.bounds
        order = sorted(range(len(bounds)), key=lambda i: (bounds[i][1], bounds[i][0]))
        events, counts, performance = (
            self.events.tolist(),
            self.counts.blocks(),
            self.performance.blocks(),
        )
        return [(*bounds[i], events[i], counts[i], performance[i]) for i in order]
