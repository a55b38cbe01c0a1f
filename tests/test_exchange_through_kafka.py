"""Two processes' stage 1 and one stage 2, connected through the exchange topic of a real
broker in transactional commit cycles, write the report one process writes: the two stages add
up across processes."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import orjson
import pytest
from kafka import KafkaConsumer, TopicPartition

from baselines.values import Baseline
from monitor.app import exchange_stages
from monitor.batches import RawRecords
from monitor.config import Settings
from monitor.exchange import handover
from monitor.exchange.commit_cycle import CommitCycle
from monitor.exchange.publish import publish
from monitor.exchange.reader import ExchangeReader
from monitor.exchange.records import Partial
from monitor.pipeline import Pipeline, windows_for
from monitor.sinks.base import report_json
from monitor.sinks.memory import ListSink
from monitor.stage_one import StageOne, Totals
from tests.support.exchange import close_all
from tests.support.kafka import create_topic
from tests.support.label_stream import NOW_MS, label_settings, labelled_stream

CONFIG = "sha256:test"
SOURCES = 4  # partitions of the prediction and of the label topic
LABELS = 100_000  # the label topic's partition ids start here (PartitionIds)
SOURCE_IDS = {*range(SOURCES), *range(LABELS, LABELS + SOURCES)}
EXCHANGE_PARTITIONS = 3
BATCH = 150
CYCLE = 3  # batches per commit cycle


def _settings() -> Settings:
    return label_settings(
        detectors={
            "prediction": [{"name": "page_hinkley_np"}],
            "errors": [{"stream": "error", "name": "ddm_np"}],
        },
        exchange={"partitions": EXCHANGE_PARTITIONS},
    )


def _batches() -> list[RawRecords]:
    """Predictions and their labels (a concept switch at hour 4) spread over four partitions of
    each topic by event id, in polls of 150 that interleave the partitions, labels two polls
    behind their predictions."""
    predictions, labels = labelled_stream(n=6_000, hours=8, flip_from_hour=4)
    by_partition: dict[int, list[bytes]] = {}
    for i, (prediction, label) in enumerate(zip(predictions, labels, strict=True)):
        by_partition.setdefault(i % SOURCES, []).append(orjson.dumps(prediction))
        by_partition.setdefault(LABELS + i % SOURCES, []).append(orjson.dumps(label))
    polls: list[RawRecords] = []
    rounds = max(len(v) for v in by_partition.values()) // BATCH + 3
    for r in range(rounds):
        for p in range(SOURCES):
            for source, at in ((p, r), (LABELS + p, r - 2)):
                part = by_partition[source][at * BATCH : (at + 1) * BATCH] if at >= 0 else []
                if part:
                    offsets = np.arange(at * BATCH, at * BATCH + len(part), dtype=np.int64)
                    polls.append(
                        RawRecords(
                            part, np.full(len(part), source), offsets, np.full(len(part), -1)
                        )
                    )
    return polls


def _is_label(poll: RawRecords) -> bool:
    return int(poll.partition[0]) >= LABELS


def _one_process(settings: Settings, baseline: Baseline, polls: list[RawRecords]) -> list[bytes]:
    return _one_process_run(settings, baseline, polls)[0]


def _one_process_run(
    settings: Settings, baseline: Baseline, polls: list[RawRecords]
) -> tuple[list[bytes], dict[str, int]]:
    """One in-memory process's report lines of ``polls``, and its events per model."""
    sink = ListSink()
    pipeline = Pipeline(settings, {"m": baseline}, [sink], join_labels=True)
    pipeline.hold_partitions(SOURCE_IDS)  # as a daemon assigned every partition holds them
    for poll in polls:
        (pipeline.process_labels if _is_label(poll) else pipeline.process_records)(poll, NOW_MS)
    pipeline.finish()
    return sorted(report_json(r) for r in sink.reports()), dict(pipeline.totals.events)


