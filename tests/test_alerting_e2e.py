"""The whole alert path with real processes: Kafka → daemon → Prometheus → Alertmanager → webhooks.

The test writes the stream into Kafka one event-time window at a time (one-minute windows of
2,000 events, starting an hour ago) and waits, for each next step, on what it can observe: the
daemon closing the window before, Prometheus holding the levels, a receiver getting its
notification. Nothing depends on how fast the machine is; every wait has one generous bound and
fails with what it was waiting for. The daemon levels after one window of 50 events; Prometheus
scrapes it every second and evaluates the project's own rules; Alertmanager routes with the
project's own config to a webhook receiver of this test. Rule and routing durations, which are
wall-clock times, are divided by ``TIME_SCALE`` (see tests/support/prometheus.py), nothing else
changes. The stream is normal, then feature ``x`` shifts by one standard deviation
(PSI ≈ 0.9: intervention) and 35 % of ``y`` is drawn from its lower half only (PSI ≈ 0.14:
warning), then it is normal again. Then every Grafana panel's query runs against this
Prometheus and must return data.
"""

from __future__ import annotations

import re
import sys
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

from baselines.values import Baseline
from monitor.sinks.report import iso_ms
from tests.support.dashboard import dashboard_queries, fill_in, load_dashboard, variables
from tests.support.kafka import create_topic
from tests.support.ports import free_loopback_ports
from tests.support.prometheus import (
    RULES,
    Service,
    WebhookReceiver,
    alertmanager_config,
    http_get,
    install_binaries,
    prometheus_config,
    query,
    scaled_rules,
    series,
    start_alertmanager,
    start_daemon,
    start_prometheus,
)

WINDOW_MS = 60_000
EVENTS_PER_WINDOW = 2_000
WAIT_S = 120.0
"""One generous bound on each awaited step."""
# Grafana's variables as they are filled in for the test's stream ("All" for segments)
DASHBOARD_VARIABLES = {"model": "m", "version": "v1", "segment": ".*", "__rate_interval": "1m"}
LABEL_VALUES = re.compile(r"^label_values\((?P<selector>.+),\s*(?P<label>\w+)\)$")


class WindowStream:
    """Writes the stream one event-time window at a time, each once the daemon has closed the
    window before the previous one (so the stream never runs far ahead of the daemon).

    The first window starts ``start_ms``. A window ends when the first event of the next one
    arrives, so a window's levels show once the window after it is written.
    """

    def __init__(self, bootstrap: str, topic: str, daemon: Service, start_ms: int) -> None:
        self.producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
        self.topic = topic
        self.daemon = daemon
        self.rng = np.random.default_rng(5)
        self.start_ms = start_ms
        self.next_ms = start_ms

    def window(self, *, drifting: bool, extra: tuple[bytes, ...] = ()) -> None:
        """Once the daemon closed the window before the previous one, write the next window's
        events (``extra`` messages first)."""
        if self.next_ms - WINDOW_MS > self.start_ms:
            ended = iso_ms(self.next_ms - WINDOW_MS)
            await_(
                lambda: self.daemon_closed(ended),
                f"the daemon to close the window ending {ended}",
                (self.daemon,),
            )
        events = batch_events(self.rng, EVENTS_PER_WINDOW, self.next_ms, drifting=drifting)
        for message in [*extra, *events]:
            self.producer.send(self.topic, message)
        self.producer.flush(timeout=WAIT_S)
        self.next_ms += WINDOW_MS

    def daemon_closed(self, end: str) -> bool:
        """Whether the daemon's newest overall window ends at or after ``end``."""
        status, body = http_get(f"{self.daemon.url}/status")
        windows = orjson.loads(body)["last_windows"] if status == 200 else []
        return any(w["end"] >= end for w in windows)

    def close(self) -> None:
        self.producer.close(timeout=10)


def await_(condition: Callable[[], bool], what: str, services: tuple[Service, ...] = ()) -> None:
    """Return once ``condition()`` holds; fail saying ``what`` was awaited after ``WAIT_S``."""
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {s.name}:\n{s.log_tail(1500)}" for s in services)
            raise AssertionError(f"waited {WAIT_S:.0f} s for {what} in vain\n{logs}")
        time.sleep(0.1)


def batch_events(rng: np.random.Generator, n: int, start_ms: int, *, drifting: bool) -> list[bytes]:
    """``n`` encoded events of model ``m`` in the window from ``start_ms``, in time order, like
    the training data; while ``drifting``, ``x`` is shifted by +1 and 35 % of ``y`` is drawn
    from its lower half (prediction and label follow the undrifted ``x``)."""
    times = start_ms + np.sort(rng.integers(0, WINDOW_MS, n))
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
                "event_id": f"{start_ms}-{i}",
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


def late_event(timestamp_ms: int) -> bytes:
    """An event at ``timestamp_ms``, in a window already closed: dropped and counted as late."""
    return orjson.dumps(
        {
            "event_id": "late",
            "model": "m",
            "model_version": "v1",
            "timestamp": timestamp_ms,
            "features": {"x": 0.0, "y": 5.0, "color": "red"},
            "prediction": 0.5,
            "segments": {"platform": "ios"},
        }
    )


def daemon_config(folder: Path, baseline: Baseline, bootstrap: str, topic: str, port: int) -> Path:
    """One-minute windows, levels after one window of 50 events; performance never raises a
    level."""
    baseline.save(folder / "m.json")
    config = {
        "models": [{"name": "m", "baseline": "m.json"}],
        "windows": {"size": "1m", "allowed_lateness": "0s"},
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


@dataclass(frozen=True)
class Run:
    """The stack after the drift came and went, still running."""

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

    Drift starts once Prometheus holds the first scored window's levels and ends once both
    alerts reached their receivers; the fixture returns once both were resolved. Each of these
    waits fails the tests with what it waited for.
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
        hour_ago = int(time.time() * 1000) // WINDOW_MS * WINDOW_MS - 60 * WINDOW_MS
        stream = WindowStream(kafka_bootstrap, topic, daemon, hour_ago)
        stack.callback(stream.close)
        result = Run(prometheus.url, webhook, (daemon, prometheus, alertmanager))
        services = result.services
        stream.window(drifting=False)
        stream.window(drifting=False)  # closes the first window
        await_(
            lambda: bool(query(prometheus.url, "driftwarden_alert_level")),
            "Prometheus to scrape the first window's levels",
            services,
        )
        stream.window(drifting=True, extra=(b"{not json", late_event(hour_ago)))
        stream.window(drifting=True)  # closes the first drifting window
        await_(
            lambda: result.paged("x") and result.warned("y"),
            "the pager to get x's critical alert and the chat y's warning",
            services,
        )
        stream.window(drifting=False)
        stream.window(drifting=False)  # closes the first normal window after the drift
        await_(result.resolved, "the page and the warning to be resolved", services)
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
    """Each target of every Grafana panel for all models, variables filled in, returns series
    from Prometheus (the multiclass panels: tests/test_multiclass_dashboard.py)."""
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
