"""A scaled-out group's internal topics on the real broker, and reading one partition back."""

from __future__ import annotations

import time
import uuid
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from monitor.config import ExchangeConfig
from monitor.exchange.stage_two_partitions import StageTwoPartitions
from monitor.exchange.topics import ensure_topics, internal_topics

READ_BOUND_S = 60  # one generous bound on reading a partition to its end


def new_group(bootstrap: str, *, exchange_partitions: int, tasks: int) -> str:
    """A fresh group id whose exchange and changelogs exist, made as the daemon makes them."""
    group = f"scale-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    try:
        exchange = ExchangeConfig(partitions=exchange_partitions, replication_factor=1)
        ensure_topics(admin, group, internal_topics(group, exchange, tasks))
    finally:
        admin.close()
    return group


def read_partition(
    bootstrap: str, topic: str, partition: int, isolation: str = "read_committed"
) -> list[Any]:
    """Every record of one partition (``ConsumerRecord``s) up to its end offset."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, isolation_level=isolation
    )
    tp = TopicPartition(topic, partition)
    try:
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        end = consumer.end_offsets([tp])[tp]
        records: list[Any] = []
        deadline = time.monotonic() + READ_BOUND_S
        while consumer.position(tp) < end:
            assert time.monotonic() < deadline, f"{topic}[{partition}] not read to {end}"
            records.extend(consumer.poll(timeout_ms=500).get(tp, []))
        return records
    finally:
        consumer.close()


def close_all(partitions: StageTwoPartitions) -> None:
    """End of input: every open window of every owned exchange partition closes and is
    written."""
    for e, windows in sorted(partitions.windows.partitions.items()):
        partitions.stages[e].emit(windows.flush())
