"""Pytest plugin: a real Kafka broker for the tests that ask for ``kafka_bootstrap``.

Register it once in ``tests/conftest.py`` with ``pytest_plugins = ["tests.kafka_broker"]``.

With ``KAFKA_BOOTSTRAP_SERVERS`` set, tests use that broker as is. Otherwise the session
starts its own single-node broker on free loopback ports with ``deploy/local/kafka.sh``
(which fetches the jars with Maven on first use), then stops it and deletes its data when
the session ends; a broker that fails to start keeps ``.cache/kafka/run-<port>/broker.log``.
Tests that need a broker carry the ``kafka`` marker (``-m "not kafka"`` deselects them) and
are skipped only when no ``java`` is on PATH; any other failure to start is a test error.

Tests that pause, stop or restart a broker ask for ``own_broker`` instead: a broker of their
module alone (:class:`LocalBroker`), always resumed, stopped and purged at the end.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.demo.broker import create_topics, free_loopback_ports

BOOTSTRAP_ENV = "KAFKA_BOOTSTRAP_SERVERS"
SCRIPT = Path(__file__).resolve().parents[1] / "deploy" / "local" / "kafka.sh"
JAVA_MISSING = (
    "java not found on PATH: install Java 17+ (apt-get install openjdk-17-jre-headless) "
    f"or set {BOOTSTRAP_ENV} to run the tests that need a Kafka broker"
)
START_TIMEOUT_S = 300  # the first start downloads the jars with Maven
READY_TIMEOUT_S = 90
STOP_TIMEOUT_S = 30


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``kafka`` marker."""
    config.addinivalue_line("markers", "kafka: the test needs a real Kafka broker")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses ``kafka_bootstrap`` or ``own_broker`` with ``kafka``."""
    for item in items:
        if {"kafka_bootstrap", "own_broker"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.kafka)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say why broker tests were skipped, even under ``-q``."""
    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if JAVA_MISSING in str(getattr(report, "longrepr", ""))
    ]
    if skipped:
        terminalreporter.write_line(f"kafka: {len(skipped)} test(s) skipped: {JAVA_MISSING}")


def run_script(*args: str, timeout_s: float) -> subprocess.CompletedProcess[str]:
    """Run ``deploy/local/kafka.sh`` with ``args``; its messages are in ``stderr``."""
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap servers of a running broker: ``$KAFKA_BOOTSTRAP_SERVERS`` or our own."""
    external = os.environ.get(BOOTSTRAP_ENV, "").strip()
    if external:
        yield external
        return
    if shutil.which("java") is None:
        pytest.skip(JAVA_MISSING)
    port, controller_port = (str(p) for p in free_loopback_ports(2))
    started = run_script(
        "start",
        "--port",
        port,
        "--controller-port",
        controller_port,
        "--timeout",
        str(READY_TIMEOUT_S),
        "--stop-with-pid",
        str(os.getpid()),
        timeout_s=START_TIMEOUT_S,
    )
    if started.returncode != 0:
        raise RuntimeError(
            f"deploy/local/kafka.sh start --port {port} failed (exit {started.returncode}):\n"
            f"{started.stderr}"
        )
    try:
        yield f"127.0.0.1:{port}"
    finally:
        run_script(
            "stop",
            "--port",
            port,
            "--timeout",
            str(STOP_TIMEOUT_S),
            "--purge",
            timeout_s=STOP_TIMEOUT_S + 10,
        )


def create_topic(bootstrap: str, prefix: str, partitions: int = 1) -> str:
    """A new uniquely named topic with ``partitions`` partitions, ready when this returns."""
    import uuid

    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    create_topics(bootstrap, [name], partitions)
    return name


class LocalBroker:
    """A broker on free loopback ports that a test may pause, stop and restart with its data."""

    def __init__(self) -> None:
        self.port, self.controller_port = free_loopback_ports(2)
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.pidfile = SCRIPT.parents[2] / ".cache" / "kafka" / f"run-{self.port}" / "broker.pid"

    def _script(self, command: str, *options: str, timeout_s: float) -> None:
        ports = ("--port", str(self.port), "--controller-port", str(self.controller_port))
        done = run_script(command, *ports, *options, timeout_s=timeout_s)
        if done.returncode != 0:
            raise RuntimeError(f"kafka.sh {command} failed:\n{done.stderr}")

    def start(self, *, keep_data: bool = False) -> None:
        """Start (on the storage a ``stop`` left when ``keep_data``); ready when this returns."""
        keep = ("--keep-data",) if keep_data else ()
        owner = ("--stop-with-pid", str(os.getpid()))
        timeout = ("--timeout", str(READY_TIMEOUT_S))
        self._script("start", *keep, *owner, *timeout, timeout_s=START_TIMEOUT_S)

    def stop(self, *, purge: bool = False) -> None:
        """Stop the broker (SIGTERM); with ``purge`` also delete its data."""
        self.resume()  # a stopped JVM cannot handle SIGTERM
        purging = ("--purge",) if purge else ()
        self._script(
            "stop", "--timeout", str(STOP_TIMEOUT_S), *purging, timeout_s=STOP_TIMEOUT_S + 10
        )

    def pause(self) -> None:
        """Freeze the broker's JVM (SIGSTOP): connections stay open, nothing answers."""
        os.kill(self._pid(), signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused broker run again (SIGCONT); harmless when it was not paused."""
        if self.pidfile.exists():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid(), signal.SIGCONT)

    def _pid(self) -> int:
        return int(self.pidfile.read_text())


@pytest.fixture(scope="module")
def own_broker() -> Iterator[LocalBroker]:
    """A broker of this test module alone, stopped and deleted when the module ends."""
    if shutil.which("java") is None:
        pytest.skip(JAVA_MISSING)
    broker = LocalBroker()
    broker.start()
    try:
        yield broker
    finally:
        broker.stop(purge=True)
