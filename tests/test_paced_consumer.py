"""The daemon's group consumer waits while the broker does not answer, instead of spinning.

kafka-python 3.0.12's own poll loops without waiting while a heartbeat is stalled (in flight to a
broker that does not answer), adding objects to the fetch in flight every round
(``monitor.sources.kafka.PacedConsumer``). The first tests pin the pacing with a stand-in for
kafka-python's poll and a fake clock; the last one runs a real consumer against a paused broker.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from kafka import KafkaConsumer

import monitor.sources.kafka as source
from monitor.config import KafkaConfig
from monitor.sources.kafka import POLL_SLICE_MS, PacedConsumer, connect_group
from tests.support.daemon import wait_for
from tests.support.kafka import LocalBroker
from tests.support.kafka import produce as _produce


class _Clock:
    """``time.monotonic`` and ``time.sleep`` of ``monitor.sources.kafka``: sleeping advances it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        self.now += seconds


class _Coordinator:
    def __init__(self, seconds_to_next_poll: float) -> None:
        self.seconds_to_next_poll = seconds_to_next_poll

    def time_to_next_poll(self) -> float:
        return self.seconds_to_next_poll


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    fake = _Clock()
    monkeypatch.setattr(source, "time", fake)
    return fake


def _consumer(
    monkeypatch: pytest.MonkeyPatch, clock: _Clock, seconds_to_next_poll: float, answers: Any
) -> tuple[PacedConsumer, list[int]]:
    """A PacedConsumer whose kafka-python poll returns ``answers`` in turn (then nothing),
    each taking the wait it was given; and the list of those waits."""
    waits: list[int] = []
    queued = iter(answers)

    def kafka_poll(_: Any, timeout_ms: int, max_records: Any, update_offsets: bool) -> Any:
        waits.append(timeout_ms)
        clock.now += timeout_ms / 1000
        return next(queued, {})

    monkeypatch.setattr(KafkaConsumer, "poll", kafka_poll)
    consumer = PacedConsumer.__new__(PacedConsumer)
    consumer._coordinator = _Coordinator(seconds_to_next_poll)
    consumer.config = {"retry_backoff_ms": 100}
    return consumer, waits


def test_stalled_heartbeat_polls_once_per_retry_backoff(
    monkeypatch: pytest.MonkeyPatch, clock: _Clock
) -> None:
    """While a heartbeat is stalled, a 1 s poll is ten rounds without a wait, each followed by
    a sleep of retry_backoff_ms."""
    consumer, waits = _consumer(monkeypatch, clock, 0.0, [])

    assert consumer.poll(timeout_ms=1000) == {}

    assert waits == [0] * 11
    assert clock.sleeps == [0.1] * 10


def test_healthy_poll_waits_in_slices_and_returns_the_first_records(
    monkeypatch: pytest.MonkeyPatch, clock: _Clock
) -> None:
    """With heartbeats on time a poll is kafka-python's, in slices of POLL_SLICE_MS, and
    returns as soon as one slice brings records."""
    consumer, waits = _consumer(monkeypatch, clock, 2.5, [{}, {}, {"tp": ["record"]}])

    assert consumer.poll(timeout_ms=1000) == {"tp": ["record"]}

    assert waits == [POLL_SLICE_MS] * 3
    assert clock.sleeps == []


def test_poll_without_time_left_makes_one_round(
    monkeypatch: pytest.MonkeyPatch, clock: _Clock
) -> None:
    """A poll with a timeout of 0 asks kafka-python once, without waiting, stalled or not."""
    for seconds_to_next_poll in (0.0, 2.5):
        consumer, waits = _consumer(monkeypatch, clock, seconds_to_next_poll, [])

        assert consumer.poll(timeout_ms=0) == {}
        assert waits == [0]


@pytest.fixture
def paused_member(own_broker: LocalBroker) -> Iterator[tuple[PacedConsumer, list[int]]]:
    """The daemon's group member, assigned and caught up, then the broker paused until its
    heartbeat stalls; and a list that counts kafka-python's poll rounds from then on."""
    topic = _produce(own_broker.bootstrap, [b"{}"] * 10)
    config = KafkaConfig(
        bootstrap_servers=[own_broker.bootstrap],
        prediction_topics=[topic],
        group_id=f"paced-{uuid.uuid4().hex[:8]}",
    )
    consumer = connect_group(config)
    assert isinstance(consumer, PacedConsumer)
    consumer.subscribe([topic])
    read: list[Any] = []
    try:
        wait_for(
            lambda: read.extend(consumer.poll(timeout_ms=200).values()) or len(read) == 1,
            "the records",
        )
        own_broker.pause()
        wait_for(
            lambda: (
                consumer.poll(timeout_ms=100) == {}
                and consumer._coordinator.time_to_next_poll() <= 0
            ),
            "the heartbeat to stall",
        )
        rounds: list[int] = []
        original = KafkaConsumer._poll_once

        def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
            rounds.append(1)
            return original(self, *args, **kwargs)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(KafkaConsumer, "_poll_once", counted)
            yield consumer, rounds
    finally:
        own_broker.resume()
        consumer.close(timeout_ms=5_000)


def test_a_paused_broker_costs_one_poll_round_per_retry_backoff(
    paused_member: tuple[PacedConsumer, list[int]],
) -> None:
    """Against a paused broker, a 1 s poll makes at most 11 rounds (kafka-python's own poll:
    about a thousand, each leaving objects on the fetch in flight)."""
    consumer, rounds = paused_member

    assert consumer.poll(timeout_ms=1000) == {}

    assert 1 <= len(rounds) <= 1000 // consumer.config["retry_backoff_ms"] + 1
