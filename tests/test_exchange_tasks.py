"""The scaled-out daemon's stages without a broker: stage 1 per task and stage 2 per exchange
partition (:func:`monitor.app.exchange_stages`) give one process's report, also when a task moves
to another process through its snapshot, with work done after the last commit cycle read again,
and when an exchange partition is rebuilt by another process reading it again muted; stage 2
counts each event once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from baselines.values import Baseline
from monitor.app import ExchangeStages, exchange_stages
from monitor.batches import RawRecords
from monitor.config import Settings
from monitor.exchange import handover
from monitor.exchange.partitioner import partition_of
from monitor.exchange.reader import Received
from monitor.exchange.records import decode, encode
from monitor.exchange.stage_one_tasks import task_of
from monitor.sinks.base import Sink, report_json
from monitor.sinks.memory import ListSink
from tests.support.exchange import close_all
from tests.support.label_stream import NOW_MS, label_settings
from tests.test_exchange_through_kafka import (
    LABELS,
    SOURCE_IDS,
    _batches,
    _one_process,
    _one_process_run,
)

EXCHANGE_PARTITIONS = 3
CONFIG = "sha256:tasks"


def _settings() -> Settings:
    return label_settings(
        detectors={
            "prediction": [{"name": "page_hinkley_np"}],
            "errors": [{"stream": "error", "name": "ddm_np"}],
        },
        exchange={"enabled": True, "partitions": EXCHANGE_PARTITIONS},
        kafka={
            "prediction_topics": ["predictions"],
            "label_topics": ["labels"],
            "group_instance_id": "test",
        },
    )


@dataclass
class _Exchange:
    """The exchange topic: every committed record of each partition, in order."""

    log: dict[int, list[bytes]] = field(
        default_factory=lambda: {e: [] for e in range(EXCHANGE_PARTITIONS)}
    )

    def publish(self, stages: ExchangeStages) -> None:
        """One commit cycle of a process's stage 1: its partials, then its marks everywhere."""
        counters = stages.tasks.counters
        for partial in handover.drain(counters, CONFIG):
            self.log[partition_of(partial.model, EXCHANGE_PARTITIONS)].append(encode(partial))
        for mark in handover.marks(counters, CONFIG)[1]:
            for records in self.log.values():
                records.append(encode(mark))

    def read(self, e: int, start: int, end: int | None = None) -> list[Received]:
        records = self.log[e][start:end]
        return [Received(e, start + i, decode(r)) for i, r in enumerate(records)]


def _process(
    settings: Settings, baseline: Baseline, owned: range, *, also: Sequence[Sink] = ()
) -> tuple[ExchangeStages, ListSink]:
    """A process's both stages owning exchange partitions ``owned``, writing to an in-memory
    report (muted while a partition replays) and to ``also``."""
    report = ListSink()
    stages = exchange_stages(settings, {"m": baseline}, [report, *also], [report])
    stages.partitions.windows.set_sources(SOURCE_IDS)
    stages.partitions.assign(owned)
    for e in owned:
        stages.partitions.live(e)
    return stages, report


def _count(stages: ExchangeStages, poll: RawRecords) -> None:
    labels = int(poll.partition[0]) >= LABELS
    stages.tasks.process(None if labels else poll, poll if labels else None, NOW_MS)
    stages.tasks.expire()


def _restore(
    stages: ExchangeStages, task: int, snapshot: bytes | None, ends: dict[int, int]
) -> None:
    sources = {s: ends.get(s, 0) for s in SOURCE_IDS if task_of(s) == task}
    stages.tasks.restore(task, snapshot, sources)


def _lines(*reports: ListSink) -> list[bytes]:
    return sorted({report_json(r) for report in reports for r in report.reports()})


def test_tasks_and_exchange_partitions_give_the_one_process_report(baseline: Baseline) -> None:
    """One process, its stage 1 per task publishing every three polls and its stage 2 per
    exchange partition reading what was published, writes one in-memory process's report."""
    settings, polls = _settings(), _batches()
    stages, report = _process(settings, baseline, range(EXCHANGE_PARTITIONS))
    for task in range(4):
        _restore(stages, task, None, {})
    exchange, read = _Exchange(), dict.fromkeys(range(EXCHANGE_PARTITIONS), 0)
    for i, poll in enumerate(polls, 1):
        _count(stages, poll)
        if i % 3 == 0 or i == len(polls):
            exchange.publish(stages)
            for e in range(EXCHANGE_PARTITIONS):
                stages.partitions.receive(exchange.read(e, read[e]))
                read[e] = len(exchange.log[e])
    close_all(stages.partitions)
    expected = _one_process(settings, baseline, polls)
    assert sum(b'"kind":"alert"' in line for line in expected) == 8
    assert _lines(report) == expected


