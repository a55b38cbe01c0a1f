"""The demo's Kafka broker: ``$KAFKA_BOOTSTRAP_SERVERS`` if set, else a local single-node broker
started with the repository's ``deploy/local/kafka.sh``; and fresh topics on it."""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from kafka import KafkaAdminClient
from kafka.errors import KafkaError
from rich.console import Console

from monitor.errors import SourceError

BOOTSTRAP_ENV = "KAFKA_BOOTSTRAP_SERVERS"
SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "local" / "kafka.sh"
READY_TIMEOUT_S = 90  # the script's bound on the broker's start (the first start also downloads)
_NO_BROKER = f"set {BOOTSTRAP_ENV} to a running broker, or run `driftwarden demo --replay`"


def free_loopback_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports that are free on 127.0.0.1 right now."""
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


@contextmanager
def demo_broker(console: Console, *, keep: bool) -> Iterator[str]:
    """Bootstrap servers of the broker the demo uses, for the duration of the block.

    A broker started here is stopped (and its data deleted) when the block ends, unless
    ``keep``; without ``keep`` it is also stopped if this process dies without cleaning up.
    """
    external = os.environ.get(BOOTSTRAP_ENV, "").strip()
    if external:
        console.print(f"kafka: {external} (from {BOOTSTRAP_ENV})")
        yield external
        return
    if not SCRIPT.is_file():
        raise SourceError(
            f"{SCRIPT} not found: the local broker is started from a clone of the repository; "
            + _NO_BROKER
        )
    port, controller = (str(p) for p in free_loopback_ports(2))
    console.print(
        f"kafka: starting a local broker on 127.0.0.1:{port} with deploy/local/kafka.sh "
        "(the first start downloads it with Maven)"
    )
    options = ["--port", port, "--controller-port", controller, "--timeout", str(READY_TIMEOUT_S)]
    owner = [] if keep else ["--stop-with-pid", str(os.getpid())]
    started = _script("start", *options, *owner)
    if started.returncode != 0:
        raise SourceError(
            f"deploy/local/kafka.sh could not start a broker: {_last_line(started.stderr)}; "
            + _NO_BROKER
        )
    try:
        yield f"127.0.0.1:{port}"
    finally:
        if keep:
            console.print(
                f"kafka: the broker keeps running on 127.0.0.1:{port}; stop it with "
                f"deploy/local/kafka.sh stop --port {port} --purge"
            )
        else:
            _script("stop", "--port", port, "--purge")
            console.print(f"kafka: stopped the broker on 127.0.0.1:{port}")


def _script(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, check=False)


def _last_line(text: str) -> str:
    lines = [line.removeprefix("kafka: ") for line in text.strip().splitlines()]
    return lines[-1] if lines else "no message"


def create_topics(bootstrap: str, names: list[str], partitions: int) -> None:
    """Create the topics, each with ``partitions`` partitions; ready when this returns."""
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    except KafkaError as exc:
        raise SourceError(
            f"cannot reach the Kafka broker at {bootstrap} ({exc}); " + _NO_BROKER
        ) from None
    try:
        admin.create_topics(
            {name: {"num_partitions": partitions, "replication_factor": 1} for name in names},
            timeout_ms=10_000,
            wait_for_metadata=True,
        )
    finally:
        admin.close()


def run_id() -> str:
    """A short random suffix that makes this run's topic and group names fresh."""
    return uuid.uuid4().hex[:8]
