"""Stage 2's snapshot of an exchange partition (:mod:`monitor.exchange.stage_two_state`): a
process that restores it, rebuilding the open windows from the exchange records from
``replay_from`` on, continues exactly where the previous owner stopped, and what the metrics
store and Alertmanager hold of the partition's models moves with it."""

from __future__ import annotations

import gc
from typing import Any

import orjson
import pytest

from baselines.values import Baseline
from monitor.errors import CheckpointError
from monitor.exchange import stage_two_partitions
from monitor.exchange.partitioner import partition_of
from monitor.exchange.records import Partial
from monitor.exchange.stage_two_state import StaleSnapshotError
from monitor.sinks.latest_windows import LatestWindows
from tests.support.exchange import close_all
from tests.test_exchange_tasks import (
    EXCHANGE_PARTITIONS,
    _count,
    _Exchange,
    _lines,
    _process,
    _restore,
    _settings,
)
from tests.test_exchange_through_kafka import _batches, _one_process

MOVED = partition_of("m", EXCHANGE_PARTITIONS)


def _published(baseline: Baseline) -> _Exchange:
    """The exchange one process's stage 1 published for the whole stream, a cycle every three
    polls."""
    stages, _ = _process(_settings(), baseline, range(0))
    for task in range(4):
        _restore(stages, task, None, {})
    exchange, polls = _Exchange(), _batches()
    for i, poll in enumerate(polls, 1):
        _count(stages, poll)
        if i % 3 == 0 or i == len(polls):
            exchange.publish(stages)
    return exchange


def test_a_partition_restored_from_its_snapshot_continues_the_report(baseline: Baseline) -> None:
    """A reads the model's exchange partition halfway and snapshots it; C restores the snapshot
    and reads the rest: A's and C's reports together are one process's report, and C read
    nothing before the snapshot's offset."""
    settings, exchange = _settings(), _published(baseline)
    a, report_a = _process(settings, baseline, range(EXCHANGE_PARTITIONS))
    half = len(exchange.log[MOVED]) // 2
    a.partitions.receive(exchange.read(MOVED, 0, half))
    snapshot = a.partitions.snapshot(MOVED, half)
    a.partitions.revoke([MOVED])
    c, report_c = _process(settings, baseline, range(0))
    c.partitions.assign([MOVED])
    assert c.partitions.restore(MOVED, snapshot, "test", exchange.read) == half
    c.partitions.live(MOVED)
    c.partitions.receive(exchange.read(MOVED, half))
    close_all(c.partitions)
    assert report_a.reports() and report_c.reports()
    expected = _one_process(settings, baseline, _batches())
    assert _lines(report_a, report_c) == expected


def test_a_restored_partition_snapshots_to_the_same_bytes(baseline: Baseline) -> None:
    """Restoring a snapshot and taking one again gives the same bytes: nothing of the state is
    lost or changed on the way."""
    settings, exchange = _settings(), _published(baseline)
    a, _ = _process(settings, baseline, range(EXCHANGE_PARTITIONS))
    third = len(exchange.log[MOVED]) // 3
    a.partitions.receive(exchange.read(MOVED, 0, third))
    snapshot = a.partitions.snapshot(MOVED, third)
    state = orjson.loads(snapshot)
    assert state["stage"]["checks"] and state["ledger"]
    assert 0 < state["replay_from"] < third
    c, _ = _process(settings, baseline, range(0))
    c.partitions.assign([MOVED])
    c.partitions.restore(MOVED, snapshot, "test", exchange.read)
    assert c.partitions.snapshot(MOVED, third) == snapshot
    assert c.partitions.windows.partitions[MOVED].open.keys() == (
        a.partitions.windows.partitions[MOVED].open.keys()
    )


def test_a_snapshot_leaves_the_open_windows_to_the_exchange(baseline: Baseline) -> None:
    """A snapshot holds no window counts or per-event values: they are read again from
    ``replay_from``, the offset of the first partial that added to a window still open."""
    settings, exchange = _settings(), _published(baseline)
    a, _ = _process(settings, baseline, range(EXCHANGE_PARTITIONS))
    third = len(exchange.log[MOVED]) // 3
    a.partitions.receive(exchange.read(MOVED, 0, third))
    state = orjson.loads(a.partitions.snapshot(MOVED, third))
    assert set(state["windows"]) == {"events", "late", "late_labels", "completeness"}
    windows = a.partitions.windows.partitions[MOVED]
    oldest = min(start for _, start in windows.open)
    firsts = [
        item.offset
        for item in exchange.read(MOVED, 0, third)
        if isinstance(item.record, Partial)
        and any(part.start_ms == oldest for part in item.record.windows)
    ]
    assert state["replay_from"] == firsts[0]


