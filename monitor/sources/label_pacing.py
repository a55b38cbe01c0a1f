"""Label partitions read no further ahead (in event time) of their predictions than a bound.

Label partition ``k`` is joined with partition ``k`` of the prediction topics: both are keyed by
event id, so a label and its prediction share the partition number (a *task*,
:func:`~monitor.exchange.stage_one_tasks.task_of`). On a backlog, a fetch returns as many bytes
of each partition, so the label partitions' small messages are read far ahead of their
predictions, and labels wait as orphans in the join until the oldest give way at
``labels.max_orphans``. :class:`LabelPacing`, asked once after every poll (its records
processed), pauses a label partition whose largest event time read is more than
``labels.read_ahead`` past that of a prediction partition of its number which still has
records to read, and resumes it otherwise. It cannot stall: a prediction partition that is read
to its end (caught up, idle, empty) or not owned holds nothing back, a label partition without
a prediction partition of its number always flows, and the predictions themselves are never
paused, so the partition a label waits for always moves towards its end.

A prediction partition whose end is not known yet (not fetched since it was assigned) counts as
having records: it is fetched with the next poll. A label partition with no event time read yet
flows: its first poll tells how far ahead it is.

What kafka-python 3.0.12 does with a paused partition (``consumer/fetcher.py``): ``poll``
returns none of its records; what it had already fetched or parsed for it is parked (KAFKA-7548),
neither dropped nor fetched again, and handed out from the partition's position once resumed
(records from before a ``seek`` are discarded then; the parsed ones come back only with the
fix every consumer of :func:`~monitor.sources.kafka.kafka_client` has,
:mod:`monitor.sources.resuming_fetcher`). A paused partition's position stays where
the last record returned left it, so the offsets a driver commits and checkpoints (the last
record processed + 1) are the same as without pausing: nothing is lost, doubled or reordered.

Bound: labels read ahead of their predictions stay within ``read_ahead`` of event time, plus
the labels of one poll (``kafka.max_poll_records``) per label partition (the check runs between
polls), whatever the backlog.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from kafka import TopicPartition

from monitor.sources.kafka import PartitionIds

Partition = tuple[str, int]
"""A (topic, partition) pair, as the lag and the endpoints name partitions."""


class PausingConsumer(Protocol):
    """What pacing asks of a consumer: kafka-python's :class:`KafkaConsumer` or a twin."""

    def assignment(self) -> set[TopicPartition]: ...

    def paused(self) -> set[TopicPartition]: ...

    def pause(self, *partitions: TopicPartition) -> None: ...

    def resume(self, *partitions: TopicPartition) -> None: ...


@dataclass(frozen=True)
class Paced:
    """The label partitions paced after the last poll, and those held back among them."""

    partitions: frozenset[Partition] = frozenset()
    """Every owned label partition."""
    held: Mapping[Partition, int | None] = field(default_factory=dict)
    """Held back: how far (ms of event time) its labels are read past its predictions, None
    while those have delivered no event time yet."""


class LabelPacing:
    """Pauses the label partitions read too far ahead of their predictions; see the module.

    >>> from types import SimpleNamespace
    >>> ids = PartitionIds(["predictions", "labels"])
    >>> paused = set()
    >>> consumer = SimpleNamespace(
    ...     assignment=lambda: {TopicPartition("predictions", 0), TopicPartition("labels", 0)},
    ...     paused=lambda: set(paused),
    ...     pause=lambda *tps: paused.update(tps),
    ...     resume=lambda *tps: paused.difference_update(tps),
    ... )
    >>> pacing = LabelPacing(ids, ["labels"], read_ahead_ms=60_000)
    >>> times = {ids.id_of("labels", 0): 500_000, ids.id_of("predictions", 0): 300_000}
    >>> pacing.pace(consumer, {("predictions", 0): 40}, times).held
    {('labels', 0): 200000}
    >>> pacing.pace(consumer, {("predictions", 0): 0}, times).held, paused
    ({}, set())
    """

    def __init__(self, ids: PartitionIds, label_topics: Collection[str], read_ahead_ms: int):
        self.ids = ids
        self.label_topics = frozenset(label_topics)
        self.read_ahead_ms = read_ahead_ms
        self._paced = Paced()  # replaced whole after each poll: the endpoints read it

    def paced(self) -> Paced:
        """The label partitions paced after the last poll, and those held back."""
        return self._paced

    def pace(
        self,
        consumer: PausingConsumer,
        lag: Mapping[Partition, int],
        read_times: Mapping[int, int],
    ) -> Paced:
        """After a poll: pause the label partitions to hold back, resume the others.

        ``lag`` gives the records left to read per owned (topic, partition) whose end is known;
        ``read_times`` the largest event time read per partition id (the windows' per-partition
        maxima).
        """
        if not self.label_topics:
            return self._paced
        assigned = consumer.assignment()
        predictions: dict[int, list[TopicPartition]] = {}
        for tp in assigned:
            if tp.topic not in self.label_topics:
                predictions.setdefault(tp.partition, []).append(tp)
        labels = [tp for tp in assigned if tp.topic in self.label_topics]
        held: dict[Partition, int | None] = {}
        for tp in labels:
            label_time = read_times.get(self.ids.id_of(tp.topic, tp.partition))
            if label_time is None:  # nothing read yet: its first poll flows
                continue
            for prediction in predictions.get(tp.partition, ()):
                if lag.get((prediction.topic, prediction.partition), 1) <= 0:
                    continue  # read to its end: holds nothing back
                time = read_times.get(self.ids.id_of(prediction.topic, prediction.partition))
                if time is None or label_time - time > self.read_ahead_ms:
                    held[(tp.topic, tp.partition)] = None if time is None else label_time - time
                    break
        hold = {tp for tp in labels if (tp.topic, tp.partition) in held}
        paused = consumer.paused()
        if hold - paused:
            consumer.pause(*sorted(hold - paused))
        release = {tp for tp in paused if tp.topic in self.label_topics} - hold
        if release:
            consumer.resume(*sorted(release))
        self._paced = Paced(frozenset((tp.topic, tp.partition) for tp in labels), held)
        return self._paced
