"""The live daemon on the real broker: /metrics, /status, and kill -9 losing nothing."""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import yaml
from kafka import KafkaProducer

from baselines.values import Baseline
from tests.support.daemon import EVENTS, daemon_log
from tests.support.daemon import daemon_config as _config
from tests.support.daemon import events_seen as _events_seen
from tests.support.daemon import get_endpoint as _get
from tests.support.daemon import good_messages as _good
from tests.support.daemon import kill_once_report_passes as _kill_once_report_passes
from tests.support.daemon import mixed_messages as _mixed
from tests.support.daemon import run_to_end as _run_to_end
from tests.support.daemon import start_daemon_process as _start
from tests.support.daemon import status_document as _status
from tests.support.daemon import terminate as _terminate
from tests.support.daemon import wait_for as _wait
from tests.support.kafka import append as _append
from tests.support.kafka import create_topic
from tests.support.kafka import produce as _produce
from tests.support.kafka import read_all as _read_all
from tests.support.malformed import CORPUS
from tests.support.ports import free_loopback_ports


def test_daemon_exposes_metrics_and_status(
    tmp_path: Path, baseline: Baseline, kafka_bootstrap: str, topic: str
) -> None:
    """After consuming the stream, /metrics has the drift series and /status the raised checks."""
    config, port = _config(tmp_path, baseline, kafka_bootstrap, topic, "metrics")
    process = _start(config)
    try:
        _wait(lambda: _events_seen(port) == EVENTS, "all events")
        assert _get(port, "/readyz")[0] == 200 and _get(port, "/healthz")[0] == 200
        status, metrics = _get(port, "/metrics")
        assert status == 200
        assert (
            b'driftwarden_feature_psi{feature="x",model="m",model_version="v1",segment=""}'
            in metrics
        )
        raised = orjson.loads(_get(port, "/status")[1])["raised"]
        assert any(r["subject"] == "x" and r["level"] == "intervention" for r in raised)
    finally:
        _terminate(process)


def test_kill_minus_nine_and_restart_gives_the_uninterrupted_report(
    tmp_path: Path, baseline: Baseline, kafka_bootstrap: str, uninterrupted: bytes
) -> None:
    """A daemon killed with SIGKILL after writing report lines past its last checkpoint, then
    restarted, cuts them off, reads again and writes the uninterrupted report.

    The kill is placed, not timed: a first run checkpoints only when SIGTERM stops it after half
    the stream; a second run (no periodic checkpoint) gets the other half and is killed once its
    report on disk is longer than that checkpoint's ``report_bytes``; a third run finishes.
    """
    messages = _good()
    half = len(messages) // 2
    name = _produce(kafka_bootstrap, messages[:half])
    config, port = _config(tmp_path, baseline, kafka_bootstrap, name, "killed")
    _checkpoint_every(config, "1h")
    _run_to_end(config, port, expected=half)
    folder = tmp_path / "killed"
    saved = orjson.loads((folder / "checkpoint.json").read_bytes())["state"]["report_bytes"]
    assert saved == (folder / "report.jsonl").stat().st_size
    _append(kafka_bootstrap, name, messages[half:])
    _kill_once_report_passes(config, folder / "report.jsonl", saved)
    _checkpoint_every(config, "100ms")
    _run_to_end(config, port)
    assert (folder / "report.jsonl").read_bytes() == uninterrupted


def test_kill_minus_nine_before_the_first_checkpoint_interval_gives_the_uninterrupted_report(
    tmp_path: Path, baseline: Baseline, kafka_bootstrap: str, topic: str, uninterrupted: bytes
) -> None:
    """A daemon killed before its first checkpoint interval, with report lines on disk, and
    restarted writes the uninterrupted report, not those lines twice."""
    config, port = _config(tmp_path, baseline, kafka_bootstrap, topic, "early")
    _checkpoint_every(config, "1h")
    report = tmp_path / "early" / "report.jsonl"
    _kill_once_report_passes(config, report, 0)
    _checkpoint_every(config, "100ms")
    _run_to_end(config, port)
    assert report.read_bytes() == uninterrupted


def _checkpoint_every(config: Path, interval: str) -> None:
    """Set the config's daemon.checkpoint_interval."""
    document = yaml.safe_load(config.read_text())
    document["daemon"]["checkpoint_interval"] = interval
    config.write_text(yaml.safe_dump(document))


def test_malformed_messages_are_counted_and_dead_lettered_without_disturbing_good_ones(
    tmp_path: Path, baseline: Baseline, kafka_bootstrap: str, uninterrupted: bytes
) -> None:
    """25 kinds of bad message mixed into the stream: same report, every reject counted and kept."""
    dirty = _produce(kafka_bootstrap, _mixed())
    dead = f"dead-{uuid.uuid4().hex[:8]}"
    config, port = _config(
        tmp_path, baseline, kafka_bootstrap, dirty, "dirty", dead_letter_topic=dead
    )
    process = _start(config)
    try:
        _wait(lambda: _events_seen(port) == EVENTS, "all good events")
        _wait(
            lambda: sum(_status(port)["totals"]["rejected"].values()) == len(CORPUS), "all rejects"
        )
        expected = Counter(reason for _, reason in CORPUS)
        assert Counter(_status(port)["totals"]["rejected"]) == expected
    finally:
        _terminate(process)
    assert (tmp_path / "dirty" / "report.jsonl").read_bytes() == uninterrupted
    letters = _read_all(kafka_bootstrap, dead, len(CORPUS))
    assert sorted(m.value for m in letters) == sorted(m for m, _ in CORPUS)
    reasons = Counter(dict(m.headers)["driftwarden-reason"].decode() for m in letters)
    assert reasons == expected


