"""The daemon's checkpoint and rebalance logic on an in-memory consumer group (no broker).

The real-broker tests (test_daemon*.py) show the same with kafka-python; these pin the logic
itself, step by step: checkpoints are an hour apart (so only the first assignment, a
revocation, a stop and the checkpoints a test asks for save state), and rebalances and
crashes happen at chosen polls.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import orjson
import pytest
from kafka import TopicPartition

from baselines.values import Baseline
from monitor.app import build_daemon
from monitor.config import Settings, load_settings
from monitor.runtime.daemon import Daemon
from tests.support.memory_consumer import MemoryConsumer, MemoryGroup

HOUR = 3_600_000
TOPIC = "predictions"
PARTITIONS = [TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)]
FOUR = [TopicPartition(TOPIC, p) for p in range(4)]


class Crash(BaseException):
    """Ends a run at a chosen poll without a final checkpoint, as ``kill -9`` would."""


def _stream(n: int = 4_000, hours: int = 8, partitions: int = 2) -> list[list[bytes]]:
    """``partitions`` partitions of time-ordered events (event ``i`` to partition
    ``i % partitions``); feature x shifts from hour 4, so levels change mid-stream."""
    rng = np.random.default_rng(5)
    times = np.sort(rng.integers(0, hours * HOUR, n)).tolist()
    parts: list[list[bytes]] = [[] for _ in range(partitions)]
    for i, t in enumerate(times):
        x = float(rng.normal(2.0 if t >= 4 * HOUR else 0.0, 1))
        event = {
            "event_id": f"e{i}",
            "model": "m",
            "timestamp": t,
            "features": {"x": x, "y": float(rng.uniform(0, 10)), "color": "red"},
            "prediction": float(1 / (1 + np.exp(-x))),
            "segments": {"platform": "ios" if i % 3 else "android"},
        }
        parts[i % partitions].append(orjson.dumps(event))
    return parts


STREAM = _stream()
STREAM4 = _stream(partitions=4)


def _settings(
    tmp_path: Path, baseline: Baseline, run: str, allowed_lateness: str = "10m"
) -> Settings:
    baseline.save(tmp_path / "m.json")
    return load_settings(
        None,
        models=[{"name": "m", "baseline": tmp_path / "m.json"}],
        windows={"size": "1h", "allowed_lateness": allowed_lateness},
        segments={"fields": ["platform"]},
        alerts={"min_events": 50},
        kafka={
            "bootstrap_servers": ["twin:9092"],
            "prediction_topics": [TOPIC],
            "group_id": "g",
            "max_poll_records": 100,
        },
        daemon={
            "http_host": "127.0.0.1",
            "http_port": 0,
            "checkpoint_path": tmp_path / run / "checkpoint.json",
            "checkpoint_interval": "1h",
            "report_path": tmp_path / run / "report.jsonl",
        },
    )


def _run(
    settings: Settings,
    baseline: Baseline,
    group: MemoryGroup,
    before_poll: Callable[[Daemon, MemoryConsumer, int], None] = lambda d, c, n: None,
    stream: list[list[bytes]] = STREAM,
) -> MemoryConsumer:
    """One daemon process on the twin reading ``stream`` until it is drained (or
    ``before_poll`` raises)."""
    daemon: Daemon | None = None

    def drained() -> None:
        assert daemon is not None
        daemon.stop()

    consumer = MemoryConsumer({TOPIC: stream}, group, on_drained=drained)
    daemon = build_daemon(settings, {"m": baseline}, connect=lambda kafka: consumer)
    consumer.before_poll = lambda n: before_poll(daemon, consumer, n)
    daemon.run()
    return consumer


def _report(settings: Settings) -> bytes:
    assert settings.daemon.report_path is not None
    return settings.daemon.report_path.read_bytes()


@pytest.fixture(scope="module")
def twin_uninterrupted(tmp_path_factory: pytest.TempPathFactory, baseline: Baseline) -> bytes:
    """The report of one run from start to drain, with no rebalance."""
    tmp_path = tmp_path_factory.mktemp("uninterrupted")
    settings = _settings(tmp_path, baseline, "whole")
    _run(settings, baseline, MemoryGroup())
    return _report(settings)


def test_the_uninterrupted_run_closes_windows_and_raises_levels(
    twin_uninterrupted: bytes,
) -> None:
    """The reference run is not empty: 7 hourly windows closed per segment, and the shift of x
    from hour 4 moved some level (alert records)."""
    records = [orjson.loads(line) for line in twin_uninterrupted.splitlines()]
    windows = [r for r in records if r["kind"] == "window"]
    assert len(windows) == 7 * 3
    assert any(r["kind"] == "alert" for r in records)


def test_a_clean_stop_commits_every_offset_it_read(tmp_path: Path, baseline: Baseline) -> None:
    """After SIGTERM-like stop at the end of the stream the group holds each partition's end."""
    group = MemoryGroup()
    _run(_settings(tmp_path, baseline, "clean"), baseline, group)
    assert group.committed == {tp: len(STREAM[tp.partition]) for tp in PARTITIONS}


