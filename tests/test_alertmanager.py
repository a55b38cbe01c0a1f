"""The Alertmanager sink, posting to a real HTTP server on 127.0.0.1 that plays Alertmanager."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from monitor.errors import ConfigError
from monitor.sinks.alertmanager import SEVERITY, AlertmanagerSink
from monitor.sinks.base import Record
from monitor.sinks.report import iso_ms, read_record

NOW = 1_554_199_872.0  # 2019-04-02T10:11:12Z
WAIT = 2.0  # bound on every wait for the background thread or the server


def at(epoch_s: float) -> str:
    """The RFC 3339 text the sink writes for an instant."""
    return iso_ms(round(epoch_s * 1000))


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@dataclass(frozen=True)
class Request:
    path: str
    content_type: str
    alerts: list[dict[str, Any]]


class FakeAlertmanager:
    """Answers every POST with ``status`` after ``release`` is set, and records what it got."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.status = 200
        self.release = threading.Event()
        self.release.set()
        self.arrived = threading.Semaphore(0)
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                owner.requests.append(
                    Request(self.path, self.headers["Content-Type"], orjson.loads(body))
                )
                owner.arrived.release()
                owner.release.wait(WAIT)
                self.send_response(owner.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                del format, args

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def last(self) -> list[dict[str, Any]]:
        return self.requests[-1].alerts

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(WAIT)


@pytest.fixture
def alertmanager() -> Iterator[FakeAlertmanager]:
    server = FakeAlertmanager()
    yield server
    server.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


Factory = Callable[..., AlertmanagerSink]


@pytest.fixture
def make_sink(alertmanager: FakeAlertmanager, clock: Clock) -> Iterator[Factory]:
    """Sinks posting to the fake Alertmanager on the test's clock, closed after the test."""
    sinks: list[AlertmanagerSink] = []

    def make(**options: Any) -> AlertmanagerSink:
        options = {"resend_interval_s": 60.0, "timeout_s": WAIT, "clock": clock, **options}
        sink = AlertmanagerSink(options.pop("url", alertmanager.url), **options)
        sinks.append(sink)
        return sink

    yield make
    alertmanager.release.set()
    for sink in sinks:
        sink.close(timeout_s=WAIT)


def transition(before: str, after: str, *, subject: str = "car_value", segment: str = "") -> Record:
    """An ``alert`` report object as the pipeline writes it."""
    return read_record(
        {
            "kind": "alert",
            "model": "car-loan",
            "model_version": "v3",
            "segment": segment,
            "subject": subject,
            "check": "psi",
            "from": before,
            "to": after,
            "value": 0.3,
            "threshold": 0.25,
            "window_end": "2019-04-02T10:00:00Z",
        }
    )


def labels(severity: str, **extra: str) -> dict[str, str]:
    return {
        "alertname": "DriftwardenCheck",
        "severity": severity,
        "model": "car-loan",
        "model_version": "v3",
        "subject": "car_value",
        "check": "psi",
        **extra,
    }


def delivered(sink: AlertmanagerSink, alertmanager: FakeAlertmanager) -> list[Request]:
    assert sink.flush(WAIT)
    return alertmanager.requests


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_warning_fires_an_alert_with_the_check_labels(
    make_sink: Factory, alertmanager: FakeAlertmanager
) -> None:
    """Entering warning posts one JSON alert to /api/v2/alerts labelled with the check."""
    sink = make_sink()
    sink.write(transition("ok", "warning"))
    [request] = delivered(sink, alertmanager)
    assert (request.path, request.content_type) == ("/api/v2/alerts", "application/json")
    assert [alert["labels"] for alert in request.alerts] == [labels("warning")]


def test_intervention_fires_with_critical_severity(
    make_sink: Factory, alertmanager: FakeAlertmanager
) -> None:
    """Entering intervention fires the alert with severity critical."""
    sink = make_sink()
    sink.write(transition("ok", "intervention"))
    [request] = delivered(sink, alertmanager)
    assert request.alerts[0]["labels"] == labels("critical")


def test_segment_label_names_the_slice(make_sink: Factory, alertmanager: FakeAlertmanager) -> None:
    """A segment window's alert carries its segment; the overall one has no segment label."""
    sink = make_sink()
    sink.write(transition("ok", "warning", segment="platform=ios"))
    [request] = delivered(sink, alertmanager)
    assert request.alerts[0]["labels"] == labels("warning", segment="platform=ios")


def test_firing_alert_ends_four_resend_intervals_ahead(
    make_sink: Factory, alertmanager: FakeAlertmanager
) -> None:
    """A firing alert starts now and ends 4 × resend interval in the future."""
    sink = make_sink(resend_interval_s=30.0)
    sink.write(transition("ok", "warning"))
    [alert] = delivered(sink, alertmanager)[0].alerts
    assert (alert["startsAt"], alert["endsAt"]) == (at(NOW), at(NOW + 120))


def test_annotations_carry_value_threshold_and_runbook(
    make_sink: Factory, alertmanager: FakeAlertmanager
) -> None:
    """Annotations give the value, the threshold and a runbook link under the configured base."""
    sink = make_sink(runbook_base="https://git.example/driftwarden/docs/runbook.md")
    sink.write(transition("ok", "warning"))
    notes = delivered(sink, alertmanager)[0].alerts[0]["annotations"]
    assert notes == {
        "summary": "car_value psi is warning on car-loan v3, overall",
        "description": "psi of car_value moved from ok to warning: 0.3 against threshold 0.25 "
        "in the window ending 2019-04-02T10:00:00Z.",
        "value": "0.3",
        "threshold": "0.25",
        "window_end": "2019-04-02T10:00:00Z",
        "runbook_url": "https://git.example/driftwarden/docs/runbook.md#feature-drift",
    }


def test_generator_url_is_sent_only_when_configured(
    make_sink: Factory, alertmanager: FakeAlertmanager
) -> None:
    """generatorURL links back to the daemon when given and is absent otherwise."""
    with_link = make_sink(generator_url="http://driftwarden:8000/status")
    without = make_sink()
    with_link.write(transition("ok", "warning"))
    assert delivered(with_link, alertmanager)[0].alerts[0]["generatorURL"] == (
        "http://driftwarden:8000/status"
    )
    without.write(transition("ok", "warning"))
    assert "generatorURL" not in delivered(without, alertmanager)[1].alerts[0]


def test_window_records_post_nothing(make_sink: Factory, alertmanager: FakeAlertmanager) -> None:
    """Report objects other than alerts are ignored."""
    sink = make_sink()
    window = {"kind": "window", "model": "car-loan", "model_version": "v3", "segment": ""}
    times = {"start": "2019-04-02T09:00:00Z", "end": "2019-04-02T10:00:00Z"}
    sink.write(read_record({**window, **times, "events": 0, "features": {}}))
    assert delivered(sink, alertmanager) == []


def test_firing_alert_is_reposted_after_the_resend_interval(
    make_sink: Factory, alertmanager: FakeAlertmanager, clock: Clock
) -> None:
    """tick() re-posts a firing alert once the interval has passed, with a later endsAt."""
    sink = make_sink()
    sink.write(transition("ok", "warning"))
    clock.now = NOW + 59
    sink.tick()
    assert len(delivered(sink, alertmanager)) == 1
    clock.now = NOW + 60
    sink.tick()
    [alert] = delivered(sink, alertmanager)[1].alerts
    assert (alert["startsAt"], alert["endsAt"]) == (at(NOW), at(NOW + 60 + 240))


def test_resolve_sets_ends_at_to_now(
    make_sink: Factory, alertmanager: FakeAlertmanager, clock: Clock
) -> None:
    """Falling back to ok re-posts the alert with its start kept and endsAt = now."""
    sink = make_sink()
    sink.write(transition("ok", "warning"))
    clock.now = NOW + 600
    sink.write(transition("warning", "ok"))
    [alert] = delivered(sink, alertmanager)[-1].alerts
    assert alert["labels"] == labels("warning")
    assert (alert["startsAt"], alert["endsAt"]) == (at(NOW), at(NOW + 600))


@pytest.mark.parametrize(
    ("before", "after", "resolved", "fired"),
    [
        ("warning", "intervention", "warning", "critical"),
        ("intervention", "warning", "critical", "warning"),
    ],
)
def test_severity_change_resolves_one_alert_and_fires_the_other(
    make_sink: Factory,
    alertmanager: FakeAlertmanager,
    clock: Clock,
    before: str,
    after: str,
    resolved: str,
    fired: str,
) -> None:
    """Moving between warning and intervention resolves the old severity and fires the new one."""
    sink = make_sink()
    sink.write(transition("ok", before))
    clock.now = NOW + 120
    sink.write(transition(before, after))
    old, new = delivered(sink, alertmanager)[-1].alerts
    assert (old["labels"], old["startsAt"], old["endsAt"]) == (
        labels(resolved),
        at(NOW),
        at(NOW + 120),
    )
    assert (new["labels"], new["startsAt"], new["endsAt"]) == (
        labels(fired),
        at(NOW + 120),
        at(NOW + 120 + 240),
    )


def test_resolved_alert_is_reposted_until_the_horizon(
    make_sink: Factory, alertmanager: FakeAlertmanager, clock: Clock
) -> None:
    """Re-posts repeat a resolve until 4 intervals after it, then leave it out."""
    sink = make_sink()
    sink.write(transition("ok", "warning"))
    clock.now = NOW + 10
    sink.write(transition("warning", "ok"))
    clock.now = NOW + 70
    sink.tick()
    [again] = delivered(sink, alertmanager)[-1].alerts
    assert again["endsAt"] == at(NOW + 10)
    clock.now = NOW + 10 + 240
    sink.tick()
    assert len(delivered(sink, alertmanager)) == 3


def test_server_error_is_counted_and_retried_on_the_next_tick(
    make_sink: Factory, alertmanager: FakeAlertmanager
) -> None:
    """A 500 counts as failed; the next tick posts the alert again without waiting the interval."""
    alertmanager.status = 500
    sink = make_sink()
    sink.write(transition("ok", "warning"))
    delivered(sink, alertmanager)
    assert (sink.sent, sink.failed) == (0, 1)
    alertmanager.status = 200
    sink.tick()
    assert [a["labels"] for a in delivered(sink, alertmanager)[-1].alerts] == [labels("warning")]
    assert (sink.sent, sink.failed) == (1, 1)


def test_unreachable_server_is_counted_as_failed_and_retried(make_sink: Factory) -> None:
    """Posting to a port nobody listens on fails quietly and is attempted again on each tick."""
    sink = make_sink(url=f"http://127.0.0.1:{unused_port()}")
    sink.write(transition("ok", "warning"))
    assert sink.flush(WAIT)
    sink.tick()
    assert sink.flush(WAIT)
    assert (sink.sent, sink.failed) == (0, 2)


def test_failures_are_logged_at_most_six_times_a_minute(make_sink: Factory) -> None:
    """Nine failures within a minute give six log lines."""
    sink = make_sink(url=f"http://127.0.0.1:{unused_port()}")
    with capture_logs() as logs:
        sink.write(transition("ok", "warning"))
        for _ in range(8):
            assert sink.flush(WAIT)
            sink.tick()
        assert sink.flush(WAIT)
    failures = [entry for entry in logs if entry["event"] == "alertmanager post failed"]
    assert (sink.failed, len(failures)) == (9, 6)


def test_full_queue_drops_the_oldest_post_and_counts_it(
    make_sink: Factory, alertmanager: FakeAlertmanager
) -> None:
    """With one post in flight and the queue full, a new post pushes out the oldest queued one."""
    alertmanager.release.clear()
    sink = make_sink(queue_size=2)
    sink.write(transition("ok", "warning", subject="a0"))
    assert alertmanager.arrived.acquire(timeout=WAIT)
    for name in ("a1", "a2", "a3"):
        sink.write(transition("ok", "warning", subject=name))
    alertmanager.release.set()
    requests = delivered(sink, alertmanager)
    assert [r.alerts[0]["labels"]["subject"] for r in requests] == ["a0", "a2", "a3"]
    assert (sink.sent, sink.dropped) == (3, 1)


def test_dropped_changes_are_reposted_on_the_next_tick(
    make_sink: Factory, alertmanager: FakeAlertmanager
) -> None:
    """After a drop, the next tick re-posts every firing alert, including the dropped one."""
    alertmanager.release.clear()
    sink = make_sink(queue_size=1)
    sink.write(transition("ok", "warning", subject="a0"))
    assert alertmanager.arrived.acquire(timeout=WAIT)
    sink.write(transition("ok", "warning", subject="a1"))
    sink.write(transition("ok", "warning", subject="a2"))
    alertmanager.release.set()
    assert sink.flush(WAIT)
    sink.tick()
    reposted = delivered(sink, alertmanager)[-1].alerts
    assert sorted(a["labels"]["subject"] for a in reposted) == ["a0", "a1", "a2"]


def test_close_delivers_what_is_queued(make_sink: Factory, alertmanager: FakeAlertmanager) -> None:
    """close() waits for queued posts to go out."""
    sink = make_sink()
    sink.write(transition("ok", "warning"))
    sink.close(timeout_s=WAIT)
    assert (len(alertmanager.requests), sink.sent) == (1, 1)


def test_close_gives_up_on_a_hung_server_and_counts_the_rest_dropped(
    make_sink: Factory, alertmanager: FakeAlertmanager
) -> None:
    """close() returns after its bound even when Alertmanager never answers."""
    alertmanager.release.clear()
    sink = make_sink()
    sink.write(transition("ok", "warning", subject="a0"))
    assert alertmanager.arrived.acquire(timeout=WAIT)
    sink.write(transition("ok", "warning", subject="a1"))
    sink.close(timeout_s=0.1)
    assert sink.dropped == 1


def test_writes_after_close_are_dropped(make_sink: Factory, alertmanager: FakeAlertmanager) -> None:
    """A closed sink counts new posts as dropped instead of sending them."""
    sink = make_sink()
    sink.close(timeout_s=WAIT)
    sink.write(transition("ok", "warning"))
    assert (sink.dropped, alertmanager.requests) == (1, [])


def test_url_that_is_not_http_is_a_config_error() -> None:
    """A URL without an http(s) scheme is refused with the fix in the message."""
    with pytest.raises(ConfigError, match=r"e\.g\. http://alertmanager:9093"):
        AlertmanagerSink("alertmanager:9093")


def test_non_positive_resend_interval_is_refused() -> None:
    """A resend interval of zero is refused."""
    with pytest.raises(ValueError, match="resend_interval_s must be positive"):
        AlertmanagerSink("http://127.0.0.1:9093", resend_interval_s=0)


class Recorder:
    """An in-memory Alertmanager: keeps the latest version of each alert by its labels."""

    def __init__(self) -> None:
        self.alerts: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}

    def post(self, url: str, body: bytes, timeout_s: float) -> None:
        del url, timeout_s
        for alert in orjson.loads(body):
            self.alerts[tuple(sorted(alert["labels"].items()))] = alert

    def firing(self, now: float) -> list[str]:
        """Severities of the alerts whose endsAt is still ahead."""
        return sorted(
            alert["labels"]["severity"]
            for alert in self.alerts.values()
            if datetime.fromisoformat(alert["endsAt"]).timestamp() > now
        )


