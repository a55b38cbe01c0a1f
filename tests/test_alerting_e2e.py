"""The whole alert path with real processes: Kafka → daemon → Prometheus → Alertmanager → webhooks.

A producer thread writes events stamped with the wall clock into Kafka; the daemon scores them
in 2 s windows; Prometheus scrapes it every second and evaluates the project's own rules;
Alertmanager routes with the project's own config to a webhook receiver of this test. Rule and
routing durations are divided by ``TIME_SCALE`` (see tests/prometheus_stack.py), nothing else
changes. The stream is normal, then feature ``x`` shifts by one standard deviation
(PSI ≈ 0.9: intervention) and 35 % of ``y`` is drawn from its lower half only (PSI ≈ 0.14:
warning), then it is normal again. Then, with the stream still flowing, every Grafana
panel's query runs against this Prometheus and must return data.
"""

from __future__ import annotations

import queue
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
import yaml
from kafka import KafkaProducer

from baselines.schema import Baseline
from monitor.demo_broker import free_loopback_ports
from tests.grafana_dashboard import dashboard_queries, fill_in, load_dashboard, variables
from tests.kafka_broker import create_topic
from tests.prometheus_stack import (
    RULES,
    Service,
    WebhookReceiver,
    alertmanager_config,
    install_binaries,
    prometheus_config,
    query,
    scaled_rules,
    series,
    start_alertmanager,
    start_daemon,
    start_prometheus,
)

EVENTS_PER_SECOND = 1_000
TICK_S = 0.1
WAIT_S = 60.0
# Grafana's variables as they are filled in for the test's stream ("All" for segments)
DASHBOARD_VARIABLES = {"model": "m", "version": "v1", "segment": ".*", "__rate_interval": "1m"}
LABEL_VALUES = re.compile(r"^label_values\((?P<selector>.+),\s*(?P<label>\w+)\)$")


class StreamProducer(threading.Thread):
    """Writes ``EVENTS_PER_SECOND`` events a second, stamped with the wall clock, until stopped.

    While ``drifting`` is set, ``x`` is shifted by +1 and 35 % of ``y`` is drawn from its lower
    half; the prediction and label always follow the undrifted ``x``, so only the two features
    drift. ``send_raw`` queues extra messages (rejects, late events) for the next tick.
    """

    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__(daemon=True)
        self.bootstrap, self.topic = bootstrap, topic
        self.drifting = threading.Event()
        self.stopped = threading.Event()
        self.raw: queue.Queue[bytes] = queue.Queue()
        self.error: BaseException | None = None

    def send_raw(self, *messages: bytes) -> None:
        """Send these bytes as they are, with the next batch."""
        for message in messages:
            self.raw.put(message)

    def run(self) -> None:
        try:
            self._produce()
        except BaseException as exc:  # reported by stop()
            self.error = exc

    def stop(self) -> None:
        """Stop producing; re-raise what made the thread fail, if anything did."""
        self.stopped.set()
        self.join(timeout=30)
        if self.error is not None:
            raise self.error

    def _produce(self) -> None:
        producer = KafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=5)
        rng = np.random.default_rng(5)
        batch = int(EVENTS_PER_SECOND * TICK_S)
        next_tick = time.monotonic()
        try:
            while not self.stopped.is_set():
                now_ms = int(time.time() * 1000)
                for message in batch_events(rng, batch, now_ms, drifting=self.drifting.is_set()):
                    producer.send(self.topic, message)
                while not self.raw.empty():
                    producer.send(self.topic, self.raw.get())
                producer.flush(timeout=10)
                next_tick += TICK_S
                time.sleep(max(0.0, next_tick - time.monotonic()))
        finally:
            producer.close(timeout=10)


