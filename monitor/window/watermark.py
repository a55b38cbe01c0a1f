"""Per-partition event-time watermarks, evaluated per event with whole-batch numpy operations.

The watermark after an event is the minimum, over the partitions that take part, of the largest
event time seen on that partition. An event is *late* when its window ended at or before that
watermark minus the allowed lateness. Because lateness is decided per event in arrival order
(not per batch), the same input gives the same late events whatever the batch size.

Which partitions take part: every partition that has delivered events, plus partitions the
live daemon was assigned and that have not delivered yet (*held*: they hold the watermark back
until their first events arrive, so a partition fetched late does not find its events late),
minus partitions the daemon found *idle* (read up to their end with nothing new): an idle
partition does not stall closing, and takes part again with its next event. Partitions *away*
(in a restored state, but owned by another process for now) take no part either; their largest
event time is kept, and counts again once they are given back, as if they had never left.
"""

from __future__ import annotations

import numpy as np

from monitor.batches import IntArray

_NONE = -(1 << 62)  # "no event yet": far below any epoch, and safe to subtract a lateness from


class Watermarks:
    """Largest event time seen per source partition, and which partitions take part.

    >>> w = Watermarks()
    >>> w.advance(np.array([5, 9, 7]), np.array([0, 0, 1])).tolist()
    [5, 9, 7]
    >>> w.current()
    7
    >>> w.set_idle({1}); w.current()
    9
    """

    def __init__(self, seen: dict[int, int] | None = None) -> None:
        self.seen: dict[int, int] = dict(seen or {})
        self.held: set[int] = set()
        self.idle: set[int] = set()
        self.away: set[int] = set()

    def advance(self, event_time_ms: IntArray, partition: IntArray) -> IntArray:
        """Watermark in force at each event (itself included); updates the per-partition maxima."""
        if len(event_time_ms) == 0:
            return np.empty(0, dtype=np.int64)
        first = int(partition[0])
        one_partition = bool((partition == first).all())
        delivering = {first} if one_partition else set(np.unique(partition).tolist())
        self.idle -= delivering
        self.held -= delivering
        self.away -= delivering
        taking_part = (set(self.seen) | delivering) - self.idle - self.away
        if one_partition and taking_part == {first}:
            result = self._running_maximum(first, event_time_ms)
        else:
            result = self._slowest_partition(sorted(taking_part), event_time_ms, partition)
        if self.held:
            result[:] = _NONE
        return result

    def _running_maximum(self, partition: int, event_time_ms: IntArray) -> IntArray:
        """The watermark when one partition delivers every event and no other takes part."""
        running = np.maximum.accumulate(event_time_ms)
        np.maximum(running, self.seen.get(partition, _NONE), out=running)
        self.seen[partition] = int(running[-1])
        return running

    def _slowest_partition(
        self, taking_part: list[int], event_time_ms: IntArray, partition: IntArray
    ) -> IntArray:
        """The watermark at each event: the least, over ``taking_part``, of each partition's
        running maximum so far."""
        result = np.full(len(event_time_ms), np.iinfo(np.int64).max, dtype=np.int64)
        for p in taking_part:
            running = np.full(len(event_time_ms), _NONE, dtype=np.int64)
            mine = partition == p
            running[mine] = event_time_ms[mine]
            running[0] = max(running[0], self.seen.get(p, _NONE))
            np.maximum.accumulate(running, out=running)
            self.seen[p] = int(running[-1])
            # before its first event a partition that never delivered does not hold others back
            np.minimum(result, np.where(running == _NONE, result, running), out=result)
        return result

    def current(self) -> int | None:
        """The watermark now, or None while nothing has arrived or a held partition is empty."""
        present = {p: t for p, t in self.seen.items() if p not in self.away}
        if self.held or not present:
            return None
        active = [t for p, t in present.items() if p not in self.idle]
        return min(active) if active else max(present.values())

    def hold(self, partitions: set[int]) -> None:
        """Newly assigned partitions without events hold the watermark until they deliver;
        partitions back from away take part again with the largest time they had."""
        self.away -= partitions
        self.held |= partitions - set(self.seen)

    def set_idle(self, partitions: set[int]) -> None:
        """Partitions read to their end: they stop holding the watermark back until they deliver."""
        self.idle |= partitions
        self.held -= partitions

    def set_away(self, partitions: set[int]) -> None:
        """Partitions owned elsewhere for now, whose events up to some offset are counted here:
        no part in the watermark until :meth:`hold` gives them back, their largest time kept."""
        self.away |= partitions & set(self.seen)
        self.held -= partitions
        self.idle -= partitions

    def forget(self, partitions: set[int]) -> None:
        """Stop waiting for partitions this process no longer owns (revoked)."""
        for p in partitions:
            self.seen.pop(p, None)
        self.held -= partitions
        self.idle -= partitions
        self.away -= partitions
