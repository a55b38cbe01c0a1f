"""Stage 2's input: exchange records of a poll decoded in partition and offset order, and what is
not a partial or mark of this configuration counted by reason and skipped, never raised."""

from __future__ import annotations

from collections import Counter
from typing import Any

from kafka import TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from monitor.exchange.reader import ExchangeReader
from monitor.exchange.records import Mark, Partial, encode

CONFIG = "sha256:c0"
TOPIC = "dw-exchange"


def _record(partition: int, offset: int, value: bytes | None) -> Any:
    return ConsumerRecord(
        TOPIC, partition, None, offset, 0, 0, None, value, [], None, -1, len(value or b""), -1
    )


def _poll(*records: Any) -> dict[TopicPartition, list[Any]]:
    polled: dict[TopicPartition, list[Any]] = {}
    for record in records:
        polled.setdefault(TopicPartition(TOPIC, record.partition), []).append(record)
    return polled


def _mark(source: int, config: str = CONFIG) -> bytes:
    return encode(Mark(config, source, end=5, watermark_ms=None, idle=False))


def test_records_come_out_in_partition_then_offset_order_with_their_position() -> None:
    """Partitions of a poll are read in order whatever order the poll listed them in, each
    record with the exchange partition and offset it was read at."""
    partial = encode(Partial(CONFIG, "m", source=3, first=0, end=5, windows=()))
    polled = _poll(_record(2, 7, _mark(3)), _record(0, 4, partial), _record(0, 5, _mark(3)))
    read = ExchangeReader(CONFIG).read(dict(reversed(polled.items())))
    assert [(r.partition, r.offset, type(r.record).__name__) for r in read] == [
        (0, 4, "Partial"),
        (0, 5, "Mark"),
        (2, 7, "Mark"),
    ]


def test_records_that_are_not_partials_or_marks_are_counted_and_skipped() -> None:
    """Bytes that are not JSON, another format version, and an empty value are each counted as
    malformed; the good record between them is still read."""
    reader = ExchangeReader(CONFIG)
    read = reader.read(
        _poll(
            _record(0, 0, b"\xff not json"),
            _record(0, 1, b'{"format": "driftwarden.mark/2"}'),
            _record(0, 2, _mark(7)),
            _record(0, 3, None),
        )
    )
    assert [r.offset for r in read] == [2]
    assert reader.rejected == Counter({"malformed": 3})


def test_records_of_another_configuration_are_counted_and_skipped() -> None:
    """A mark made under other settings (another config digest) is not taken into account."""
    reader = ExchangeReader(CONFIG)
    read = reader.read(_poll(_record(0, 0, _mark(1, "sha256:other")), _record(0, 1, _mark(1))))
    assert ([r.offset for r in read], reader.rejected) == ([1], Counter({"other_config": 1}))
