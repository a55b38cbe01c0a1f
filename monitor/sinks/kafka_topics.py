"""What the daemon writes back to Kafka: rejected messages to a dead-letter topic, level
transitions to an alerts topic. Both share one producer that keeps every message until the broker
has acknowledged it (an outbox): a send that fails, or is refused while the broker is away, is
sent again at the next flush. The daemon flushes before every checkpoint and checkpoints only
when the flush found every message acknowledged, so an offset is never committed past a dead
letter the broker does not hold. Delivery is at least once: what was sent after the last
checkpoint is sent again after a kill -9, and a resent message may come after newer ones.

A scaled-out process (``exchange.enabled``) sends them exactly once instead: each waits in its
stage's :class:`CycleOutbox` and goes out inside that stage's next commit cycle, committed with
the offsets of the input that made it (dead letters with stage 1's, alert transitions with
stage 2's), so a ``read_committed`` reader sees each once.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
import structlog
from kafka import KafkaProducer
from kafka.errors import KafkaError

from monitor.batches import Reject
from monitor.errors import error_text
from monitor.sinks.base import AlertRecord, Record
from monitor.sources.kafka import PartitionIds

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


class MessageSender(Protocol):
    """Where the sinks below send: the shared producer or a stage's outbox."""

    def send(self, topic: str, **message: Any) -> None: ...


class CycleOutbox:
    """Messages waiting for their stage's next commit cycle, in the order sent.

    The cycle sends what :meth:`take` gives inside its transaction. Messages of work the stage
    will do again from Kafka are dropped, as that work makes them again: all of them when its
    state rewinds (:meth:`clear`), those of models another process took over
    (:meth:`forget_keys`).

    >>> outbox = CycleOutbox()
    >>> outbox.send("alerts", value=b"{}", key=b"m")
    >>> outbox.send("alerts", value=b"{}", key=b"n")
    >>> outbox.forget_keys({b"m"})
    >>> outbox.take()
    [('alerts', {'value': b'{}', 'key': b'n'})]
    """

    def __init__(self) -> None:
        self.pending: list[tuple[str, dict[str, Any]]] = []

    def send(self, topic: str, **message: Any) -> None:
        """Keep one message (``KafkaProducer.send`` keywords) for the next cycle."""
        self.pending.append((topic, message))

    def take(self) -> list[tuple[str, dict[str, Any]]]:
        """Every message kept, in order; the outbox is empty afterwards."""
        pending, self.pending = self.pending, []
        return pending

    def clear(self) -> None:
        """Drop every message kept."""
        self.pending = []

    def forget_keys(self, keys: Collection[bytes]) -> None:
        """Drop the messages whose key is one of ``keys``."""
        self.pending = [(t, m) for t, m in self.pending if m.get("key") not in keys]


@dataclass
class _Outgoing:
    """One message in the outbox, and the producer's future for its last attempt (if any)."""

    topic: str
    message: dict[str, Any]
    future: Any = None


class SharedProducer:
    """The one Kafka producer of the daemon, with every message not yet acknowledged."""

    SEND_BLOCK_MS = 5_000  # longest a send may wait for a full buffer or a topic's metadata

    def __init__(self) -> None:
        self.producer: KafkaProducer | None = None
        self.outbox: list[_Outgoing] = []
        self.held = False  # a send was refused: keep the next ones until the flush tries again

    def connect(self, options: Mapping[str, Any]) -> None:
        """Create the producer (raises KafkaError while the broker is unreachable)."""
        if self.producer is None:
            self.producer = KafkaProducer(
                **options, acks="all", linger_ms=20, max_block_ms=self.SEND_BLOCK_MS
            )

    def send(self, topic: str, **message: Any) -> None:
        """Queue one message; it stays in the outbox until a flush sees it acknowledged."""
        if self.producer is None:
            raise RuntimeError("the producer is used before the daemon connected to Kafka")
        outgoing = _Outgoing(topic, message)
        self.outbox.append(outgoing)
        if not self.held:
            self._hand_over(outgoing)

    def _hand_over(self, outgoing: _Outgoing) -> bool:
        assert self.producer is not None
        try:
            outgoing.future = self.producer.send(outgoing.topic, **outgoing.message)
        except KafkaError as exc:
            outgoing.future = None
            self.held = True
            log.warning("kafka send refused", topic=outgoing.topic, error=error_text(exc))
            return False
        return True

    def flush(self, timeout_s: float) -> str | None:
        """Send again what failed, wait for every acknowledgement; ``None`` once all are in.

        Otherwise the reason the outbox is not empty yet (the messages stay in it).
        """
        if self.producer is None:
            return None
        self.held = False
        for outgoing in self.outbox:
            if (outgoing.future is None or outgoing.future.failed()) and not self._hand_over(
                outgoing
            ):
                return f"a message to {outgoing.topic} cannot be sent"
        try:
            self.producer.flush(timeout=timeout_s)
        except KafkaError as exc:
            return f"the producer flush did not finish: {error_text(exc)}"
        failed = [o for o in self.outbox if o.future.failed()]
        if failed:
            first = error_text(failed[0].future.exception)
            return f"{len(failed)} message(s) not acknowledged: {first}"
        self.outbox.clear()
        return None

    def close(self) -> None:
        if self.producer is not None:
            self.producer.close(timeout=10)


class DeadLetters:
    """Reject sink: the original bytes of every rejected message, reason in the headers."""

    def __init__(self, producer: MessageSender, topic: str, ids: PartitionIds) -> None:
        self.producer = producer
        self.topic = topic
        self.ids = ids

    def reject(self, reject: Reject) -> None:
        """Send the original bytes (cut to what a Kafka message may hold, the cut recorded)."""
        headers = dead_letter_headers(reject, self.ids)
        value = reject.raw
        if len(value) > MAX_DEAD_LETTER_BYTES:
            headers.append((TRUNCATED_HEADER, str(len(value)).encode()))
            value = value[:MAX_DEAD_LETTER_BYTES]
        self.producer.send(self.topic, value=value, headers=headers)


class AlertsTopic:
    """Sink: every level transition as its JSON report object, keyed by model."""

    def __init__(self, producer: MessageSender, topic: str) -> None:
        self.producer = producer
        self.topic = topic

    def write(self, record: Record) -> None:
        if isinstance(record, AlertRecord):
            self.producer.send(
                self.topic, value=orjson.dumps(record.report), key=record.key.model.encode()
            )


class CycleAlertsTopic(AlertsTopic):
    """The alerts topic of a scaled-out process: transitions wait in stage 2's outbox for its
    next commit cycle; those of models another process took over are dropped (it makes them
    again from the exchange offsets committed)."""

    def __init__(self, outbox: CycleOutbox, topic: str) -> None:
        super().__init__(outbox, topic)
        self.outbox = outbox

    def forget_models(self, models: Collection[str]) -> None:
        """Drop the waiting transitions of ``models``."""
        self.outbox.forget_keys({model.encode() for model in models})
