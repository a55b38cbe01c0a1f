"""The live daemon on the real broker keeps running when decoding one message raises."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import orjson

from baselines.values import Baseline
from tests.support.daemon import EVENTS, start_daemon_process
from tests.support.daemon import daemon_config as _config
from tests.support.daemon import events_seen as _events_seen
from tests.support.daemon import get_endpoint as _get
from tests.support.daemon import good_messages as _good
from tests.support.daemon import status_document as _status
from tests.support.daemon import terminate as _terminate
from tests.support.daemon import wait_for as _wait
from tests.support.faults import fault_detail
from tests.support.kafka import produce as _produce
from tests.support.kafka import read_all as _read_all

POISON = "poison"


def test_a_message_whose_decoding_raises_is_dead_lettered_and_the_daemon_carries_on(
    tmp_path: Path, baseline: Baseline, kafka_bootstrap: str, uninterrupted: bytes
) -> None:
    """The failing message reaches the dead-letter topic as internal_error, is counted in
    /metrics, and the daemon writes the report of the stream without it."""
    good = _good()
    at = len(good) // 2
    poison = orjson.dumps({**orjson.loads(good[at]), "event_id": POISON})
    name = _produce(kafka_bootstrap, [*good[:at], poison, *good[at:]])
    dead = f"dead-{uuid.uuid4().hex[:8]}"
    config, port = _config(
        tmp_path, baseline, kafka_bootstrap, name, "defence", dead_letter_topic=dead
    )
    process = start_daemon_process(
        config, command=(sys.executable, "-m", "tests.support.faults", POISON)
    )
    try:
        _wait(lambda: _events_seen(port) == EVENTS, "all good events")
        assert _status(port)["totals"]["rejected"] == {"internal_error": 1}
        metrics = _get(port, "/metrics")[1]
        assert b'driftwarden_events_rejected_total{reason="internal_error"} 1.0' in metrics
        assert process.poll() is None and _get(port, "/healthz")[0] == 200
    finally:
        _terminate(process)
    assert (tmp_path / "defence" / "report.jsonl").read_bytes() == uninterrupted
    (letter,) = _read_all(kafka_bootstrap, dead, 1)
    headers = dict(letter.headers)
    assert letter.value == poison
    assert headers["driftwarden-reason"] == b"internal_error"
    assert headers["driftwarden-detail"] == fault_detail(POISON).encode()
    assert headers["driftwarden-source"] == f"{name}:0:{at}".encode()


def test_a_message_whose_counting_raises_rewinds_and_is_the_only_one_lost(
    tmp_path: Path, baseline: Baseline, kafka_bootstrap: str, uninterrupted: bytes
) -> None:
    """A defect past decoding, after the state already counted the message: the daemon rewinds
    to its checkpoint, finds the message, dead-letters it and writes the report without it."""
    good = _good()
    at = len(good) // 2
    poison = orjson.dumps({**orjson.loads(good[at]), "event_id": POISON})
    name = _produce(kafka_bootstrap, [*good[:at], poison, *good[at:]])
    dead = f"dead-{uuid.uuid4().hex[:8]}"
    config, port = _config(
        tmp_path, baseline, kafka_bootstrap, name, "rewind", dead_letter_topic=dead
    )
    command = (sys.executable, "-m", "tests.support.faults", "--after-decoding", POISON)
    process = start_daemon_process(config, command=command)
    try:
        _wait(lambda: _events_seen(port) == EVENTS, "all good events")
        assert _status(port)["totals"]["rejected"] == {"internal_error": 1}
        assert process.poll() is None and _get(port, "/healthz")[0] == 200
    finally:
        _terminate(process)
    assert (tmp_path / "rewind" / "report.jsonl").read_bytes() == uninterrupted
    letters = _read_all(kafka_bootstrap, dead, 1)
    assert {letter.value for letter in letters} == {poison}
    assert dict(letters[0].headers)["driftwarden-reason"] == b"internal_error"
