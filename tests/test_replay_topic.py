"""Replay from a Kafka topic on the real broker equals the replay of the same events from a file."""

from __future__ import annotations

import uuid
from pathlib import Path

import orjson
import pytest
from kafka import KafkaProducer

from baselines.values import Baseline
from monitor.app import replay_to_file, replay_topic_to_file
from monitor.config import Settings
from tests.support.kafka import create_topic
from tests.support.replay_stream import drifting_events as _events
from tests.support.replay_stream import replay_settings as _settings
from tests.support.replay_stream import write_jsonl as _write_jsonl


def _topic(bootstrap: str, events: list[dict[str, object]], partitions: int = 1) -> str:
    """A fresh topic holding ``events`` in order, record timestamps set to the event times."""
    name = create_topic(bootstrap, "replay")
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    try:
        for event in events:
            producer.send(
                name, orjson.dumps(event), partition=0, timestamp_ms=int(event["timestamp"]) + 1
            )  # type: ignore[call-overload]
        producer.flush(timeout=30)
    finally:
        producer.close()
    return name


def _kafka_settings(tmp_path: Path, baseline: Baseline, bootstrap: str) -> Settings:
    base = _settings(tmp_path, baseline)
    kafka = {
        "bootstrap_servers": [bootstrap],
        "prediction_topics": ["unused"],
        "max_poll_records": 300,
    }
    return Settings.model_validate({**base.model_dump(), "kafka": kafka})


def test_topic_replay_equals_file_replay(
    tmp_path: Path, baseline: Baseline, kafka_bootstrap: str
) -> None:
    """Events produced to a topic replay to the same report bytes as from a JSON Lines file."""
    events = _events(1_500, shift_from_hour=3)
    source = _write_jsonl(tmp_path / "events.jsonl", events)
    settings = _kafka_settings(tmp_path, baseline, kafka_bootstrap)
    replay_to_file(settings, {"m": baseline}, source, tmp_path / "file.jsonl", batch_size=250)
    topic = _topic(kafka_bootstrap, events)
    summary = replay_topic_to_file(settings, {"m": baseline}, topic, tmp_path / "topic.jsonl")
    assert sum(summary.events.values()) == 1_500
    assert (tmp_path / "topic.jsonl").read_bytes() == (tmp_path / "file.jsonl").read_bytes()


def test_topic_replay_reads_only_the_requested_slice(
    tmp_path: Path, baseline: Baseline, kafka_bootstrap: str
) -> None:
    """--from/--to select records by their timestamps and the replay stops by itself."""
    events = _events(600)
    settings = _kafka_settings(tmp_path, baseline, kafka_bootstrap)
    topic = _topic(kafka_bootstrap, events)
    hour = 3_600_000
    summary = replay_topic_to_file(
        settings, {"m": baseline}, topic, tmp_path / "slice.jsonl", from_ms=2 * hour, to_ms=4 * hour
    )
    expected = sum(1 for e in events if 2 * hour <= int(e["timestamp"]) + 1 < 4 * hour)  # type: ignore[call-overload]
    assert sum(summary.events.values()) == expected


@pytest.mark.parametrize("name", ["no-such-topic"])
def test_missing_topic_is_a_clear_error(
    tmp_path: Path, baseline: Baseline, kafka_bootstrap: str, name: str
) -> None:
    """Replaying a topic that does not exist names it."""
    from monitor.errors import SourceError

    settings = _kafka_settings(tmp_path, baseline, kafka_bootstrap)
    with pytest.raises(SourceError, match="no-such-topic"):
        replay_topic_to_file(
            settings, {"m": baseline}, f"{name}-{uuid.uuid4().hex[:6]}", tmp_path / "r.jsonl"
        )