def _window_events(report: bytes) -> Counter[tuple[str, str, str]]:
    """Events per (segment, window start, model version) over a report's window objects."""
    totals: Counter[tuple[str, str, str]] = Counter()
    for line in report.splitlines():
        record = orjson.loads(line)
        if record["kind"] == "window":
            totals[(record["segment"], record["start"], record["model_version"])] += record[
                "events"
            ]
    return totals


def test_two_daemons_in_one_group_share_partitions_without_double_counting(
    tmp_path: Path, baseline: Baseline, kafka_bootstrap: str
) -> None:
    """Two processes in one group split 4 partitions; their window counts add to one process's."""
    name = create_topic(kafka_bootstrap, "shared", partitions=4)
    windows = {"windows": {"size": "1h", "allowed_lateness": "30m"}}
    first, first_port = _config(tmp_path, baseline, kafka_bootstrap, name, "first", group_id="pair")
    second, second_port = _config(
        tmp_path, baseline, kafka_bootstrap, name, "second", group_id="pair"
    )
    single, single_port = _config(tmp_path, baseline, kafka_bootstrap, name, "single")
    for config in (first, second, single):
        _patch(config, windows)
    ports = (first_port, second_port, single_port)
    processes = [_start(first), _start(second)]
    try:
        both_ready = (  # noqa: E731
            lambda: _get(first_port, "/readyz")[0] == 200 and _get(second_port, "/readyz")[0] == 200
        )
        _wait(both_ready, "both processes to own partitions")
        processes.append(_start(single))
        producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=20)
        try:
            for i, message in enumerate(_good()):
                producer.send(name, message, partition=i % 4)
            producer.flush(timeout=60)
        finally:
            producer.close()
        _wait(
            lambda: (
                _events_seen(first_port) + _events_seen(second_port) == EVENTS
                and _events_seen(single_port) == EVENTS
            ),
            "the pair to see every event between them, and the single process all of them",
        )
        shares = (_events_seen(first_port), _events_seen(second_port))
        # a partition assigned after it was read to its end holds a process's watermark until
        # it goes idle (daemon.idle_timeout): wait until all three have closed the same windows
        _wait(
            lambda: len({_last_window_end(port) for port in ports}) == 1,
            "both processes of the pair to close the windows the single process closed",
        )
    finally:
        for process in processes:
            _terminate(process)
    assert min(shares) > 0, shares
    pair = _window_events((tmp_path / "first" / "report.jsonl").read_bytes())
    pair.update(_window_events((tmp_path / "second" / "report.jsonl").read_bytes()))
    whole = _window_events((tmp_path / "single" / "report.jsonl").read_bytes())
    overall = {key: n for key, n in whole.items() if key[0] == ""}
    assert len(overall) >= 6
    assert {key: pair[key] for key in overall} == overall


def _last_window_end(port: int) -> str | None:
    """The end of the last overall window the daemon on ``port`` closed, if any."""
    ends = [w["end"] for w in _status(port)["last_windows"]]
    return max(ends) if ends else None


def _patch(config: Path, changes: dict[str, Any]) -> None:
    document = yaml.safe_load(config.read_text())
    document.update(changes)
    config.write_text(yaml.safe_dump(document))


def test_unreachable_broker_is_not_a_crash(tmp_path: Path, baseline: Baseline) -> None:
    """Without a broker the daemon lives on, not ready, keeps its checkpoint, stops on SIGTERM."""
    (dead_port,) = free_loopback_ports(1)
    config, port = _config(tmp_path, baseline, f"127.0.0.1:{dead_port}", "nothing", "offline")
    checkpoint = tmp_path / "offline" / "checkpoint.json"
    checkpoint.parent.mkdir()
    checkpoint.write_bytes(b'{"state": {}, "offsets": {}, "saved_at": "keep me"}')
    log = tmp_path / "offline.log"
    with log.open("wb") as stderr:
        process = _start(config, stderr)
    try:
        _wait(lambda: b"kafka unreachable" in _get(port, "/readyz")[1], "the outage to show")
        assert _get(port, "/readyz")[0] == 503
        _wait(lambda: _attempts_logged(log) >= 2, "a second connection attempt after the first")
        assert process.poll() is None and _get(port, "/healthz")[0] == 200
    finally:
        _terminate(process)
    assert b"keep me" in checkpoint.read_bytes()


def _attempts_logged(log: Path) -> int:
    """How many failed connection attempts the daemon's complete JSON log lines report."""
    lines = log.read_bytes().split(b"\n")[:-1]  # the last piece may be a line still being written
    return sum(
        orjson.loads(line).get("event") == "kafka unreachable"
        for line in lines
        if line.startswith(b"{")
    )


def test_checkpoint_that_does_not_fit_stops_the_daemon_with_one_line(
    tmp_path: Path, baseline: Baseline, kafka_bootstrap: str, topic: str
) -> None:
    """A checkpoint from another format is refused: exit 2, one line, checkpoint untouched."""
    config, _ = _config(tmp_path, baseline, kafka_bootstrap, topic, "misfit")
    checkpoint = tmp_path / "misfit" / "checkpoint.json"
    checkpoint.parent.mkdir()
    document = {
        "state": {"pipeline": {"format": "driftwarden.state/999"}, "report_bytes": 0},
        "offsets": {},
        "saved_at": "2026-01-01T00:00:00Z",
    }
    checkpoint.write_bytes(orjson.dumps(document))
    process = _start(config)
    assert process.wait(timeout=60) == 2
    assert daemon_log(process).strip().splitlines()[-1].startswith("driftwarden: error: ")
    assert orjson.loads(checkpoint.read_bytes()) == document