def test_a_crash_restarts_from_the_checkpoint_into_the_same_report(
    tmp_path: Path, baseline: Baseline, twin_uninterrupted: bytes
) -> None:
    """A process ended at poll 25 without a final checkpoint, then started again from the
    checkpoint of poll 10, writes the report of the twin_uninterrupted run byte for byte (the lines
    written after the checkpoint are cut and written again)."""
    settings = _settings(tmp_path, baseline, "crash")
    group = MemoryGroup()

    def checkpoint_at_10_crash_at_25(daemon: Daemon, consumer: MemoryConsumer, n: int) -> None:
        if n == 10:
            daemon.checkpoint()
        if n == 25:
            raise Crash

    with pytest.raises(Crash):
        _run(settings, baseline, group, checkpoint_at_10_crash_at_25)
    assert 0 < len(_report(settings)) < len(twin_uninterrupted)
    _run(settings, baseline, group)
    assert _report(settings) == twin_uninterrupted


def test_a_revocation_commits_the_offsets_of_the_state_it_saved(
    tmp_path: Path, baseline: Baseline, twin_uninterrupted: bytes
) -> None:
    """Revoking every partition at poll 20 commits the offsets read so far; given back, the run
    goes on from them and writes the twin_uninterrupted report."""
    settings = _settings(tmp_path, baseline, "revoke")
    group = MemoryGroup()
    seen: dict[TopicPartition, int] = {}

    def revoke_at_poll_20(daemon: Daemon, consumer: MemoryConsumer, n: int) -> None:
        if n == 20:
            seen.update(consumer.positions)
            consumer.rebalance(PARTITIONS)
        if n == 21:
            assert group.committed == seen

    _run(settings, baseline, group, revoke_at_poll_20)
    assert _report(settings) == twin_uninterrupted


def test_lost_partitions_rewind_the_state_to_the_last_checkpoint(
    tmp_path: Path, baseline: Baseline, twin_uninterrupted: bytes
) -> None:
    """Partitions lost at poll 20 (nothing can be committed) are read again from the offsets
    committed at poll 10 into the state of that checkpoint: nothing is counted twice."""
    settings = _settings(tmp_path, baseline, "lost")

    def lose_at_poll_20(daemon: Daemon, consumer: MemoryConsumer, n: int) -> None:
        if n == 10:
            daemon.checkpoint()
        if n == 20:
            consumer.rebalance(PARTITIONS, lost=True)

    _run(settings, baseline, MemoryGroup(), lose_at_poll_20)
    assert _report(settings) == twin_uninterrupted


def test_a_revocation_whose_commit_fails_rewinds_at_the_next_assignment(
    tmp_path: Path, baseline: Baseline, twin_uninterrupted: bytes
) -> None:
    """When the commit of a revocation fails, the group's offsets (of poll 10) are behind the
    state; the next assignment restores the checkpoint the revocation saved and seeks to its
    offsets, so the report is unchanged."""
    settings = _settings(tmp_path, baseline, "failed")
    group = MemoryGroup()

    def fail_the_revocation_at_poll_20(daemon: Daemon, consumer: MemoryConsumer, n: int) -> None:
        if n == 10:
            daemon.checkpoint()
        group.fail_commits = n == 20
        if n == 20:
            consumer.rebalance(PARTITIONS)

    _run(settings, baseline, group, fail_the_revocation_at_poll_20)
    assert _report(settings) == twin_uninterrupted


# A restore after lost partitions, on four partitions. The allowed lateness (2 h) covers the
# event time two partitions run ahead while the other two are away (3 polls, ~1.2 h), so that
# an exact restore writes the uninterrupted report.
LATENESS_4 = "2h"


@pytest.fixture(scope="module")
def four_uninterrupted(tmp_path_factory: pytest.TempPathFactory, baseline: Baseline) -> bytes:
    """The report of one run over the four-partition stream, with no rebalance."""
    tmp_path = tmp_path_factory.mktemp("uninterrupted4")
    settings = _settings(tmp_path, baseline, "whole", LATENESS_4)
    _run(settings, baseline, MemoryGroup(), stream=STREAM4)
    return _report(settings)


