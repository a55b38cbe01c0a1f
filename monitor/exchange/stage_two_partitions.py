"""Stage 2 of a scaled-out process: one :class:`~monitor.stage_two.StageTwo` per exchange
partition it owns.

An exchange partition carries every partial of the models whose key hashes to it, so its open
windows (:class:`~monitor.exchange.partitioned_windows.PartitionedWindows`) and the levels,
window series and detectors of its models depend on its records only. Its state is therefore a
function of the partition's records up to the committed offset. Each stage-2 commit cycle
writes a snapshot of every partition that took records since its last one
(:meth:`StageTwoPartitions.snapshot`, :mod:`monitor.exchange.stage_two_state`) with the offset
it covers; a process given the partition restores the latest snapshot
(:meth:`StageTwoPartitions.restore`) and reads the records after it again with its outputs muted
(none, when the snapshot was committed with the offsets), or, without a snapshot, the whole
partition from its start (Kafka Streams' "source topic as changelog"), then continues live.
Only the *muted* sinks are skipped while replaying (the report file, the alert log, the alerts
topic: what the previous owner wrote already); the others (the latest windows behind
``/metrics``, Alertmanager, whose posts are idempotent by their labels) follow the replay. What
those hold of a partition's models moves with its snapshot, and a process that loses the
partition forgets it (:class:`~monitor.sinks.base.ModelScopedSink`), so one process speaks for
a model.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence

from monitor.errors import CheckpointError
from monitor.exchange.partitioned_windows import PartitionedWindows
from monitor.exchange.partitioner import partition_of
from monitor.exchange.reader import Received
from monitor.exchange.stage_two_state import partition_snapshot, read_snapshot, restore_partition
from monitor.gc_pause import collector_paused
from monitor.sinks.base import ModelScopedSink, ModelStateSink, Sink
from monitor.stage_two import StageTwo
from monitor.window.slot_layout import ModelLayout

ReadExchange = Callable[[int, int, int], Iterable[Received]]
"""``read(e, start, end)``: the records of exchange partition ``e`` from offset ``start`` to
``end``, in order."""


class StageTwoPartitions:
    """The open windows and the stage 2 of every exchange partition assigned here."""

    def __init__(
        self,
        windows: PartitionedWindows,
        new_stage: Callable[[Sequence[Sink]], StageTwo],
        sinks: Sequence[Sink],
        muted: Collection[Sink],
        *,
        layouts: Mapping[str, ModelLayout],
        partitions: int,
        config: str,
    ) -> None:
        """``new_stage(sinks)`` makes a stage 2 writing to ``sinks``; while a partition replays,
        its stage writes only to the ``sinks`` not in ``muted``. ``layouts``: every model's
        slot layout; ``config``: the group's configuration digest, which snapshots carry."""
        self.windows = windows
        self.new_stage = new_stage
        self.sinks = list(sinks)
        self.replay_sinks = [s for s in sinks if s not in muted]
        self.scoped = [s for s in sinks if isinstance(s, ModelScopedSink)]
        self.stateful = [s for s in sinks if isinstance(s, ModelStateSink)]
        self.layouts = layouts
        self.partitions = partitions
        self.config = config
        self.models_of: dict[int, list[str]] = {}
        for model in sorted(layouts):
            self.models_of.setdefault(partition_of(model, partitions), []).append(model)
        self.stages: dict[int, StageTwo] = {}
        self.replaying: set[int] = set()
        self.changed: set[int] = set()  # took records since their last snapshot
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
        gone = [e for e in partitions if e in self.stages]
        self.windows.revoke(gone)
        for e in gone:
            del self.stages[e]
            self.replaying.discard(e)
            self.changed.discard(e)
            for sink in self.scoped:
                sink.forget_models(self.models_of.get(e, ()))
        self._published()

    @collector_paused()
    def snapshot(self, e: int, offset: int) -> bytes:
        """The snapshot of owned partition ``e``, whose records before ``offset`` it has taken
        (:mod:`monitor.exchange.stage_two_state`). The cyclic collector is off meanwhile: the
        many short-lived objects of the state would otherwise set off collections that walk
        every object of the process (half the time with 100 models, benchmarks/README.md)."""
        self.changed.discard(e)
        models = self.models_of.get(e, ())
        return partition_snapshot(
            self.config,
            offset,
            self.windows.replay_from(e),
            self.windows.partitions[e],
            self.windows.ledgers[e],
            {m: self.windows.duplicates[m] for m in models if self.windows.duplicates[m]},
            self.stages[e],
            {sink.state_name: sink.models_state(models) for sink in self.stateful},
        )

    @collector_paused()
    def restore(self, e: int, data: bytes, where: str, read: ReadExchange) -> int:
        """Start partition ``e`` (assigned, still empty) from a snapshot, its open windows
        rebuilt from the records ``read(e, replay_from, offset)`` gives, with the collector off
        as for :meth:`snapshot`; the exchange offset the snapshot covers. Raises
        :class:`~monitor.errors.CheckpointError` when the snapshot cannot be used
        (:class:`~monitor.exchange.stage_two_state.StaleSnapshotError`: made under another
        configuration); the partition may then hold part of it: revoke it."""
        state = read_snapshot(data, self.config, where)
        try:
            offset, replay_from = int(state["offset"]), state["replay_from"]
            ledger = state["ledger"]
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(f"{where} cannot be restored ({exc!r})") from None
        restore_partition(state, self.windows.partitions[e], self.stages[e])
        if replay_from is not None:
            self.windows.refill(e, read(e, int(replay_from), offset))
        self.windows.ledgers[e].restore(ledger)
        self.windows.duplicates.update(state.get("duplicates", {}))
        outputs = state.get("outputs", {})
        for sink in self.stateful:
            if sink.state_name in outputs:
                sink.restore_models(outputs[sink.state_name])
        return offset

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
            self.changed.add(e)
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
