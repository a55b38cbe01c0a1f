"""Broker outages on a real broker: the daemon lives through them and loses or doubles nothing.

The paused (SIGSTOP) or stopped-and-restarted broker is a broker of this module alone
(``own_broker``). What the producer does with messages the broker does not acknowledge is
specified in tests/test_outputs.py.
"""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
from kafka import KafkaConsumer, TopicPartition

from baselines.values import Baseline
from tests.support.daemon import EVENTS
from tests.support.daemon import daemon_config as _config
from tests.support.daemon import get_endpoint as _get
from tests.support.daemon import log_events as _log_events
from tests.support.daemon import mixed_messages as _mixed
from tests.support.daemon import start_logged_daemon as _start_logged
from tests.support.daemon import terminate as _terminate
from tests.support.daemon import wait_for as _wait
from tests.support.kafka import LocalBroker
from tests.support.kafka import append as _append
from tests.support.kafka import produce as _produce
from tests.support.malformed import CORPUS

PAUSE_S = int(os.environ.get("DRIFTWARDEN_TEST_PAUSE_S", "90"))  # benchmarks/outage.py: 600


def _counted(port: int) -> tuple[int, int]:
    """(good events, rejects) the daemon has counted, (-1, -1) while /status does not answer."""
    status, body = _get(port, "/status")
    if status != 200:
        return -1, -1
    totals = orjson.loads(body)["totals"]
    return sum(totals["events"].values()), sum(totals["rejected"].values())


def _read_to_end(bootstrap: str, name: str) -> list[Any]:
    """Every message of a one-partition topic, from its start to its current end."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    partition = TopicPartition(name, 0)
    try:
        consumer.assign([partition])
        consumer.seek_to_beginning(partition)
        end = consumer.end_offsets([partition])[partition]
        messages: list[Any] = []
        deadline = time.monotonic() + 60
        while consumer.position(partition) < end and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                messages.extend(batch)
        return messages
    finally:
        consumer.close()


def _assert_every_bad_message_dead_lettered(bootstrap: str, dead: str) -> None:
    letters = Counter(m.value for m in _read_to_end(bootstrap, dead))
    assert {message for message, _ in CORPUS} <= set(letters), "a dead letter is missing"


def _ride_out(
    tmp_path: Path, baseline: Baseline, broker: LocalBroker, outage: Any, expected: bytes, run: str
) -> None:
    """Half the stream, then ``outage(port)``, then the rest: the daemon never exits, stays
    live, is not ready during the outage and ready after, and writes the uninterrupted report."""
    mixed = _mixed()
    half = len(mixed) // 2
    name = _produce(broker.bootstrap, mixed[:half])
    dead = f"dead-{uuid.uuid4().hex[:8]}"
    config, port = _config(tmp_path, baseline, broker.bootstrap, name, run, dead_letter_topic=dead)
    log = tmp_path / "daemon.log"
    process = _start_logged(config, log)
    first_bad = sum(1 for m in mixed[:half] if m in {bad for bad, _ in CORPUS})
    try:
        _wait(lambda: _counted(port) == (half - first_bad, first_bad), "the first half")
        outage(port)
        assert process.poll() is None
        _append(broker.bootstrap, name, mixed[half:])
        _wait(lambda: _counted(port) == (EVENTS, len(CORPUS)), "every message", timeout_s=300)
        _wait(lambda: _get(port, "/readyz")[0] == 200, "ready again", timeout_s=300)
    finally:
        _terminate(process)
    errors = [e for e in _log_events(log) if e["event"] == "kafka client"]
    assert errors, "the client library's complaints during the outage are in the log"
    assert (tmp_path / run / "report.jsonl").read_bytes() == expected
    _assert_every_bad_message_dead_lettered(broker.bootstrap, dead)


def _not_ready_but_live(port: int) -> None:
    _wait(lambda: _get(port, "/readyz")[0] == 503, "readiness to fail", timeout_s=120)
    reason = orjson.loads(_get(port, "/readyz")[1])["reason"]
    assert reason.startswith(("offset commit failed", "checkpoint postponed", "poll failed"))
    assert _get(port, "/healthz")[0] == 200


def test_a_paused_broker_is_ridden_out(
    tmp_path: Path,
    baseline: Baseline,
    own_broker: LocalBroker,
    uninterrupted: bytes,
) -> None:
    """The broker frozen with SIGSTOP for 90 s mid-stream: no exit, /healthz 200 throughout,
    /readyz 503 with the reason during the pause, and the uninterrupted report after."""

    def pause(port: int) -> None:
        own_broker.pause()
        try:
            resume_at = time.monotonic() + PAUSE_S
            _not_ready_but_live(port)
            while time.monotonic() < resume_at:
                assert _get(port, "/healthz")[0] == 200
                time.sleep(1)
        finally:
            own_broker.resume()

    _ride_out(tmp_path, baseline, own_broker, pause, uninterrupted, "paused")


def test_a_broker_stopped_and_restarted_with_its_data_is_ridden_out(
    tmp_path: Path,
    baseline: Baseline,
    own_broker: LocalBroker,
    uninterrupted: bytes,
) -> None:
    """The broker stopped mid-stream and started again on its storage: no exit, not ready while
    it is away, and the uninterrupted report after."""

    def restart(port: int) -> None:
        own_broker.stop()
        _not_ready_but_live(port)
        own_broker.start(keep_data=True)

    _ride_out(tmp_path, baseline, own_broker, restart, uninterrupted, "restarted")
