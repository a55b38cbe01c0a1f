"""Stage 1's side of a commit cycle: its partials and marks as exchange records.

Each partial goes to the exchange partition of its model (:func:`partition_of`, keyed by the
model so any Kafka client puts it there too); each mark goes to every exchange partition,
without a key, after all the partials: within an exchange partition a mark then follows the
partials it covers (one transaction, one producer, records of a partition in the order sent),
which is what lets stage 2 close a window on it (docs/scale-out.md, "Records").
"""

from __future__ import annotations

from collections.abc import Iterable

from monitor.exchange.commit_cycle import RecordSender
from monitor.exchange.partitioner import partition_of
from monitor.exchange.records import Mark, Partial, encode


def publish(
    sender: RecordSender,
    topic: str,
    partitions: int,
    partials: Iterable[Partial],
    marks: Iterable[Mark],
) -> None:
    """Send a cycle's ``partials`` then its ``marks`` to the exchange ``topic`` of
    ``partitions`` partitions, into the cycle's open transaction."""
    for partial in partials:
        model = partial.model
        sender.send(topic, partition_of(model, partitions), model.encode(), encode(partial))
    for mark in marks:
        value = encode(mark)
        for partition in range(partitions):
            sender.send(topic, partition, None, value)
