"""History into Prometheus: a replay's OpenMetrics file, turned into TSDB blocks by promtool and
served by a real Prometheus, shows the incidents at their past times to the dashboard and the
alert rules."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from monitor.app import replay_file
from monitor.demo.data import MODEL, write_demo_files
from monitor.demo.scenario import build_demo_baseline, demo_settings
from monitor.evaluate.levels import Level
from monitor.sinks.memory import ListSink
from monitor.sinks.openmetrics import PROCESS_FAMILIES, OpenMetricsHistory
from monitor.sinks.report import epoch_seconds
from tests.support.dashboard import dashboard_queries
from tests.support.prometheus import RULES, query, query_range, serve_openmetrics

METRIC_NAME = re.compile(r"\bdriftwarden_[a-z0-9_]+\b")
SAMPLE_SUFFIX = re.compile(r"_(total|bucket|sum|count)$")
HOUR_S = 3600.0
STEP_S = 240.0
#: Each demo incident, the alert rule that pages for it, and the series it raises.
INCIDENTS = {
    "abrupt shift": ("DriftwardenFeatureDrift", "critical", "car_value", "psi"),
    "US sent as United States": ("DriftwardenDataQuality", "critical", "country", "unseen_rate"),
    "feature service timeouts": (
        "DriftwardenCriticalFeatureMissing",
        "critical",
        "credit_score",
        "missing_rate",
    ),
    "bad model push": ("DriftwardenPredictionDrift", "critical", "prediction", "psi"),
}


@dataclass(frozen=True)
class Backfilled:
    """The demo stream's history served by a Prometheus, and the report it came from."""

    prometheus: str
    records: list[Mapping[str, Any]]
    first_end_s: float
    last_end_s: float

    def raised(self, subject: str, check: str, to: Level) -> float:
        """Window end (epoch s) of the first overall-stream transition of a check to ``to``."""
        return min(
            epoch_seconds(r["window_end"])
            for r in self.records
            if r["kind"] == "alert"
            and (r["segment"], r["subject"], r["check"], r["to"]) == ("", subject, check, to.value)
        )


@pytest.fixture(scope="module")
def backfilled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backfilled]:
    """Replay the demo stream into OpenMetrics, make blocks with promtool, serve them."""
    folder = tmp_path_factory.mktemp("backfill")
    training, events = write_demo_files(folder)
    baseline_path, baseline = build_demo_baseline(training, folder, Console(quiet=True))
    settings = demo_settings(baseline_path)
    history = OpenMetricsHistory(
        folder / "history.om",
        max_segments=settings.daemon.max_segments,
        stale_after=settings.daemon.stale_after,
        baseline_digests={MODEL: baseline.digest},
        step_s=STEP_S,
    )
    report = ListSink()
    replay_file(settings, {MODEL: baseline}, events, report, also=[history])
    written = history.close()
    assert written.first_s is not None and written.last_s is not None
    prometheus = serve_openmetrics(written.path, folder)
    try:
        yield Backfilled(prometheus.url, report.reports(), written.first_s, written.last_s)
    finally:
        prometheus.stop()


def test_every_level_change_shows_at_its_window_end(backfilled: Backfilled) -> None:
    """Each alert transition of the report is the held level at its window end, and the old
    level one second before."""
    wrong = []
    for record in backfilled.records:
        if record["kind"] != "alert" or record["segment"] != "":
            continue
        selector = (
            f'driftwarden_alert_level{{model="{record["model"]}",segment="",'
            f'subject="{record["subject"]}",check="{record["check"]}"}}'
        )
        end = epoch_seconds(record["window_end"])
        for at, level in ((end, record["to"]), (end - 1, record["from"])):
            got = [float(r["value"][1]) for r in query(backfilled.prometheus, selector, at)]
            if level != Level.INSUFFICIENT_DATA.value and got != [Level(level).rank]:
                wrong.append((record["subject"], record["check"], at, level, got))
    assert wrong == []


