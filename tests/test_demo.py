"""The demo: through Kafka it catches every incident and the concept drift shows only in
performance and the error stream; the file replay demo too; the generated streams are seeded."""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from monitor.cli import main
from monitor.demo.broker import demo_broker
from monitor.demo.data import (
    END_MS,
    INCIDENTS,
    LABEL_DELAY_MS,
    STABLE,
    Message,
    demo_stream,
    live_messages,
)
from monitor.demo.scenario import ERROR_STREAMS, window_of
from tests.support.kafka import (
    BOOTSTRAP_ENV,
    JAVA_MISSING,
    SCRIPT,
    run_script,
)
from tests.support.ports import free_loopback_ports

CONCEPT = next(i for i in INCIDENTS if i.name == "concept-drift")
CONCEPT_WINDOWS = range(CONCEPT.first, CONCEPT.last + 2)  # its labels arrive up to 90 min later
SERVING = "Ctrl-C to stop"
RUN_TIMEOUT_S = 180
CLI = [sys.executable, "-m", "monitor.cli"]


@dataclass(frozen=True)
class DemoRun:
    """What one ``driftwarden demo`` process printed, served and wrote."""

    returncode: int
    stdout: str
    stderr: str
    metrics: str
    report: list[dict[str, Any]]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str) -> DemoRun:
    """The Kafka demo run to its verdicts, /metrics scraped while it serves, then SIGINT."""
    folder = tmp_path_factory.mktemp("demo")
    (port,) = free_loopback_ports(1)
    log = tmp_path_factory.mktemp("demo-log") / "stderr.log"  # not a pipe: it would fill
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [*CLI, "demo", "--dir", str(folder), "--http-port", str(port)],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env={**os.environ, BOOTSTRAP_ENV: kafka_bootstrap, "PYTHONUNBUFFERED": "1"},
        )
    watchdog = threading.Timer(RUN_TIMEOUT_S, process.kill)
    watchdog.start()
    try:
        assert process.stdout is not None
        printed = ""
        for line in process.stdout:
            printed += line
            if SERVING in line:
                break
        metrics = ""
        if SERVING in printed:
            url = f"http://127.0.0.1:{port}/metrics"
            with urllib.request.urlopen(url, timeout=10) as response:
                metrics = response.read().decode()
            process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
    finally:
        watchdog.cancel()
    stderr = log.read_text()
    report = folder / "report.jsonl"
    lines = report.read_bytes().splitlines() if report.exists() else []
    records = [orjson.loads(line) for line in lines]
    return DemoRun(process.returncode, printed + rest, stderr, metrics, records)


def _raised(run: DemoRun) -> list[dict[str, Any]]:
    return [r for r in run.report if r["kind"] == "alert" and r["to"] != "ok"]


def _error_stream_detections(run: DemoRun, windows: range | tuple[int, ...]) -> dict[str, int]:
    fired: dict[str, int] = {}
    for r in run.report:
        if r["kind"] == "window" and not r["segment"] and window_of(r["end"]) in windows:
            for name, result in r["detectors"].items():
                if name.startswith(ERROR_STREAMS) and result.get("detections"):
                    fired[name] = fired.get(name, 0) + result["detections"]
    return fired


def test_kafka_demo_catches_every_incident_and_serves_until_interrupted(served: DemoRun) -> None:
    """Every incident and the error-stream check pass, then SIGINT ends the serving demo with 0."""
    assert served.returncode == 0, served.stdout + served.stderr
    assert "✗" not in served.stdout
    assert served.stdout.count("✓") == len(INCIDENTS) + 2  # + error stream + stable stretch


def test_metrics_served_after_the_run_count_every_label_joined(served: DemoRun) -> None:
    """/metrics counts as joined exactly the labels the demo produced (the flush labels match
    no prediction)."""
    joined = re.search(
        r'^driftwarden_labels_joined_total\{model="car-loan"\} (\S+)$', served.metrics, re.M
    )
    assert joined is not None, served.metrics[:2000]
    assert float(joined.group(1)) == len(demo_stream().labels_due())


