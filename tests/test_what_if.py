"""What-if replays: history re-judged with changed settings, raises compared with the config's."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
import pytest
from rich.console import Console

from monitor.app import load_baselines, replay_to_file
from monitor.config import load_settings, merged
from monitor.demo.data import MODEL, write_demo_files
from monitor.demo.scenario import build_demo_baseline
from monitor.evaluate.levels import Level


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The demo's baseline (prediction, label and segments) and its event file with inline
    labels."""
    folder = tmp_path_factory.mktemp("what-if")
    training, events = write_demo_files(folder)
    baseline, _ = build_demo_baseline(training, folder, Console(quiet=True))
    return baseline, events


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "monitor.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def _raises(report: Path) -> Counter[tuple[str, str, Level]]:
    """Transitions up to warning or intervention in a report file, by model, check and level."""
    records = [orjson.loads(line) for line in report.read_bytes().splitlines()]
    return Counter(
        (r["model"], r["check"], Level(r["to"]))
        for r in records
        if r["kind"] == "alert" and Level(r["to"]).rank > Level(r["from"]).rank
    )


def test_the_summary_counts_the_raises_of_the_report(
    demo: tuple[Path, Path], tmp_path: Path
) -> None:
    """A replay's raises per model and check are the report's transitions upwards."""
    baseline, events = demo
    settings = load_settings(None, models=[{"name": MODEL, "baseline": baseline}])
    report = tmp_path / "report.jsonl"
    summary = replay_to_file(settings, load_baselines(settings), events, report)
    assert summary.raises == _raises(report) and sum(summary.raises.values()) > 0


def test_set_rejudges_the_history_and_writes_the_what_if_report(
    demo: tuple[Path, Path], tmp_path: Path
) -> None:
    """With PSI thresholds out of reach no PSI check rises in the report, and the summary says
    how many the configuration raised."""
    baseline, events = demo
    report = tmp_path / "what-if.jsonl"
    args = ["replay", "--baseline", str(baseline), "--input", str(events), "--no-progress"]
    unreachable = ["--set", "alerts.drift.warning=1000", "--set", "alerts.drift.intervention=1001"]
    done = _cli(*args, "--output", str(report), *unreachable)
    assert done.returncode == 0, done.stderr
    assert {check for _, check, _ in _raises(report)} & {"psi"} == set()
    assert "as configured and with alerts.drift.warning=1000, alerts.drift.intervention=1001" in (
        " ".join(done.stdout.split())
    )


def test_a_misspelt_field_in_set_is_a_one_line_error(
    demo: tuple[Path, Path], tmp_path: Path
) -> None:
    """``--set`` of a field the configuration does not have names it, in one line, exit 2."""
    baseline, events = demo
    args = ["replay", "--baseline", str(baseline), "--input", str(events)]
    done = _cli(*args, "--output", str(tmp_path / "r.jsonl"), "--set", "alerts.drift.warnin=0.1")
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 2 and len(lines) == 1 and "warnin" in lines[0], done.stderr


def test_an_overrides_file_that_is_not_a_mapping_is_a_one_line_error(
    demo: tuple[Path, Path], tmp_path: Path
) -> None:
    """``--overrides`` holding a list instead of fields says what it must hold."""
    baseline, events = demo
    overrides = tmp_path / "o.yaml"
    overrides.write_text("- alerts\n", encoding="utf-8")
    args = ["replay", "--baseline", str(baseline), "--input", str(events)]
    done = _cli(*args, "--output", str(tmp_path / "r.jsonl"), "--overrides", str(overrides))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"driftwarden: error: --overrides {overrides} must hold a mapping of configuration "
        "fields, as driftwarden.yaml does"
    )


@pytest.mark.parametrize(
    ("base", "overrides", "expected"),
    [
        ({"a": {"b": 1, "c": 2}}, {"a": {"c": 3}}, {"a": {"b": 1, "c": 3}}),
        ({"a": [1, 2]}, {"a": [3]}, {"a": [3]}),
        ({"a": {"b": 1}}, {"a": None}, {"a": None}),
        ({}, {"a": {"b": 1}}, {"a": {"b": 1}}),
    ],
)
def test_merged_merges_mappings_and_replaces_the_rest(
    base: Mapping[str, Any], overrides: Mapping[str, Any], expected: Mapping[str, Any]
) -> None:
    """Mappings merge field by field; lists, scalars and None replace what was there."""
    assert merged(base, overrides) == expected