@settings(max_examples=60)
@given(
    st.lists(
        st.tuples(st.sampled_from(["ok", "warning", "intervention"]), st.integers(0, 200)),
        max_size=12,
    )
)
def test_alertmanager_ends_up_firing_exactly_the_current_level(
    steps: list[tuple[str, int]],
) -> None:
    """Whatever the path of levels and ticks, only the current level's alert is left firing."""
    clock, recorder = Clock(), Recorder()
    sink = AlertmanagerSink("http://127.0.0.1:9093", clock=clock, post=recorder.post)
    level = "ok"
    for after, seconds in steps:
        if after != level:
            sink.write(transition(level, after))
            level = after
        clock.now += seconds
        sink.tick()
    sink.close(timeout_s=WAIT)
    expected = [SEVERITY[level]] if level in SEVERITY else []
    assert recorder.firing(clock.now) == expected


def test_a_restored_sink_refires_the_checkpointed_alerts_at_once(
    make_sink: Factory, alertmanager: FakeAlertmanager, clock: Clock
) -> None:
    """Alerts firing at a checkpoint are posted again by the next process, startsAt kept."""
    before = make_sink()
    before.write(transition("ok", "intervention"))
    saved = orjson.loads(orjson.dumps(before.state()))
    first = delivered(before, alertmanager)[0].alerts[0]
    clock.now += 600
    after = make_sink()
    after.restore(saved)
    refired = delivered(after, alertmanager)[-1].alerts
    assert [a["labels"] for a in refired] == [labels("critical")]
    assert refired[0]["startsAt"] == first["startsAt"]
    assert refired[0]["endsAt"] > first["endsAt"]


