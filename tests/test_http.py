"""The HTTP endpoints, exercised with real requests on 127.0.0.1."""

from __future__ import annotations

import importlib.metadata
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import CollectorRegistry

from monitor.errors import ConfigError
from monitor.runtime.http import MonitorServer, build_info
from monitor.sinks.collector import DriftCollector, RunningTotals
from monitor.sinks.latest_windows import LatestWindows
from monitor.sinks.report import iso_ms, read_record

HOUR = 3_600_000


@dataclass
class Response:
    status: int
    content_type: str
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


def get(server: MonitorServer, path: str, accept: str | None = None) -> Response:
    """One GET with a bounded timeout; error statuses are returned, not raised."""
    request = urllib.request.Request(f"http://127.0.0.1:{server.port}{path}")
    if accept is not None:
        request.add_header("Accept", accept)
    try:
        with urllib.request.urlopen(request, timeout=5) as r:
            return Response(r.status, r.headers["Content-Type"], r.read())
    except urllib.error.HTTPError as error:
        return Response(error.code, error.headers["Content-Type"], error.read())


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def totals() -> RunningTotals:
    return RunningTotals({"m": 1200}, {"invalid_json": 2}, {"m": 1}, windows=3)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def latest() -> LatestWindows:
    return LatestWindows()


@pytest.fixture
def server(clock: FakeClock, latest: LatestWindows) -> Iterator[MonitorServer]:
    """A server on a free port with a 30 s liveness timeout on a fake clock."""
    registry = CollectorRegistry()
    DriftCollector(latest, totals, max_segments=5, registry=registry, version="1.0")
    with MonitorServer(
        registry,
        latest,
        totals,
        lag_provider=lambda: {("events", 0): 42},
        host="127.0.0.1",
        port=0,
        liveness_timeout=30.0,
        clock=clock,
    ) as running:
        yield running


def test_port_zero_binds_a_free_port(server: MonitorServer) -> None:
    """Asked for port 0, the server reports the port the system gave it and answers there."""
    assert server.port > 0
    assert get(server, "/readyz").status == 503


def test_metrics_is_prometheus_text(server: MonitorServer) -> None:
    """A plain scrape gets the 0.0.4 text format with its content type."""
    response = get(server, "/metrics")
    assert (response.status, response.content_type) == (200, CONTENT_TYPE_PLAIN_0_0_4)
    assert b'driftwarden_events_total{model="m"} 1200.0\n' in response.body


def test_metrics_speaks_openmetrics_when_asked(server: MonitorServer) -> None:
    """A scraper that accepts OpenMetrics gets it, terminated by # EOF."""
    response = get(server, "/metrics", accept="application/openmetrics-text; version=1.0.0")
    assert response.content_type.startswith("application/openmetrics-text")
    assert response.body.endswith(b"# EOF\n")


def test_healthz_is_ok_after_a_recent_heartbeat(server: MonitorServer, clock: FakeClock) -> None:
    """Within the liveness timeout of the last heartbeat, /healthz answers 200."""
    clock.now += 29
    response = get(server, "/healthz")
    assert (response.status, response.json()["status"]) == (200, "alive")


def test_healthz_fails_when_heartbeats_stop(server: MonitorServer, clock: FakeClock) -> None:
    """Past the liveness timeout without a heartbeat, /healthz answers 503."""
    clock.now += 31
    response = get(server, "/healthz")
    assert (response.status, response.json()) == (
        503,
        {"status": "stuck", "seconds_since_heartbeat": 31.0, "liveness_timeout": 30.0},
    )


def test_heartbeat_restores_liveness(server: MonitorServer, clock: FakeClock) -> None:
    """A heartbeat after a stall brings /healthz back to 200."""
    clock.now += 31
    server.heartbeat()
    assert get(server, "/healthz").status == 200


def test_healthz_flips_on_the_real_clock() -> None:
    """With a tiny timeout on the monotonic clock, a loop that stops beating turns /healthz 503."""
    registry = CollectorRegistry()
    with MonitorServer(
        registry, LatestWindows(), totals, host="127.0.0.1", port=0, liveness_timeout=0.05
    ) as server:
        time.sleep(0.1)
        assert get(server, "/healthz").status == 503


def test_readyz_is_unavailable_until_ready(server: MonitorServer) -> None:
    """Before set_ready(True), /readyz answers 503 with the reason."""
    response = get(server, "/readyz")
    assert response.status == 503
    assert response.json() == {
        "status": "not ready",
        "reason": "starting: baselines not loaded or partitions not assigned yet",
    }


def test_readyz_after_set_ready(server: MonitorServer) -> None:
    """set_ready(True) turns /readyz to 200."""
    server.set_ready(True)
    response = get(server, "/readyz")
    assert (response.status, response.json()) == (200, {"status": "ready", "reason": "ready"})


def test_readyz_reports_why_it_became_unready(server: MonitorServer) -> None:
    """set_ready(False, reason) turns /readyz back to 503 with that reason."""
    server.set_ready(True)
    server.set_ready(False, "partitions revoked")
    response = get(server, "/readyz")
    assert (response.status, response.json()["reason"]) == (503, "partitions revoked")


