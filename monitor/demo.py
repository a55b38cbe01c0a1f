"""``driftwarden demo``: build a baseline, replay a stream with known incidents, print the timeline.

The demo checks itself: every incident must be caught (a warning or intervention on one of its
subjects, in its segment) within a few windows of its start, and nothing may be raised in the
stable stretch. It exits non-zero otherwise, so it doubles as an end-to-end test.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from baselines.build import build_baseline_file
from monitor.config import Settings, load_settings
from monitor.demo_data import HOUR_MS, INCIDENTS, MODEL, STABLE, START_MS, write_demo_files
from monitor.replay import print_summary, replay_file
from monitor.report import ReportWriter

CAUGHT_WITHIN = 3  # windows after an incident starts
_HEADLINE = ("accuracy", "roc_auc", "log_loss")


@dataclass
class _Timeline:
    """Sink that keeps alert transitions and writes everything to the report file."""

    report: ReportWriter
    alerts: list[Mapping[str, Any]]

    def write(self, record: Mapping[str, Any]) -> None:
        self.report.write(record)
        if record["kind"] == "alert":
            self.alerts.append(record)


def demo_settings(baseline: Path) -> Settings:
    """Hourly windows, the demo's segments and its critical feature."""
    return load_settings(
        None,
        models=[{"name": MODEL, "baseline": baseline, "critical_features": ["credit_score"]}],
        windows={"size": "1h", "allowed_lateness": "5m"},
        segments={"fields": ["platform", "region"], "max_values": 10},
    )


def _window_of(iso: str) -> int:
    from datetime import datetime

    end = datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000
    return int((end - START_MS) // HOUR_MS) - 1


def run_demo(folder: Path, console: Console) -> bool:
    """Run the whole demo in ``folder``; return whether every expectation held."""
    console.print(f"[bold]driftwarden demo[/bold] — files in {folder}")
    training, events = write_demo_files(folder)
    baseline_path = folder / "car-loan.baseline.json"
    baseline = build_baseline_file(
        training,
        baseline_path,
        model=MODEL,
        prediction="y_pred_proba",
        label="repaid",
        segments=("platform", "region"),
    )
    console.print(
        f"baseline: {len(baseline.features)} features from {training.name}, "
        f"digest {baseline.digest[:19]}…, reference performance "
        + ", ".join(
            f"{k}={(baseline.performance or {})[k]:.3f}"
            for k in _HEADLINE
            if k in (baseline.performance or {})
        )
    )
    report_path = folder / "report.jsonl"
    timeline = _Timeline(ReportWriter.open(report_path), [])
    try:
        summary = replay_file(demo_settings(baseline_path), {MODEL: baseline}, events, timeline)
    finally:
        timeline.report.close()
    console.print(f"report: {report_path}\n")
    console.print(
        "[bold]alert timeline[/bold] (a line per window and check; values of the first segment)"
    )
    for line in _timeline_lines(timeline.alerts):
        console.print(line, highlight=False, markup=False)
    ok = _verdicts(timeline.alerts, console)
    console.print()
    print_summary(console, summary)
    return ok


def _timeline_lines(alerts: list[Mapping[str, Any]]) -> list[str]:
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
        arrow = "▲" if _rank(after) > _rank(before) else "▼"
        lines.append(
            f"  w{_window_of(end):02d} {arrow} {before:>12} → {after:<12} {subject}/{check} = "
            f"{first['value']:.3g} vs {first['threshold']:.3g}  [{where}]"
        )
    return lines


def _rank(level: str) -> int:
    return {"warning": 1, "intervention": 2}.get(level, 0)


def _verdicts(alerts: list[Mapping[str, Any]], console: Console) -> bool:
    raised = [a for a in alerts if a["to"] in ("warning", "intervention")]
    ok = True
    console.print("\n[bold]incidents[/bold]")
    for incident in INCIDENTS:
        hits = [
            _window_of(a["window_end"]) - incident.first
            for a in raised
            if a["subject"] in incident.subjects
            and a["segment"] == incident.segment
            and incident.first <= _window_of(a["window_end"]) <= incident.last + 1
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
    false_alarms = [a for a in raised if _window_of(a["window_end"]) in STABLE]
    ok &= not false_alarms
    mark = "✓" if not false_alarms else "✗"
    console.print(f"  {mark} stable windows ({len(STABLE)}): {len(false_alarms)} alerts raised")
    return ok
