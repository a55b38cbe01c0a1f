"""Per-partition event-time watermarks, evaluated per event with whole-batch numpy operations.

The watermark after an event is the minimum, over the partitions that have delivered events,
of the largest event time seen on that partition. An event is *late* when its window ended at
or before that watermark minus the allowed lateness. Because lateness is decided per event in
arrival order (not per batch), the same input gives the same late events whatever the batch
size.
"""

from __future__ import annotations

import numpy as np

from monitor.types import IntArray

_NONE = np.iinfo(np.int64).min


class Watermarks:
    """Largest event time seen per source partition.

    >>> w = Watermarks()
    >>> w.advance(np.array([5, 9, 7]), np.array([0, 0, 1])).tolist()
    [5, 9, 7]
    >>> w.current()
    7
    """

    def __init__(self, seen: dict[int, int] | None = None) -> None:
        self.seen: dict[int, int] = dict(seen or {})

    def advance(self, event_time_ms: IntArray, partition: IntArray) -> IntArray:
        """Watermark in force at each event (itself included); updates the per-partition maxima."""
        n = len(event_time_ms)
        if n == 0:
            return np.empty(0, dtype=np.int64)
        partitions = sorted(set(np.unique(partition).tolist()) | set(self.seen))
        result = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
        for p in partitions:
            running = np.full(n, _NONE, dtype=np.int64)
            mine = partition == p
            running[mine] = event_time_ms[mine]
            running[0] = max(running[0], self.seen.get(p, _NONE))
            np.maximum.accumulate(running, out=running)
            self.seen[p] = int(running[-1])
            # a partition that has delivered nothing yet does not hold the others back
            np.minimum(result, np.where(running == _NONE, result, running), out=result)
        return result

    def current(self) -> int | None:
        """The watermark now: the slowest partition's largest event time, or None before data."""
        return min(self.seen.values()) if self.seen else None

    def forget(self, partitions: set[int]) -> None:
        """Stop waiting for partitions this process no longer owns (revoked or idle)."""
        for p in partitions:
            self.seen.pop(p, None)