def batch_events(rng: np.random.Generator, n: int, now_ms: int, *, drifting: bool) -> list[bytes]:
    """``n`` encoded events of model ``m`` spread over the last tick, like the training data."""
    times = now_ms - rng.integers(0, int(TICK_S * 1000), n)
    x = rng.normal(0, 1, n)
    score = 1 / (1 + np.exp(-x))
    y = rng.uniform(0, 10, n)
    if drifting:
        y = np.where(rng.random(n) < 0.35, rng.uniform(0, 5, n), y)
    columns = {
        "timestamp": times.tolist(),
        "x": (x + 1.0 if drifting else x).tolist(),
        "y": y.tolist(),
        "color": rng.choice(["red", "green", "blue"], n).tolist(),
        "platform": rng.choice(["ios", "android"], n).tolist(),
        "prediction": score.tolist(),
        "label": (rng.random(n) < score).astype(int).tolist(),
    }
    return [
        orjson.dumps(
            {
                "event_id": f"{now_ms}-{i}",
                "model": "m",
                "model_version": "v1",
                "timestamp": columns["timestamp"][i],
                "features": {k: columns[k][i] for k in ("x", "y", "color")},
                "prediction": columns["prediction"][i],
                "label": columns["label"][i],
                "segments": {"platform": columns["platform"][i]},
            }
        )
        for i in range(n)
    ]


def late_event(now_ms: int) -> bytes:
    """An event a minute older than the newest window: dropped and counted as late."""
    return orjson.dumps(
        {
            "event_id": "late",
            "model": "m",
            "model_version": "v1",
            "timestamp": now_ms - 60_000,
            "features": {"x": 0.0, "y": 5.0, "color": "red"},
            "prediction": 0.5,
            "segments": {"platform": "ios"},
        }
    )


def daemon_config(folder: Path, baseline: Baseline, bootstrap: str, topic: str, port: int) -> Path:
    """2 s windows, levels after one window of 50 events; performance never raises a level."""
    baseline.save(folder / "m.json")
    config = {
        "models": [{"name": "m", "baseline": "m.json"}],
        "windows": {"size": "2s", "allowed_lateness": "0s"},
        "segments": {"fields": ["platform"]},
        "alerts": {"min_events": 50, "consecutive": 1, "performance": {"min_labels": 1_000_000}},
        "kafka": {
            "bootstrap_servers": [bootstrap],
            "prediction_topics": [topic],
            "group_id": f"g-{topic}",
            "poll_timeout": "100ms",
        },
        "daemon": {"http_host": "127.0.0.1", "http_port": port},
    }
    path = folder / "driftwarden.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def wait_until(predicate: Callable[[], bool]) -> bool:
    """Poll ``predicate`` for up to ``WAIT_S``; whether it came true."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@dataclass(frozen=True)
class Run:
    """The stack after the drift came and went; still running, the stream still flowing."""

    prometheus: str
    webhook: WebhookReceiver
    services: tuple[Service, ...]

    def feature_drift(self, path: str, severity: str, status: str) -> list[dict[str, Any]]:
        """DriftwardenFeatureDrift alerts of ``severity`` in notifications to ``path`` with
        ``status`` (a notification is "resolved" only once every alert of its group is)."""
        return [
            alert
            for notification in self.webhook.notifications(path)
            if notification["status"] == status
            for alert in notification["alerts"]
            if alert["labels"]["alertname"] == "DriftwardenFeatureDrift"
            and alert["labels"]["severity"] == severity
        ]

    def paged(self, subject: str) -> bool:
        """Whether a firing critical alert about feature ``subject`` reached the pager."""
        alerts = self.feature_drift("/pager", "critical", "firing")
        return any(a["labels"]["subject"] == subject for a in alerts)

    def warned(self, subject: str) -> bool:
        """Whether a firing warning about feature ``subject`` reached the chat."""
        alerts = self.feature_drift("/chat", "warning", "firing")
        return any(a["labels"]["subject"] == subject for a in alerts)

    def resolved(self) -> bool:
        """Whether both the page and the chat warning were followed by a resolved notification."""
        return bool(self.feature_drift("/pager", "critical", "resolved")) and bool(
            self.feature_drift("/chat", "warning", "resolved")
        )

    def logs(self) -> str:
        """The end of every service's log, for failure messages."""
        return "\n".join(f"--- {s.name}:\n{s.log_tail(1500)}" for s in self.services)


