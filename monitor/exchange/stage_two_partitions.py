"""Stage 2 of a scaled-out process: one :class:`~monitor.stage_two.StageTwo` per exchange
partition it owns.

An exchange partition carries every partial of the models whose key hashes to it, so its open
windows (:class:`~monitor.exchange.partitioned_windows.PartitionedWindows`) and the levels,
window series and detectors of its models depend on its records only. Its state is therefore a
function of the partition's records up to the committed offset: a process given the partition
rebuilds it by reading them again from the start with its outputs muted
(:meth:`StageTwoPartitions.replay`, Kafka Streams' "source topic as changelog"), then continues
live. Only the *muted* sinks are skipped while replaying (the report file, the alert log, the
alerts topic: what the previous owner wrote already); the others (the latest windows behind
``/metrics``, Alertmanager, whose posts are idempotent by their labels) follow the replay so the
process speaks with the state it took over.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence

from monitor.exchange.partitioned_windows import PartitionedWindows
from monitor.exchange.partitioner import partition_of
from monitor.exchange.reader import Received
from monitor.sinks.base import Sink
from monitor.stage_two import StageTwo


class StageTwoPartitions:
    """The open windows and the stage 2 of every exchange partition assigned here."""

    def __init__(
        self,
        windows: PartitionedWindows,
        new_stage: Callable[[Sequence[Sink]], StageTwo],
        sinks: Sequence[Sink],
        muted: Collection[Sink],
        *,
        models: Iterable[str],
        partitions: int,
    ) -> None:
        """``new_stage(sinks)`` makes a stage 2 writing to ``sinks``; while a partition replays,
        its stage writes only to the ``sinks`` not in ``muted``."""
        self.windows = windows
        self.new_stage = new_stage
        self.sinks = list(sinks)
        self.replay_sinks = [s for s in sinks if s not in muted]
        self.partitions = partitions
        self.models_of: dict[int, list[str]] = {}
        for model in sorted(models):
            self.models_of.setdefault(partition_of(model, partitions), []).append(model)
        self.stages: dict[int, StageTwo] = {}
        self.replaying: set[int] = set()
        # what the endpoints' thread reads, replaced whole (never changed in place)
        self.owned: tuple[int, ...] = ()
        self.speaking: frozenset[str] = frozenset()

    def assign(self, partitions: Iterable[int]) -> None:
        """Exchange partitions now owned start empty and replaying (muted) until
        :meth:`live`."""
        fresh = sorted(set(partitions) - set(self.stages))
        self.windows.assign(fresh)
        for e in fresh:
            self.stages[e] = self.new_stage(self.replay_sinks)
            self.replaying.add(e)
        self._published()

    def live(self, e: int) -> None:
        """Partition ``e`` has replayed up to its committed offset: its outputs speak now."""
        self.replaying.discard(e)
        self.stages[e].sinks = list(self.sinks)
        self._published()

    def revoke(self, partitions: Iterable[int]) -> None:
        """Exchange partitions owned no more: their windows and model states go."""
        gone = list(partitions)
        self.windows.revoke(gone)
        for e in gone:
            self.stages.pop(e, None)
            self.replaying.discard(e)
        self._published()

    def _published(self) -> None:
        self.owned = tuple(sorted(self.stages))
        self.speaking = frozenset(
            model
            for e in self.stages
            if e not in self.replaying
            for model in self.models_of.get(e, ())
        )

    def receive(self, received: Sequence[Received]) -> int:
        """Take records of owned partitions (in partition and offset order); score and write
        the windows they complete. The number of windows closed."""
        by_partition: dict[int, list[Received]] = {}
        for item in received:
            if item.partition in self.stages:
                by_partition.setdefault(item.partition, []).append(item)
        closed = 0
        for e, items in sorted(by_partition.items()):
            windows = self.windows.receive(items)
            self.stages[e].emit(windows)
            closed += len(windows)
        return closed

    def owned_models(self) -> frozenset[str]:
        """The models of the partitions owned and live, whose series this process exports
        (safe to call from another thread)."""
        return self.speaking

    def owned_partitions(self) -> tuple[int, ...]:
        """The exchange partitions owned (safe to call from another thread)."""
        return self.owned

    def raised(self) -> list[tuple[str, str, str, str, str, str]]:
        """Checks now in warning or intervention of every owned partition's models."""
        return sorted(r for stage in self.stages.values() for r in stage.raised())
