"""An in-memory twin of a Kafka consumer group member, for the daemon's consumer seam.

:class:`MemoryConsumer` does what :class:`~monitor.runtime.daemon.Daemon` asks of
kafka-python's ``KafkaConsumer`` (:class:`~monitor.sources.kafka.GroupConsumer`), the way
kafka-python does it: the first poll after ``subscribe`` assigns every partition of the
subscribed topics (a group of one); a rebalance asked with :meth:`MemoryConsumer.rebalance`
happens at the start of the next poll, eager-style (everything revoked, or lost, then the new
assignment given), with the listener's coroutines run to completion inside that poll as the
client's IO thread runs them. A newly assigned partition starts at the group's committed
offset (or 0); a poll takes up to ``max_records`` from the assigned partitions that have
records left and are not paused, an equal share each, so partitions progress in step; a paused
partition keeps its position (and its pause through a rebalance that leaves it assigned).
Offsets committed go to a :class:`MemoryGroup` that outlives the consumer, as a group's offsets
outlive a process.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kafka import TopicPartition
from kafka.errors import KafkaTimeoutError
from kafka.structs import OffsetAndMetadata


@dataclass(frozen=True)
class Record:
    """The fields of kafka-python's ``ConsumerRecord`` that the daemon reads."""

    topic: str
    partition: int
    offset: int
    timestamp: int
    value: bytes


@dataclass
class MemoryGroup:
    """Committed offsets of one consumer group; ``fail_commits`` makes every commit time out."""

    committed: dict[TopicPartition, int] = field(default_factory=dict)
    fail_commits: bool = False

    def commit(self, offsets: Mapping[TopicPartition, OffsetAndMetadata]) -> None:
        if self.fail_commits:
            raise KafkaTimeoutError("commit timed out (twin)")
        self.committed.update({tp: o.offset for tp, o in offsets.items()})


class MemoryConsumer:
    """A consumer of ``topics`` (topic -> partition -> message values) in ``group``.

    ``on_drained`` is called from a poll that found every assigned partition at its end;
    ``before_poll`` from the start of every poll, with the poll's number (from 1).
    """

    def __init__(
        self,
        topics: Mapping[str, Sequence[Sequence[bytes]]],
        group: MemoryGroup,
        *,
        on_drained: Callable[[], None] = lambda: None,
        before_poll: Callable[[int], None] = lambda n: None,
    ) -> None:
        self.topics = topics
        self.group = group
        self.on_drained = on_drained
        self.before_poll = before_poll
        self.listener: Any = None
        self.subscribed: list[str] = []
        self.assigned: list[TopicPartition] = []
        self.positions: dict[TopicPartition, int] = {}
        self.stopped: set[TopicPartition] = set()  # paused
        self.pending: tuple[list[TopicPartition], bool] | None = None
        self.polls = 0
        self.closed = False

    def rebalance(self, assigned: Sequence[TopicPartition], *, lost: bool = False) -> None:
        """At the next poll: revoke (or, with ``lost``, lose) the assignment, then give
        ``assigned``."""
        self.pending = (list(assigned), lost)

    def every_partition(self) -> list[TopicPartition]:
        """Every partition of the subscribed topics, in topic and partition order."""
        return [
            TopicPartition(topic, p)
            for topic in sorted(self.subscribed)
            for p in range(len(self.topics[topic]))
        ]

    # --- the GroupConsumer seam ---

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        return set(range(len(self.topics[topic]))) if topic in self.topics else None

    def subscribe(self, topics: list[str], listener: Any) -> None:
        self.subscribed, self.listener = list(topics), listener
        self.pending = (self.every_partition(), False)

    def poll(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[Record]]:
        del timeout_ms
        self.polls += 1
        self.before_poll(self.polls)
        if self.pending is not None:
            self._rebalance(*self.pending)
        left = [tp for tp in self.assigned if self.positions[tp] < self._end(tp)]
        if not left:
            self.on_drained()
        open_ = [tp for tp in left if tp not in self.stopped]
        if not open_:
            return {}
        share = max(1, max_records // len(open_))
        out: dict[TopicPartition, list[Record]] = {}
        for tp in open_:
            start = self.positions[tp]
            values = self.topics[tp.topic][tp.partition][start : start + share]
            out[tp] = [
                Record(tp.topic, tp.partition, start + i, -1, v) for i, v in enumerate(values)
            ]
            self.positions[tp] = start + len(values)
        return out

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    def highwater(self, partition: TopicPartition) -> int | None:
        return self._end(partition)

    def position(self, partition: TopicPartition, timeout_ms: int | None = None) -> int | None:
        del timeout_ms
        return self.positions.get(partition)

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.positions[partition] = offset

    def paused(self) -> set[TopicPartition]:
        return set(self.stopped)

    def pause(self, *partitions: TopicPartition) -> None:
        self.stopped.update(partitions)

    def resume(self, *partitions: TopicPartition) -> None:
        self.stopped.difference_update(partitions)

    def committed(self, partition: TopicPartition, timeout_ms: int | None = None) -> int | None:
        del timeout_ms
        return self.group.committed.get(partition)

    def commit(self, offsets: Mapping[TopicPartition, OffsetAndMetadata], timeout_ms: int) -> None:
        del timeout_ms
        self.group.commit(offsets)

    async def commit_async(self, offsets: Mapping[TopicPartition, OffsetAndMetadata]) -> None:
        self.group.commit(offsets)

    def close(self, timeout_ms: int) -> None:
        del timeout_ms
        self.closed = True

    # ---

    def _end(self, partition: TopicPartition) -> int:
        return len(self.topics[partition.topic][partition.partition])

    def _rebalance(self, assigned: list[TopicPartition], lost: bool) -> None:
        self.pending = None
        if self.assigned:
            gone = list(self.assigned)
            callback = (
                self.listener.on_partitions_lost if lost else self.listener.on_partitions_revoked
            )
            asyncio.run(callback(gone))
        self.assigned = assigned
        self.stopped &= set(assigned)
        self.positions = {tp: self.group.committed.get(tp, 0) for tp in assigned}
        asyncio.run(self.listener.on_partitions_assigned(list(assigned)))
