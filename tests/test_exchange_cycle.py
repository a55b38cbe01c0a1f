"""Stage 1's commit cycle on the real broker: partials and marks of a committed cycle reach stage
2 in order with the consumed offsets, an aborted one never does, and a second process with the
same transactional id fences the first."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator

import numpy as np
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.structs import OffsetAndMetadata

from monitor.exchange.commit_cycle import CommitCycle, CycleFailed, transactional_id
from monitor.exchange.partitioner import partition_of
from monitor.exchange.publish import publish
from monitor.exchange.reader import ExchangeReader
from monitor.exchange.records import Mark, Partial, WindowPart
from tests.support.exchange import new_group, read_partition
from tests.support.kafka import JAVA_MISSING, LocalBroker, append, create_topic

CONFIG = "sha256:c0"
PARTITIONS = 3
MODELS = ["car-loan", "churn", "spam", "m"]  # exchange partitions 1, 2, 0 and 2 of 3


def _partial(model: str, source: int, first: int, end: int) -> Partial:
    counts, performance = np.ones(4, np.int64), np.zeros(0, np.int64)
    part = WindowPart(0, 3_600_000, "v1", "", end - first, counts, performance)
    return Partial(CONFIG, model, source, first, end, windows=(part,))


def _mark(source: int, end: int) -> Mark:
    return Mark(CONFIG, source, end, watermark_ms=1_000 * end, idle=False)


def _exchange(bootstrap: str, group: str) -> list[list[tuple[str, int, int]]]:
    """Per exchange partition, what stage 2 reads: ("partial", model, end) or ("mark", source,
    end), committed records only."""
    reader = ExchangeReader(CONFIG)
    topic = f"{group}-exchange"
    seen = []
    for partition in range(PARTITIONS):
        polled = {TopicPartition(topic, partition): read_partition(bootstrap, topic, partition)}
        seen.append(
            [
                ("partial", r.record.model, r.record.end)
                if isinstance(r.record, Partial)
                else ("mark", r.record.source, r.record.end)
                for r in reader.read(polled)
            ]
        )
    return seen


@pytest.fixture
def group(kafka_bootstrap: str) -> str:
    return new_group(kafka_bootstrap, exchange_partitions=PARTITIONS, tasks=2)


@pytest.fixture
def cycle(kafka_bootstrap: str, group: str) -> Iterator[CommitCycle]:
    made = CommitCycle({"bootstrap_servers": kafka_bootstrap}, transactional_id(group, 1, "pod-0"))
    yield made
    made.close()


def test_the_default_partitioner_of_the_exchange_is_kafkas(
    kafka_bootstrap: str, group: str
) -> None:
    """Records keyed by model, placed by kafka-python's own partitioner, land where
    partition_of says: every client agrees on a model's exchange partition."""
    assert [partition_of(m, PARTITIONS) for m in MODELS] == [1, 2, 0, 2]
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap)
    placed = [producer.send(f"{group}-exchange", b"x", key=m.encode()) for m in MODELS]
    producer.flush()
    producer.close()
    assert [f.get().partition for f in placed] == [1, 2, 0, 2]


def test_a_committed_cycle_reaches_stage_2_with_each_mark_after_its_partials(
    kafka_bootstrap: str, group: str, cycle: CommitCycle
) -> None:
    """Each partial lands in its model's exchange partition, and both source partitions' marks
    in every partition after the partials they cover."""
    cycle.begin()
    partials = [_partial(m, 0, 0, 10) for m in MODELS] + [_partial("churn", 1, 0, 4)]
    publish(cycle, f"{group}-exchange", PARTITIONS, partials, [_mark(0, 10), _mark(1, 4)])
    cycle.commit({}, None)
    marks = [("mark", 0, 10), ("mark", 1, 4)]
    assert _exchange(kafka_bootstrap, group) == [
        [("partial", "spam", 10), *marks],
        [("partial", "car-loan", 10), *marks],
        [("partial", "churn", 10), ("partial", "m", 10), ("partial", "churn", 4), *marks],
    ]


