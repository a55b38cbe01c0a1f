"""The daemon's Kafka clients hand out a paused partition's fetched records once it is resumed
(kafka-python 3.0.12 alone never does when another partition's records were all handed out in
between: :mod:`monitor.sources.resuming_fetcher`)."""

from __future__ import annotations

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from monitor.config import KafkaConfig
from monitor.sources.kafka import kafka_client
from tests.support.kafka import create_topic


def read(client: KafkaConsumer, got: dict[TopicPartition, list[int]], tp: TopicPartition) -> None:
    """Poll ``client`` into ``got`` (offsets per partition) until ``tp`` has all 1,000, or 100
    polls of up to 1 s brought too few."""
    for _ in range(100):
        if len(got[tp]) >= 1_000:
            return
        for partition, records in client.poll(timeout_ms=1_000, max_records=100).items():
            got[partition] += [r.offset for r in records]


def test_a_resumed_partition_delivers_its_fetched_records_in_order(kafka_bootstrap: str) -> None:
    """Real client (as the daemon makes it): a partition paused after part of its fetch, while
    the other is read to its end, delivers every record once resumed, none twice, in order, and
    nothing while paused."""
    topic = create_topic(kafka_bootstrap, "paced", 2)
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    for partition in (0, 1):
        for i in range(1_000):
            producer.send(topic, str(i).encode(), partition=partition)
    producer.flush(timeout=60)
    producer.close()
    tps = [TopicPartition(topic, 0), TopicPartition(topic, 1)]
    config = KafkaConfig(bootstrap_servers=(kafka_bootstrap,))
    client = kafka_client(config, group_id=None, enable_auto_commit=False)
    try:
        client.assign(tps)
        client.seek_to_beginning()
        got: dict[TopicPartition, list[int]] = {tp: [] for tp in tps}
        while not any(got.values()):  # one fetch brings far more than the 10 taken
            for tp, records in client.poll(timeout_ms=1_000, max_records=10).items():
                got[tp] += [r.offset for r in records]
        paused = next(tp for tp in tps if got[tp])
        other = next(tp for tp in tps if tp != paused)
        client.pause(paused)
        taken = len(got[paused])
        read(client, got, other)
        assert len(got[paused]) == taken and client.position(paused) == taken
        client.resume(paused)
        read(client, got, paused)
        assert got == {tp: list(range(1_000)) for tp in tps}
    finally:
        client.close()