def test_a_sink_forgets_the_alerts_of_models_another_process_took_over(
    make_sink: Factory, alertmanager: FakeAlertmanager, clock: Clock
) -> None:
    """After forget_models, a firing alert of the model is no longer re-posted (its new owner
    posts it, and resolves it when its check recovers), and it is not in the sink's state."""
    sink = make_sink()
    sink.write(transition("ok", "warning"))
    assert sink.models_state(["car-loan"]) == sink.state() != []
    sink.forget_models(["car-loan"])
    assert sink.state() == []
    clock.now = NOW + 60
    sink.tick()
    assert len(delivered(sink, alertmanager)) == 1  # the first post only


def test_a_sink_takes_over_the_firing_alerts_of_a_model_with_their_start(
    make_sink: Factory, alertmanager: FakeAlertmanager, clock: Clock
) -> None:
    """The firing alerts one sink gives for a model are posted at once by another that
    restores them, with the first sink's startsAt."""
    old, new = make_sink(), make_sink()
    old.write(transition("ok", "warning"))
    assert len(delivered(old, alertmanager)) == 1
    moved = old.models_state(["car-loan"])
    clock.now = NOW + 30
    new.restore_models(moved)
    [request] = delivered(new, alertmanager)[1:]
    [alert] = request.alerts
    assert (alert["labels"], alert["startsAt"]) == (labels("warning"), at(NOW))
