"""The live daemon on the real broker: /metrics, /status, and kill -9 losing nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from kafka import KafkaAdminClient, KafkaProducer

from baselines.schema import Baseline
from tests.kafka_broker import free_loopback_ports
from tests.test_replay import _events

EVENTS = 20_000
TIMEOUT_MS = 10_000


@pytest.fixture(scope="module")
def topic(kafka_bootstrap: str) -> str:
    """A one-partition topic holding a stream with a shift from hour 3."""
    name = f"live-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, request_timeout_ms=TIMEOUT_MS)
    try:
        admin.create_topics(
            {name: {"num_partitions": 1, "replication_factor": 1}},
            timeout_ms=TIMEOUT_MS,
            wait_for_metadata=True,
        )
    finally:
        admin.close()
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=20)
    try:
        for event in _events(EVENTS, hours=8, shift_from_hour=3):
            producer.send(name, orjson.dumps(event))
        producer.flush(timeout=60)
    finally:
        producer.close()
    return name


def _config(
    tmp_path: Path, baseline: Baseline, bootstrap: str, topic: str, run: str
) -> tuple[Path, int]:
    baseline.save(tmp_path / "m.json")
    (port,) = free_loopback_ports(1)
    config = {
        "models": [{"name": "m", "baseline": "m.json"}],
        "windows": {"size": "1h", "allowed_lateness": "0s"},
        "segments": {"fields": ["platform"]},
        "alerts": {"min_events": 50, "performance": {"min_labels": 50}},
        "kafka": {
            "bootstrap_servers": [bootstrap],
            "prediction_topics": [topic],
            "group_id": f"g-{run}",
            "group_instance_id": f"i-{run}",
            "max_poll_records": 100,
            "poll_timeout": "200ms",
        },
        "daemon": {
            "http_host": "127.0.0.1",
            "http_port": port,
            "checkpoint_path": f"{run}/checkpoint.json",
            "checkpoint_interval": "100ms",
            "report_path": f"{run}/report.jsonl",
        },
    }
    path = tmp_path / f"{run}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path, port


def _start(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "run", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


def _events_seen(port: int) -> int:
    status, body = _get(port, "/status")
    return sum(orjson.loads(body)["totals"]["events"].values()) if status == 200 else -1


def _wait(predicate: Any, what: str, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def _terminate(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0, process.stderr.read().decode() if process.stderr else ""


def _run_to_end(config: Path, port: int) -> None:
    process = _start(config)
    try:
        _wait(lambda: _events_seen(port) == EVENTS, "all events")
    except AssertionError:
        process.kill()
        _, stderr = process.communicate(timeout=10)
        raise AssertionError(
            f"saw {_events_seen(port)} events; log:\n{stderr.decode()[-3000:]}"
        ) from None
    _terminate(process)


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
    tmp_path: Path, baseline: Baseline, kafka_bootstrap: str, topic: str
) -> None:
    """A daemon killed with SIGKILL mid-stream and restarted writes the uninterrupted report."""
    config, port = _config(tmp_path, baseline, kafka_bootstrap, topic, "whole")
    _run_to_end(config, port)
    uninterrupted = (tmp_path / "whole" / "report.jsonl").read_bytes()
    assert uninterrupted.count(b'"kind":"window"') > 0

    config, port = _config(tmp_path, baseline, kafka_bootstrap, topic, "killed")
    process = _start(config)
    _wait(lambda: _events_seen(port) >= EVENTS // 4, "a quarter of the events")
    seen = _events_seen(port)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    assert 0 < seen < EVENTS, "the kill must land mid-stream"
    assert (tmp_path / "killed" / "checkpoint.json").exists()
    _run_to_end(config, port)
    assert (tmp_path / "killed" / "report.jsonl").read_bytes() == uninterrupted
