"""Level transitions posted straight to Alertmanager's v2 API, for teams without Prometheus rules.

Every alert record becomes ``POST /api/v2/alerts`` with a JSON list of alerts
(``labels``, ``annotations``, ``startsAt``, ``endsAt``, ``generatorURL``):

- A check entering ``warning`` or ``intervention`` fires the alert whose labels are
  ``alertname=DriftwardenCheck``, ``severity`` (``warning``; ``critical`` for intervention),
  ``model``, ``model_version``, ``segment``, ``subject`` and ``check``. Empty values are left out,
  as Alertmanager treats an empty label as an absent one (the overall segment has none).
- A check leaving a level resolves that level's alert: it is posted again with ``endsAt`` = now.
  Severity is a label, so warning → intervention resolves the warning alert and fires the
  critical one in the same request (and the other way round).
- Alertmanager resolves an alert by itself once its ``endsAt`` has passed, and applies its own
  ``resolve_timeout`` only to alerts that come without one. So firing alerts are posted with
  ``endsAt`` = now + 4 × ``resend_interval_s`` and re-posted every ``resend_interval_s`` from
  :meth:`AlertmanagerSink.tick`: up to three re-posts in a row may be lost before a still firing
  alert lapses (Prometheus sizes its own ``endsAt`` the same way). Resolved alerts are re-posted
  along with them for that same horizon, by when Alertmanager would have expired the firing
  copy anyway.

Delivery never blocks or fails the caller: requests go out one at a time from a background thread
fed by a bounded queue. When the queue is full the oldest request is dropped; a failed or dropped
request makes the next :meth:`~AlertmanagerSink.tick` re-post every current alert, and failures
are logged with rate limiting. ``sent``, ``failed`` and ``dropped`` count requests for metrics.
"""

from __future__ import annotations

import threading
import time
import urllib.request
from collections import deque
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import orjson

from monitor.errors import ConfigError
from monitor.logs import RateLimitedLog
from monitor.sinks.base import AlertRecord, Record
from monitor.sinks.report import iso_ms

API_PATH = "/api/v2/alerts"
ALERTNAME = "DriftwardenCheck"
SEVERITY = {"warning": "warning", "intervention": "critical"}
"""Alertmanager ``severity`` label of each firing level (``ok`` fires nothing)."""
EXPIRY_INTERVALS = 4
"""``endsAt`` lies this many resend intervals ahead of each post of a firing alert."""
DRIFT_CHECKS = frozenset({"psi", "kl", "js", "hellinger", "wasserstein", "ks"})

Post = Callable[[str, bytes, float], None]
"""Sends one JSON body to a URL within a timeout in seconds; raises on any failure."""


def post_json(url: str, body: bytes, timeout_s: float) -> None:
    """POST ``body`` as JSON with urllib; HTTP error statuses raise ``urllib.error.HTTPError``."""
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        response.read()