def test_the_latest_windows_of_a_partitions_models_move_with_its_snapshot(
    baseline: Baseline,
) -> None:
    """The process that restores a partition exports its models' latest windows and counters
    at once; the process that lost it exports none of them any more."""
    settings, exchange = _settings(), _published(baseline)
    latest_a, latest_c = LatestWindows(), LatestWindows()
    a, _ = _process(settings, baseline, range(EXCHANGE_PARTITIONS), also=[latest_a])
    half = len(exchange.log[MOVED]) // 2
    a.partitions.receive(exchange.read(MOVED, 0, half))
    before = latest_a.snapshot()
    assert before.windows
    snapshot = a.partitions.snapshot(MOVED, half)
    a.partitions.revoke([MOVED])
    assert latest_a.snapshot().windows == ()
    c, _ = _process(settings, baseline, range(0), also=[latest_c])
    c.partitions.assign([MOVED])
    c.partitions.restore(MOVED, snapshot, "test", exchange.read)
    after = latest_c.snapshot()
    assert [(w.key, w.end_s, w.levels) for w in after.windows] == [
        (w.key, w.end_s, w.levels) for w in before.windows
    ]
    assert [dict(w.record) for w in after.windows] == [dict(w.record) for w in before.windows]
    assert (after.transitions, after.detections) == (before.transitions, before.detections)


def test_a_snapshot_of_another_configuration_is_refused(baseline: Baseline) -> None:
    """A snapshot made with other settings or baselines is refused as stale, naming both
    configuration digests."""
    settings = _settings()
    a, _ = _process(settings, baseline, range(EXCHANGE_PARTITIONS))
    snapshot = a.partitions.snapshot(MOVED, 0).replace(
        a.partitions.config.encode(), b"sha256:other"
    )
    c, _ = _process(settings, baseline, range(0))
    c.partitions.assign([MOVED])
    with pytest.raises(StaleSnapshotError, match="sha256:other"):
        c.partitions.restore(MOVED, snapshot, "test", _Exchange().read)


def test_a_snapshot_that_is_not_one_is_refused_with_its_place(baseline: Baseline) -> None:
    """Bytes that are not a stage-2 snapshot are refused with a message naming where they
    were read."""
    c, _ = _process(_settings(), baseline, range(0))
    c.partitions.assign([MOVED])
    with pytest.raises(CheckpointError, match=r"^dw-stage2-changelog\[1\] is not JSON"):
        c.partitions.restore(MOVED, b"{", "dw-stage2-changelog[1]", _Exchange().read)
    with pytest.raises(CheckpointError, match=r"has format 'driftwarden\.stage1/1'"):
        c.partitions.restore(MOVED, b'{"format":"driftwarden.stage1/1"}', "here", _Exchange().read)


def test_a_snapshot_is_taken_and_restored_with_the_collector_off(
    baseline: Baseline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The snapshot's state is built, serialised, parsed and put back with the cyclic collector
    off (its many short-lived objects would set off collections that walk every object the
    process holds), and the collector is on again after."""
    settings, exchange = _settings(), _published(baseline)
    a, _ = _process(settings, baseline, range(EXCHANGE_PARTITIONS))
    half = len(exchange.log[MOVED]) // 2
    a.partitions.receive(exchange.read(MOVED, 0, half))
    c, _ = _process(settings, baseline, range(0))
    c.partitions.assign([MOVED])
    collector: dict[str, bool] = {}

    def watched(name: str) -> None:
        step = getattr(stage_two_partitions, name)

        def call(*args: Any) -> Any:
            collector[name] = gc.isenabled()
            return step(*args)

        monkeypatch.setattr(stage_two_partitions, name, call)

    steps = ("partition_snapshot", "read_snapshot", "restore_partition")
    for name in steps:
        watched(name)
    c.partitions.restore(MOVED, a.partitions.snapshot(MOVED, half), "test", exchange.read)
    assert collector == dict.fromkeys(steps, False)
    assert gc.isenabled()
