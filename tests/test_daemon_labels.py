"""The live daemon joins a label topic to a prediction topic, and kill -9 loses no pair."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import yaml
from kafka import KafkaProducer

from baselines.values import Baseline
from monitor.app import replay_topics_to_file
from monitor.config import load_settings
from tests.support.daemon import daemon_config as _config
from tests.support.daemon import get_endpoint as _get
from tests.support.daemon import run_to_end as _run_to_end
from tests.support.daemon import start_daemon_process as _start
from tests.support.daemon import terminate as _terminate
from tests.support.daemon import wait_for as _wait
from tests.support.kafka import create_topic
from tests.support.label_stream import HOUR, T0, labelled_topics
from tests.support.label_stream import labelled_stream as _stream

N = 12_000


def _status_labels(port: int) -> tuple[int, int]:
    """(events, joined labels) the daemon reports, or (-1, -1) while it does not answer."""
    status, body = _get(port, "/status")
    if status != 200:
        return -1, -1
    totals = orjson.loads(body)["totals"]
    return sum(totals["events"].values()), sum(totals["labels"]["joined"].values())


@pytest.fixture(scope="module")
def topics(kafka_bootstrap: str) -> tuple[str, str]:
    """A prediction topic and a label topic (labels 10 minutes late, flipped from hour 6)."""
    return labelled_topics(kafka_bootstrap, n=N, hours=12, flip_from_hour=6, delay_ms=600_000)


def _label_config(
    tmp_path: Path, baseline: Baseline, bootstrap: str, topics: tuple[str, str], run: str
) -> tuple[Path, int]:
    path, port = _config(tmp_path, baseline, bootstrap, topics[0], run)
    config = yaml.safe_load(path.read_text())
    config["kafka"]["label_topics"] = [topics[1]]
    config["kafka"]["max_poll_records"] = 500
    path.write_text(yaml.safe_dump(config))
    return path, port


def _consume_all(config: Path, port: int) -> None:
    _run_to_end(config, port, _status_labels, (N, N), timeout_s=90)


@pytest.fixture(scope="module")
def whole(
    tmp_path_factory: pytest.TempPathFactory,
    baseline: Baseline,
    kafka_bootstrap: str,
    topics: tuple[str, str],
) -> bytes:
    """The report of a daemon that consumed both topics without interruption."""
    folder = tmp_path_factory.mktemp("labels-whole")
    config, port = _label_config(folder, baseline, kafka_bootstrap, topics, "whole")
    _consume_all(config, port)
    return (folder / "whole" / "report.jsonl").read_bytes()


def test_labels_from_their_own_topic_raise_the_concept_drift(whole: bytes) -> None:
    """Joined labels flip from hour 6: performance intervenes and error detectors fire."""
    records = [orjson.loads(line) for line in whole.splitlines()]
    raised = {
        (r["subject"], r["check"], r["to"])
        for r in records
        if r["kind"] == "alert" and r["segment"] == ""
    }
    assert ("performance", "accuracy", "intervention") in raised
    fired = {
        name
        for r in records
        if r["kind"] == "window"
        for name, verdict in r["detectors"].items()
        if name.startswith("error_") and verdict.get("detections")
    }
    assert fired


def test_the_join_is_on_metrics(
    tmp_path: Path, baseline: Baseline, kafka_bootstrap: str, topics: tuple[str, str]
) -> None:
    """/metrics counts every label joined, with its delay histogram and coverage."""
    config, port = _label_config(tmp_path, baseline, kafka_bootstrap, topics, "metrics")
    process = _start(config)
    try:
        _wait(lambda: _status_labels(port) == (N, N), "every prediction and label", 90)
        metrics = _get(port, "/metrics")[1].decode()
        assert f'driftwarden_labels_joined_total{{model="m"}} {float(N)}' in metrics
        assert (
            f'driftwarden_label_delay_seconds_bucket{{le="900.0",model="m"}} {float(N)}' in metrics
        )
        assert 'driftwarden_performance{metric="accuracy",model="m"' in metrics
    finally:
        _terminate(process)


def test_kill_minus_nine_with_labels_in_flight_gives_the_uninterrupted_report(
    tmp_path: Path,
    baseline: Baseline,
    kafka_bootstrap: str,
    topics: tuple[str, str],
    whole: bytes,
) -> None:
    """Predictions waiting for labels survive a SIGKILL: the restarted daemon writes the same."""
    config, port = _label_config(tmp_path, baseline, kafka_bootstrap, topics, "killed")
    process = _start(config)
    _wait(lambda: _status_labels(port)[1] >= N // 4, "a quarter of the labels")
    seen = _status_labels(port)
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)
    assert 0 < seen[1] < N, "the kill must land mid-stream"
    _consume_all(config, port)
    assert (tmp_path / "killed" / "report.jsonl").read_bytes() == whole


def test_replaying_both_topics_writes_the_daemons_windows(
    tmp_path: Path,
    baseline: Baseline,
    kafka_bootstrap: str,
    topics: tuple[str, str],
    whole: bytes,
) -> None:
    """``replay --config`` reads the prediction and label topics as the daemon does: its report
    starts with the live daemon's bytes, then closes the windows the daemon still held open."""
    config, _ = _label_config(tmp_path, baseline, kafka_bootstrap, topics, "replayed")
    report = tmp_path / "replayed.jsonl"
    command = [sys.executable, "-m", "monitor.cli", "replay", "--config", str(config)]
    done = subprocess.run(
        [*command, "--output", str(report), "--no-progress"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    replayed = report.read_bytes()
    assert replayed.startswith(whole)
    last_live_end = max(
        r["end"] for r in map(orjson.loads, whole.splitlines()) if r["kind"] == "window"
    )
    rest = [orjson.loads(line) for line in replayed[len(whole) :].splitlines()]
    assert rest and all(
        (r["end"] if r["kind"] == "window" else r["window_end"]) > last_live_end for r in rest
    )


def test_a_time_range_reads_its_predictions_and_their_labels_past_the_end(
    tmp_path: Path, baseline: Baseline, kafka_bootstrap: str
) -> None:
    """Predictions of [1 h, 3 h) and every label of theirs, which arrive up to 10 minutes past
    3 h (within labels.horizon), are read; nothing else is."""
    predictions, labels = _stream(n=2_000, hours=4, delay_ms=600_000)
    names = (create_topic(kafka_bootstrap, "pred", 2), create_topic(kafka_bootstrap, "labels", 2))
    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", linger_ms=20)
    try:
        for topic, objects in zip(names, (predictions, labels), strict=True):
            for item in objects:  # record times are the event times
                key, stamp = item["event_id"].encode(), int(item["timestamp"])
                producer.send(topic, orjson.dumps(item), key=key, timestamp_ms=stamp)
        producer.flush(timeout=60)
    finally:
        producer.close()
    config, _ = _label_config(tmp_path, baseline, kafka_bootstrap, names, "range")
    start, end = T0 + HOUR, T0 + 3 * HOUR
    summary = replay_topics_to_file(
        load_settings(config),
        {"m": baseline},
        tmp_path / "range.jsonl",
        from_ms=start,
        to_ms=end,
    )
    inside = sum(1 for p in predictions if start <= int(p["timestamp"]) < end)
    report = [orjson.loads(line) for line in (tmp_path / "range.jsonl").read_bytes().splitlines()]
    labeled = sum(
        r["performance"]["labeled"]
        for r in report
        if r["kind"] == "window" and r["segment"] == "" and "performance" in r
    )
    assert sum(summary.events.values()) == inside and labeled == inside