def _lose_after_a_failed_commit(
    group: MemoryGroup, then: Callable[[Daemon, MemoryConsumer, int], None]
) -> Callable[[Daemon, MemoryConsumer, int], None]:
    """Checkpoints at polls 10 and 20, the second one's commit failing (the group stays at
    poll 10's offsets); at poll 25 every partition is lost and only 0 and 1 are given back;
    ``then`` goes on from poll 26."""

    def steps(daemon: Daemon, consumer: MemoryConsumer, n: int) -> None:
        group.fail_commits = n == 20
        if n in (10, 20):
            daemon.checkpoint()
        if n == 25:
            consumer.rebalance(FOUR[:2], lost=True)
        if n > 25:
            then(daemon, consumer, n)

    return steps


def test_partitions_given_back_after_a_partial_restore_resume_at_the_checkpoint(
    tmp_path: Path, baseline: Baseline, four_uninterrupted: bytes
) -> None:
    """After a restore that got 2 of 4 partitions, the other 2, assigned 3 polls later, start
    at the restored checkpoint's offsets, not at the group's older committed ones: nothing is
    counted twice and the report is the uninterrupted run's."""
    settings = _settings(tmp_path, baseline, "partial", LATENESS_4)
    group = MemoryGroup()

    def give_all_back_at_28(daemon: Daemon, consumer: MemoryConsumer, n: int) -> None:
        if n == 28:
            consumer.rebalance(FOUR)

    _run(
        settings, baseline, group, _lose_after_a_failed_commit(group, give_all_back_at_28), STREAM4
    )
    assert _report(settings) == four_uninterrupted


def test_a_crash_before_the_rest_is_given_back_keeps_their_checkpoint_offsets(
    tmp_path: Path, baseline: Baseline, four_uninterrupted: bytes
) -> None:
    """A checkpoint saved while 2 of 4 partitions are away keeps the restored offsets of the
    other 2: a process killed then and started again (given all 4) writes the uninterrupted
    report."""
    settings = _settings(tmp_path, baseline, "partial-crash", LATENESS_4)
    group = MemoryGroup()

    def checkpoint_at_26_crash_at_27(daemon: Daemon, consumer: MemoryConsumer, n: int) -> None:
        if n == 26:
            daemon.checkpoint()
        if n == 27:
            raise Crash

    with pytest.raises(Crash):
        _run(
            settings,
            baseline,
            group,
            _lose_after_a_failed_commit(group, checkpoint_at_26_crash_at_27),
            STREAM4,
        )
    _run(settings, baseline, group, stream=STREAM4)
    assert _report(settings) == four_uninterrupted


def test_a_partition_another_member_read_further_resumes_at_the_group_offset(
    tmp_path: Path, baseline: Baseline
) -> None:
    """A partition away after a partial restore whose group offset another member moved past
    the checkpoint's (here to its end) is not read again when given back: the run counts the
    4,000 events less that partition's from the checkpoint on."""
    settings = _settings(tmp_path, baseline, "moved-on", LATENESS_4)
    group = MemoryGroup()
    away = FOUR[2]
    seen: dict[str, object] = {}

    def other_member_reads_2_then_all_back(
        daemon: Daemon, consumer: MemoryConsumer, n: int
    ) -> None:
        seen["daemon"] = daemon
        if n == 27:
            group.committed[away] = len(STREAM4[2])
        if n == 28:
            consumer.rebalance(FOUR)

    def checkpoint_offset_of_2(daemon: Daemon, consumer: MemoryConsumer, n: int) -> None:
        if n == 20:
            seen["checkpoint"] = consumer.positions[away]
        steps(daemon, consumer, n)

    steps = _lose_after_a_failed_commit(group, other_member_reads_2_then_all_back)
    _run(settings, baseline, group, checkpoint_offset_of_2, STREAM4)
    daemon = seen["daemon"]
    assert isinstance(daemon, Daemon) and isinstance(seen["checkpoint"], int)
    assert daemon.pipeline.totals.events["m"] == 4_000 - (len(STREAM4[2]) - seen["checkpoint"])


def test_status_owns_the_partition_numbers_assigned_and_every_model(
    tmp_path: Path, baseline: Baseline
) -> None:
    """/status ``owns`` follows the assignment: tasks 0-3, then 1 and 2 after a rebalance; no
    exchange partitions; every configured model."""
    seen: list[dict[str, list[object]]] = []

    def rebalance_and_look(daemon: Daemon, consumer: MemoryConsumer, n: int) -> None:
        if n in (3, 6):
            seen.append(daemon.server.status()["owns"])
        if n == 4:
            consumer.rebalance(FOUR[1:3])
        if n == 7:
            raise Crash

    settings = _settings(tmp_path, baseline, "owns", LATENESS_4)
    with pytest.raises(Crash):
        _run(settings, baseline, MemoryGroup(), rebalance_and_look, STREAM4)
    assert seen == [
        {"tasks": tasks, "exchange_partitions": [], "models": ["m"]}
        for tasks in ([0, 1, 2, 3], [1, 2])
    ]