@dataclass
class _StageOneProcess:
    """One process's stage 1: its source partitions, publishing what it counted each cycle."""

    stage1: StageOne
    cycle: CommitCycle
    published: list[Partial]

    def consume(self, poll: RawRecords) -> None:
        accept = self.stage1.process_labels if _is_label(poll) else self.stage1.process_records
        accept(poll, NOW_MS)

    def commit(self, exchange: str, again: list[Partial] = ()) -> None:
        """One transactional cycle: the partials counted since the last (and ``again``, copies
        of earlier ones, as a process restarted from an older state would send), then marks."""
        partials = handover.drain(self.stage1.counters, CONFIG)
        _, marks = handover.marks(self.stage1.counters, CONFIG)
        self.cycle.begin()
        publish(self.cycle, exchange, EXCHANGE_PARTITIONS, [*again, *partials], marks)
        self.cycle.commit({}, None)
        self.published = partials


def _stage_one(
    settings: Settings, baseline: Baseline, bootstrap: str, name: str
) -> _StageOneProcess:
    windower = windows_for(settings, {"m": baseline})
    stage1 = StageOne(
        settings,
        {"m": baseline},
        windower.caps,
        windower.counters,
        Totals(),
        after_batch=lambda: None,
        join_labels=True,
    )
    cycle = CommitCycle({"bootstrap_servers": bootstrap}, f"exchange-test-{name}")
    return _StageOneProcess(stage1, cycle, [])


def _read_to_end(bootstrap: str, exchange: str) -> Iterator[dict[TopicPartition, list[object]]]:
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, isolation_level="read_committed", enable_auto_commit=False
    )
    partitions = [TopicPartition(exchange, e) for e in range(EXCHANGE_PARTITIONS)]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    end = consumer.end_offsets(partitions)
    try:
        for _ in range(200):
            yield consumer.poll(timeout_ms=500)
            if all(consumer.position(tp) >= end[tp] for tp in partitions):
                return
        raise AssertionError("the exchange was not read to its end in 200 polls")
    finally:
        consumer.close()


def _stage_two(
    settings: Settings, baseline: Baseline, bootstrap: str, exchange: str
) -> list[bytes]:
    sink = ListSink()
    stages = exchange_stages(settings, {"m": baseline}, [sink], [])
    partitions = stages.partitions
    partitions.windows.set_sources(SOURCE_IDS)
    partitions.assign(range(EXCHANGE_PARTITIONS))
    for e in range(EXCHANGE_PARTITIONS):
        partitions.live(e)
    reader = ExchangeReader(CONFIG)
    for polled in _read_to_end(bootstrap, exchange):
        partitions.receive(reader.read(polled))
    close_all(partitions)
    assert reader.rejected == {}
    return sorted(report_json(r) for r in sink.reports())


@pytest.mark.parametrize("resend", [False, True], ids=["once", "with-copies"])
def test_two_processes_through_the_exchange_write_one_process_report(
    kafka_bootstrap: str, baseline: Baseline, resend: bool
) -> None:
    """Stage 1 in two processes (source partitions 0-1 and 2-3 of both topics), publishing
    their partials and marks every three polls in a transaction, and one stage 2 reading the
    exchange with read_committed, give the lines one process gives for the same polls: feature
    drift, performance, the error detector's concept switch and alerts included. Partials sent
    twice (as after a restart from an older state) are counted once."""
    settings, polls = _settings(), _batches()
    expected = _one_process(settings, baseline, polls)
    exchange = create_topic(kafka_bootstrap, "exchange", partitions=EXCHANGE_PARTITIONS)
    processes = [_stage_one(settings, baseline, kafka_bootstrap, name) for name in ("a", "b")]
    seen = [0, 0]
    try:
        for poll in polls:
            which = int(poll.partition[0]) % LABELS // 2
            processes[which].consume(poll)
            seen[which] += 1
            if seen[which] % CYCLE == 0:
                again = processes[which].published if resend else []
                processes[which].commit(exchange, again)
        for process in processes:
            process.commit(exchange)
    finally:
        for process in processes:
            process.cycle.close()
    report = _stage_two(settings, baseline, kafka_bootstrap, exchange)
    assert sum(b'"kind":"alert"' in line for line in expected) == 8
    assert sum(b'"error_ddm_np"' in line for line in expected) == 1  # the concept switch
    assert report == expected
