"""The daemon's HTTP endpoints, served from a background thread.

- ``/metrics``: the registry in the Prometheus text format (OpenMetrics when the scraper asks).
- ``/healthz``: liveness. 200 while the main loop has called :meth:`MonitorServer.heartbeat`
  within ``liveness_timeout`` seconds (the server's start counts as the first heartbeat), else
  503. Only a stuck loop fails it: a broker outage is a metric and an alert, not a restart.
- ``/readyz``: readiness. 503 with a JSON reason until :meth:`MonitorServer.set_ready` is called
  with ``True`` (baselines loaded and partitions assigned), 200 after.
- ``/status``: JSON for people: what the process owns (source tasks, exchange partitions,
  models), the checks in warning or intervention, the last window per model and version, the
  consumer lag and the label partitions held back (when providers are given) and the running
  totals.

Any other path is 404.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson
import structlog
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import CollectorRegistry

from monitor.defaults import DEFAULT_HTTP_PORT
from monitor.errors import ConfigError
from monitor.evaluate.levels import Level
from monitor.sinks.collector import ConsumerLag, OwnedModels, RunningTotals
from monitor.sinks.latest_windows import LatestWindows, Snapshot

if TYPE_CHECKING:
    from monitor.sources.label_pacing import Paced

log = structlog.get_logger(__name__)
JSON = "application/json"
NOT_READY = "starting: baselines not loaded or partitions not assigned yet"


def build_info(json_reader: str) -> dict[str, str]:
    """What /status says of the running build: the version and the JSON reader in use.

    >>> sorted(build_info("python"))
    ['json_reader', 'version']
    """
    import importlib.metadata

    return {"version": importlib.metadata.version("driftwarden"), "json_reader": json_reader}


def _no_models() -> Collection[str]:
    return ()


def ownership(
    partitions: Iterable[tuple[str, int]],
    models: Collection[str],
    exchange_partitions: Collection[int] = (),
) -> dict[str, Any]:
    """/status's ``owns``: the tasks (partition numbers of any source topic) of ``partitions``,
    the ``exchange_partitions`` (none while the stages run in one process) and the ``models``.

    >>> ownership([("predictions", 3), ("labels", 3), ("labels", 0)], {"b", "a"}, (2,))
    {'tasks': [0, 3], 'exchange_partitions': [2], 'models': ['a', 'b']}
    """
    return {
        "tasks": sorted({partition for _, partition in partitions}),
        "exchange_partitions": sorted(exchange_partitions),
        "models": sorted(models),
    }


def status_document(
    snapshot: Snapshot,
    totals: RunningTotals,
    lag: ConsumerLag | None,
    paced: Paced | None = None,
) -> dict[str, Any]:
    """The /status body: raised checks, last overall window per (model, version), lag, label
    partitions held back, totals."""
    raised = [
        {
            "model": w.key.model,
            "model_version": w.key.model_version,
            "segment": w.key.segment,
            "subject": subject,
            "check": check,
            "level": held.level.value,
            "since": held.since,
        }
        for w in snapshot.windows
        for (subject, check), held in sorted(w.levels.items())
        if held.level in (Level.WARNING, Level.INTERVENTION)
    ]
    last_windows = [
        {
            "model": w.key.model,
            "model_version": w.key.model_version,
            "start": w.record["start"],
            "end": w.record["end"],
            "events": w.record["events"],
        }
        for w in snapshot.windows
        if w.key.segment == ""
    ]
    return {
        "raised": raised,
        "last_windows": last_windows,
        "consumer_lag": None
        if lag is None
        else [{"topic": t, "partition": p, "records": n} for (t, p), n in sorted(lag.items())],
        "labels_held_back": None
        if paced is None
        else [
            {"topic": t, "partition": p, "ahead_s": None if ahead is None else ahead / 1000}
            for (t, p), ahead in sorted(paced.held.items())
        ],
        "totals": {
            "events": dict(totals.events),
            "rejected": dict(totals.rejected),
            "late": dict(totals.late),
            "windows": totals.windows,
            "labels": {
                "received": dict(totals.labels.labels),
                "joined": dict(totals.labels.joined),
                "pending": dict(totals.labels.pending),
                "late": dict(totals.late_labels),
            },
        },
    }


class MonitorServer:
    """/metrics, /healthz, /readyz and /status on ``host:port`` (port 0 picks a free one).

    The main loop calls :meth:`heartbeat` every iteration and :meth:`set_ready` when it can
    serve, the rebalance listener :meth:`own` and :meth:`disown` as source partitions come and
    go; everything else happens on the server's daemon thread. ``owned_models`` and
    ``owned_exchange_partitions`` give the models and exchange partitions the process owns
    (/status ``owns``).
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        latest: LatestWindows,
        totals_provider: Callable[[], RunningTotals],
        *,
        lag_provider: Callable[[], ConsumerLag] | None = None,
        pacing_provider: Callable[[], Paced] | None = None,
        host: str = "0.0.0.0",
        port: int = DEFAULT_HTTP_PORT,
        liveness_timeout: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        build: Mapping[str, str] | None = None,
        owned_models: OwnedModels = _no_models,
        owned_exchange_partitions: Callable[[], Collection[int]] = tuple,
    ) -> None:
        if liveness_timeout <= 0:
            raise ValueError(
                f"liveness_timeout must be positive, got {liveness_timeout}; give the seconds "
                "the main loop may take between heartbeats"
            )
        self.registry = registry
        self.latest = latest
        self.totals_provider = totals_provider
        self.lag_provider = lag_provider
        self.pacing_provider = pacing_provider
        self.liveness_timeout = liveness_timeout
        self.clock = clock
        self.build = dict(build or {})
        self.owned_models = owned_models
        self.owned_exchange_partitions = owned_exchange_partitions
        self._partitions: frozenset[tuple[str, int]] = frozenset()  # replaced whole: thread-safe
        self._last_heartbeat = clock()
        self._ready: tuple[bool, str] = (False, NOT_READY)
        try:
            self._httpd = _Server((host, port), _Handler, self)
        except OSError as exc:
            raise ConfigError(
                f"cannot listen on {host}:{port} ({exc.strerror}); choose a free port or another "
                "address for the HTTP endpoints"
            ) from None
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="driftwarden-http",
            daemon=True,
        )

    @property
    def port(self) -> int:
        """The bound port (the one the system picked when asked for port 0)."""
        return int(self._httpd.server_address[1])

    def start(self) -> MonitorServer:
        """Serve in the background (counts as the first heartbeat); return self."""
        self.heartbeat()
        self._thread.start()
        log.info("http endpoints listening", port=self.port)
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._thread.is_alive():
            self._httpd.shutdown()
            self._thread.join()
        self._httpd.server_close()

    def __enter__(self) -> MonitorServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def heartbeat(self) -> None:
        """Record that the main loop made progress (keeps /healthz at 200)."""
        self._last_heartbeat = self.clock()

    def set_ready(self, ready: bool, reason: str = NOT_READY) -> None:
        """Set readiness; ``reason`` is reported by /readyz while not ready."""
        self._ready = (ready, "ready" if ready else reason)

    def own(self, partitions: Iterable[tuple[str, int]]) -> None:
        """Source partitions, as (topic, partition), assigned to this process."""
        self._partitions = self._partitions | {(topic, p) for topic, p in partitions}

    def disown(self, partitions: Iterable[tuple[str, int]]) -> None:
        """Source partitions this process no longer owns (revoked or lost)."""
        self._partitions = self._partitions - {(topic, p) for topic, p in partitions}

    def liveness(self) -> tuple[bool, dict[str, Any]]:
        """Whether the loop is alive, and the /healthz body."""
        silent = self.clock() - self._last_heartbeat
        alive = silent <= self.liveness_timeout
        return alive, {
            "status": "alive" if alive else "stuck",
            "seconds_since_heartbeat": round(silent, 3),
            "liveness_timeout": self.liveness_timeout,
        }

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Whether the daemon can serve, and the /readyz body."""
        ready, reason = self._ready
        return ready, {"status": "ready" if ready else "not ready", "reason": reason}

    def status(self) -> dict[str, Any]:
        """The /status body."""
        lag = self.lag_provider() if self.lag_provider is not None else None
        paced = self.pacing_provider() if self.pacing_provider is not None else None
        document = status_document(self.latest.snapshot(), self.totals_provider(), lag, paced)
        live, ready = self.liveness()[0], self.readiness()[0]
        owns = ownership(self._partitions, self.owned_models(), self.owned_exchange_partitions())
        return {"live": live, "ready": ready, "build": self.build, "owns": owns, **document}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], handler: type[_Handler], monitor: MonitorServer
    ) -> None:
        self.monitor = monitor
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A request that failed outside the endpoint's code: a client that hung up before the
        answer was written is a debug line; anything else one log record with its traceback
        (socketserver's default prints a traceback to stderr for both)."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError):
            log.debug("http client went away", client=str(client_address), error=repr(error))
        else:
            log.exception("http request failed", client=str(client_address))


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 10  # seconds a client may take to send its request

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        try:
            status, body, content_type = self._respond(path)
        except Exception as exc:
            log.exception("http endpoint failed", path=path)
            status, body = HTTPStatus.INTERNAL_SERVER_ERROR, _json({"error": f"{exc!r}"})
            content_type = JSON
        self._send(status, body, content_type)

    def _respond(self, path: str) -> tuple[HTTPStatus, bytes, str]:
        monitor = self.server.monitor
        if path == "/metrics":
            encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
            return HTTPStatus.OK, encoder(monitor.registry), content_type
        if path == "/healthz":
            return _probe(*monitor.liveness())
        if path == "/readyz":
            return _probe(*monitor.readiness())
        if path == "/status":
            return HTTPStatus.OK, _json(monitor.status()), JSON
        error = {"error": f"no endpoint {path}; use /metrics, /healthz, /readyz or /status"}
        return HTTPStatus.NOT_FOUND, _json(error), JSON

    def _send(self, status: HTTPStatus, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http request", client=self.client_address[0], request=format % args)


def _json(body: Mapping[str, Any]) -> bytes:
    return orjson.dumps(body)


def _probe(ok: bool, body: Mapping[str, Any]) -> tuple[HTTPStatus, bytes, str]:
    """A probe's answer: 200 when ``ok``, else 503, with its JSON body."""
    return (HTTPStatus.OK if ok else HTTPStatus.SERVICE_UNAVAILABLE), _json(body), JSON
