"""A group member's join, answered while no poll waits for it, still ends in an assignment.

kafka-python 3.0.12 drops a JoinGroup→SyncGroup answered between two polls
(``monitor.sources.group_join``): the member joins again and again, or stays rebalancing until the
broker expels it. The daemon's loop works between polls, and its poll sleeps while a heartbeat
is overdue (as during a long join), so that happened there. These members poll without waiting
and let the broker answer between polls, every time.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from kafka import TopicPartition
from kafka.structs import MemberState

from monitor.config import KafkaConfig
from monitor.sources.kafka import PacedConsumer, connect_group
from tests.support.daemon import wait_for
from tests.support.kafka import create_topic

PARTITIONS = 4


@pytest.fixture
def shared_topic(kafka_bootstrap: str) -> str:
    """A new topic of PARTITIONS partitions."""
    return create_topic(kafka_bootstrap, "join", partitions=PARTITIONS)


def _members(bootstrap: str, topic: str, count: int) -> list[PacedConsumer]:
    """``count`` daemon group members of one new group (static, as the daemon's tests run
    them), subscribed to ``topic``."""
    group = f"join-{uuid.uuid4().hex[:8]}"
    members = []
    for i in range(count):
        config = KafkaConfig(
            bootstrap_servers=[bootstrap],
            prediction_topics=[topic],
            group_id=group,
            group_instance_id=f"{group}-{i}",
        )
        member = connect_group(config)
        assert isinstance(member, PacedConsumer)
        member.subscribe([topic])
        members.append(member)
    return members


@pytest.fixture
def members(
    kafka_bootstrap: str, shared_topic: str, request: pytest.FixtureRequest
) -> Iterator[list[PacedConsumer]]:
    """``request.param`` members of one new group on ``shared_topic``, closed after the test."""
    started = _members(kafka_bootstrap, shared_topic, request.param)
    try:
        yield started
    finally:
        for member in started:
            member.close(timeout_ms=5_000)


def _stable(member: PacedConsumer) -> bool:
    return bool(member.group_metadata().state == MemberState.STABLE)


def _settled_alone(member: PacedConsumer, topic: str) -> bool:
    """Unless a join of ``member`` is in flight, poll once without waiting (so the broker
    answers every join between two polls); whether it is stable, owning every partition."""
    join = member._coordinator._join_task
    if join is not None and not join.is_done:
        return False
    member.poll(timeout_ms=0)
    every = {TopicPartition(topic, p) for p in range(PARTITIONS)}
    return _stable(member) and member.assignment() == every


@pytest.mark.parametrize("members", [1], indirect=True)
def test_a_member_whose_joins_are_answered_between_polls_settles(
    members: list[PacedConsumer], shared_topic: str
) -> None:
    """A member that polls only when no join of its own is in flight ends stable, owning every
    partition (kafka-python 3.0.12 joins a new member twice: the second join's answer was
    dropped and the member stayed rebalancing)."""
    (member,) = members
    wait_for(lambda: _settled_alone(member, shared_topic), "the member to settle", 60.0)


def _settled(members: list[PacedConsumer], topic: str) -> bool:
    """Poll each member once without waiting; whether all are stable, each owns a partition of
    its own and together they own them all (so the last rebalance reached every member)."""
    owned = []
    for member in members:
        member.poll(timeout_ms=0)
        owned.append(member.assignment())
    every = {TopicPartition(topic, p) for p in range(PARTITIONS)}
    return (
        all(map(_stable, members))
        and all(owned)
        and sum(map(len, owned)) == PARTITIONS
        and set().union(*owned) == every
    )


@pytest.mark.parametrize("members", [2, 3, 4], indirect=True)
def test_members_that_never_wait_in_poll_settle_on_one_assignment(
    members: list[PacedConsumer], shared_topic: str
) -> None:
    """Two to four members polled in turn, none waiting for its join, settle: all stable, each
    partition owned by exactly one of them."""
    wait_for(lambda: _settled(members, shared_topic), f"{len(members)} members to settle", 60.0)
