"""What the daemon writes back to Kafka: rejected messages to a dead-letter topic, level
transitions to an alerts topic. Both share one producer, flushed before every checkpoint, so an
offset is committed only after the dead letters before it were handed to the broker. Delivery
is at least once: what was sent after the last checkpoint is sent again after a kill -9.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
import structlog
from kafka import KafkaProducer
from kafka.errors import KafkaError

from monitor.sources.kafka import PartitionIds
from monitor.types import Reject

REASON_HEADER = "driftwarden-reason"
DETAIL_HEADER = "driftwarden-detail"
SOURCE_HEADER = "driftwarden-source"
TRUNCATED_HEADER = "driftwarden-truncated-from"
MAX_DEAD_LETTER_BYTES = 900_000  # below the producer's default max_request_size (1 MiB)
_MAX_DETAIL = 512

log = structlog.get_logger()


def dead_letter_headers(reject: Reject, ids: PartitionIds) -> list[tuple[str, bytes]]:
    """Headers that say why a message was rejected and where it came from.

    >>> r = Reject("invalid_json", "unexpected end", 100002, 17, b"{")
    >>> dead_letter_headers(r, PartitionIds(["labels", "predictions"]))[2]
    ('driftwarden-source', b'predictions:2:17')
    """
    topic, partition = ids.topic_partition(reject.partition)
    return [
        (REASON_HEADER, reject.reason.encode()),
        (DETAIL_HEADER, reject.detail[:_MAX_DETAIL].encode()),
        (SOURCE_HEADER, f"{topic}:{partition}:{reject.offset}".encode()),
    ]


class SharedProducer:
    """The one Kafka producer of the daemon, connected once the broker is reachable."""

    def __init__(self) -> None:
        self.producer: KafkaProducer | None = None

    def connect(self, options: Mapping[str, Any]) -> None:
        """Create the producer (raises KafkaError while the broker is unreachable)."""
        if self.producer is None:
            self.producer = KafkaProducer(**options, acks="all", linger_ms=20)

    def send(self, topic: str, **message: Any) -> None:
        if self.producer is None:
            raise RuntimeError("the producer is used before the daemon connected to Kafka")
        self.producer.send(topic, **message)

    def flush(self) -> None:
        if self.producer is not None:
            self.producer.flush(timeout=30)

    def close(self) -> None:
        if self.producer is not None:
            self.producer.close(timeout=10)


class DeadLetters:
    """Reject sink: the original bytes of every rejected message, reason in the headers."""

    def __init__(self, producer: SharedProducer, topic: str, ids: PartitionIds) -> None:
        self.producer = producer
        self.topic = topic
        self.ids = ids
        self.failed = 0

    def reject(self, reject: Reject) -> None:
        """Send the original bytes (cut to what a Kafka message may hold, the cut recorded)."""
        headers = dead_letter_headers(reject, self.ids)
        value = reject.raw
        if len(value) > MAX_DEAD_LETTER_BYTES:
            headers.append((TRUNCATED_HEADER, str(len(value)).encode()))
            value = value[:MAX_DEAD_LETTER_BYTES]
        try:
            self.producer.send(self.topic, value=value, headers=headers)
        except KafkaError as exc:  # a dead letter that cannot be sent must not stop the daemon
            self.failed += 1
            log.error("dead letter not sent", reason=reject.reason, error=str(exc))


class AlertsTopic:
    """Report sink: every level transition as a JSON message keyed by model."""

    def __init__(self, producer: SharedProducer, topic: str) -> None:
        self.producer = producer
        self.topic = topic

    def write(self, record: Mapping[str, Any]) -> None:
        if record["kind"] == "alert":
            self.producer.send(
                self.topic, value=orjson.dumps(record), key=str(record["model"]).encode()
            )
