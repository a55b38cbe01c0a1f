"""The Alertmanager sink's posts as a real Alertmanager reads them back.

Debian's Alertmanager (``deploy/local/prometheus.sh``) runs the project's example config, its
routing times divided by ``TIME_SCALE`` (tests/support/prometheus.py), with a webhook receiver of
this test behind it. The sink posts each transition of check ``psi`` of feature ``car_value``;
the test reads ``GET /api/v2/alerts`` (the alerts Alertmanager holds as active) and the
notifications it sends. Each test uses its own model, so the tests share one Alertmanager.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from monitor.sinks.alertmanager import AlertmanagerSink
from monitor.sinks.report import read_record
from tests.support.ports import free_loopback_ports
from tests.support.prometheus import (
    WebhookReceiver,
    alertmanager_config,
    http_get,
    install_binaries,
    start_alertmanager,
)

RUNBOOK = "https://example.org/docs/runbook.md"
GENERATOR = "http://127.0.0.1:8000/status"
RESEND_S = 60.0
WAIT_S = 60.0
"""One generous bound on every wait for Alertmanager to notify."""


@dataclass(frozen=True)
class Stack:
    """A running Alertmanager and the webhook receiver its routes post to."""

    url: str
    webhook: WebhookReceiver


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    webhook = WebhookReceiver.start()
    (port,) = free_loopback_ports(1)
    folder = tmp_path_factory.mktemp("alertmanager")
    config = alertmanager_config(webhook=webhook.url)
    service = start_alertmanager(install_binaries(), folder, config, port)
    try:
        yield Stack(service.url, webhook)
    finally:
        service.stop()
        webhook.stop()


class Clock:
    """The sink's wall clock, moved by hand. It starts ten seconds ago (to the millisecond), so
    an alert the test resolves a second or two later has ended for Alertmanager's clock too."""

    def __init__(self) -> None:
        self.now = round(time.time(), 3) - 10.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sink(stack: Stack, clock: Clock) -> Iterator[AlertmanagerSink]:
    sink = AlertmanagerSink(
        stack.url,
        resend_interval_s=RESEND_S,
        clock=clock,
        runbook_base=RUNBOOK,
        generator_url=GENERATOR,
    )
    yield sink
    sink.close()


def transition(
    model: str, before: str, after: str, value: float, threshold: float, **extra: Any
) -> dict[str, Any]:
    """The report's alert object of check psi of car_value on ``model`` v3."""
    return {
        "kind": "alert",
        "model": model,
        "model_version": "v3",
        "segment": "",
        "subject": "car_value",
        "check": "psi",
        "from": before,
        "to": after,
        "value": value,
        "threshold": threshold,
        "window_end": "2019-04-02T12:00:00Z",
        **extra,
    }


def post(sink: AlertmanagerSink, record: dict[str, Any]) -> None:
    """Hand ``record`` to the sink and wait until Alertmanager accepted every post."""
    sent = sink.sent
    sink.write(read_record(record))
    assert sink.flush(WAIT_S), f"the sink's post did not finish in {WAIT_S} s"
    assert (sink.sent - sent, sink.failed) == (1, 0), "Alertmanager refused a post"


def active(stack: Stack, model: str) -> list[dict[str, Any]]:
    """The alerts of ``model`` Alertmanager holds as active (GET /api/v2/alerts)."""
    query = urllib.parse.urlencode({"filter": f'model="{model}"'})
    status, body = http_get(f"{stack.url}/api/v2/alerts?{query}")
    assert status == 200, body
    alerts: list[dict[str, Any]] = json.loads(body)
    return alerts


def instant(text: str) -> datetime:
    """An RFC 3339 time as Alertmanager or the sink writes it."""
    return datetime.fromisoformat(text)


def at(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, tz=UTC)


def notified(
    stack: Stack, path: str, wanted: Callable[[dict[str, Any]], bool], what: str
) -> dict[str, Any]:
    """The first alert in a notification to ``path`` that is ``wanted``; waits up to WAIT_S."""
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        for notification in stack.webhook.notifications(path):
            for alert in notification["alerts"]:
                if wanted(alert):
                    return dict(alert)
        time.sleep(0.05)
    seen = stack.webhook.notifications(path)
    raise AssertionError(f"no notification to {path} in {WAIT_S} s with {what}; got {seen}")