def test_an_aborted_cycle_is_never_read(
    kafka_bootstrap: str, group: str, cycle: CommitCycle
) -> None:
    """What a cycle sent before it aborted reached the log but is invisible to read_committed
    readers; the next cycle's records are read as if it had not happened."""
    topic = f"{group}-exchange"
    cycle.begin()
    publish(cycle, topic, PARTITIONS, [_partial("spam", 0, 0, 10)], [_mark(0, 10)])
    cycle.producer.flush()
    cycle.abort()
    cycle.begin()
    publish(cycle, topic, PARTITIONS, [_partial("spam", 0, 0, 12)], [_mark(0, 12)])
    cycle.commit({}, None)
    assert _exchange(kafka_bootstrap, group)[0] == [("partial", "spam", 12), ("mark", 0, 12)]
    everything = read_partition(kafka_bootstrap, topic, 0, "read_uncommitted")
    assert [r.offset for r in everything] == [0, 1, 3, 4]  # 2: the abort marker


def test_the_consumed_offsets_commit_with_the_cycle(
    kafka_bootstrap: str, group: str, cycle: CommitCycle
) -> None:
    """Offsets sent with a committed cycle are the group's: a new member of the group starts
    after them."""
    source = create_topic(kafka_bootstrap, "source")
    append(kafka_bootstrap, source, [str(i).encode() for i in range(10)])
    first = _member(kafka_bootstrap, group, source)
    taken = _take(first, 6)
    cycle.begin()
    publish(cycle, f"{group}-exchange", PARTITIONS, [], [_mark(0, 6)])
    offsets = {TopicPartition(source, 0): OffsetAndMetadata(6, "", -1)}
    cycle.commit(offsets, first.group_metadata())
    first.close()
    second = _member(kafka_bootstrap, group, source)
    assert (taken, _take(second, 4)) == (
        [b"0", b"1", b"2", b"3", b"4", b"5"],
        [b"6", b"7", b"8", b"9"],
    )
    second.close()


def test_a_cycle_of_a_member_the_group_moved_on_from_commits_nothing(
    kafka_bootstrap: str, group: str, cycle: CommitCycle
) -> None:
    """Offsets sent with the group metadata of a member that has left (its partitions given to
    another) are refused (KIP-447): the cycle fails as commit failed and none of it is read;
    the next cycle, with the current member's metadata, commits."""
    source = create_topic(kafka_bootstrap, "source")
    topic, tp = f"{group}-exchange", TopicPartition(source, 0)
    former = _member(kafka_bootstrap, group, source)
    _take_assignment(former)
    stale = former.group_metadata()
    former.close()
    current = _member(kafka_bootstrap, group, source)
    _take_assignment(current)
    cycle.begin()
    publish(cycle, topic, PARTITIONS, [_partial("spam", 0, 0, 5)], [])
    with pytest.raises(CycleFailed) as failed:
        cycle.commit({tp: OffsetAndMetadata(5, "", -1)}, stale)
    cycle.begin()
    publish(cycle, topic, PARTITIONS, [_partial("spam", 0, 0, 6)], [])
    cycle.commit({tp: OffsetAndMetadata(6, "", -1)}, current.group_metadata())
    committed = current.committed(tp)
    current.close()
    assert (failed.value.cause, committed) == ("commit failed", 6)
    assert _exchange(kafka_bootstrap, group)[0] == [("partial", "spam", 6)]


def test_a_record_the_producer_refuses_fails_the_cycle_and_the_next_one_commits(
    kafka_bootstrap: str, group: str, cycle: CommitCycle
) -> None:
    """A record over the producer's max_request_size fails its cycle as commit failed; what
    the cycle sent before it is never read, and the cycle after it commits."""
    topic = f"{group}-exchange"
    cycle.begin()
    publish(cycle, topic, PARTITIONS, [_partial("spam", 0, 0, 5)], [])
    with pytest.raises(CycleFailed) as failed:
        cycle.send(topic, 0, None, bytes(2 * 1024 * 1024))
    cycle.begin()
    publish(cycle, topic, PARTITIONS, [_partial("spam", 0, 0, 6)], [])
    cycle.commit({}, None)
    assert failed.value.cause == "commit failed"
    assert _exchange(kafka_bootstrap, group)[0] == [("partial", "spam", 6)]


def _take_assignment(consumer: KafkaConsumer) -> None:
    """Poll until the group gave ``consumer`` its partitions (a generous bound)."""
    for _ in range(120):
        if consumer.assignment():
            return
        consumer.poll(timeout_ms=500)
    raise AssertionError("the group assigned no partition within a minute")


def _member(bootstrap: str, group: str, topic: str) -> KafkaConsumer:
    return KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )


def _take(consumer: KafkaConsumer, count: int) -> list[bytes]:
    """The next ``count`` values (a generous bound on waiting for them)."""
    values: list[bytes] = []
    for _ in range(120):
        for records in consumer.poll(timeout_ms=500, max_records=count - len(values)).values():
            values.extend(r.value for r in records)
        if len(values) == count:
            return values
    raise AssertionError(f"got {len(values)} of {count} records")