def test_status_lists_raised_checks_windows_lag_and_totals(
    server: MonitorServer, latest: LatestWindows
) -> None:
    """/status shows the raised checks, the last overall window, the lag and the totals."""
    for segment, level in (("", "warning"), ("platform=ios", "ok")):
        latest.write(
            read_record(
                {
                    "kind": "window",
                    "model": "m",
                    "model_version": "v1",
                    "segment": segment,
                    "start": iso_ms(0),
                    "end": iso_ms(HOUR),
                    "events": 800,
                    "features": {"x": {"psi": 0.15, "levels": {"psi": level}}},
                    "detectors": {},
                }
            )
        )
    latest.write(
        read_record(
            {
                "kind": "alert",
                "model": "m",
                "model_version": "v1",
                "segment": "",
                "subject": "x",
                "check": "psi",
                "from": "ok",
                "to": "warning",
                "value": 0.15,
                "threshold": 0.1,
                "window_end": iso_ms(HOUR),
            }
        )
    )
    response = get(server, "/status")
    assert (response.status, response.content_type) == (200, "application/json")
    assert response.json() == {
        "live": True,
        "ready": False,
        "build": {},
        "owns": {"tasks": [], "exchange_partitions": [], "models": []},
        "raised": [
            {
                "model": "m",
                "model_version": "v1",
                "segment": "",
                "subject": "x",
                "check": "psi",
                "level": "warning",
                "since": "1970-01-01T01:00:00Z",
            }
        ],
        "last_windows": [
            {
                "model": "m",
                "model_version": "v1",
                "start": "1970-01-01T00:00:00Z",
                "end": "1970-01-01T01:00:00Z",
                "events": 800,
            }
        ],
        "consumer_lag": [{"topic": "events", "partition": 0, "records": 42}],
        "labels_held_back": None,
        "totals": {
            "events": {"m": 1200},
            "rejected": {"invalid_json": 2},
            "late": {"m": 1},
            "windows": 3,
            "labels": {"received": {}, "joined": {}, "pending": {}, "late": {}},
        },
    }


def test_status_owns_the_tasks_of_the_partitions_assigned_and_the_owned_models() -> None:
    """/status ``owns`` lists each partition number once whatever its topic, drops revoked
    partitions, and names the models the process owns."""
    with MonitorServer(
        CollectorRegistry(),
        LatestWindows(),
        totals,
        host="127.0.0.1",
        port=0,
        owned_models=lambda: ("m", "churn"),
    ) as server:
        server.own([("predictions", 2), ("labels", 2), ("predictions", 0), ("labels", 7)])
        server.disown([("labels", 7), ("predictions", 2)])
        assert get(server, "/status").json()["owns"] == {
            "tasks": [0, 2],
            "exchange_partitions": [],
            "models": ["churn", "m"],
        }


def test_status_without_a_consumer_has_no_lag() -> None:
    """Without a lag provider (a file replay), consumer_lag is null."""
    with MonitorServer(
        CollectorRegistry(), LatestWindows(), totals, host="127.0.0.1", port=0
    ) as server:
        assert get(server, "/status").json()["consumer_lag"] is None


def test_status_says_the_version_and_the_json_reader_in_use() -> None:
    """The build the daemon passes (its version and JSON reader) is /status's ``build``."""
    build = build_info("python")
    with MonitorServer(
        CollectorRegistry(), LatestWindows(), totals, host="127.0.0.1", port=0, build=build
    ) as server:
        assert get(server, "/status").json()["build"] == {
            "version": importlib.metadata.version("driftwarden"),
            "json_reader": "python",
        }


def test_unknown_path_is_404(server: MonitorServer) -> None:
    """A path that is not an endpoint answers 404 naming the endpoints."""
    response = get(server, "/metricz")
    assert response.status == 404
    assert "use /metrics, /healthz, /readyz or /status" in response.json()["error"]


def test_failing_collector_answers_500(server: MonitorServer) -> None:
    """A scrape that raises answers 500 and the server keeps serving."""

    class Broken:
        def collect(self) -> Iterator[Metric]:
            raise RuntimeError("broken collector")

    server.registry.register(Broken())
    response = get(server, "/metrics")
    assert (response.status, response.json()) == (
        500,
        {"error": "RuntimeError('broken collector')"},
    )
    assert get(server, "/healthz").status == 200


def test_stop_closes_the_port() -> None:
    """After stop(), connections to the port are refused."""
    server = MonitorServer(
        CollectorRegistry(), LatestWindows(), totals, host="127.0.0.1", port=0
    ).start()
    server.stop()
    with pytest.raises(urllib.error.URLError):
        get(server, "/healthz")


def test_busy_port_is_a_config_error(server: MonitorServer) -> None:
    """Binding a port already in use raises a one-line error naming the fix."""
    with pytest.raises(ConfigError, match=f"cannot listen on 127.0.0.1:{server.port}"):
        MonitorServer(
            CollectorRegistry(), LatestWindows(), totals, host="127.0.0.1", port=server.port
        )


def test_liveness_timeout_must_be_positive() -> None:
    """A zero liveness timeout is refused with the fix."""
    with pytest.raises(ValueError, match="liveness_timeout must be positive"):
        MonitorServer(CollectorRegistry(), LatestWindows(), totals, port=0, liveness_timeout=0)
