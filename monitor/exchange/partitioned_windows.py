"""Stage 2's open windows per exchange partition it owns, fed the records read from them.

Each exchange partition carries every partial of the models whose key hashes to it and a mark of
every source partition after the partials it covers, so each is closed on its own marks: one
:class:`~monitor.exchange.open_windows.OpenWindows` per exchange partition, with its own
completeness, and a :class:`~monitor.exchange.ledger.PartialLedger` that counts each partial
once (a copy, read again after a restart, is skipped and counted in ``duplicates``). The
source partitions taking part are all partitions of the source topics
(:meth:`PartitionedWindows.set_sources`), so a partition whose stage-1 owner has not started
yet holds windows back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence

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
        self.duplicates: Counter[str] = Counter()

    def assign(self, partitions: Iterable[int]) -> None:
        """Exchange partitions now owned start with no open window (or a restored one)."""
        for e in partitions:
            windows = self.new_windows()
            windows.completeness.set_sources(self.sources)
            self.partitions[e] = windows
            self.ledgers[e] = PartialLedger()

    def revoke(self, partitions: Iterable[int]) -> None:
        """Exchange partitions owned no more: their windows go with them."""
        for e in partitions:
            self.partitions.pop(e, None)
            self.ledgers.pop(e, None)

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
            else:
                self.duplicates[record.model] += 1
        for e, (partials, marks) in sorted(runs.items()):
            closed += self._take(e, partials, marks)
        return closed

    def _take(self, e: int, partials: list[Partial], marks: list[Mark]) -> list[WindowCounts]:
        windows = self.partitions[e]
        windows.receive(partials, None, marks)
        return windows.close_ready()

    def flush(self) -> list[WindowCounts]:
        """Close every open window of every owned partition (end of input)."""
        return [w for _, windows in sorted(self.partitions.items()) for w in windows.flush()]
