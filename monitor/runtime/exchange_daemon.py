"""``driftwarden run`` with ``exchange.enabled``: the two stages apart, joined through Kafka.

Every process runs both stages; Kafka's consumer groups decide who does what
(docs/scale-out.md):

- **Stage 1** consumes the prediction and label topics in group ``<group_id>`` (range assignor:
  a member gets partition ``k`` of every topic, a whole *task*), counts each task with its own
  label join (:class:`~monitor.exchange.stage_one_tasks.StageOneTasks`) and, every
  ``daemon.checkpoint_interval``, runs one transactional commit cycle: the partials and marks
  counted since the last cycle to the exchange topic, each task's snapshot to the stage-1
  changelog, and the source offsets, all or nothing.
- **Stage 2** consumes the exchange topic in group ``<group_id>-stage2``, read_committed, and
  closes, scores and writes the windows of the models of its exchange partitions
  (:class:`~monitor.exchange.stage_two_partitions.StageTwoPartitions`). Its own transactional
  cycle, once the report file is flushed, writes a snapshot of every partition that took records
  to the stage-2 changelog with the exchange offsets it covers, all or nothing.

Rebalances: kafka-python runs listeners on its IO thread, where no blocking call may run, so the
listeners only record what happened; the main loop acts after ``poll`` returns and drops that
poll's records. Stage 1 then forgets every task (the eager assignor revoked them all) and
restores each assigned task from Kafka: the group's committed offsets first (a read_committed
consumer waits for an open transaction to end), then the task's changelog snapshot, which the
same cycle committed. Stage 2 restores each newly assigned exchange partition from its changelog
snapshot and reads what follows it up to the committed offset again, muted (from the partition's
start when it has no snapshot), then goes on live. A failed cycle is handled like a rebalance:
nothing of it is visible, and every task or exchange partition restarts from Kafka.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from kafka import AsyncConsumerRebalanceListener, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from monitor.config import KafkaConfig, Settings
from monitor.errors import CheckpointError, error_text
from monitor.exchange import handover
from monitor.exchange.changelog import Changelog, RestoreTimeoutError
from monitor.exchange.commit_cycle import CommitCycle, CycleFailed, transactional_id
from monitor.exchange.publish import publish
from monitor.exchange.reader import ExchangeReader, Received
from monitor.exchange.stage_one_tasks import StageOneTasks
from monitor.exchange.stage_two_partitions import StageTwoPartitions
from monitor.exchange.stage_two_state import StaleSnapshotError
from monitor.exchange.topics import ensure_topics, internal_topics
from monitor.runtime.http import MonitorServer
from monitor.runtime.signalled import SignalledLoop
from monitor.sinks.alertmanager import AlertmanagerSink
from monitor.sinks.kafka_topics import CycleOutbox
from monitor.sinks.report_file import AppendedReport
from monitor.sources.kafka import PartitionIds, connect_group, to_raw_records
from monitor.sources.label_pacing import LabelPacing

log = structlog.get_logger()

RESTORE_TIMEOUT_S = 60.0
COMMITTED_TIMEOUT_MS = 30_000
CLOSE_TIMEOUT_MS = 5_000
TRANSACTION_TIMEOUT_MS = 10_000  # as Kafka Streams under exactly-once


@dataclass
class ExchangeParts:
    """What the loop works on, built by :func:`monitor.app.build_exchange_daemon`."""

    config: str
    """Digest of the settings and baselines: partials of other settings are refused."""
    tasks: StageOneTasks
    partitions: StageTwoPartitions
    ids: PartitionIds
    server: MonitorServer
    report: AppendedReport | None
    outboxes: tuple[CycleOutbox, CycleOutbox]
    """What stage 1 (dead letters) and stage 2 (alert transitions) send in their next cycle."""
    alertmanager: AlertmanagerSink | None
    lag: dict[tuple[str, int], int]
    pacing: LabelPacing


class _Recorder(AsyncConsumerRebalanceListener):  # type: ignore[misc]
    """Records that a rebalance happened (on kafka-python's IO thread); the loop acts on it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.happened = False

    def take(self) -> bool:
        """Whether a rebalance happened since the last call."""
        with self.lock:
            happened, self.happened = self.happened, False
        return happened

    def _mark(self) -> None:
        with self.lock:
            self.happened = True

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        self._mark()

    async def on_partitions_lost(self, lost: Sequence[TopicPartition]) -> None:
        self._mark()

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        self._mark()


class ExchangeDaemon(SignalledLoop):
    """The live loop of both stages: two group members, a commit cycle, the endpoints."""

    def __init__(self, settings: Settings, parts: ExchangeParts) -> None:
        assert settings.kafka is not None and settings.kafka.group_instance_id
        self.instance: str = settings.kafka.group_instance_id
        self.settings = settings
        self.kafka: KafkaConfig = settings.kafka
        self.parts = parts
        self.tasks = parts.tasks
        self.partitions = parts.partitions
        self.ids = parts.ids
        self.server = parts.server
        topics = internal_topics(self.kafka.group_id, settings.exchange, 1)
        self.exchange_topic = topics[0].name
        self.changelog = Changelog(topics[1].name)
        self.snapshots = Changelog(topics[2].name)
        self.label_topics = frozenset(self.kafka.label_topics)
        self.reader = ExchangeReader(parts.config)
        # a dead owner's open cycle holds its offsets until the broker aborts it
        cycle_options = {
            **self.kafka.client_options(),
            "transaction_timeout_ms": TRANSACTION_TIMEOUT_MS,
        }
        self.cycle = CommitCycle(
            cycle_options, transactional_id(self.kafka.group_id, 1, self.instance)
        )
        self.stage_two_cycle = CommitCycle(
            cycle_options, transactional_id(self.kafka.group_id, 2, self.instance)
        )
        self.sources: KafkaConsumer | None = None
        self.exchange: KafkaConsumer | None = None
        self.source_rebalance = _Recorder()
        self.exchange_rebalance = _Recorder()
        self.positions: dict[TopicPartition, int] = {}
        # the membership the tasks were restored under: a cycle commits with it, so the broker
        # refuses the cycle once the group has moved on (KIP-447), even when the rebalance ran
        # on the client's IO thread while this loop was between polls
        self.membership: Any = None
        self.exchange_membership: Any = None  # the same for stage 2, taken at its rebuild
        self.caught_up_since: dict[TopicPartition, float] = {}
        self.tasks_stale = False  # the tasks wait for a restore from Kafka
        self.partitions_stale = False  # the exchange partitions wait for a rebuild
        self.stopping = False
        self.last_cycle = time.monotonic()

    def run(self) -> int:
        """Consume until stopped; return the exit status."""
        self.listen_for_signals()
        self.server.start()
        try:
            self._connect()
            while not self.stopping:
                self._step()
            self._cycle()
        finally:
            self._close()
        return 0

    def _connect(self) -> None:
        """Internal topics and both group members, retried while Kafka is away."""
        delay = 1.0
        while not self.stopping and self.exchange is None:
            try:
                self._open()
            except KafkaError as exc:
                log.error("kafka unreachable", error=str(exc), retry_in_s=delay)
                self.server.set_ready(False, f"kafka unreachable: {exc}")
                self._close_consumers()
                time.sleep(delay)
                self.server.heartbeat()
                delay = min(delay * 2, 30.0)

    def _open(self) -> None:
        from kafka.admin import KafkaAdminClient

        options = self.kafka.client_options()
        sources = [*self.kafka.prediction_topics, *self.kafka.label_topics]
        admin = KafkaAdminClient(**options)
        try:
            counts = admin.describe_topics(sources)
            tasks = max((len(t["partitions"]) for t in counts), default=1)
            ensure_topics(
                admin,
                self.kafka.group_id,
                internal_topics(self.kafka.group_id, self.settings.exchange, tasks),
            )
        finally:
            admin.close()
        # read_committed: a task's offsets and snapshot are read only once the cycle that
        # wrote them ended (a dead owner's open one is committed or aborted by then)
        self.sources = connect_group(self.kafka, isolation_level="read_committed")
        self.exchange = connect_group(
            self.kafka,
            isolation_level="read_committed",
            group_id=f"{self.kafka.group_id}-stage2",
            group_instance_id=f"{self.instance}-stage2",
        )
        every = {
            self.ids.id_of(topic, p)
            for topic in sources
            for p in self.sources.partitions_for_topic(topic) or ()
        }
        self.partitions.windows.set_sources(every)
        self.exchange.partitions_for_topic(self.exchange_topic)
        self.sources.subscribe(sources, listener=self.source_rebalance)
        self.exchange.subscribe([self.exchange_topic], listener=self.exchange_rebalance)
        log.info("consuming", topics=sources, exchange=self.exchange_topic)

    def _step(self) -> None:
        assert self.sources is not None and self.exchange is not None
        timeout = max(1, self.kafka.poll_timeout // 2)
        polled = self._poll(self.sources, timeout)
        if self.source_rebalance.take():
            self.tasks_stale = True  # this poll's records came before the restore: dropped
        elif polled and not self.tasks_stale:
            self._count(polled)
        if self.tasks_stale:
            self.tasks_stale = not self._settled(self._restore_tasks)
        self._update_lag(polled)
        self.parts.pacing.pace(self.sources, self.parts.lag, self.tasks.counters.seen())
        # the exchange gets records once a cycle: while the sources keep the loop busy, take
        # what its consumer fetched without waiting (a wait there held every step, 5x slower)
        exchanged = self._poll(self.exchange, 0 if polled else timeout)
        if self.exchange_rebalance.take():
            self.partitions_stale = True
        elif exchanged and not self.partitions_stale:
            self.partitions.receive(self.reader.read(exchanged))
        if self.partitions_stale:
            self.partitions_stale = not self._settled(self._take_partitions)
        self.server.heartbeat()
        if self.parts.alertmanager is not None:
            self.parts.alertmanager.tick()
        if time.monotonic() - self.last_cycle >= self.settings.daemon.checkpoint_interval / 1000:
            self._cycle()

    def _settled(self, restore: Callable[[], None]) -> bool:
        """Run ``restore``; False when Kafka did not answer (retried at the next step, e.g. while
        a dead owner's open transaction holds the committed offsets until the broker aborts it)."""
        try:
            restore()
        except (KafkaError, RestoreTimeoutError) as exc:
            log.warning("restore postponed", error=error_text(exc))
            self.server.set_ready(False, f"restore postponed: {error_text(exc)}")
            return False
        return True

    def _poll(self, consumer: KafkaConsumer, timeout_ms: int) -> dict[TopicPartition, Any]:
        try:
            polled: dict[TopicPartition, Any] = consumer.poll(
                timeout_ms=timeout_ms, max_records=self.kafka.max_poll_records
            )
        except KafkaError as exc:  # an outage is a log line and readiness, not a crash
            log.error("poll failed", error=str(exc))
            self.server.set_ready(False, f"poll failed: {exc}")
            return {}
        return polled

    def _count(self, polled: Mapping[TopicPartition, Sequence[Any]]) -> None:
        """One poll into the tasks' stage 1, task by task: predictions, then labels."""
        now_ms = int(time.time() * 1000)
        by_task: dict[int, tuple[dict[TopicPartition, Any], dict[TopicPartition, Any]]] = {}
        for tp, records in polled.items():
            if not records:
                continue
            predictions, labels = by_task.setdefault(tp.partition, ({}, {}))
            (labels if tp.topic in self.label_topics else predictions)[tp] = records
            self.positions[tp] = records[-1].offset + 1
        for _, (predictions, labels) in sorted(by_task.items()):
            self.tasks.process(
                to_raw_records(predictions, self.ids) if predictions else None,
                to_raw_records(labels, self.ids) if labels else None,
                now_ms,
            )
        self.tasks.expire()

    def _restore_tasks(self) -> None:
        """After a rebalance or a failed cycle: every assigned task from its committed offsets
        and changelog snapshot, in that order."""
        assert self.sources is not None
        self.tasks.drop()
        self.parts.outboxes[0].clear()  # the dead letters of the polls read again
        self.server.disown([(tp.topic, tp.partition) for tp in self.positions])
        self.positions = {}
        self.caught_up_since = {}
        self.parts.lag.clear()
        self.membership = self.sources.group_metadata()
        assigned = sorted(self.sources.assignment(), key=lambda tp: (tp.partition, tp.topic))
        committed = self._committed(self.sources, assigned)
        by_task: dict[int, dict[TopicPartition, int]] = {}
        for tp in assigned:
            by_task.setdefault(tp.partition, {})[tp] = committed[tp]
        snapshots = self.changelog.restore_all(
            self.kafka.client_options(),
            {task: f"t{task}" for task in by_task},
            timeout_s=RESTORE_TIMEOUT_S,
        )
        for task, offsets in sorted(by_task.items()):
            self.tasks.restore(
                task,
                snapshots[task],
                {self.ids.id_of(tp.topic, tp.partition): o for tp, o in offsets.items()},
            )
            for tp, offset in offsets.items():
                self.sources.seek(tp, offset)
                self.positions[tp] = offset
        self.server.own([(tp.topic, tp.partition) for tp in assigned])
        self.server.set_ready(True)
        log.info("tasks restored", tasks=sorted(by_task))

    def _committed(
        self, consumer: KafkaConsumer, tps: Sequence[TopicPartition]
    ) -> dict[TopicPartition, int]:
        """The group's committed offset of each of ``tps``, else its first offset: one request
        for all (``KafkaConsumer.committed`` asks partition by partition)."""
        if not tps:
            return {}
        found = consumer._coordinator.fetch_committed_offsets(
            list(tps), timeout_ms=COMMITTED_TIMEOUT_MS
        )
        offsets = {tp: int(found[tp].offset) for tp in tps if tp in found}
        missing = [tp for tp in tps if tp not in offsets]
        if missing:
            offsets.update({tp: int(o) for tp, o in consumer.beginning_offsets(missing).items()})
        return offsets

    def _take_partitions(self) -> None:
        """After a stage-2 rebalance: drop the partitions gone, rebuild the ones gained."""
        assert self.exchange is not None
        owned = {tp.partition for tp in self.exchange.assignment()}
        self.partitions.revoke(set(self.partitions.stages) - owned)
        self.exchange_membership = self.exchange.group_metadata()
        gained = sorted(owned - set(self.partitions.stages))
        restored: list[int] = []  # from a snapshot (the others from the partition's start)
        self.partitions.assign(gained)
        committed = self._committed(
            self.exchange, [TopicPartition(self.exchange_topic, e) for e in sorted(owned)]
        )
        try:
            for e in gained:
                tp = TopicPartition(self.exchange_topic, e)
                end = committed[tp]
                snapshot = self._restore_partition(e)
                if snapshot is not None:
                    restored.append(e)
                self._replay(e, snapshot, end)
                self.exchange.seek(tp, end)
                self.partitions.live(e)
            for e in sorted(owned):  # the polls since the rebalance were dropped
                if e not in gained:
                    tp = TopicPartition(self.exchange_topic, e)
                    self.exchange.seek(tp, committed[tp])
        except (KafkaError, RestoreTimeoutError):  # rebuilt afresh at the retry
            self.partitions.revoke(sorted(self.partitions.replaying))
            raise
        log.info(
            "exchange partitions owned", partitions=sorted(owned), gained=gained, restored=restored
        )

    def _restore_partition(self, e: int) -> int | None:
        """Exchange partition ``e`` (assigned, empty) from its latest snapshot; the offset the
        snapshot covers, None without a usable one (then it is rebuilt from the start)."""
        key = f"e{e}"
        where = f"stage-2 snapshot {self.snapshots.topic}[{e}] key {key!r}"
        try:
            data = self.snapshots.restore(
                self.kafka.client_options(), e, key, timeout_s=RESTORE_TIMEOUT_S
            )
            if data is None:
                return None
            return self.partitions.restore(e, data, where, self._records)
        except RestoreTimeoutError:
            raise
        except StaleSnapshotError as exc:
            log.info("stage-2 snapshot of another config ignored", partition=e, detail=str(exc))
        except CheckpointError as exc:
            log.error("stage-2 snapshot unusable: rebuilding from the exchange", error=str(exc))
        self.partitions.revoke([e])
        self.partitions.assign([e])
        return None

    def _replay(self, e: int, start: int | None, end: int) -> None:
        """Exchange partition ``e`` taken again from ``start`` (None: its beginning) to
        ``end``, with its outputs muted."""
        for polled in self._read(e, start, end):
            self.partitions.receive(polled)

    def _records(self, e: int, start: int, end: int) -> Iterator[Received]:
        """The records of exchange partition ``e`` from offset ``start`` to ``end``."""
        return itertools.chain.from_iterable(self._read(e, start, end))

    def _read(self, e: int, start: int | None, end: int) -> Iterator[list[Received]]:
        """The records of exchange partition ``e`` from offset ``start`` (None: its beginning)
        to ``end``, committed ones, in order, a poll at a time."""
        if start is not None and start >= end:
            return
        tp = TopicPartition(self.exchange_topic, e)
        reader = KafkaConsumer(
            **self.kafka.client_options(),
            isolation_level="read_committed",
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",  # records past retention are gone: go on from there
        )
        try:
            reader.assign([tp])
            if start is None:
                reader.seek_to_beginning(tp)
            else:
                reader.seek(tp, start)
            deadline = time.monotonic() + RESTORE_TIMEOUT_S
            while reader.position(tp) < end:
                if time.monotonic() > deadline:
                    raise KafkaError(f"reading {self.exchange_topic}[{e}] took too long")
                polled = reader.poll(timeout_ms=200)
                records = [r for r in polled.get(tp, []) if r.offset < end]
                yield self.reader.read({tp: records})
                self.server.heartbeat()
        finally:
            reader.close()

    def _update_lag(self, polled: Mapping[TopicPartition, Any]) -> None:
        """Lag per owned source partition; one read to its end for ``idle_timeout`` goes idle."""
        assert self.sources is not None
        now = time.monotonic()
        idle = set()
        for tp, position in self.positions.items():
            end = self.sources.highwater(tp)
            if end is None:
                continue
            self.parts.lag[(tp.topic, tp.partition)] = max(0, end - position)
            if position < end or tp in polled:
                self.caught_up_since.pop(tp, None)
            elif now - self.caught_up_since.setdefault(tp, now) >= (
                self.settings.daemon.idle_timeout / 1000
            ):
                idle.add(self.ids.id_of(tp.topic, tp.partition))
        self.tasks.counters.set_idle(idle)

    def _cycle(self) -> None:
        """Stage 1's commit cycle, then stage 2's."""
        self.last_cycle = time.monotonic()
        # while a restore waits, the consumers' positions are past records that were dropped
        if self.sources is not None and self.positions and not self.tasks_stale:
            self._stage_one_cycle()
        if self.exchange is not None and not self.partitions_stale:
            self._stage_two_cycle()

    def _stage_one_cycle(self) -> None:
        assert self.sources is not None
        partials = handover.drain(self.tasks.counters, self.parts.config)
        _, marks = handover.marks(self.tasks.counters, self.parts.config)
        try:
            self.cycle.begin()
            publish(
                self.cycle, self.exchange_topic, self.settings.exchange.partitions, partials, marks
            )
            for topic, message in self.parts.outboxes[0].take():
                self.cycle.send_message(topic, message)
            # a task that took no records kept its state and offsets: its last snapshot holds
            for task in sorted(self.tasks.changed & {tp.partition for tp in self.positions}):
                self.changelog.write(self.cycle, task, f"t{task}", self.tasks.snapshot(task))
            offsets = {tp: OffsetAndMetadata(o, "", -1) for tp, o in self.positions.items()}
            self.cycle.commit(offsets, self.membership)
        except CycleFailed as exc:
            if not self._cycle_failed(self.changelog, "commit cycle", exc, exc.cause):
                self.tasks_stale = True
            return
        self.changelog.committed()
        self.server.set_ready(True)

    def _stage_two_cycle(self) -> None:
        """Stage 2's commit cycle, once what it wrote is on disk: the snapshot of every live
        partition that took records since its last one, and the exchange offsets."""
        assert self.exchange is not None
        live = [e for e in sorted(self.partitions.stages) if e not in self.partitions.replaying]
        if not live:
            return
        if self.parts.report is not None:
            self.parts.report.durable_length()
        cycle = self.stage_two_cycle
        try:
            tps = {e: TopicPartition(self.exchange_topic, e) for e in live}
            positions = {e: self.exchange.position(tp) for e, tp in tps.items()}
            cycle.begin()
            for topic, message in self.parts.outboxes[1].take():
                cycle.send_message(topic, message)
            for e in sorted(self.partitions.changed & set(live)):
                snapshot = self.partitions.snapshot(e, positions[e])
                self.snapshots.write(cycle, e, f"e{e}", snapshot)
            offsets = {tps[e]: OffsetAndMetadata(o, "", -1) for e, o in positions.items()}
            cycle.commit(offsets, self.exchange_membership)
        except (CycleFailed, KafkaError) as exc:
            cause = exc.cause if isinstance(exc, CycleFailed) else "position unknown"
            if not self._cycle_failed(self.snapshots, "stage-2 commit cycle", exc, cause):
                # the state is ahead of what Kafka holds: every partition restarts from there
                self.partitions.revoke(sorted(self.partitions.stages))
                self.partitions_stale = True
            return
        self.snapshots.committed()

    def _cycle_failed(self, changelog: Changelog, cycle: str, exc: Exception, cause: str) -> bool:
        """A cycle that did not commit: the snapshots it wrote are forgotten and readiness says
        why. True when it was fenced (another process took this ``group_instance_id``): the
        process then stops rather than fence the other one back."""
        changelog.aborted()
        log.error(f"{cycle} failed", error=error_text(exc), cause=cause)
        self.server.set_ready(False, f"{cycle} failed: {exc}")
        if cause == "fenced":
            self.stopping = True
        return cause == "fenced"

    def _close_consumers(self) -> None:
        for consumer in (self.sources, self.exchange):
            if consumer is not None:
                consumer.close(timeout_ms=CLOSE_TIMEOUT_MS)
        self.sources = self.exchange = None

    def _close(self) -> None:
        self.cycle.close()
        self.stage_two_cycle.close()
        self._close_consumers()
        for closable in (self.parts.report, self.parts.alertmanager):
            if closable is not None:
                closable.close()
        self.server.stop()
        log.info("stopped")
