"""Prometheus, Alertmanager, the daemon and a webhook receiver as real processes on loopback.

Used by ``tests/test_alerting_e2e.py`` and ``deploy/local/stack``. The binaries are Debian's,
unpacked into ``.cache/debian`` by ``deploy/local/prometheus.sh install``. The configs are the
project's own (the chart's rule file, ``deploy/prometheus/prometheus.yml``,
``deploy/alertmanager/alertmanager.yml``) copied with only these changes: the placeholder
addresses become the real ones, Prometheus scrapes and evaluates every ``interval``, and every
duration that times an alert (``for``, ``keep_firing_for``, ``group_wait``, ``group_interval``,
``repeat_interval``) is divided by :data:`TIME_SCALE`, so the rules under test are the real ones
running 300 times faster.

Prometheus and Alertmanager run in a private mount namespace (see :func:`_with_package_share`).
Every process started here is stopped by :meth:`Service.stop` (SIGTERM, then SIGKILL) and, where
``setpriv`` exists, also gets SIGKILL when the Python process that started it dies.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT = ROOT / "deploy" / "local" / "prometheus.sh"
RULES = ROOT / "helm" / "driftwarden" / "files" / "prometheus-rules.yaml"
PROMETHEUS_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
ALERTMANAGER_CONFIG = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"
DAEMON_PLACEHOLDER = "127.0.0.1:8000"
ALERTMANAGER_PLACEHOLDER = "127.0.0.1:9093"
WEBHOOK_PLACEHOLDER = "http://127.0.0.1:5001"
TIME_SCALE = 300
"""Alert timing durations are divided by this (5m becomes 1s), with 1s at least."""
RULE_DURATIONS = ("for", "keep_firing_for")
ROUTE_DURATIONS = ("group_wait", "group_interval", "repeat_interval")
_UNIT_SECONDS = {
    "ms": 0.001,
    "s": 1,
    "m": 60,
    "h": 3_600,
    "d": 86_400,
    "w": 604_800,
    "y": 31_536_000,
}
_DURATION_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_ORPHAN_GUARD = ["setpriv", "--pdeathsig", "KILL", "--"] if shutil.which("setpriv") else []


def install_binaries() -> Path:
    """The folder holding prometheus, promtool, prometheus-alertmanager and amtool.

    Runs ``deploy/local/prometheus.sh install`` (no network once unpacked).
    """
    done = subprocess.run(
        ["bash", str(INSTALL_SCRIPT), "install"], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"deploy/local/prometheus.sh install failed (exit {done.returncode}):\n{done.stderr}"
        )
    where = subprocess.run(
        ["bash", str(INSTALL_SCRIPT), "bin"], capture_output=True, text=True, check=True
    )
    return Path(where.stdout.strip())


def duration_seconds(text: str) -> float:
    """Seconds in a Prometheus duration such as ``90s``, ``5m`` or ``1h30m``.

    >>> duration_seconds("5m"), duration_seconds("1h30m"), duration_seconds("250ms")
    (300.0, 5400.0, 0.25)
    """
    parts = _DURATION_PART.findall(text)
    if not parts or "".join(n + unit for n, unit in parts) != text:
        raise ValueError(f"{text!r} is not a Prometheus duration; write e.g. 30s, 5m or 1h30m")
    return float(sum(int(n) * _UNIT_SECONDS[unit] for n, unit in parts))


def scale_duration(text: str, factor: int = TIME_SCALE) -> str:
    """``text`` divided by ``factor``, rounded to whole seconds, at least ``1s``.

    >>> [scale_duration(d) for d in ("30s", "5m", "15m", "1h", "12h")]
    ['1s', '1s', '3s', '12s', '144s']
    """
    return f"{max(1, round(duration_seconds(text) / factor))}s"


def scaled_rules(text: str, factor: int = TIME_SCALE) -> str:
    """A Prometheus rule file with every ``for`` and ``keep_firing_for`` scaled down."""
    document = yaml.safe_load(text)
    for group in document["groups"]:
        for rule in group["rules"]:
            for name in RULE_DURATIONS:
                if name in rule:
                    rule[name] = scale_duration(rule[name], factor)
    return str(yaml.safe_dump(document, sort_keys=False))


def _replace_placeholder(text: str, placeholder: str, value: str, source: Path) -> str:
    if placeholder not in text:
        raise ValueError(f"{source} no longer contains the placeholder {placeholder}")
    return text.replace(placeholder, value)


def prometheus_config(*, rules: Path, daemon: str, alertmanager: str, interval: str) -> str:
    """``deploy/prometheus/prometheus.yml`` pointed at these addresses and the ``rules`` file."""
    document = yaml.safe_load(PROMETHEUS_CONFIG.read_text(encoding="utf-8"))
    document["global"].update(scrape_interval=interval, evaluation_interval=interval)
    document["rule_files"] = [str(rules)]
    text = str(yaml.safe_dump(document, sort_keys=False))
    text = _replace_placeholder(text, DAEMON_PLACEHOLDER, daemon, PROMETHEUS_CONFIG)
    return _replace_placeholder(text, ALERTMANAGER_PLACEHOLDER, alertmanager, PROMETHEUS_CONFIG)


def _scale_route(route: dict[str, Any], factor: int) -> None:
    for name in ROUTE_DURATIONS:
        if name in route:
            route[name] = scale_duration(route[name], factor)
    for child in route.get("routes", []):
        _scale_route(child, factor)


def alertmanager_config(*, webhook: str, factor: int = TIME_SCALE) -> str:
    """``deploy/alertmanager/alertmanager.yml`` posting to ``webhook``, its timing scaled down."""
    document = yaml.safe_load(ALERTMANAGER_CONFIG.read_text(encoding="utf-8"))
    _scale_route(document["route"], factor)
    text = str(yaml.safe_dump(document, sort_keys=False))
    return _replace_placeholder(text, WEBHOOK_PLACEHOLDER, webhook, ALERTMANAGER_CONFIG)


def http_get(url: str, timeout_s: float = 2.0) -> tuple[int, bytes]:
    """Status and body of a GET; status 0 when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return int(response.status), bytes(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


@dataclass
class Service:
    """A started process, the URL it serves, and the file its output goes to."""

    name: str
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def log_tail(self, chars: int = 3_000) -> str:
        """The end of the process's output, for failure messages."""
        return self.log.read_text(encoding="utf-8", errors="replace")[-chars:]

    def wait_ready(self, path: str, timeout_s: float) -> None:
        """Return once ``path`` answers 200; raise with the log if the process ends or times out."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.process.returncode}:\n{self.log_tail()}"
                )
            if http_get(self.url + path)[0] == 200:
                return
            time.sleep(0.1)
        raise RuntimeError(
            f"{self.name} not ready at {self.url}{path} in {timeout_s}s:\n{self.log_tail()}"
        )

    def stop(self, timeout_s: float = 15.0) -> int:
        """SIGTERM, then SIGKILL after ``timeout_s``; the exit status."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=timeout_s)
        return self.process.returncode


def start_service(
    name: str, argv: Sequence[str], url: str, log: Path, *, prefix: Sequence[str] = ()
) -> Service:
    """Start ``argv`` (after the command ``prefix``, if any) with its output in ``log``."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*prefix, *_ORPHAN_GUARD, *argv], stdout=out, stderr=subprocess.STDOUT, cwd=log.parent
        )
    return Service(name, process, url, log)


def start_prometheus(binaries: Path, folder: Path, config: str, port: int, *extra: str) -> Service:
    """Prometheus with ``config`` on 127.0.0.1:``port``, its data in ``folder / "data"`` (and
    any ``extra`` flags); ready on return."""
    return _start_configured(
        binaries, folder, config, port, "prometheus", "prometheus", "--storage.tsdb.path", *extra
    )


def serve_openmetrics(history: Path, folder: Path) -> Service:
    """Prometheus on a free loopback port serving the samples of an OpenMetrics file, turned
    into TSDB blocks by promtool under ``folder / "prometheus"`` and kept for a century; ready
    on return."""
    from tests.support.ports import free_loopback_ports

    binaries = install_binaries()
    data = folder / "prometheus" / "data"
    blocks = ["tsdb", "create-blocks-from", "openmetrics", str(history), str(data)]
    subprocess.run(
        [str(binaries / "promtool"), *blocks], check=True, capture_output=True, timeout=300
    )
    (port,) = free_loopback_ports(1)
    return start_prometheus(
        binaries, folder / "prometheus", "global: {}\n", port, "--storage.tsdb.retention.time=100y"
    )


def start_alertmanager(binaries: Path, folder: Path, config: str, port: int) -> Service:
    """Alertmanager (no cluster port) with ``config`` on 127.0.0.1:``port``; ready on return."""
    return _start_configured(
        binaries,
        folder,
        config,
        port,
        "alertmanager",
        "prometheus-alertmanager",
        "--storage.path",
        "--cluster.listen-address=",
    )


def _start_configured(
    binaries: Path,
    folder: Path,
    config: str,
    port: int,
    name: str,
    binary: str,
    storage_flag: str,
    *extra: str,
) -> Service:
    """Debian's ``binary`` with ``config`` written to ``folder``, its data there, on ``port``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.yml").write_text(config, encoding="utf-8")
    service = start_service(
        name,
        [
            str(binaries / binary),
            f"--config.file={folder / f'{name}.yml'}",
            f"{storage_flag}={folder / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            *extra,
        ],
        f"http://127.0.0.1:{port}",
        folder / f"{name}.log",
        prefix=_with_package_share(binaries),
    )
    _ready_or_stopped(service, "/-/ready")
    return service


def _with_package_share(binaries: Path) -> list[str]:
    """A command prefix that overlays the unpacked packages' usr/share on /usr/share.

    Debian's binaries read their assets from compiled-in paths: alertmanager will not start
    without /usr/share/prometheus/alertmanager/default.tmpl (its notification templates), and
    Prometheus serves its web UI from /usr/share/prometheus/web. The prefix gives the process a
    private user and mount namespace in which those paths exist, so nothing is installed on the
    system.
    """
    share = shlex.quote(f"lowerdir={binaries.parent / 'share'}:/usr/share")
    mount = f'mount -t overlay overlay -o {share} /usr/share && exec "$@"'
    return ["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", mount, "sh"]


def start_daemon(python: str, config: Path, port: int, timeout_s: float = 60.0) -> Service:
    """``driftwarden run --config config``, ready (baselines loaded, partitions assigned)."""
    service = start_service(
        "driftwarden",
        [python, "-m", "monitor.cli", "run", "--config", str(config)],
        f"http://127.0.0.1:{port}",
        config.with_suffix(".log"),
    )
    _ready_or_stopped(service, "/readyz", timeout_s)
    return service


def _ready_or_stopped(service: Service, path: str, timeout_s: float = 30.0) -> None:
    try:
        service.wait_ready(path, timeout_s)
    except BaseException:
        service.stop()
        raise


def query(prometheus: str, expr: str, at: float | None = None) -> list[dict[str, Any]]:
    """The result vector of an instant query (at epoch second ``at``, default now)."""
    arguments = {"query": expr} if at is None else {"query": expr, "time": str(at)}
    return _api(prometheus, "query", arguments, expr)


def query_range(
    prometheus: str, expr: str, start: float, end: float, step_s: float
) -> list[dict[str, Any]]:
    """The result matrix of a range query: per series, its ``[time, value]`` points."""
    arguments = {"query": expr, "start": str(start), "end": str(end), "step": str(step_s)}
    return _api(prometheus, "query_range", arguments, expr)


def _api(prometheus: str, endpoint: str, arguments: dict[str, str], expr: str) -> Any:
    url = f"{prometheus}/api/v1/{endpoint}?" + urllib.parse.urlencode(arguments)
    status, body = http_get(url, timeout_s=10)
    if status != 200:
        raise AssertionError(f"query {expr!r} answered {status}: {body[:500]!r}")
    result: list[dict[str, Any]] = json.loads(body)["data"]["result"]
    return result


def series(prometheus: str, selector: str) -> list[dict[str, str]]:
    """Label sets of the series matching ``selector`` (what Grafana's label_values reads)."""
    url = f"{prometheus}/api/v1/series?" + urllib.parse.urlencode({"match[]": selector})
    status, body = http_get(url, timeout_s=10)
    if status != 200:
        raise AssertionError(f"series {selector!r} answered {status}: {body[:500]!r}")
    result: list[dict[str, str]] = json.loads(body)["data"]
    return result


@dataclass
class WebhookReceiver:
    """An HTTP server on loopback keeping every JSON body POSTed to it, by path."""

    server: ThreadingHTTPServer
    received: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def start(cls, port: int = 0) -> WebhookReceiver:
        """Listen on 127.0.0.1:``port`` (0: a free one) in a background thread."""
        receiver: WebhookReceiver

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.received.setdefault(self.path, []).append(json.loads(body))
                self.send_response(200)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Keep the test output clean."""

        receiver = cls(ThreadingHTTPServer(("127.0.0.1", port), Handler))
        threading.Thread(target=receiver.server.serve_forever, daemon=True).start()
        return receiver

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:40123``."""
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def notifications(self, path: str) -> list[dict[str, Any]]:
        """A copy of the bodies POSTed to ``path`` so far, oldest first."""
        with self.lock:
            return list(self.received.get(path, []))

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.server.shutdown()
        self.server.server_close()