def alerts_url(url: str) -> str:
    """The v2 alerts endpoint of an Alertmanager base URL (already complete URLs are kept).

    >>> alerts_url("http://alertmanager:9093/"), alerts_url("https://am/api/v2/alerts")
    ('http://alertmanager:9093/api/v2/alerts', 'https://am/api/v2/alerts')
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"Alertmanager URL {url!r} is not an http(s) URL; "
            "give its base URL, e.g. http://alertmanager:9093"
        )
    base = url.rstrip("/")
    return base if base.endswith(API_PATH) else base + API_PATH


def runbook_anchor(subject: str, check: str) -> str:
    """The section of ``docs/runbook.md`` that tells what to do about a check.

    >>> runbook_anchor("car_value", "psi"), runbook_anchor("prediction", "js")
    ('feature-drift', 'prediction-drift')
    >>> runbook_anchor("country", "unseen_rate"), runbook_anchor("performance", "roc_auc")
    ('unseen-categories', 'performance-drop')
    """
    if subject == "performance":
        return "performance-drop"
    if check in DRIFT_CHECKS:
        return "prediction-drift" if subject == "prediction" else "feature-drift"
    return {
        "missing_rate": "missing-values",
        "unseen_rate": "unseen-categories",
        "out_of_range_rate": "out-of-range-values",
    }.get(check, "alert-levels")


def alert_labels(record: Mapping[str, Any], severity: str) -> dict[str, str]:
    """The identifying labels of a transition's alert at one severity; empty values left out.

    >>> record = {"model": "car-loan", "model_version": "v3", "segment": "",
    ...           "subject": "car_value", "check": "psi"}
    >>> alert_labels(record, "critical")
    {'alertname': 'DriftwardenCheck', 'severity': 'critical', 'model': 'car-loan',
     'model_version': 'v3', 'subject': 'car_value', 'check': 'psi'}
    """
    labels = {"alertname": ALERTNAME, "severity": severity}
    for name in ("model", "model_version", "segment", "subject", "check"):
        if record[name]:
            labels[name] = str(record[name])
    return labels


def alert_annotations(record: Mapping[str, Any], runbook_base: str) -> dict[str, str]:
    """Summary, description, the numbers and the runbook link of one transition.

    >>> record = {"model": "car-loan", "model_version": "v3", "segment": "platform=ios",
    ...           "subject": "car_value", "check": "psi", "from": "ok", "to": "intervention",
    ...           "value": 1.6779842, "threshold": 0.25, "window_end": "2019-04-02T12:00:00Z"}
    >>> notes = alert_annotations(record, "https://example.org/runbook.md")
    >>> notes["summary"]
    'car_value psi is intervention on car-loan v3, segment platform=ios'
    >>> notes["description"]
    'psi of car_value moved from ok to intervention: 1.678 against threshold 0.25
     in the window ending 2019-04-02T12:00:00Z.'
    >>> notes["runbook_url"]
    'https://example.org/runbook.md#feature-drift'
    """
    subject, check = record["subject"], record["check"]
    where = " ".join(str(record[k]) for k in ("model", "model_version") if record[k])
    where += f", segment {record['segment']}" if record["segment"] else ", overall"
    value, threshold = f"{record['value']:.4g}", f"{record['threshold']:.4g}"
    return {
        "summary": f"{subject} {check} is {record['to']} on {where}",
        "description": (
            f"{check} of {subject} moved from {record['from']} to {record['to']}: {value} "
            f"against threshold {threshold} in the window ending {record['window_end']}."
        ),
        "value": value,
        "threshold": threshold,
        "window_end": str(record["window_end"]),
        "runbook_url": f"{runbook_base}#{runbook_anchor(subject, check)}",
    }


@dataclass
class _Alert:
    """One alert as this sink last described it; ``ends_at`` is None while it fires."""

    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: float
    ends_at: float | None = None


_Key = tuple[tuple[str, str], ...]


def _key(labels: Mapping[str, str]) -> _Key:
    return tuple(sorted(labels.items()))


class AlertmanagerSink:
    """Report sink that keeps Alertmanager's view of every check's level current.

    ``url`` is Alertmanager's base URL. The daemon calls :meth:`write` with every record,
    :meth:`tick` once per loop iteration and :meth:`close` on shutdown. ``clock`` is the wall
    clock in epoch seconds (``startsAt``/``endsAt`` are absolute times); ``post`` sends one
    request (urllib by default); ``runbook_base`` is where ``docs/runbook.md`` is served;
    ``generator_url``, when given, is every alert's link back to this daemon (e.g. its /status).
    """

    def __init__(
        self,
        url: str,
        *,
        resend_interval_s: float = 60.0,
        timeout_s: float = 5.0,
        queue_size: int = 64,
        clock: Callable[[], float] = time.time,
        post: Post | None = None,
        runbook_base: str = "docs/runbook.md",
        generator_url: str | None = None,
    ) -> None:
        for name, value in (("resend_interval_s", resend_interval_s), ("timeout_s", timeout_s)):
            if value <= 0:
                raise ValueError(f"{name} must be positive, got {value}; give it in seconds")
        if queue_size < 1:
            raise ValueError(f"queue_size must be at least 1, got {queue_size}")
        self.url = alerts_url(url)
        self.resend_interval_s = resend_interval_s
        self.timeout_s = timeout_s
        self.clock = clock
        self.post = post_json if post is None else post
        self.runbook_base = runbook_base
        self.generator_url = generator_url
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self._firing: dict[_Key, _Alert] = {}
        self._resolved: dict[_Key, _Alert] = {}
        self._last_repost = clock()
        self._queue: deque[bytes] = deque()
        self._queue_size = queue_size
        self._busy = False
        self._stopping = False
        self._retry = threading.Event()
        self._lock = threading.Condition()
        self._fail_log = RateLimitedLog("alertmanager post failed", per_minute=6, clock=clock)
        self._drop_log = RateLimitedLog("alertmanager queue full", per_minute=6, clock=clock)
        self._worker = threading.Thread(
            target=self._deliver_forever, name="driftwarden-alertmanager", daemon=True
        )
        self._worker.start()

    @property
    def horizon_s(self) -> float:
        """How far ahead of a post a firing alert's ``endsAt`` lies."""
        return EXPIRY_INTERVALS * self.resend_interval_s

    def write(self, record: Record) -> None:
        """Post the alerts an alert record resolves and fires; window records are ignored."""
        if not isinstance(record, AlertRecord):
            return
        now = self.clock()
        report = record.report
        annotations = alert_annotations(report, self.runbook_base)
        changes: list[dict[str, Any]] = []
        left, entered = SEVERITY.get(record.before), SEVERITY.get(record.after)
        if left is not None:
            labels = alert_labels(report, left)
            key = _key(labels)
            alert = self._firing.pop(key, None) or _Alert(labels, annotations, starts_at=now)
            alert.annotations, alert.ends_at = annotations, now
            self._resolved[key] = alert
            changes.append(self._payload(alert, now))
        if entered is not None:
            labels = alert_labels(report, entered)
            key = _key(labels)
            self._resolved.pop(key, None)
            alert = self._firing.setdefault(key, _Alert(labels, annotations, starts_at=now))
            alert.annotations = annotations
            changes.append(self._payload(alert, now))
        if changes:
            self._enqueue(changes)

    def tick(self) -> None:
        """Re-post every current alert when the resend interval has passed or a post was lost."""
        now = self.clock()
        due = now - self._last_repost >= self.resend_interval_s
        if not due and not (self._retry.is_set() and self._idle()):
            return
        self._retry.clear()
        self._last_repost = now
        self._resolved = {
            key: alert
            for key, alert in self._resolved.items()
            if alert.ends_at is not None and now - alert.ends_at < self.horizon_s
        }
        alerts = [*self._resolved.values(), *self._firing.values()]
        if alerts:
            self._enqueue([self._payload(alert, now) for alert in alerts])

    def state(self) -> list[dict[str, Any]]:
        """The firing alerts as JSON data, for the checkpoint (sorted by labels)."""
        return [
            {"labels": a.labels, "annotations": a.annotations, "starts_at": a.starts_at}
            for _, a in sorted(self._firing.items())
        ]

    def restore(self, firing: list[dict[str, Any]]) -> None:
        """Take back the firing alerts of a checkpoint and post them at once, so alerts whose
        checks are still raised keep firing across a restart (with their first ``startsAt``)."""
        for item in firing:
            labels = {str(k): str(v) for k, v in item["labels"].items()}
            annotations = {str(k): str(v) for k, v in item["annotations"].items()}
            self._firing[_key(labels)] = _Alert(labels, annotations, float(item["starts_at"]))
        if self._firing:
            now = self.clock()
            self._last_repost = now
            self._enqueue([self._payload(alert, now) for alert in self._firing.values()])

    state_name = "alertmanager"

    def models_state(self, models: Collection[str]) -> list[dict[str, Any]]:
        """The firing alerts of ``models``, as :meth:`state` gives them."""
        wanted = set(models)
        return [item for item in self.state() if item["labels"].get("model") in wanted]

    def restore_models(self, state: Any) -> None:
        """Take back firing alerts :meth:`models_state` gave, and post them at once."""
        self.restore(list(state))

    def forget_models(self, models: Collection[str]) -> None:
        """Stop re-posting the alerts of ``models``: the process that took them over does
        (and resolves them when their checks recover, which this one would never see)."""
        wanted = set(models)
        for alerts in (self._firing, self._resolved):
            for key in [k for k, a in alerts.items() if a.labels.get("model") in wanted]:
                del alerts[key]

    def flush(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for every queued post to finish; whether they all did."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            while self._queue or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._lock.wait(remaining)
        return True

    def close(self, timeout_s: float = 5.0) -> None:
        """Deliver what is queued within ``timeout_s``; count the rest as dropped; stop."""
        self.flush(timeout_s)
        with self._lock:
            self.dropped += len(self._queue)
            self._queue.clear()
            self._stopping = True
            self._lock.notify_all()
        self._worker.join(timeout=0.1)

    def _payload(self, alert: _Alert, now: float) -> dict[str, Any]:
        ends_at = now + self.horizon_s if alert.ends_at is None else alert.ends_at
        payload: dict[str, Any] = {
            "labels": alert.labels,
            "annotations": alert.annotations,
            "startsAt": _rfc3339(alert.starts_at),
            "endsAt": _rfc3339(ends_at),
        }
        if self.generator_url:
            payload["generatorURL"] = self.generator_url
        return payload

    def _idle(self) -> bool:
        with self._lock:
            return not self._queue and not self._busy

    def _enqueue(self, alerts: list[dict[str, Any]]) -> None:
        body = orjson.dumps(alerts)
        with self._lock:
            if self._stopping:
                self.dropped += 1
                return
            overflow = len(self._queue) >= self._queue_size
            if overflow:
                self._queue.popleft()
                self.dropped += 1
            self._queue.append(body)
            self._lock.notify_all()
        if overflow:
            self._retry.set()
            self._drop_log.warning(queue_size=self._queue_size, dropped_total=self.dropped)

    def _deliver_forever(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._stopping:
                    self._lock.wait()
                if not self._queue:
                    return
                body = self._queue.popleft()
                self._busy = True
            delivered = self._deliver(body)
            with self._lock:
                self._busy = False
                if delivered:
                    self.sent += 1
                else:
                    self.failed += 1
                self._lock.notify_all()

    def _deliver(self, body: bytes) -> bool:
        try:
            self.post(self.url, body, self.timeout_s)
        except Exception as exc:  # the daemon must outlive any failure of Alertmanager
            self._retry.set()
            self._fail_log.warning(url=self.url, error=str(exc) or type(exc).__name__)
            return False
        return True


def _rfc3339(epoch_s: float) -> str:
    return iso_ms(round(epoch_s * 1000))