def test_a_second_process_with_the_same_id_fences_the_first(
    kafka_bootstrap: str, group: str, cycle: CommitCycle
) -> None:
    """A process started with the same group_instance_id takes over: the first one's open cycle
    fails as fenced, never commits, and stays fenced instead of fencing the newcomer back."""
    topic = f"{group}-exchange"
    cycle.begin()
    publish(cycle, topic, PARTITIONS, [_partial("spam", 0, 0, 10)], [])
    newcomer = CommitCycle(dict(cycle.options), cycle.transactional_id)
    newcomer.begin()
    with pytest.raises(CycleFailed) as failed:
        cycle.commit({}, None)
    with pytest.raises(CycleFailed) as again:
        cycle.begin()
    publish(newcomer, topic, PARTITIONS, [_partial("spam", 0, 0, 12)], [])
    newcomer.commit({}, None)
    newcomer.close()
    assert (failed.value.cause, again.value.cause) == ("fenced", "fenced")
    assert _exchange(kafka_bootstrap, group)[0] == [("partial", "spam", 12)]


def test_a_cycle_the_broker_timed_out_is_not_mistaken_for_fencing(
    kafka_bootstrap: str, group: str
) -> None:
    """A cycle left open past its transaction timeout is aborted by the broker; records sent
    after that fail the cycle as commit failed, not fenced, and the next cycle commits."""
    options = {"bootstrap_servers": kafka_bootstrap, "transaction_timeout_ms": 1_000}
    cycle = CommitCycle(options, transactional_id(group, 1, "slow"))
    topic = f"{group}-exchange"
    cycle.begin()
    publish(cycle, topic, PARTITIONS, [_partial("spam", 0, 0, 5)], [])
    cycle.producer.flush()
    _wait_until_no_transaction_is_open(kafka_bootstrap, TopicPartition(topic, 0))
    publish(cycle, topic, PARTITIONS, [_partial("spam", 0, 5, 6)], [])
    with pytest.raises(CycleFailed) as failed:
        cycle.commit({}, None)
    cycle.begin()
    publish(cycle, topic, PARTITIONS, [_partial("spam", 0, 0, 7)], [])
    cycle.commit({}, None)
    cycle.close()
    assert failed.value.cause == "commit failed"
    assert _exchange(kafka_bootstrap, group)[0] == [("partial", "spam", 7)]


def _wait_until_no_transaction_is_open(bootstrap: str, tp: TopicPartition) -> None:
    """Wait (a generous bound) until the partition's last stable offset is its end."""
    committed = KafkaConsumer(bootstrap_servers=bootstrap, isolation_level="read_committed")
    everything = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        for _ in range(600):
            if committed.end_offsets([tp]) == everything.end_offsets([tp]):
                return
            time.sleep(0.2)
        raise AssertionError(f"a transaction on {tp} stayed open for two minutes")
    finally:
        committed.close()
        everything.close()


@pytest.fixture(scope="module")
def paused_broker() -> Iterator[LocalBroker]:
    """A broker of this module's own, which its test pauses."""
    if shutil.which("java") is None:
        pytest.skip(JAVA_MISSING)
    broker = LocalBroker()
    broker.start()
    yield broker
    broker.stop(purge=True)


def test_a_broker_that_stops_answering_fails_the_cycle_as_a_timeout(
    paused_broker: LocalBroker,
) -> None:
    """A commit the broker does not answer fails within the cycle's bound as a timeout; once the
    broker is back the next cycle commits and the timed-out one is never read."""
    bootstrap = paused_broker.bootstrap
    group = new_group(bootstrap, exchange_partitions=PARTITIONS, tasks=1)
    cycle = CommitCycle({"bootstrap_servers": bootstrap}, f"{group}-t", timeout_ms=3_000)
    cycle.begin()
    publish(cycle, f"{group}-exchange", PARTITIONS, [_partial("spam", 0, 0, 10)], [])
    paused_broker.pause()
    try:
        with pytest.raises(CycleFailed) as failed:
            cycle.commit({}, None)
    finally:
        paused_broker.resume()
    cycle.timeout_ms = 60_000
    cycle.begin()
    publish(cycle, f"{group}-exchange", PARTITIONS, [_partial("spam", 0, 0, 12)], [])
    cycle.commit({}, None)
    cycle.close()
    assert failed.value.cause == "timeout"
    assert _exchange(bootstrap, group)[0] == [("partial", "spam", 12)]
