"""``driftwarden run``: consume prediction topics in a consumer group, window and score them live.

One loop: poll a batch, feed it to the same :class:`~monitor.pipeline.Pipeline` a replay uses,
heartbeat, pause the label partitions read too far ahead of their predictions and resume the
others (:mod:`monitor.sources.label_pacing`), checkpoint at an interval. A checkpoint holds
the pipeline state, the next offset of every owned partition and the length of the report file,
written together and atomically; on assignment the daemon restores it and seeks to those
offsets, and truncates the report to that length, so a restart after ``kill -9`` re-reads
exactly what came after the checkpoint and ends with the report an uninterrupted run writes.
The same offsets are committed to Kafka: a partition that moves starts, in its next owner, at
the offset the state was saved with.

A checkpoint first flushes the shared producer; while the broker is away that flush cannot finish,
and the checkpoint is postponed to the next interval (never fatal, nothing committed past a dead
letter the broker does not hold). Rebalances run in kafka-python's IO thread, where no blocking
client call may run: the listener saves the checkpoint locally and awaits the asynchronous
commit. When a revocation cannot commit (or the membership was lost), the state is ahead of the
group's offsets, so the next assignment rewinds to the last checkpoint, as a restart would. A
restore covers every partition of the checkpoint, assigned or not: a partition given only later
starts at the checkpoint's offset too (kept in every later checkpoint until then), unless the
group's committed offset is further on.
SIGTERM/SIGINT stop polling, checkpoint, commit and leave the group.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog
from kafka import AsyncConsumerRebalanceListener, TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from baselines.errors import DriftwardenError
from monitor.allocator import release_free_memory
from monitor.config import KafkaConfig, Settings
from monitor.errors import ConfigError, error_text
from monitor.runtime.signalled import SignalledLoop
from monitor.sources.kafka import (
    BOOTSTRAP_TIMEOUT_MS,
    GroupConsumer,
    connect_group,
    to_raw_records,
)
from monitor.state.checkpoint import offset_key, parse_offset_key
from monitor.state.snapshot import restore, snapshot

if TYPE_CHECKING:
    from monitor.pipeline import Pipeline
    from monitor.runtime.http import MonitorServer
    from monitor.sinks.alertmanager import AlertmanagerSink
    from monitor.sinks.kafka_topics import SharedProducer
    from monitor.sinks.report_file import AppendedReport
    from monitor.sources.kafka import PartitionIds
    from monitor.sources.label_pacing import LabelPacing
    from monitor.state.checkpoint import CheckpointStore

log = structlog.get_logger()

FLUSH_TIMEOUT_S = 10.0  # a checkpoint waits this long for the producer, then is postponed
OUTAGE_FLUSH_TIMEOUT_S = 1.0  # the same while an outage lasts, so the loop goes on working
REVOKE_FLUSH_TIMEOUT_S = 5.0  # the same in a revocation, which holds up the client's IO thread
COMMIT_TIMEOUT_MS = 10_000
COMMITTED_TIMEOUT_MS = 2_000  # asking the group's committed offset, from the main loop
CLOSE_TIMEOUT_MS = 5_000


@dataclass
class DaemonParts:
    """What the loop works on, built by :func:`monitor.app.build_daemon`."""

    pipeline: Pipeline
    ids: PartitionIds
    server: MonitorServer
    report: AppendedReport | None
    producer: SharedProducer | None
    alertmanager: AlertmanagerSink | None
    store: CheckpointStore | None
    lag: dict[tuple[str, int], int]
    """Records behind the end of each owned (topic, partition), written by the loop and read by
    the endpoints."""
    pacing: LabelPacing
    """Holds label partitions back to their predictions' pace, after every poll."""


class _Rebalance(AsyncConsumerRebalanceListener):  # type: ignore[misc]
    """Runs in kafka-python's IO thread while the main loop waits in ``poll``: local work, and
    the commit awaited (a blocking ``commit`` there raises RuntimeError and fails the rebalance)."""

    def __init__(self, daemon: Daemon) -> None:
        self.daemon = daemon

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        offsets = self.daemon.on_revoked(list(revoked))
        consumer = self.daemon.consumer
        if offsets and consumer is not None:
            try:
                await consumer.commit_async(offsets)
            except KafkaError as exc:
                self.daemon.commit_failed(exc, "revocation")

    async def on_partitions_lost(self, lost: Sequence[TopicPartition]) -> None:
        self.daemon.on_lost(list(lost))

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        self.daemon.on_assigned(list(assigned))