def test_a_warning_reads_back_with_its_labels_annotations_and_times(
    stack: Stack, sink: AlertmanagerSink, clock: Clock
) -> None:
    """ok → warning is one active alert: the check's labels (no empty segment label), the
    numbers and the runbook link, startsAt now, endsAt four resend intervals ahead."""
    post(sink, transition("warned", "ok", "warning", 0.17, 0.1))
    (alert,) = active(stack, "warned")
    assert alert["labels"] == {
        "alertname": "DriftwardenCheck",
        "severity": "warning",
        "model": "warned",
        "model_version": "v3",
        "subject": "car_value",
        "check": "psi",
    }
    assert alert["annotations"] == {
        "summary": "car_value psi is warning on warned v3, overall",
        "description": "psi of car_value moved from ok to warning: 0.17 against threshold 0.1 "
        "in the window ending 2019-04-02T12:00:00Z.",
        "value": "0.17",
        "threshold": "0.1",
        "window_end": "2019-04-02T12:00:00Z",
        "runbook_url": f"{RUNBOOK}#feature-drift",
    }
    assert (instant(alert["startsAt"]), instant(alert["endsAt"])) == (
        at(clock.now),
        at(clock.now + 4 * RESEND_S),
    )
    assert alert["generatorURL"] == GENERATOR
    assert alert["status"]["state"] == "active"
    assert alert["receivers"] == [{"name": "chat"}]


def test_a_segment_is_a_label(stack: Stack, sink: AlertmanagerSink) -> None:
    """The alert of a segment carries it as the ``segment`` label."""
    post(sink, transition("sliced", "ok", "warning", 0.17, 0.1, segment="platform=ios"))
    (alert,) = active(stack, "sliced")
    assert alert["labels"]["segment"] == "platform=ios"


def test_an_intervention_replaces_the_warning_and_pages(
    stack: Stack, sink: AlertmanagerSink, clock: Clock
) -> None:
    """warning → intervention leaves one active alert, critical, routed to the pager, started
    at the intervention; the warning is resolved by the same post."""
    post(sink, transition("escalated", "ok", "warning", 0.17, 0.1))
    clock.now += 1.0
    post(sink, transition("escalated", "warning", "intervention", 0.3, 0.25))
    (alert,) = active(stack, "escalated")
    assert alert["labels"]["severity"] == "critical"
    assert alert["annotations"]["threshold"] == "0.25"
    assert instant(alert["startsAt"]) == at(clock.now)
    assert alert["receivers"] == [{"name": "pager"}]


def test_a_repost_extends_the_alert_and_keeps_its_start(
    stack: Stack, sink: AlertmanagerSink, clock: Clock
) -> None:
    """After a resend interval the firing alert is posted again: same startsAt, endsAt pushed
    four intervals past the re-post."""
    post(sink, transition("held", "ok", "intervention", 0.3, 0.25))
    started = clock.now
    clock.now += RESEND_S
    sent = sink.sent
    sink.tick()
    assert sink.flush(WAIT_S) and sink.sent == sent + 1
    (alert,) = active(stack, "held")
    assert (instant(alert["startsAt"]), instant(alert["endsAt"])) == (
        at(started),
        at(clock.now + 4 * RESEND_S),
    )


def test_returning_to_ok_resolves_the_alert(
    stack: Stack, sink: AlertmanagerSink, clock: Clock
) -> None:
    """intervention → ok ends the alert: Alertmanager no longer holds it as active and tells
    the pager it is resolved, with endsAt the moment of the transition."""
    post(sink, transition("recovered", "ok", "intervention", 0.3, 0.25))
    notified(
        stack,
        "/pager",
        lambda a: a["labels"]["model"] == "recovered" and a["status"] == "firing",
        "the firing alert of model recovered",
    )
    clock.now += 1.0
    post(sink, transition("recovered", "intervention", "ok", 0.01, 0.05))
    assert active(stack, "recovered") == []
    resolved = notified(
        stack,
        "/pager",
        lambda a: a["labels"]["model"] == "recovered" and a["status"] == "resolved",
        "the resolved alert of model recovered",
    )
    assert instant(resolved["endsAt"]) == at(clock.now)
    assert resolved["annotations"]["description"].startswith(
        "psi of car_value moved from intervention to ok: 0.01 against threshold 0.05"
    )
