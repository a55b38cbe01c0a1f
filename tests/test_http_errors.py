"""Requests that fail outside an endpoint's code: logged once, never a traceback on stderr."""

from __future__ import annotations

import pytest
from prometheus_client.registry import CollectorRegistry
from structlog.testing import capture_logs

from monitor.runtime.http import MonitorServer
from monitor.sinks.collector import RunningTotals
from monitor.sinks.latest_windows import LatestWindows


def _server() -> MonitorServer:
    return MonitorServer(
        CollectorRegistry(), LatestWindows(), RunningTotals, host="127.0.0.1", port=0
    )


def _fail_with(error: BaseException, server: MonitorServer) -> None:
    """Let the HTTP server handle ``error`` as if a request had just raised it."""
    try:
        raise error
    except BaseException:
        server._httpd.handle_error(None, ("127.0.0.1", 5555))


def test_a_client_that_hangs_up_is_a_debug_line_not_a_traceback(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """A BrokenPipeError from a client gone before the answer was written logs one debug line."""
    server = _server()
    try:
        with capture_logs() as logs:
            _fail_with(BrokenPipeError(32, "Broken pipe"), server)
    finally:
        server.stop()
    assert [(r["event"], r["log_level"]) for r in logs] == [("http client went away", "debug")]
    assert capfd.readouterr().err == ""


def test_any_other_request_failure_is_logged_with_its_traceback(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """A failure that is not a hang-up is one error record carrying the exception."""
    server = _server()
    try:
        with capture_logs() as logs:
            _fail_with(ValueError("bad request line"), server)
    finally:
        server.stop()
    assert [(r["event"], r["log_level"]) for r in logs] == [("http request failed", "error")]
    assert logs[0]["exc_info"] is True
    assert capfd.readouterr().err == ""
