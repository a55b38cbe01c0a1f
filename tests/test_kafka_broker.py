"""The local Kafka broker: a real produce/consume round trip with kafka-python, and its script."""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

from tests.support.kafka import run_script
from tests.support.ports import free_loopback_ports

PARTITIONS = 3
MESSAGES = 1_000
MODELS = 5
REQUEST_TIMEOUT_MS = 10_000
CONSUME_DEADLINE_S = 30.0

Event = dict[str, Any]


def prediction_events() -> list[Event]:
    """``MESSAGES`` prediction events, ``seq`` counting up, spread over ``MODELS`` models."""
    return [
        {
            "event_id": f"e{seq}",
            "seq": seq,
            "model": f"model-{seq % MODELS}",
            "prediction": round(seq / MESSAGES, 3),
            "features": {"x": seq % 7, "color": ("red", "green", "blue")[seq % 3]},
        }
        for seq in range(MESSAGES)
    ]


@pytest.fixture(scope="module")
def topic(kafka_bootstrap: str) -> Iterator[str]:
    """A fresh topic with ``PARTITIONS`` partitions."""
    name = f"roundtrip-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(
        bootstrap_servers=kafka_bootstrap, request_timeout_ms=REQUEST_TIMEOUT_MS
    )
    try:
        admin.create_topics(
            {name: {"num_partitions": PARTITIONS, "replication_factor": 1}},
            timeout_ms=REQUEST_TIMEOUT_MS,
            wait_for_metadata=True,
        )
    finally:
        admin.close()
    yield name


@pytest.fixture(scope="module")
def produced(kafka_bootstrap: str, topic: str) -> list[Event]:
    """The events written to ``topic``, each keyed by its model, all acknowledged."""
    events = prediction_events()
    producer = KafkaProducer(
        bootstrap_servers=kafka_bootstrap,
        acks="all",
        request_timeout_ms=REQUEST_TIMEOUT_MS,
        max_block_ms=REQUEST_TIMEOUT_MS,
    )
    try:
        futures = [
            producer.send(topic, key=e["model"].encode(), value=orjson.dumps(e)) for e in events
        ]
        producer.flush(timeout=REQUEST_TIMEOUT_MS / 1000)
        for future in futures:
            future.get(timeout=REQUEST_TIMEOUT_MS / 1000)
    finally:
        producer.close(timeout=REQUEST_TIMEOUT_MS / 1000)
    return events


@pytest.fixture(scope="module")
def group(topic: str) -> str:
    """The consumer group that reads ``topic`` back."""
    return f"{topic}-readers"


@pytest.fixture(scope="module")
def consumed(kafka_bootstrap: str, topic: str, group: str, produced: list[Event]) -> list[Any]:
    """Every record the group reads from ``topic``, after which it commits its offsets."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        request_timeout_ms=REQUEST_TIMEOUT_MS + 5_000,
    )
    records: list[Any] = []
    try:
        deadline = time.monotonic() + CONSUME_DEADLINE_S
        while len(records) < len(produced) and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                records.extend(batch)
        for batch in consumer.poll(timeout_ms=500).values():  # anything beyond the expected
            records.extend(batch)
        consumer.commit()
    finally:
        consumer.close(autocommit=False)
    return records


def test_created_topic_has_the_requested_partitions(kafka_bootstrap: str, topic: str) -> None:
    """A topic created through the admin client has exactly the partitions asked for."""
    admin = KafkaAdminClient(
        bootstrap_servers=kafka_bootstrap, request_timeout_ms=REQUEST_TIMEOUT_MS
    )
    try:
        (description,) = admin.describe_topics([topic])
    finally:
        admin.close()
    assert sorted(p["partition_index"] for p in description["partitions"]) == [0, 1, 2]


def test_consumer_group_reads_back_every_message_exactly_once(
    produced: list[Event], consumed: list[Any]
) -> None:
    """The group reads back exactly the produced events: none lost, none doubled, none changed."""
    assert len(consumed) == MESSAGES
    events = [orjson.loads(record.value) for record in consumed]
    assert sorted(events, key=lambda e: e["seq"]) == produced


def test_events_of_one_model_arrive_in_the_order_produced(consumed: list[Any]) -> None:
    """Events keyed by the same model share a partition and keep their produced order."""
    seqs_by_model: dict[str, list[int]] = defaultdict(list)
    partitions_by_model: dict[str, set[int]] = defaultdict(set)
    for record in consumed:
        seqs_by_model[record.key.decode()].append(orjson.loads(record.value)["seq"])
        partitions_by_model[record.key.decode()].add(record.partition)
    assert all(len(partitions) == 1 for partitions in partitions_by_model.values())
    assert seqs_by_model == {f"model-{m}": list(range(m, MESSAGES, MODELS)) for m in range(MODELS)}


def test_group_commit_stores_the_end_offset_of_every_partition(
    kafka_bootstrap: str, group: str, consumed: list[Any]
) -> None:
    """After a commit the group's stored offset for each partition is that partition's size."""
    read_per_partition: dict[int, int] = defaultdict(int)
    for record in consumed:
        read_per_partition[record.partition] += 1
    admin = KafkaAdminClient(
        bootstrap_servers=kafka_bootstrap, request_timeout_ms=REQUEST_TIMEOUT_MS
    )
    try:
        committed = admin.list_group_offsets(group)[group]
    finally:
        admin.close()
    assert {tp.partition: meta.offset for tp, meta in committed.items()} == {
        p: read_per_partition[p] for p in range(PARTITIONS)
    }


def test_status_reports_an_idle_port_as_not_running() -> None:
    """``kafka.sh status`` exits 3 and says "not running" for a port without a broker."""
    (port,) = free_loopback_ports(1)
    status = run_script("status", "--port", str(port), timeout_s=10)
    assert (status.returncode, status.stderr) == (3, f"kafka: not running on port {port}\n")


def test_start_keep_data_without_storage_says_to_start_fresh() -> None:
    """``kafka.sh start --keep-data`` where no broker ran exits 1 and says how to start fresh."""
    (port,) = free_loopback_ports(1)
    started = run_script("start", "--port", str(port), "--keep-data", timeout_s=10)
    assert started.returncode == 1
    assert started.stderr.startswith("kafka: no broker storage in ")
    assert started.stderr.endswith(
        f"/run-{port}/data to keep: start without --keep-data to format one\n"
    )


def test_help_names_every_command_and_option() -> None:
    """``kafka.sh --help`` lists the commands and the options the script accepts."""
    usage = run_script("--help", timeout_s=10).stderr
    for word in ("install", "start", "stop", "status", "--port", "--keep-data", "--purge"):
        assert word in usage