def test_a_series_holds_its_value_between_windows(backfilled: Backfilled) -> None:
    """Between two window ends a feature's PSI reads the earlier window's value at every step."""
    selector = 'driftwarden_feature_psi{feature="car_value",segment=""}'
    start = backfilled.raised("car_value", "psi", Level.INTERVENTION)
    points = query_range(backfilled.prometheus, selector, start, start + HOUR_S - 1, 60.0)
    (only,) = points
    values = {value for _, value in only["values"]}
    assert len(only["values"]) == 60 and len(values) == 1
    assert float(values.pop()) >= 0.25


def test_the_dashboards_window_panels_answer_from_history(backfilled: Backfilled) -> None:
    """At the first incident's end every panel on window results returns series; the panels on
    the process's own counters (rates, rejects, lag) are not part of history and are empty
    (panels of multiclass models only: tests/test_multiclass_dashboard.py)."""
    at = backfilled.raised("car_value", "psi", Level.INTERVENTION)
    variables = {"model": MODEL, "version": ".*", "segment": ".*", "__rate_interval": "5m"}
    answered = {
        (title, expr): bool(query(backfilled.prometheus, expr, at))
        for title, expr in dashboard_queries(variables)
    }
    process = {key for key in answered if _families(key[1]) & PROCESS_FAMILIES}
    assert process and {key for key, ok in answered.items() if not ok} == process


def _families(expr: str) -> set[str]:
    """The metric families a PromQL expression reads (sample suffixes stripped)."""
    return {SAMPLE_SUFFIX.sub("", name) for name in METRIC_NAME.findall(expr)}


def _rule(alert: str, severity: str) -> dict[str, Any]:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    return next(
        rule
        for group in groups
        for rule in group["rules"]
        if rule.get("alert") == alert and rule["labels"]["severity"] == severity
    )


@pytest.mark.parametrize("incident", sorted(INCIDENTS))
def test_the_alert_rule_would_have_fired_for_the_incident(
    backfilled: Backfilled, incident: str
) -> None:
    """The rule's expression holds for the series from the window that raised the intervention
    on, for longer than the rule's ``for``, and never during the stable first ten hours."""
    alert, severity, subject, check = INCIDENTS[incident]
    expr = _rule(alert, severity)["expr"]
    raised = backfilled.raised(subject, check, Level.INTERVENTION)
    series = query_range(backfilled.prometheus, expr, raised, raised + 10 * 60, 60.0)
    mine = [
        s
        for s in series
        if (s["metric"]["subject"], s["metric"]["check"]) == (subject, check)
        and s["metric"].get("segment", "") == ""
    ]
    assert len(mine) == 1 and len(mine[0]["values"]) == 11
    stable = query_range(
        backfilled.prometheus,
        expr,
        backfilled.first_end_s,
        backfilled.first_end_s + 9 * HOUR_S,
        STEP_S,
    )
    assert stable == []


def test_replay_writes_openmetrics_that_ends_with_eof(tmp_path: Path) -> None:
    """``replay --openmetrics`` writes the series with timestamps and OpenMetrics' end marker."""
    training, events = write_demo_files(tmp_path)
    baseline, _ = build_demo_baseline(training, tmp_path, Console(quiet=True))
    history = tmp_path / "history.om"
    args = ["replay", "--baseline", str(baseline), "--input", str(events)]
    done = _cli(*args, "--output", str(tmp_path / "r.jsonl"), "--openmetrics", str(history))
    assert done.returncode == 0, done.stderr
    lines = history.read_text(encoding="utf-8").splitlines()
    first = next(line for line in lines if line.startswith("driftwarden_feature_psi{"))
    assert lines[-1] == "# EOF" and first.rsplit(" ", 1)[1] == "1554166800"
    assert f"{history}: " in done.stdout


def test_a_step_without_openmetrics_is_a_one_line_error(tmp_path: Path) -> None:
    """``--openmetrics-step`` alone names the flag it needs, in one line, exit 2."""
    args = ["replay", "--baseline", str(tmp_path / "b.json"), "--input", str(tmp_path / "e")]
    done = _cli(*args, "--output", str(tmp_path / "r"), "--openmetrics-step", "1m")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "driftwarden: error: --openmetrics-step needs --openmetrics FILE"
    ]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "monitor.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)
