"""Rebalances on the real broker: every one completes, and the daemon's report does not change."""

from __future__ import annotations

import threading
from pathlib import Path

from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.coordinator.assignors.range import RangePartitionAssignor

from baselines.values import Baseline
from tests.support.daemon import EVENTS, running_log_events
from tests.support.daemon import daemon_config as _config
from tests.support.daemon import events_seen as _events_seen
from tests.support.daemon import get_endpoint as _get
from tests.support.daemon import good_messages as _good
from tests.support.daemon import log_events as _log_events
from tests.support.daemon import start_logged_daemon as _start_logged
from tests.support.daemon import terminate as _terminate
from tests.support.daemon import wait_for as _wait
from tests.support.kafka import create_topic

REBALANCES = 30


def _assignments(log: Path) -> list[list[str]]:
    """Every assignment the daemon logged, in order."""
    return [e["partitions"] for e in _log_events(log) if e["event"] == "partitions assigned"]


class Guest:
    """A bare member of a group that sorts before the daemon, so the range assignor gives it the
    partition. It polls in its own thread, as a live member must to take part in rebalances, and
    never commits."""

    def __init__(self, bootstrap: str, group: str, partition: TopicPartition) -> None:
        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=group,
            client_id="a-guest",
            enable_auto_commit=False,
            partition_assignment_strategy=[RangePartitionAssignor],
        )
        self.consumer.subscribe([partition.topic])
        self.partition = partition
        self.holds = threading.Event()
        self.leave = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()
        _wait(self.holds.is_set, "the guest to hold the partition")

    def _poll(self) -> None:
        try:
            while not self.leave.is_set():
                self.consumer.poll(timeout_ms=100)
                if self.consumer.assignment() == {self.partition}:
                    self.holds.set()
        finally:
            self.consumer.close(autocommit=False)

    def close(self) -> None:
        """Leave the group."""
        self.leave.set()
        self.thread.join(timeout=60)


def _await_assignment(log: Path, seen: int, expected: list[str]) -> None:
    """Wait for an assignment after the first ``seen`` ones, equal to ``expected``."""
    _wait(
        lambda: len(_assignments(log)) > seen and _assignments(log)[-1] == expected,
        f"the daemon's assignment {expected} after {seen}",
    )


def test_thirty_rebalances_while_a_producer_writes_give_the_uninterrupted_report(
    tmp_path: Path,
    baseline: Baseline,
    kafka_bootstrap: str,
    uninterrupted: bytes,
) -> None:
    """A member joins and leaves 15 times as the stream is written: 30 rebalances, each one
    completes, no commit fails, and the report is byte-identical to an uninterrupted run's."""
    name = create_topic(kafka_bootstrap, "rebalanced")
    group = f"rebalanced-{name}"
    config, port = _config(
        tmp_path, baseline, kafka_bootstrap, name, "daemon", group_id=group, group_instance_id=None
    )
    log = tmp_path / "daemon.log"
    process = _start_logged(config, log)
    messages = _good()
    chunk = -(-len(messages) // REBALANCES)
    partition = TopicPartition(name, 0)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=20)
    try:
        _wait(lambda: _assignments(log) == [[f"{name}:0"]], "the first assignment")
        for rebalance in range(REBALANCES):
            for message in messages[rebalance * chunk : (rebalance + 1) * chunk]:
                producer.send(name, message)
            producer.flush(timeout=60)
            seen = len(_assignments(log))
            if rebalance % 2 == 0:
                guest = Guest(kafka_bootstrap, group, partition)
                _await_assignment(log, seen, [])
            else:
                guest.close()
                _await_assignment(log, seen, [f"{name}:0"])
        _wait(lambda: _events_seen(port) == EVENTS, "every event")
    finally:
        producer.close()
        _terminate(process)
    events = _log_events(log)
    assert [e for e in events if e["event"] == "offset commit failed"] == []
    assert len(_assignments(log)) >= REBALANCES + 1
    assert (tmp_path / "daemon" / "report.jsonl").read_bytes() == uninterrupted


def test_two_daemons_joining_a_busy_one_settle_with_every_partition_assigned_once(
    tmp_path: Path, baseline: Baseline, kafka_bootstrap: str
) -> None:
    """Two static members start together next to one that is consuming 12 prediction and 12
    label partitions: the busy one commits on revocation, every partition ends assigned exactly
    once, each process holds the same numbers of both topics, and no rebalance fails."""
    predictions = create_topic(kafka_bootstrap, "trio-predictions", partitions=12)
    labels = create_topic(kafka_bootstrap, "trio-labels", partitions=12)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=20)
    try:
        for i, message in enumerate(_good()[:1_200]):
            producer.send(predictions, message, partition=i % 12)
        producer.flush(timeout=60)
    finally:
        producer.close()
    group = f"trio-{predictions}"
    runs = ["one", "two", "three"]
    started = [
        _config(
            tmp_path,
            baseline,
            kafka_bootstrap,
            predictions,
            run,
            group_id=group,
            label_topics=[labels],
        )
        for run in runs
    ]
    logs = [tmp_path / f"{run}.log" for run in runs]
    processes = [_start_logged(started[0][0], logs[0])]

    def settled() -> bool:
        if any(_get(port, "/readyz")[0] != 200 for _, port in started):
            return False
        held = [p for log in logs for p in (_assignments(log) or [[]])[-1]]
        return len(held) == 24

    try:
        _wait(lambda: _events_seen(started[0][1]) == 1_200, "the first process to consume")
        processes += [
            _start_logged(config, log)
            for (config, _), log in zip(started[1:], logs[1:], strict=True)
        ]
        _wait(settled, "three ready processes holding 24 partitions between them")
    finally:
        for process in processes:
            _terminate(process)
    finals = [_assignments(log)[-1] for log in logs]
    everything = sorted(f"{t}:{p}" for t in (predictions, labels) for p in range(12))
    assert sorted(p for final in finals for p in final) == everything
    for final in finals:
        numbers = {
            t: {p.rsplit(":", 1)[1] for p in final if p.startswith(t)}
            for t in (predictions, labels)
        }
        assert numbers[predictions] == numbers[labels] != set()
    failures = [
        e
        for log in logs
        for e in running_log_events(log)
        if e["event"] in ("poll failed", "offset commit failed") or e.get("level") == "error"
    ]
    assert failures == []
