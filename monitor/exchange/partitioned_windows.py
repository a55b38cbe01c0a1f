"""Stage 2's open windows per exchange partition it owns, fed the records read from them.

Each exchange partition carries every partial of the models whose key hashes to it and a mark of
every source partition after the partials it covers, so each is closed on its own marks: one
:class:`~monitor.exchange.open_windows.OpenWindows` per exchange partition, with its own
completeness, and a :class:`~monitor.exchange.ledger.PartialLedger` that counts each partial
once (a copy, read again after a restart, is skipped and counted in ``duplicates``). The
source partitions taking part are all partitions of the source topics
(:meth:`PartitionedWindows.set_sources`), so a partition whose stage-1 owner has not started
yet holds windows back.

Per partition it also keeps the first exchange offset of a partial that added to each window
still open: :meth:`PartitionedWindows.replay_from`, from where a process restoring the partition
reads the records again to rebuild the open windows (:meth:`PartitionedWindows.refill`), which
its snapshot leaves out (Kafka Streams' "source topic as changelog").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from monitor.exchange.ledger import PartialLedger
from monitor.exchange.open_windows import OpenWindows
from monitor.exchange.reader import Received
from monitor.exchange.records import Mark, Partial
from monitor.window.windower import WindowCounts


class PartitionedWindows:
    """The open windows of every exchange partition assigned here."""

    def __init__(self, new_windows: Callable[[], OpenWindows]) -> None:
        """``new_windows`` makes the (empty) open windows of a newly assigned partition."""
        self.new_windows = new_windows
        self.sources: set[int] = set()
        self.partitions: dict[int, OpenWindows] = {}
        self.ledgers: dict[int, PartialLedger] = {}
        self.first_offsets: dict[int, dict[int, int]] = {}
        """Per partition: window start → first offset of a partial that added to it."""
        self.duplicates: Counter[str] = Counter()

    def assign(self, partitions: Iterable[int]) -> None:
        """Exchange partitions now owned start with no open window (or a restored one)."""
        for e in partitions:
            windows = self.new_windows()
            windows.completeness.set_sources(self.sources)
            self.partitions[e] = windows
            self.ledgers[e] = PartialLedger()
            self.first_offsets[e] = {}

    def revoke(self, partitions: Iterable[int]) -> None:
        """Exchange partitions owned no more: their windows go with them."""
        for e in partitions:
            self.partitions.pop(e, None)
            self.ledgers.pop(e, None)
            self.first_offsets.pop(e, None)

    def set_sources(self, sources: set[int]) -> None:
        """Every source partition that exists: new ones hold windows until they report."""
        self.sources = set(sources)
        for windows in self.partitions.values():
            windows.receive((), self.sources, ())

    def receive(self, received: Sequence[Received]) -> list[WindowCounts]:
        """Take records of owned exchange partitions (in partition and offset order); the
        windows they complete, partition by partition, each partition's in report order.

        A partition's records are taken a run at a time, a run being partials followed by the
        marks after them (one commit cycle of one process), and windows close after each run:
        what is complete, and so which partial comes too late for its window, depends on the
        records' order only, never on how polls cut the partition."""
        closed = []
        runs: dict[int, tuple[list[Partial], list[Mark]]] = {}
        for item in received:
            e = item.partition
            if e not in self.partitions:
                continue
            record = item.record
            partials, marks = runs.setdefault(e, ([], []))
            if isinstance(record, Mark):
                marks.append(record)
                continue
            if marks:  # a partial after marks starts the next run
                closed += self._take(e, partials, marks)
                partials, marks = runs[e] = ([], [])
            if self.ledgers[e].admit(record):
                partials.append(record)
                self._note(e, item.offset, record)
            else:
                self.duplicates[record.model] += 1
        for e, (partials, marks) in sorted(runs.items()):
            closed += self._take(e, partials, marks)
        return closed

    def _take(self, e: int, partials: list[Partial], marks: list[Mark]) -> list[WindowCounts]:
        windows = self.partitions[e]
        windows.receive(partials, None, marks)
        closed = windows.close_ready()
        self._forget_closed(e)
        return closed

    def replay_from(self, e: int) -> int | None:
        """The first offset of partition ``e`` holding a partial that added to a window still
        open (None: no window is open)."""
        return min(self.first_offsets[e].values(), default=None)

    def refill(self, e: int, received: Iterable[Received]) -> None:
        """Rebuild the open windows of partition ``e`` (restored from a snapshot, which leaves
        them out) from its records read again from :meth:`replay_from` to the snapshot's
        offset. A fresh ledger tells copies from firsts, as the first reading did: any partial
        that added to a window still open is in that range, and its copies come after it."""
        ledger, windows = PartialLedger(), self.partitions[e]
        for item in received:  # one at a time: a partition's history may not fit in memory
            record = item.record
            if item.partition == e and isinstance(record, Partial) and ledger.admit(record):
                windows.refill(record)
                self._note(e, item.offset, record)
        windows.refilled()
        self._forget_closed(e)

    def _note(self, e: int, offset: int, partial: Partial) -> None:
        first = self.first_offsets[e]
        for start in {
            *(p.start_ms for p in partial.windows),
            *(r.start_ms for r in partial.values),
        }:
            first.setdefault(start, offset)

    def _forget_closed(self, e: int) -> None:
        """Drop the first offsets of windows closed by now."""
        first = self.first_offsets[e]
        if not first:
            return
        windows = self.partitions[e]
        starts = np.fromiter(first, dtype=np.int64, count=len(first))
        grid = windows.grid
        ends = grid.start(grid.index(starts) + 1)
        for start in starts[ends <= windows.closed_through].tolist():
            del first[start]

    def flush(self) -> list[WindowCounts]:
        """Close every open window of every owned partition (end of input)."""
        return [w for _, windows in sorted(self.partitions.items()) for w in windows.flush()]