def test_a_task_moved_with_its_snapshot_and_an_exchange_partition_rebuilt_add_up(
    baseline: Baseline,
) -> None:
    """Process A counts tasks 0-1 and B tasks 2-3. After A and B counted two polls more than
    their last commit cycle, a rebalance gives task 1 to B: every task restarts from the
    snapshot and offsets of the last cycle (the two polls are read again). At the same time
    the exchange partition of the model moves from A to C, which reads it again from its start,
    muted. The
    union of A's, B's and C's reports is one process's report."""
    settings, polls = _settings(), _batches()
    a, report_a = _process(settings, baseline, range(EXCHANGE_PARTITIONS))
    b, report_b = _process(settings, baseline, range(0))
    owner = {0: a, 1: a, 2: b, 3: b}
    for task, stages in owner.items():
        _restore(stages, task, None, {})
    exchange = _Exchange()
    read = dict.fromkeys(range(EXCHANGE_PARTITIONS), 0)
    readers = dict.fromkeys(range(EXCHANGE_PARTITIONS), a)

    def cycle() -> None:
        for stages in (a, b):
            exchange.publish(stages)
        for e, reader in readers.items():
            reader.partitions.receive(exchange.read(e, read[e]))
            read[e] = len(exchange.log[e])

    committed = len(polls) // 2 // 3 * 3
    for i, poll in enumerate(polls[: committed + 2], 1):
        _count(owner[task_of(int(poll.partition[0]))], poll)
        if i % 3 == 0:
            cycle()
            snapshots = {task: stages.tasks.snapshot(task) for task, stages in owner.items()}
    ends = _ends(polls[:committed])
    for stages in (a, b):  # the rebalance: the two polls' work is dropped with every task
        stages.tasks.drop()
    owner[1] = b
    for task, stages in owner.items():
        _restore(stages, task, snapshots[task], ends)
    c, report_c = _process(settings, baseline, range(0))
    moved = partition_of("m", EXCHANGE_PARTITIONS)
    a.partitions.revoke([moved])
    c.partitions.assign([moved])
    c.partitions.receive(exchange.read(moved, 0, read[moved]))
    c.partitions.live(moved)
    readers[moved] = c
    for i, poll in enumerate(polls[committed:], committed + 1):
        _count(owner[task_of(int(poll.partition[0]))], poll)
        if i % 3 == 0 or i == len(polls):
            cycle()
    for stages in (a, c):
        close_all(stages.partitions)
    lines, events = _one_process_run(settings, baseline, polls)
    assert _lines(report_a, report_b, report_c) == lines
    assert report_a.reports() and report_c.reports()
    assert _stage_two_events(a, b, c) == events
    assert a.totals.events["m"] + b.totals.events["m"] > events["m"]  # stage 1 read two polls twice


def _stage_two_events(*processes: ExchangeStages) -> dict[str, int]:
    """The events per model that the processes' stage 2 counted, all together."""
    events: Counter[str] = Counter()
    for stages in processes:
        for windows in stages.partitions.windows.partitions.values():
            events.update(windows.events.by_model)
    return dict(events)


def _ends(polls: list[RawRecords]) -> dict[int, int]:
    """The next offset of every source partition after ``polls``."""
    ends: dict[int, int] = {}
    for poll in polls:
        source = int(poll.partition[0])
        ends[source] = max(ends.get(source, 0), int(poll.offset[-1]) + 1)
    return ends


def test_stage_two_does_not_depend_on_how_polls_cut_the_exchange(baseline: Baseline) -> None:
    """An exchange where A's partitions went idle while B went on, then woke up with events of
    windows B's marks had closed: read in polls of 1, 4 or every record, stage 2 writes the
    same report (a partial is late or not by the records before it, never by a poll's end)."""
    settings, polls = _settings(), _batches()
    a, _ = _process(settings, baseline, range(0))
    b, _ = _process(settings, baseline, range(0))
    owner = {0: a, 1: a, 2: b, 3: b}
    for task, stages in owner.items():
        _restore(stages, task, None, {})
    mine = [p for p in polls if task_of(int(p.partition[0])) < 2]
    theirs = [p for p in polls if task_of(int(p.partition[0])) >= 2]
    exchange = _Exchange()
    for i, poll in enumerate(mine[: len(mine) // 3], 1):
        _count(a, poll)
        if i % 3 == 0:
            exchange.publish(a)
    a.tasks.counters.set_idle({s for s in SOURCE_IDS if task_of(s) < 2})
    exchange.publish(a)
    for i, poll in enumerate(theirs, 1):
        _count(b, poll)
        if i % 3 == 0 or i == len(theirs):
            exchange.publish(b)
    for i, poll in enumerate(mine[len(mine) // 3 :], 1):
        _count(a, poll)
        if i % 3 == 0:
            exchange.publish(a)
    exchange.publish(a)
    reports = []
    for size in (1, 4, max(map(len, exchange.log.values()))):
        stages, report = _process(settings, baseline, range(EXCHANGE_PARTITIONS))
        for e, records in exchange.log.items():
            for start in range(0, len(records), size):
                stages.partitions.receive(exchange.read(e, start, start + size))
        close_all(stages.partitions)
        reports.append(_lines(report))
    assert reports[0] == reports[1] == reports[2]
    late = sum(w.late.by_model.get("m", 0) for w in stages.partitions.windows.partitions.values())
    assert late > 0  # A's woken partitions did find windows closed