@pytest.fixture(scope="module")
def run(
    tmp_path_factory: pytest.TempPathFactory, baseline: Baseline, kafka_bootstrap: str
) -> Iterator[Run]:
    """Start everything, stream normal → drifting → normal, and keep it all running meanwhile.

    Drift starts once Prometheus holds the first scored window and ends once both alerts
    fired (or after ``WAIT_S``); the fixture returns once both resolved (or after ``WAIT_S``).
    """
    folder = tmp_path_factory.mktemp("e2e")
    binaries = install_binaries()
    topic = create_topic(kafka_bootstrap, "e2e")
    daemon_port, prometheus_port, alertmanager_port = free_loopback_ports(3)
    rules = folder / "rules.yaml"
    rules.write_text(scaled_rules(RULES.read_text(encoding="utf-8")))
    with ExitStack() as stack:
        webhook = WebhookReceiver.start()
        stack.callback(webhook.stop)
        config = daemon_config(folder, baseline, kafka_bootstrap, topic, daemon_port)
        daemon = start_daemon(sys.executable, config, daemon_port)
        stack.callback(daemon.stop)
        am_config = alertmanager_config(webhook=webhook.url)
        alertmanager = start_alertmanager(binaries, folder / "am", am_config, alertmanager_port)
        stack.callback(alertmanager.stop)
        prometheus = start_prometheus(
            binaries,
            folder / "prometheus",
            prometheus_config(
                rules=rules,
                daemon=f"127.0.0.1:{daemon_port}",
                alertmanager=f"127.0.0.1:{alertmanager_port}",
                interval="1s",
            ),
            prometheus_port,
        )
        stack.callback(prometheus.stop)
        producer = StreamProducer(kafka_bootstrap, topic)
        producer.start()
        stack.callback(producer.stop)
        result = Run(prometheus.url, webhook, (daemon, prometheus, alertmanager))
        if wait_until(lambda: bool(query(prometheus.url, "driftwarden_alert_level"))):
            producer.send_raw(b"{not json", late_event(int(time.time() * 1000)))
            producer.drifting.set()
            wait_until(lambda: result.paged("x") and result.warned("y"))
            producer.drifting.clear()
            wait_until(result.resolved)
        yield result


def test_an_intervention_pages(run: Run) -> None:
    """A feature at intervention drift reaches the pager receiver as a firing critical alert."""
    assert run.paged("x"), run.logs()


def test_a_warning_goes_to_chat(run: Run) -> None:
    """A feature at warning drift reaches the chat receiver as a firing warning."""
    assert run.warned("y"), run.logs()


def test_page_and_warning_resolve_when_the_stream_is_normal_again(run: Run) -> None:
    """Once the stream is back to normal, both receivers get a resolved notification."""
    assert run.resolved(), run.logs()


def test_every_dashboard_panel_query_returns_data(run: Run) -> None:
    """Each target of every Grafana panel, variables filled in, returns series from Prometheus."""
    queries = dashboard_queries(DASHBOARD_VARIABLES)
    empty = [(title, expr) for title, expr in queries if not query(run.prometheus, expr)]
    assert queries and empty == []


def test_dashboard_variables_offer_the_streams_model_version_and_segments(run: Run) -> None:
    """The model, version and segment variables list what the stream carries."""
    choices: dict[str, set[str]] = {}
    for name, variable in variables(load_dashboard()).items():
        match = LABEL_VALUES.match(variable.get("definition", ""))
        if match is not None:
            selector = fill_in(match["selector"], DASHBOARD_VARIABLES)
            found = series(run.prometheus, selector)
            choices[name] = {labels[match["label"]] for labels in found if match["label"] in labels}
    assert choices == {
        "model": {"m"},
        "version": {"v1"},
        "segment": {"platform=android", "platform=ios"},
    }
