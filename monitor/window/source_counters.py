"""Stage 1 of a process: one window counter per source partition.

Each source partition is counted by its own :class:`~monitor.window.windower.WindowCounter`, so
an event is late when its window ended at or before *its own partition's* watermark minus the
allowed lateness (for a pair: the partition whose record completed it), whatever other
partitions did; the result depends on each partition's order only, never on how polls of
several partitions interleaved. That is what lets several processes, each counting some of the
partitions, add up to one process counting all of them. A batch holding several partitions is
split by partition (its label pairs by the partition that completed them); the versions and
segment values with windows of their own are decided before, once for all partitions
(:class:`~monitor.window.caps.Caps`).

The watermark rules of the one-process daemon apply per partition: held (assigned, no event
yet), idle, away (in a restored state but owned elsewhere for now) and forgotten (revoked).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from monitor.batches import EventBatch
from monitor.columns import batch_rows
from monitor.join.label_join import Pairs
from monitor.window.windower import WindowCounter

NEVER = int(np.iinfo(np.int64).min)


class SourceCounters:
    """The window counters of every source partition seen or held, by partition id."""

    def __init__(self, new_counter: Callable[[], WindowCounter]) -> None:
        """``new_counter`` makes the counter of a partition seen or held for the first time
        (every partition's is alike: the process's caps, grid and detector streams)."""
        self.new_counter = new_counter
        self.counters: dict[int, WindowCounter] = {}
        self.closed_through = NEVER  # no counter takes events for windows closed downstream

    def counter(self, source: int) -> WindowCounter:
        """The counter of ``source``, made when first needed."""
        found = self.counters.get(source)
        if found is None:
            found = self.counters[source] = self.new_counter()
            found.passed_through = self.closed_through
        return found

    def add(self, batch: EventBatch, pairs: Pairs | None = None) -> None:
        """Count predictions (and the pairs they completed), each by its own partition."""
        for source, events, completed in _by_source(batch, pairs):
            self.counter(source).add(events, completed)

    def add_labels(self, labels: EventBatch, pairs: Pairs | None) -> None:
        """Count the pairs label events completed, each by the label's partition."""
        for source, events, completed in _by_source(labels, pairs):
            self.counter(source).add_labels(events, completed)

    def closed(self, closed_through: int) -> None:
        """Windows ending at or before ``closed_through`` were closed downstream: late for
        every counter, also one made later (a partition assigned or woken up)."""
        self.closed_through = max(self.closed_through, closed_through)
        for counter in self.counters.values():
            counter.passed_through = max(counter.passed_through, closed_through)

    def hold(self, sources: set[int]) -> None:
        """Newly assigned partitions hold windows back until they deliver."""
        for source in sources:
            self.counter(source).watermarks.hold({source})

    def set_idle(self, sources: set[int]) -> None:
        """Partitions read to their end: they stop holding windows back until they deliver."""
        for source in sources:
            self.counter(source).watermarks.set_idle({source})

    def set_away(self, sources: set[int]) -> None:
        """Partitions owned elsewhere for now: no part in closing until held again."""
        for source in sources & set(self.counters):
            self.counters[source].watermarks.set_away({source})

    def forget(self, sources: set[int]) -> None:
        """Partitions owned no more: their counters go (their counts were handed over)."""
        for source in sources:
            self.counters.pop(source, None)

    def seen(self) -> dict[int, int]:
        """The largest event time of every partition that has delivered one."""
        return {
            source: time
            for counter in self.counters.values()
            for source, time in counter.watermarks.seen.items()
        }


def _by_source(
    batch: EventBatch, pairs: Pairs | None
) -> Iterator[tuple[int, EventBatch, Pairs | None]]:
    """The batch per source partition, in partition order, each with the pairs its rows
    completed (their trigger rows renumbered within the part)."""
    partition = batch.partition
    if not len(partition):
        return
    first = int(partition[0])
    if bool((partition == first).all()):
        yield first, batch, pairs
        return
    for source in np.unique(partition).tolist():
        rows = np.flatnonzero(partition == source)
        completed = None
        if pairs is not None:
            mine = np.flatnonzero(np.isin(pairs.trigger, rows))
            trigger = np.searchsorted(rows, pairs.trigger[mine])
            completed = Pairs(batch_rows(pairs.batch, mine), trigger)
        yield source, batch_rows(batch, rows), completed
