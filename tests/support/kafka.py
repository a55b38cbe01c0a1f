"""A real Kafka broker for the tests: started with ``deploy/local/kafka.sh``, and topics on it.

With ``KAFKA_BOOTSTRAP_SERVERS`` set, tests use that broker as is (the ``kafka_bootstrap``
fixture in ``tests/conftest.py``). Otherwise the session starts its own single-node broker on
free loopback ports (:func:`session_broker`, which fetches the jars with Maven on first use),
then stops it and deletes its data when the session ends; a broker that fails to start keeps
``.cache/kafka/run-<port>/broker.log``. Tests that pause, stop or restart a broker have one of
their own (:class:`LocalBroker`, the ``own_broker`` fixture). Topic creation is the demo's
(:func:`monitor.demo.broker.create_topics`), so tests and demo make topics the same way.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaConsumer, KafkaProducer

from monitor.demo.broker import create_topics
from tests.support.ports import free_loopback_ports

BOOTSTRAP_ENV = "KAFKA_BOOTSTRAP_SERVERS"
SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "local" / "kafka.sh"
JAVA_MISSING = (
    "java not found on PATH: install Java 17+ (apt-get install openjdk-17-jre-headless) "
    f"or set {BOOTSTRAP_ENV} to run the tests that need a Kafka broker"
)
START_TIMEOUT_S = 300  # the first start downloads the jars with Maven
READY_TIMEOUT_S = 90
STOP_TIMEOUT_S = 30


def run_script(*args: str, timeout_s: float) -> subprocess.CompletedProcess[str]:
    """Run ``deploy/local/kafka.sh`` with ``args``; its messages are in ``stderr``."""
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


@contextlib.contextmanager
def session_broker() -> Iterator[str]:
    """Bootstrap servers of a broker started for the block, stopped and purged after it (and
    stopped too if this process dies first)."""
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
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    create_topics(bootstrap, [name], partitions)
    return name


def produce(bootstrap: str, messages: list[bytes]) -> str:
    """A fresh one-partition topic holding ``messages`` in order."""
    name = create_topic(bootstrap, "live")
    append(bootstrap, name, messages)
    return name


def append(bootstrap: str, name: str, messages: list[bytes]) -> None:
    """Write ``messages`` to topic ``name`` in order, all acknowledged when this returns."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    try:
        for message in messages:
            producer.send(name, message)
        producer.flush(timeout=60)
    finally:
        producer.close()


def append_events(bootstrap: str, topic: str, events: list[dict[str, Any]]) -> None:
    """Write event objects to ``topic`` as JSON, in order, each keyed by its event id (so a
    prediction and its label land in partitions of the same number)."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    try:
        for event in events:
            producer.send(topic, orjson.dumps(event), key=event["event_id"].encode())
        producer.flush(timeout=60)
    finally:
        producer.close()


def read_all(bootstrap: str, topic: str, count: int, *, committed: bool = False) -> list[Any]:
    """The first ``count`` messages of ``topic`` (fewer if none comes for 10 s); with
    ``committed``, only those of committed transactions (``read_committed``)."""
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        consumer_timeout_ms=10_000,
        isolation_level="read_committed" if committed else "read_uncommitted",
    )
    try:
        messages = []
        for message in consumer:
            messages.append(message)
            if len(messages) == count:
                break
        return messages
    finally:
        consumer.close()


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
