"""Kafka as a source: poll batches of raw messages, and read a bounded slice of a topic.

Messages become :class:`~monitor.batches.RawRecords` with one integer ``partition`` id per
(topic, partition) pair (``PartitionIds``), so the windows keep one watermark per source
partition. Within a poll, records are ordered by topic, partition and offset, so the same poll
result always gives the same batch.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from kafka import KafkaConsumer, TopicPartition
from kafka.coordinator.assignors.range import RangePartitionAssignor
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from monitor.batches import RawRecords
from monitor.config import KafkaConfig
from monitor.errors import SourceError
from monitor.sources.group_join import SettlingCoordinator
from monitor.sources.resuming_fetcher import ResumingFetcher

TOPIC_STRIDE = 100_000  # partition ids: topic index × stride + partition
BOOTSTRAP_TIMEOUT_MS = 5_000
"""How long the daemon's clients try to reach the broker per attempt: short, so that a SIGTERM
during an outage is honoured in seconds (the daemon retries with a backoff)."""


class PartitionIds:
    """A stable integer id for every (topic, partition) of the configured topics.

    >>> ids = PartitionIds(["predictions", "labels"])
    >>> ids.id_of("predictions", 3), ids.topic_partition(3)
    (100003, ('labels', 3))
    """

    def __init__(self, topics: Iterable[str]) -> None:
        self.topics = sorted(set(topics))
        self._index = {topic: i for i, topic in enumerate(self.topics)}

    def id_of(self, topic: str, partition: int) -> int:
        return self._index[topic] * TOPIC_STRIDE + partition

    def topic_partition(self, partition_id: int) -> tuple[str, int]:
        index, partition = divmod(partition_id, TOPIC_STRIDE)
        return self.topics[index], partition


def to_raw_records(polled: Mapping[TopicPartition, Sequence[Any]], ids: PartitionIds) -> RawRecords:
    """One batch of every record of a poll result, ordered by topic, partition and offset."""
    values: list[bytes] = []
    partitions: list[np.ndarray] = []
    offsets: list[int] = []
    timestamps: list[int] = []
    for tp in sorted(polled, key=lambda tp: (tp.topic, tp.partition)):
        records = polled[tp]
        values.extend(r.value if r.value is not None else b"" for r in records)
        offsets.extend(r.offset for r in records)
        timestamps.extend(r.timestamp if r.timestamp is not None else -1 for r in records)
        partitions.append(np.full(len(records), ids.id_of(tp.topic, tp.partition), np.int64))
    return RawRecords(
        values,
        np.concatenate(partitions) if partitions else np.empty(0, np.int64),
        np.asarray(offsets, dtype=np.int64),
        np.asarray(timestamps, dtype=np.int64),
    )


@dataclass(frozen=True)
class TopicSlice:
    """Where a bounded read of one topic starts and stops, per partition."""

    start: dict[TopicPartition, int]
    end: dict[TopicPartition, int]

    @property
    def total(self) -> int:
        return sum(max(0, self.end[tp] - self.start[tp]) for tp in self.end)


class GroupConsumer(Protocol):
    """What the daemon asks of a consumer-group client: kafka-python's :class:`KafkaConsumer`
    (:func:`connect_group`) or an in-memory twin with the same behaviour (the tests')."""

    def partitions_for_topic(self, topic: str) -> set[int] | None: ...

    def subscribe(self, topics: list[str], listener: Any) -> None: ...

    def poll(self, timeout_ms: int, max_records: int) -> Mapping[TopicPartition, Sequence[Any]]: ...

    def assignment(self) -> set[TopicPartition]: ...

    def highwater(self, partition: TopicPartition) -> int | None: ...

    def position(self, partition: TopicPartition, timeout_ms: int | None = None) -> int | None: ...

    def seek(self, partition: TopicPartition, offset: int) -> None: ...

    def paused(self) -> set[TopicPartition]: ...

    def pause(self, *partitions: TopicPartition) -> None: ...

    def resume(self, *partitions: TopicPartition) -> None: ...

    def committed(self, partition: TopicPartition, timeout_ms: int | None = None) -> int | None: ...

    def commit(
        self, offsets: Mapping[TopicPartition, OffsetAndMetadata], timeout_ms: int
    ) -> None: ...

    def commit_async(self, offsets: Mapping[TopicPartition, OffsetAndMetadata]) -> Any: ...

    def close(self, timeout_ms: int) -> None: ...


POLL_SLICE_MS = 100
"""A group consumer's poll waits in slices of this long, so that it notices a stalled
heartbeat within one slice."""


class PacedConsumer(KafkaConsumer):  # type: ignore[misc]
    """A :class:`KafkaConsumer` whose ``poll`` does not spin while the broker does not answer.

    kafka-python 3.0.12 caps a poll's wait by the time to the next heartbeat. While a heartbeat
    is in flight to a broker that does not answer (paused, overloaded), that time is 0 and stays
    0 until the request times out (``request_timeout_ms``, 30 s): ``poll`` then loops without
    waiting, and every round adds callbacks to the fetch still in flight: ~1,000 rounds and
    ~60,000 Python objects a second, freed only when that fetch times out. The burst leaves
    Python's small-object arenas fragmented, a lasting step of the resident set after each
    outage (``benchmarks/README.md``, Soak). Here a poll in that state makes one round without
    waiting and then sleeps ``retry_backoff_ms`` itself; otherwise it is kafka-python's own
    poll, in slices of ``POLL_SLICE_MS``. Its coordinator is a :class:`SettlingCoordinator`:
    a join the broker answered while no poll waited still gives this member its assignment.
    """

    def __init__(self, *topics: str, **configs: Any) -> None:
        super().__init__(*topics, **configs)
        self._coordinator.__class__ = SettlingCoordinator

    def poll(
        self, timeout_ms: int = 0, max_records: int | None = None, update_offsets: bool = True
    ) -> Mapping[TopicPartition, Sequence[Any]]:
        deadline = time.monotonic() + timeout_ms / 1000
        while True:
            remaining_ms = max(0, int((deadline - time.monotonic()) * 1000))
            stalled = self._coordinator.time_to_next_poll() <= 0
            records: Mapping[TopicPartition, Sequence[Any]] = super().poll(
                timeout_ms=0 if stalled else min(remaining_ms, POLL_SLICE_MS),
                max_records=max_records,
                update_offsets=update_offsets,
            )
            if records or remaining_ms == 0:
                return records
            if stalled:
                time.sleep(min(remaining_ms, self.config["retry_backoff_ms"]) / 1000)


def kafka_client(
    config: KafkaConfig, *, consumer_class: type[KafkaConsumer] = KafkaConsumer, **extra: Any
) -> KafkaConsumer:
    """The one place a :class:`KafkaConsumer` is made: the config's connection options plus
    ``extra``, and a :class:`ResumingFetcher` (paused partitions deliver again once resumed);
    raises :class:`KafkaError` when the broker cannot be reached."""
    client = consumer_class(**config.client_options(), **extra)
    client._fetcher.__class__ = ResumingFetcher
    return client


def connect_group(config: KafkaConfig, **overrides: Any) -> GroupConsumer:
    """The daemon's member of ``config.group_id``: manual commits, from the earliest offset
    without one, and the range assignor, so the same partition number of every topic goes to
    the same member (labels keyed like their predictions land where the prediction is).
    ``overrides`` replace or add consumer options (another group, ``isolation_level``)."""
    options: dict[str, Any] = {
        "bootstrap_timeout_ms": BOOTSTRAP_TIMEOUT_MS,
        "group_id": config.group_id,
        "group_instance_id": config.group_instance_id,
        "session_timeout_ms": config.session_timeout,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "max_poll_records": config.max_poll_records,
        "max_partition_fetch_bytes": config.max_partition_fetch_bytes,
        "partition_assignment_strategy": [RangePartitionAssignor],
    }
    client: GroupConsumer = kafka_client(
        config, consumer_class=PacedConsumer, **{**options, **overrides}
    )
    return client


def _consumer(config: KafkaConfig, **extra: Any) -> KafkaConsumer:
    try:
        return kafka_client(config, **extra)
    except KafkaError as exc:
        raise SourceError(
            f"cannot reach Kafka at {','.join(config.bootstrap_servers)} ({exc}); "
            "check kafka.bootstrap_servers and the security settings"
        ) from None


def plan_slice(
    consumer: KafkaConsumer, topic: str, from_ms: int | None, to_ms: int | None
) -> TopicSlice:
    """Start offsets from ``from_ms`` (or the beginning), end offsets at ``to_ms`` (or the end)."""
    found = consumer.partitions_for_topic(topic)
    if not found:
        raise SourceError(f"topic {topic!r} does not exist or has no partitions; check its name")
    partitions = [TopicPartition(topic, p) for p in sorted(found)]
    ends = consumer.end_offsets(partitions)
    starts = consumer.beginning_offsets(partitions)
    if from_ms is not None:
        found_from = consumer.offsets_for_times({tp: from_ms for tp in partitions})
        starts = {tp: (o.offset if o is not None else ends[tp]) for tp, o in found_from.items()}
    if to_ms is not None:
        found_to = consumer.offsets_for_times({tp: to_ms for tp in partitions})
        ends = {tp: (o.offset if o is not None else ends[tp]) for tp, o in found_to.items()}
    return TopicSlice(dict(starts), dict(ends))


TimeRange = tuple[int | None, int | None]
"""First and end instant (epoch ms of the record timestamps) of a read; None: open-ended."""


def plan_topics(config: KafkaConfig, ranges: Mapping[str, TimeRange]) -> TopicSlice:
    """The offsets between which every partition of each topic is read, from its time range."""
    consumer = _consumer(config, group_id=None, enable_auto_commit=False)
    try:
        start: dict[TopicPartition, int] = {}
        end: dict[TopicPartition, int] = {}
        for topic, (from_ms, to_ms) in ranges.items():
            plan = plan_slice(consumer, topic, from_ms, to_ms)
            start.update(plan.start)
            end.update(plan.end)
        return TopicSlice(start, end)
    finally:
        consumer.close()


def read_topic(
    config: KafkaConfig,
    topic: str,
    *,
    from_ms: int | None = None,
    to_ms: int | None = None,
    timeout_s: float = 60.0,
) -> Iterator[RawRecords]:
    """Every record of ``topic`` between two instants, in batches; stops by itself at the end."""
    plan = plan_topics(config, {topic: (from_ms, to_ms)})
    for predictions, _ in read_slice(config, plan, PartitionIds([topic]), timeout_s=timeout_s):
        yield predictions


Pace = Callable[[KafkaConsumer, Mapping[tuple[str, int], int]], object]
"""Called after each poll of a bounded read with the consumer and the records left to read of
each (topic, partition)."""


def read_slice(
    config: KafkaConfig,
    plan: TopicSlice,
    ids: PartitionIds,
    *,
    label_topics: frozenset[str] = frozenset(),
    pace: Pace | None = None,
    timeout_s: float = 60.0,
) -> Iterator[tuple[RawRecords, RawRecords]]:
    """The planned records, a poll at a time, as (predictions, labels) of that poll, the way the
    daemon splits a poll; stops by itself once every partition reached its end offset.

    No consumer group is used (nothing is committed). ``pace`` is called after each poll (once
    the caller has taken its records) with the consumer and the records left to read of every
    planned partition (:class:`~monitor.sources.label_pacing.LabelPacing`). ``timeout_s``
    bounds how long the read may go without progress before it fails with a SourceError.
    """
    consumer = _consumer(config, group_id=None, enable_auto_commit=False)
    try:
        pending = {tp for tp in plan.end if plan.end[tp] > plan.start[tp]}
        consumer.assign(sorted(plan.end, key=lambda tp: (tp.topic, tp.partition)))
        for tp, offset in plan.start.items():
            consumer.seek(tp, offset)
        idle_since = time.monotonic()
        while pending:
            polled = consumer.poll(timeout_ms=500, max_records=config.max_poll_records)
            kept = {
                tp: [r for r in records if r.offset < plan.end[tp]]
                for tp, records in polled.items()
                if tp in pending
            }
            left = {tp: plan.end[tp] - consumer.position(tp) for tp in pending}
            pending = {tp for tp, n in left.items() if n > 0}
            kept = {tp: records for tp, records in kept.items() if records}
            if kept:
                idle_since = time.monotonic()
                labels = {tp: r for tp, r in kept.items() if tp.topic in label_topics}
                predictions = {tp: r for tp, r in kept.items() if tp not in labels}
                yield to_raw_records(predictions, ids), to_raw_records(labels, ids)
            elif time.monotonic() - idle_since > timeout_s:
                topics = ", ".join(sorted({tp.topic for tp in pending}))
                raise SourceError(
                    f"reading {topics} made no progress for {timeout_s:.0f}s with "
                    f"{len(pending)} partition(s) unfinished; check the broker"
                )
            if pace is not None:
                pace(
                    consumer, {(tp.topic, tp.partition): max(0, left.get(tp, 0)) for tp in plan.end}
                )
    finally:
        consumer.close()