class Daemon(SignalledLoop):
    """The live loop and everything it owns: consumer, pipeline, endpoints, checkpoints."""

    def __init__(
        self,
        settings: Settings,
        parts: DaemonParts,
        *,
        connect: Callable[[KafkaConfig], GroupConsumer] = connect_group,
    ) -> None:
        """Loop over ``parts`` (built by :func:`monitor.app.build_daemon`); ``connect`` makes the
        group member once the broker answers (raising :class:`KafkaError` until then): the
        Kafka client, or a twin in tests."""
        if settings.kafka is None:
            raise ConfigError("driftwarden run needs a kafka section in the config")
        self.kafka: KafkaConfig = settings.kafka
        self.settings = settings
        self.connect = connect
        self.label_topics = frozenset(self.kafka.label_topics)
        self.pipeline = parts.pipeline
        self.ids = parts.ids
        self.server = parts.server
        self.report = parts.report
        self.producer = parts.producer
        self.alertmanager = parts.alertmanager
        self.store = parts.store
        self.positions: dict[TopicPartition, int] = {}
        # the restored checkpoint's offsets of partitions not assigned since: their events up to
        # there are in the state, so they start there when given (saved with every checkpoint)
        self.pending: dict[TopicPartition, int] = {}
        # partitions the listener sought to a checkpoint's offset; the main loop compares it
        # with the group's committed offset (a blocking call the listener may not make)
        self.unconfirmed: dict[TopicPartition, int] = {}
        self.restored = False  # False again when the state must rewind to the checkpoint
        self.assigned = False
        self.outage: str | None = None  # why the last poll, checkpoint or commit failed
        # the last line of defence (_process): messages of a poll that raised, and those that
        # raised on their own, with the error they raised
        self.suspects: set[tuple[TopicPartition, int]] = set()
        self.poison: dict[tuple[TopicPartition, int], str] = {}
        self.fatal: DriftwardenError | None = None
        self.stopping = False
        self.closing = False
        self.last_checkpoint = time.monotonic()
        self.consumer: GroupConsumer | None = None
        self._lag = parts.lag  # records behind the end per owned partition, as /metrics shows
        self.pacing = parts.pacing
        self._caught_up_since: dict[TopicPartition, float] = {}

    def run(self) -> int:
        """Consume until stopped; return the exit status."""
        self.listen_for_signals()
        self.server.start()
        self._connect()
        clean = False
        try:
            while not self.stopping:
                self._step()
            clean = self.fatal is None
        finally:
            # after a crash the pipeline may hold half a batch: never checkpoint that
            self._shutdown(save=clean)
        if self.fatal is not None:
            raise self.fatal
        return 0

    def _connect(self) -> None:
        """Create the consumer (and producer), retrying while the broker is unreachable.

        A broker outage at start is not a crash: the loop keeps heartbeating, /readyz says why
        it is not ready, and the connection is retried with a capped backoff.
        """
        delay = 1.0
        topics = [*self.kafka.prediction_topics, *self.label_topics]
        while not self.stopping and self.consumer is None:
            consumer = None
            try:
                if self.producer is not None:
                    # short bootstrap attempts so a SIGTERM during an outage is honoured in seconds
                    self.producer.connect(
                        {
                            **self.kafka.client_options(),
                            "bootstrap_timeout_ms": BOOTSTRAP_TIMEOUT_MS,
                        }
                    )
                consumer = self.connect(self.kafka)
                # the first join must know the partitions: an assignment made without them is
                # empty, and kafka-python does not rejoin when they arrive (seen: no partitions
                # for minutes on a topic created just before the start)
                unknown = [t for t in topics if not consumer.partitions_for_topic(t)]
            except KafkaError as exc:
                if consumer is not None:
                    consumer.close(timeout_ms=CLOSE_TIMEOUT_MS)
                log.error("kafka unreachable", error=str(exc), retry_in_s=delay)
                self.server.set_ready(False, f"kafka unreachable: {exc}")
                self._sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            if unknown:
                log.warning("topics without partitions", topics=unknown)
            consumer.subscribe(topics, listener=_Rebalance(self))
            self.consumer = consumer
            log.info("consuming", topics=topics, group=self.kafka.group_id)

    def _sleep(self, seconds: float) -> None:
        """Wait, heartbeating, until ``seconds`` passed or a stop was asked."""
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            self.server.heartbeat()
            time.sleep(0.1)

    def _step(self) -> None:
        assert self.consumer is not None
        try:
            polled = self.consumer.poll(
                timeout_ms=self.kafka.poll_timeout, max_records=self.kafka.max_poll_records
            )
        except KafkaError as exc:  # a broker outage is a metric and a log line, not a crash
            log.error("poll failed", error=str(exc))
            self._set_outage(f"poll failed: {exc}")
            polled = {}
        self.server.heartbeat()
        if self.unconfirmed:
            polled = self._confirm_positions(polled)
        if polled:
            self._process(polled)
        self._update_lag(polled)
        self.pacing.pace(self.consumer, self._lag, self.pipeline.read_times())
        if self.alertmanager is not None:
            self.alertmanager.tick()
        if (
            time.monotonic() - self.last_checkpoint
            >= self.settings.daemon.checkpoint_interval / 1000
        ):
            self.checkpoint()

    def _confirm_positions(
        self, polled: Mapping[TopicPartition, Sequence[Any]]
    ) -> Mapping[TopicPartition, Sequence[Any]]:
        """``polled`` without the records of partitions whose checkpoint offset another member
        has read past since: those start at the group's committed offset (the events in between
        are that member's count). Until the group answers, a partition's records wait."""
        assert self.consumer is not None
        kept = dict(polled)
        for tp, offset in list(self.unconfirmed.items()):
            try:
                committed = self.consumer.committed(tp, timeout_ms=COMMITTED_TIMEOUT_MS)
            except KafkaError as exc:  # asked again after the next poll
                self._set_outage(f"committed offset unknown: {exc}")
                kept.pop(tp, None)
                self.consumer.seek(tp, offset)
                continue
            del self.unconfirmed[tp]
            if committed is not None and committed > offset:
                log.info(
                    "partition resumes at the group's committed offset",
                    partition=f"{tp.topic}:{tp.partition}",
                    checkpoint=offset,
                    committed=committed,
                )
                kept.pop(tp, None)
                self.consumer.seek(tp, committed)
                self.positions[tp] = committed
        return kept

    def _process(self, polled: Mapping[TopicPartition, Sequence[Any]]) -> None:
        """Feed one poll to the pipeline, as predictions then labels.

        The last line of defence, past decoding (which isolates its own failures): when feeding
        a poll raises, the state may hold part of it, so the daemon rewinds to the last
        checkpoint (as after a restart) and marks the poll's messages as suspects. When they
        come again, the others go as a batch and each suspect alone; a suspect that raises on
        its own is poison: rewound once more, then rejected as ``internal_error`` (counted,
        dead-lettered) every time it is read, while everything else is counted once.
        """
        now_ms = int(time.time() * 1000)
        for tp, records in polled.items():
            for record in records:
                problem = self.poison.get((tp, record.offset))
                if problem is not None:
                    self.pipeline.reject_internal(to_raw_records({tp: [record]}, self.ids), problem)
        fresh = {
            tp: [r for r in records if (tp, r.offset) not in self.poison]
            for tp, records in polled.items()
        }
        plain = {
            tp: [r for r in rs if (tp, r.offset) not in self.suspects] for tp, rs in fresh.items()
        }
        alone = [(tp, r) for tp, rs in fresh.items() for r in rs if (tp, r.offset) in self.suspects]
        try:
            self._feed(plain, now_ms)
            for tp, record in alone:
                try:
                    self._feed({tp: [record]}, now_ms)
                except Exception as exc:  # raised on its own: this message is the cause
                    self.poison[(tp, record.offset)] = f"{error_text(exc)}"
                    raise
                self.suspects.discard((tp, record.offset))
        except Exception as exc:  # any defect past decoding: rewind and isolate, never exit
            self._quarantine(fresh, exc)
            return
        for tp, records in polled.items():
            self.positions[tp] = records[-1].offset + 1

    def _feed(self, polled: Mapping[TopicPartition, Sequence[Any]], now_ms: int) -> None:
        labels = {tp: r for tp, r in polled.items() if r and tp.topic in self.label_topics}
        predictions = {tp: r for tp, r in polled.items() if r and tp not in labels}
        if predictions:
            self.pipeline.process_records(to_raw_records(predictions, self.ids), now_ms)
        if labels:
            self.pipeline.process_labels(to_raw_records(labels, self.ids), now_ms)

    def _quarantine(self, polled: Mapping[TopicPartition, Sequence[Any]], exc: Exception) -> None:
        """After a poll raised: rewind to the last checkpoint, its messages now suspects."""
        assert self.consumer is not None
        offsets = {(tp, r.offset) for tp, records in polled.items() for r in records}
        log.error(
            "processing a poll raised; rewinding to the last checkpoint to isolate its cause",
            messages=len(offsets),
            poison=len(self.poison),
            error=error_text(exc),
            exc_info=exc,
        )
        saved = self.store.load() if self.store is not None else None
        if saved is None:  # nothing to rewind to: the poll is lost, its part in the state stays
            for tp, records in polled.items():
                if records:
                    self.pipeline.reject_internal(
                        to_raw_records({tp: records}, self.ids), error_text(exc)
                    )
                    self.positions[tp] = records[-1].offset + 1
            return
        self.suspects |= offsets - set(self.poison)
        assigned = list(self.consumer.assignment())
        self._restore(assigned)
        checkpointed = {parse_offset_key(key) for key in saved.offsets}
        for tp in assigned:  # gained since the checkpoint: its part of the state is gone too
            if (tp.topic, tp.partition) not in checkpointed:
                committed = self.consumer.committed(tp, timeout_ms=COMMITTED_TIMEOUT_MS)
                self.consumer.seek(tp, committed if committed is not None else 0)
                self.positions.pop(tp, None)

    def _update_lag(self, polled: Mapping[TopicPartition, Any]) -> None:
        """Lag per owned partition; a partition read to its end for ``idle_timeout`` goes idle.

        Waiting before calling a partition idle matters: a producer that is merely slower than
        the consumer leaves a partition caught up for a moment, and if it stopped holding the
        watermark then, its next events would be late.
        """
        assert self.consumer is not None
        now = time.monotonic()
        idle_after = self.settings.daemon.idle_timeout / 1000
        idle = set()
        for tp in self.consumer.assignment():
            end = self.consumer.highwater(tp)
            if end is None:
                continue
            position = self.positions.get(tp)
            if position is None:  # nothing polled from it yet: ask without waiting on the broker
                try:
                    position = self.consumer.position(tp, timeout_ms=0)
                except KafkaError:  # during an outage: no lag figure this time, no crash
                    continue
                if position is None:
                    continue
            self._lag[(tp.topic, tp.partition)] = max(0, end - position)
            if position < end or tp in polled:
                self._caught_up_since.pop(tp, None)
            elif now - self._caught_up_since.setdefault(tp, now) >= idle_after:
                idle.add(self.ids.id_of(tp.topic, tp.partition))
        self.pipeline.idle_partitions(idle)

    def checkpoint(self) -> None:
        """Save state, offsets and report length together, then commit the offsets to Kafka;
        postponed to the next interval while the producer cannot deliver what it holds."""
        self.last_checkpoint = time.monotonic()
        if not self._save(FLUSH_TIMEOUT_S if self.outage is None else OUTAGE_FLUSH_TIMEOUT_S):
            return
        release_free_memory()  # the snapshot's copies, freed by now
        if self.consumer is not None and self.positions:
            try:
                self.consumer.commit(self._offsets(), timeout_ms=COMMIT_TIMEOUT_MS)
            except KafkaError as exc:
                self.commit_failed(exc, "checkpoint")
                return
        self._set_outage(None)

    def _save(self, flush_timeout_s: float) -> bool:
        """Flush the producer, then write the checkpoint file; False (nothing written) when the
        producer still holds messages: their offsets must not be saved or committed yet."""
        if self.producer is not None:
            problem = self.producer.flush(flush_timeout_s)
            if problem is not None:
                log.warning("checkpoint postponed", reason=problem)
                self._set_outage(f"checkpoint postponed: {problem}")
                return False
        if self.store is not None and self.restored:  # never overwrite a checkpoint not yet read
            state = {
                "pipeline": snapshot(self.pipeline),
                "report_bytes": self.report.durable_length() if self.report else 0,
                "alertmanager": self.alertmanager.state() if self.alertmanager else [],
            }
            offsets = {
                offset_key(tp.topic, tp.partition): o
                for tp, o in {**self.pending, **self.positions}.items()
            }
            self.store.save(state, offsets)
        return True

    def _offsets(self) -> dict[TopicPartition, OffsetAndMetadata]:
        return {tp: OffsetAndMetadata(o, "", -1) for tp, o in self.positions.items()}

    def commit_failed(self, exc: BaseException, during: str) -> None:
        """A commit did not reach the group; after a revocation, rewind at the next assignment."""
        log.error("offset commit failed", error=error_text(exc), during=during)
        self._set_outage(f"offset commit failed: {error_text(exc)}")
        if during == "revocation":
            self._rewind_later()

    def _set_outage(self, reason: str | None) -> None:
        self.outage = reason
        self._update_readiness()

    def _update_readiness(self) -> None:
        if not self.assigned:
            self.server.set_ready(False, "partitions revoked")
        elif self.outage is not None:
            self.server.set_ready(False, self.outage)
        else:
            self.server.set_ready(True)

    def _rewind_later(self) -> None:
        """The state is ahead of the group's committed offsets: restore the last checkpoint at
        the next assignment (without a checkpoint file, re-read events are counted again)."""
        if self.store is not None and self.restored:
            log.warning("state will rewind to the last checkpoint at the next assignment")
            self.restored = False

    def on_revoked(self, revoked: list[TopicPartition]) -> dict[TopicPartition, OffsetAndMetadata]:
        """Checkpoint locally and forget ``revoked``; the offsets the listener must commit."""
        self.assigned = False
        self._update_readiness()
        if self.closing or not revoked:  # _shutdown has checkpointed and committed already
            return {}
        offsets = {}
        if self._save(REVOKE_FLUSH_TIMEOUT_S):
            offsets = self._offsets()
        else:
            self._rewind_later()
        self._forget(revoked)
        return offsets

    def on_lost(self, lost: list[TopicPartition]) -> None:
        """The group gave ``lost`` away already (membership expired): nothing can be committed,
        so the state rewinds to the last checkpoint at the next assignment."""
        self.assigned = False
        self._update_readiness()
        if self.closing or not lost:
            return
        log.warning("partitions lost", partitions=[f"{tp.topic}:{tp.partition}" for tp in lost])
        self._rewind_later()
        self._forget(lost)

    def _forget(self, partitions: list[TopicPartition]) -> None:
        self.server.disown(partitions)
        for tp in partitions:
            self.positions.pop(tp, None)
            self.unconfirmed.pop(tp, None)
            self._lag.pop((tp.topic, tp.partition), None)
            self._caught_up_since.pop(tp, None)
        self.pipeline.forget_partitions(
            {self.ids.id_of(tp.topic, tp.partition) for tp in partitions}
        )

    def on_assigned(self, assigned: list[TopicPartition]) -> None:
        """First assignment (or after a rewind): restore the checkpoint and seek to its offsets.
        Otherwise keep going: partitions start at the group's committed offsets, those the
        restored state covers but that were not assigned then at the checkpoint's."""
        if not self.restored:
            try:
                self._restore(assigned)
            except DriftwardenError as exc:  # kafka-python would swallow it inside this callback
                log.error("cannot restore the checkpoint", error=str(exc))
                self.fatal = exc
                self.stopping = True
                return
        for tp in assigned:
            if tp in self.pending:
                self._resume(tp, self.pending.pop(tp))
        self.pipeline.hold_partitions({self.ids.id_of(tp.topic, tp.partition) for tp in assigned})
        self.server.own(assigned)
        log.info(
            "partitions assigned", partitions=[f"{tp.topic}:{tp.partition}" for tp in assigned]
        )
        self.assigned = True
        self._update_readiness()

    def _restore(self, assigned: list[TopicPartition]) -> None:
        assert self.consumer is not None
        saved = self.store.load() if self.store is not None else None
        if saved is not None:
            restore(self.pipeline, saved.state["pipeline"])
            if self.alertmanager is not None:
                self.alertmanager.restore(saved.state.get("alertmanager", []))
            if self.report is not None:
                self.report.truncate(int(saved.state["report_bytes"]))
            offsets = {TopicPartition(*parse_offset_key(k)): v for k, v in saved.offsets.items()}
            self.pending = {tp: o for tp, o in offsets.items() if tp not in assigned}
            for tp in assigned:
                if tp in offsets:
                    self._resume(tp, offsets[tp])
            # partitions now owned elsewhere take no part in the watermark
            self.pipeline.keep_partitions(
                {self.ids.id_of(tp.topic, tp.partition) for tp in assigned}
            )
            log.info("restored checkpoint", saved_at=saved.saved_at)
        self.restored = True
        if saved is None:  # so a kill before the first interval is undone like any other
            self.checkpoint()
        else:
            del saved  # the loaded document, freed before its memory is released
            release_free_memory()

    def _resume(self, tp: TopicPartition, offset: int) -> None:
        """Read ``tp`` from the checkpoint's ``offset``, once the group's offset is not further."""
        assert self.consumer is not None
        self.consumer.seek(tp, offset)
        self.positions[tp] = offset
        self.unconfirmed[tp] = offset

    def _shutdown(self, *, save: bool) -> None:
        try:
            if save:
                self.checkpoint()
        finally:
            self.closing = True
            if self.consumer is not None:  # bounded: a broker that does not answer cannot hold us
                self.consumer.close(timeout_ms=CLOSE_TIMEOUT_MS)
            if self.producer is not None:
                self.producer.close()
            if self.report is not None:
                self.report.close()
            if self.alertmanager is not None:
                self.alertmanager.close()
            self.server.stop()
            log.info("stopped")
