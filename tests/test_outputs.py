"""The shared producer's outbox: a message leaves it only once the broker acknowledged it."""

from __future__ import annotations

from typing import Any

from kafka.errors import KafkaTimeoutError, MessageSizeTooLargeError

from monitor.sinks.kafka_topics import SharedProducer


class Acknowledgement:
    """A producer future in the shape kafka-python gives: done, failed or pending."""

    def __init__(self, exception: Exception | None, done: bool = True) -> None:
        self.exception = exception
        self.done = done

    def failed(self) -> bool:
        return self.done and self.exception is not None


class Broker:
    """In-memory twin of KafkaProducer: keeps what it acknowledged; fails, refuses or stalls on
    request."""

    def __init__(self) -> None:
        self.acknowledged: list[bytes] = []
        self.failing = False
        self.refusing = False
        self.stalled = False

    def send(self, topic: str, **message: Any) -> Acknowledgement:
        if self.refusing:
            raise KafkaTimeoutError("Failed to update metadata after 5.0 secs.")
        if self.failing:
            return Acknowledgement(MessageSizeTooLargeError())
        if self.stalled:
            return Acknowledgement(None, done=False)
        self.acknowledged.append(message["value"])
        return Acknowledgement(None)

    def flush(self, timeout: float) -> None:
        if self.stalled:
            raise KafkaTimeoutError("Timeout waiting for future")


def _producer() -> tuple[SharedProducer, Broker]:
    producer, broker = SharedProducer(), Broker()
    producer.producer = broker  # type: ignore[assignment]
    return producer, broker


def test_a_flush_that_sees_every_message_acknowledged_empties_the_outbox() -> None:
    """Acknowledged messages leave the outbox and the flush reports no problem."""
    producer, broker = _producer()
    producer.send("dead", value=b"a")
    producer.send("dead", value=b"b")
    assert producer.flush(1.0) is None
    assert (producer.outbox, broker.acknowledged) == ([], [b"a", b"b"])


def test_failed_messages_stay_and_are_sent_again_at_the_next_flush() -> None:
    """A message the broker failed is reported by the flush and sent again by the next one."""
    producer, broker = _producer()
    broker.failing = True
    producer.send("dead", value=b"a")
    assert producer.flush(1.0) == (
        "1 message(s) not acknowledged: [Error 10] MessageSizeTooLargeError"
    )
    broker.failing = False
    assert producer.flush(1.0) is None
    assert (producer.outbox, broker.acknowledged) == ([], [b"a"])


def test_a_flush_that_times_out_keeps_every_message() -> None:
    """While acknowledgements do not come, the flush says so and the outbox keeps its messages."""
    producer, broker = _producer()
    broker.stalled = True
    producer.send("dead", value=b"a")
    assert producer.flush(1.0) == (
        "the producer flush did not finish: KafkaTimeoutError: Timeout waiting for future"
    )
    assert len(producer.outbox) == 1


def test_a_refused_send_holds_the_next_ones_until_a_flush_sends_them_in_order() -> None:
    """After a refused send, later messages wait in the outbox; the next flush sends them all."""
    producer, broker = _producer()
    broker.refusing = True
    producer.send("dead", value=b"a")
    broker.refusing = False
    producer.send("dead", value=b"b")
    assert broker.acknowledged == []
    assert producer.flush(1.0) is None
    assert broker.acknowledged == [b"a", b"b"]


def test_a_flush_while_sends_are_still_refused_stops_at_the_first() -> None:
    """A flush that cannot hand a held message over reports it and keeps the rest queued."""
    producer, broker = _producer()
    broker.refusing = True
    producer.send("dead", value=b"a")
    producer.send("alerts", value=b"b")
    assert producer.flush(1.0) == "a message to dead cannot be sent"
    assert len(producer.outbox) == 2