def test_concept_drift_raises_performance_checks_and_no_other(served: DemoRun) -> None:
    """While outcomes flip, accuracy and ROC AUC raise overall, and no feature or prediction
    check raises in any segment."""
    during = [r for r in _raised(served) if window_of(r["window_end"]) in CONCEPT_WINDOWS]
    assert {r["subject"] for r in during} == {"performance"}
    assert {r["check"] for r in during if not r["segment"]} == {"accuracy", "roc_auc"}


def test_concept_drift_fires_the_error_stream_detectors_and_the_stable_stretch_does_not(
    served: DemoRun,
) -> None:
    """HDDM-A on the errors and ADWIN and Page-Hinkley on the absolute errors fire during the
    concept drift (DDM does not: its minimum is set by the first few hundred of ~90,000
    labels); no error-stream detector fires in a stable window."""
    assert set(_error_stream_detections(served, CONCEPT_WINDOWS)) == {
        "error_hddm_a",
        "abs_error_adwin",
        "abs_error_page_hinkley_np",
    }
    assert _error_stream_detections(served, STABLE) == {}


@pytest.mark.kafka
def test_demo_starts_a_local_broker_for_the_block_and_stops_it_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without KAFKA_BOOTSTRAP_SERVERS the demo's broker runs inside the block and is stopped,
    its data deleted, when the block ends."""
    if shutil.which("java") is None:
        pytest.skip(JAVA_MISSING)
    monkeypatch.delenv(BOOTSTRAP_ENV, raising=False)
    with demo_broker(Console(file=io.StringIO()), keep=False) as bootstrap:
        port = bootstrap.rsplit(":", 1)[1]
        assert run_script("status", "--port", port, timeout_s=30).returncode == 0
    assert run_script("status", "--port", port, timeout_s=30).returncode == 3
    assert not (SCRIPT.parents[2] / ".cache" / "kafka" / f"run-{port}").exists()


def test_replay_demo_catches_every_incident(tmp_path: Path) -> None:
    """The file replay demo (labels inline, no broker) exits 0 with every incident caught."""
    assert main(["demo", "--replay", "--dir", str(tmp_path)]) == 0


@pytest.fixture(scope="module")
def messages() -> list[Message]:
    """The live demo's messages, predictions and labels merged in event-time order."""
    return list(live_messages(demo_stream()))


def test_live_stream_is_the_same_bytes_every_time(messages: list[Message]) -> None:
    """Generating the stream again gives the same messages, keys and order."""
    again = list(live_messages(demo_stream()))
    assert [m.value for m in again] == [m.value for m in messages]
    assert [(m.key, m.is_label) for m in again] == [(m.key, m.is_label) for m in messages]


def test_every_label_has_exactly_one_earlier_prediction(messages: list[Message]) -> None:
    """Each label's event id belongs to one prediction sent before it, no id is labelled twice,
    and every prediction made 90 minutes or more before the stream's end has its label."""
    seen: set[bytes] = set()
    labelled: set[bytes] = set()
    for message in messages:
        if message.is_label:
            assert message.key in seen and message.key not in labelled
            labelled.add(message.key)
        else:
            seen.add(message.key)
    columns = demo_stream().columns
    early = columns["event_id"][columns["timestamp"] <= END_MS - LABEL_DELAY_MS[1]]
    assert {i.encode() for i in early.tolist()} <= labelled


@settings(max_examples=5)
@given(seed=st.integers(0, 2**32 - 2))
def test_labels_arrive_5_to_90_minutes_after_their_prediction_in_time_order(seed: int) -> None:
    """For any seed, label times are 5 to 90 minutes after the prediction, sorted, and before the
    stream's end."""
    stream = demo_stream(seed)
    due = stream.labels_due()
    times = stream.columns["label_time_ms"][due]
    delays = times - stream.columns["timestamp"][due]
    assert delays.min() >= LABEL_DELAY_MS[0] and delays.max() < LABEL_DELAY_MS[1]
    assert np.all(np.diff(times) >= 0) and times.max() < END_MS
