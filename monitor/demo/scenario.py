"""What both demos share: the baseline, the settings, the live alert timeline and the self-check.

The demo checks itself: every incident must be caught (a warning or intervention on one of its
subjects, in its segment) within a few windows of its start, and nothing may be raised in the
stable stretch. ``driftwarden demo`` exits non-zero otherwise, so it doubles as an end-to-end
test. :func:`run_replay_demo` is the file replay (``driftwarden demo --replay``); the Kafka demo
is :mod:`monitor.demo.live`.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console

from baselines.build import build_baseline_file
from baselines.values import Baseline
from monitor.app import replay_file
from monitor.config import Settings, load_settings
from monitor.demo.data import (
    HOUR_MS,
    INCIDENTS,
    MODEL,
    STABLE,
    START_MS,
    Incident,
    write_demo_files,
)
from monitor.evaluate.levels import Level
from monitor.runtime.replay import print_summary
from monitor.sinks.base import AlertRecord, Record, Sink
from monitor.sinks.report import ReportWriter

CAUGHT_WITHIN = 3  # windows after an incident starts
_HEADLINE = ("accuracy", "roc_auc", "log_loss")


def demo_settings(baseline: Path, **sections: Any) -> Settings:
    """Hourly windows, the demo's segments and its critical feature (plus any other sections)."""
    return load_settings(
        None,
        models=[{"name": MODEL, "baseline": baseline, "critical_features": ["credit_score"]}],
        windows={"size": "1h", "allowed_lateness": "5m"},
        segments={"fields": ["platform", "region"], "max_values": 10},
        **sections,
    )


def build_demo_baseline(training: Path, folder: Path, console: Console) -> tuple[Path, Baseline]:
    """Build the baseline of the training file into ``folder`` and print what it holds."""
    path = folder / "car-loan.baseline.json"
    baseline = build_baseline_file(
        training,
        path,
        model=MODEL,
        prediction="y_pred_proba",
        label="repaid",
        segments=("platform", "region"),
    )
    performance = baseline.performance or {}
    console.print(
        f"baseline from {training.name}: {len(baseline.features)} features, "
        f"{baseline.digest[:19]}…, "
        + ", ".join(f"{k}={performance[k]:.3f}" for k in _HEADLINE if k in performance)
    )
    return path, baseline


