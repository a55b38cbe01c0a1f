"""Requests that fail outside an endpoint's code: logged once, never a traceback on stderr."""

from __future__ import annotations

import pytest
from prometheus_client.registry import CollectorRegistry
from structlog.testing import capture_logs

from monitor.runtime.http import MonitorServer
from monitor.sinks.collector import RunningTotals
from monitor.sinks.latest_windows import LatestWindows


def _handled(error: BaseException) -> list[dict[str, object]]:
    """The log records of the HTTP server handling ``error`` as if a request had just raised it."""
    server = MonitorServer(
        CollectorRegistry(), LatestWindows(), RunningTotals, host="127.0.0.1", port=0
    )
    try:
        with capture_logs() as logs:
            try:
                raise error
            except BaseException:
                server._httpd.handle_error(None, ("127.0.0.1", 5555))
    finally:
        server.stop()
    return logs


def test_a_client_that_hangs_up_is_a_debug_line_not_a_traceback(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """A BrokenPipeError from a client gone before the answer was written logs one debug line."""
    logs = _handled(BrokenPipeError(32, "Broken pipe"))
    assert [(r["event"], r["log_level"]) for r in logs] == [("http client went away", "debug")]
    assert capfd.readouterr().err == ""


def test_any_other_request_failure_is_logged_with_its_traceback(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """A failure that is not a hang-up is one error record carrying the exception."""
    logs = _handled(ValueError("bad request line"))
    assert [(r["event"], r["log_level"]) for r in logs] == [("http request failed", "error")]
    assert logs[0]["exc_info"] is True
    assert capfd.readouterr().err == ""
