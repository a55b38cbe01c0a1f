"""The live daemon as a process on a real broker: the daemon tests' stream, a config that points
the daemon at a topic, and starting, watching (``/status``, its JSON log) and stopping it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import orjson
import yaml

from baselines.values import Baseline
from tests.support.malformed import CORPUS
from tests.support.ports import free_loopback_ports
from tests.support.prometheus import http_get
from tests.support.replay_stream import drifting_events

EVENTS = 20_000


def good_messages() -> list[bytes]:
    """The daemon tests' clean stream: ``EVENTS`` events over 8 hours, ``x`` shifted from hour 3."""
    return [orjson.dumps(e) for e in drifting_events(EVENTS, hours=8, shift_from_hour=3)]


def mixed_messages() -> list[bytes]:
    """The clean stream with the 25 kinds of bad message spread evenly through it."""
    good = good_messages()
    stride = len(good) // len(CORPUS)
    mixed: list[bytes] = []
    for i, message in enumerate(good):
        if i % stride == 0 and i // stride < len(CORPUS):
            mixed.append(CORPUS[i // stride][0])
        mixed.append(message)
    return mixed


def daemon_config(
    tmp_path: Path, baseline: Baseline, bootstrap: str, topic: str, run: str, **kafka: Any
) -> tuple[Path, int]:
    """A config (and its free HTTP port) that judges ``topic`` with ``baseline`` in hourly
    windows, checkpoints every 100 ms and reports into ``tmp_path/run``; ``kafka`` adds to or
    replaces the kafka section's fields."""
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
            **kafka,
        },
        "decode": {"max_message_bytes": 10_000},
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


_LOGS: dict[int, IO[bytes]] = {}
"""The log file of each daemon started without one of its own, by process id."""


def start_daemon_process(
    config: Path,
    stderr: Any = None,
    command: tuple[str, ...] = (sys.executable, "-m", "monitor.cli"),
) -> subprocess.Popen[bytes]:
    """``driftwarden run --config config`` as a process (``command`` runs driftwarden), its log
    to ``stderr``; by default to a temporary file that :func:`daemon_log` reads. Never a pipe: a
    pipe nobody reads while the daemon runs fills up (64 KiB of log, e.g. the client's warnings
    on a loaded machine) and stops the daemon in the middle of a write."""
    # kept open in _LOGS for daemon_log, closed with the test process
    log = tempfile.TemporaryFile() if stderr is None else stderr  # noqa: SIM115
    process = subprocess.Popen(
        [*command, "run", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    if stderr is None:
        _LOGS[process.pid] = log
    return process


def daemon_log(process: subprocess.Popen[bytes]) -> str:
    """What a daemon started by :func:`start_daemon_process` without a log of its own wrote to
    its log so far."""
    log = _LOGS.get(process.pid)
    if log is None:
        return ""
    log.seek(0)
    return log.read().decode(errors="replace")


def kill_once_report_passes(config: Path, report: Path, size: int) -> None:
    """Start the daemon and kill it with SIGKILL once ``report`` on disk is longer than ``size``
    bytes (the report of its last checkpoint, say): a kill placed, not timed."""
    process = start_daemon_process(config)
    try:
        wait_for(
            lambda: report.exists() and report.stat().st_size > size,
            f"report lines on disk past {size} bytes",
        )
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


def start_logged_daemon(config: Path, log: Path) -> subprocess.Popen[bytes]:
    """The daemon as a process whose JSON log lines go to ``log``."""
    with log.open("wb") as stderr:
        return start_daemon_process(config, stderr)


def log_events(log: Path) -> list[dict[str, Any]]:
    """The JSON lines of a daemon's log, in order."""
    events = []
    for line in log.read_bytes().splitlines():
        if line.startswith(b"{"):
            events.append(orjson.loads(line))
    return events


def running_log_events(log: Path) -> list[dict[str, Any]]:
    """The daemon's log events before it began to stop: closing the client cancels requests
    in flight (``Metadata refresh: failed Cancelled``), which is not a failure of the run."""
    events = log_events(log)
    stops = [i for i, e in enumerate(events) if e["event"] == "stopping"]
    return events[: stops[0]] if stops else events


def get_endpoint(port: int, path: str) -> tuple[int, bytes]:
    """Status and body of the daemon's ``path``; status 0 while nothing answers."""
    return http_get(f"http://127.0.0.1:{port}{path}")


def status_document(port: int) -> dict[str, Any]:
    """The daemon's ``/status``, which must answer."""
    status, body = get_endpoint(port, "/status")
    assert status == 200
    result: dict[str, Any] = orjson.loads(body)
    return result


def events_seen(port: int) -> int:
    """How many good events the daemon has counted, -1 while ``/status`` does not answer."""
    status, body = get_endpoint(port, "/status")
    return sum(orjson.loads(body)["totals"]["events"].values()) if status == 200 else -1


def wait_for(predicate: Any, what: str, timeout_s: float = 120.0) -> None:
    """Return once ``predicate()`` holds; fail saying ``what`` was awaited after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def terminate(process: subprocess.Popen[bytes]) -> None:
    """Stop the daemon with SIGTERM; it must exit 0 (its log is the failure message)."""
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 0, daemon_log(process)


def run_to_end(
    config: Path,
    port: int,
    progress: Callable[[int], Any] = events_seen,
    expected: Any = EVENTS,
    timeout_s: float = 120.0,
) -> None:
    """Run the daemon until ``progress(port) == expected``, then stop it with SIGTERM."""
    process = start_daemon_process(config)
    try:
        wait_for(lambda: progress(port) == expected, f"progress {expected}", timeout_s)
    except AssertionError:
        process.kill()
        process.wait(timeout=10)
        raise AssertionError(f"saw {progress(port)}; log:\n{daemon_log(process)[-3000:]}") from None
    terminate(process)