def window_of(iso: str) -> int:
    """Index of the demo window that ends at the RFC 3339 instant ``iso``.

    >>> window_of("2019-04-02T01:00:00Z"), window_of("2019-04-03T12:00:00Z")
    (0, 35)
    """
    end = datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000
    return int((end - START_MS) // HOUR_MS) - 1


ERROR_STREAMS = ("error_", "abs_error_")
"""Name prefixes of the detectors that run on the errors of joined prediction/label pairs."""

ErrorDetections = dict[int, dict[str, int]]
"""Per window index: detections of each error-stream detector in the overall window."""


class Timeline:
    """Sink that prints the alert transitions as their windows close, one line per window and
    check (segments grouped), and keeps them and the error-stream detections for
    :func:`verdicts`.

    A window's transitions follow its window object, and every segment of a window closes at
    once; so the lines of a window end are printed when a later window arrives, or at
    :meth:`finish`. Safe to call from the daemon's thread while another thread finishes.
    """

    def __init__(self, console: Console) -> None:
        self.console = console
        self.alerts: list[Mapping[str, Any]] = []
        self.error_detections: ErrorDetections = {}
        self._pending: list[Mapping[str, Any]] = []
        self._lock = threading.Lock()

    def write(self, record: Record) -> None:
        with self._lock:
            if isinstance(record, AlertRecord):
                self.alerts.append(record.report)
                self._pending.append(record.report)
                return
            if not record.key.segment:
                self._count_detections(record.report)
            if self._pending and self._pending[0]["window_end"] < record.report["end"]:
                self._print_pending()

    def finish(self) -> None:
        """Print the transitions not printed yet."""
        with self._lock:
            self._print_pending()

    def _count_detections(self, window: Mapping[str, Any]) -> None:
        fired = {
            name: int(result["detections"])
            for name, result in window["detectors"].items()
            if name.startswith(ERROR_STREAMS) and result.get("detections")
        }
        if fired:
            self.error_detections[window_of(window["end"])] = fired

    def _print_pending(self) -> None:
        for line in timeline_lines(self._pending):
            self.console.print(line, highlight=False, markup=False)
        self._pending = []


def timeline_lines(alerts: list[Mapping[str, Any]]) -> list[str]:
    """Group transitions that happen in the same window to the same check across segments."""
    groups: dict[tuple[str, str, str, str, str], list[Mapping[str, Any]]] = {}
    for a in alerts:
        groups.setdefault(
            (a["window_end"], a["subject"], a["check"], a["from"], a["to"]), []
        ).append(a)
    lines = []
    for (end, subject, check, before, after), members in groups.items():
        first = members[0]
        segments = [m["segment"] or "overall" for m in members]
        where = (
            ", ".join(segments)
            if len(segments) <= 2
            else f"{segments[0]} +{len(segments) - 1} segments"
        )
        arrow = "▲" if Level(after).rank > Level(before).rank else "▼"
        lines.append(
            f"  w{window_of(end):02d} {arrow} {before:>12} → {after:<12} {subject}/{check} = "
            f"{first['value']:.3g} vs {first['threshold']:.3g}  [{where}]"
        )
    return lines


def verdicts(
    alerts: list[Mapping[str, Any]],
    console: Console,
    error_detections: ErrorDetections | None = None,
) -> bool:
    """Print whether each incident was caught in time and the stable stretch stayed silent;
    return whether all of that held. With ``error_detections`` (labels came from a label
    topic and were joined), incidents marked ``error_stream`` must also be detected there."""
    raised = [a for a in alerts if Level(a["to"]).rank > 0]
    ok = True
    console.print("\n[bold]incidents[/bold]")
    for incident in INCIDENTS:
        hits = [
            window_of(a["window_end"]) - incident.first
            for a in raised
            if a["subject"] in incident.subjects
            and a["segment"] == incident.segment
            and incident.first <= window_of(a["window_end"]) <= incident.last + 1
        ]
        caught = bool(hits) and min(hits) < CAUGHT_WITHIN
        ok &= caught
        where = incident.segment or "overall"
        verdict = f"caught {min(hits) + 1} window(s) after start" if hits else "MISSED"
        mark = "✓" if caught else "✗"
        console.print(
            f"  {mark} w{incident.first:02d}-w{incident.last:02d} {where:<13} "
            f"{incident.description}: {verdict}",
            highlight=False,
            markup=False,
        )
        if incident.error_stream and error_detections is not None:
            ok &= _error_stream_verdict(incident, error_detections, console)
    false_alarms = [a for a in raised if window_of(a["window_end"]) in STABLE]
    ok &= not false_alarms
    mark = "✓" if not false_alarms else "✗"
    console.print(f"  {mark} stable windows ({len(STABLE)}): {len(false_alarms)} alerts raised")
    return ok


def _error_stream_verdict(
    incident: Incident, detections: ErrorDetections, console: Console
) -> bool:
    """Whether the error-stream detectors fired during the incident (its labels arrive up to a
    window later); prints which did."""
    fired: Counter[str] = Counter()
    for w in range(incident.first, incident.last + 2):
        fired.update(detections.get(w, {}))
    mark = "✓" if fired else "✗"
    named = ", ".join(f"{name} ×{n}" for name, n in sorted(fired.items())) or "none"
    console.print(
        f"    {mark} error-stream detectors in w{incident.first:02d}-w{incident.last + 1:02d}: "
        + named,
        highlight=False,
        markup=False,
    )
    return bool(fired)


class _Tee:
    """Sink that writes every record to several sinks."""

    def __init__(self, *sinks: Sink) -> None:
        self.sinks = sinks

    def write(self, record: Record) -> None:
        for sink in self.sinks:
            sink.write(record)


def run_replay_demo(folder: Path, console: Console) -> bool:
    """The file replay demo in ``folder``: predictions carry their outcome, the file is replayed
    through the pipeline; return whether every expectation held."""
    console.print(f"[bold]driftwarden demo --replay[/bold] — files in {folder}")
    training, events = write_demo_files(folder)
    baseline_path, baseline = build_demo_baseline(training, folder, console)
    report_path = folder / "report.jsonl"
    console.print(f"report: {report_path}\n")
    console.print(
        "[bold]alert timeline[/bold] (a line per window and check; values of the first segment)"
    )
    timeline = Timeline(console)
    report = ReportWriter.open(report_path)
    try:
        summary = replay_file(
            demo_settings(baseline_path), {MODEL: baseline}, events, _Tee(report, timeline)
        )
    finally:
        report.close()
    timeline.finish()
    ok = verdicts(timeline.alerts, console)
    console.print()
    print_summary(console, summary)
    return ok
