"""The driftwarden command: help, one-line errors, and the demo."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.support.builders import training

CLI = [sys.executable, "-m", "monitor.cli"]


def _run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["baseline", "build"],
        ["replay"],
        ["report", "merge"],
        ["config", "check"],
        ["config", "reference"],
        ["demo"],
    ],
)
def test_every_command_explains_itself(args: list[str]) -> None:
    """--help of the command and of every subcommand exits 0 with a description."""
    result = _run(*args, "--help")
    assert result.returncode == 0
    assert "usage: driftwarden" in result.stdout and len(result.stdout.splitlines()) > 5


def _built_baseline(tmp_path: Path) -> Path:
    """Build a baseline of model "m" through the CLI; return its path."""
    pq.write_table(training(300), tmp_path / "t.parquet")
    path = tmp_path / "b.json"
    args = ["--input", str(tmp_path / "t.parquet"), "--model", "m", "--prediction", "score"]
    assert _run("baseline", "build", *args, "--output", str(path)).returncode == 0
    return path


def _one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("driftwarden: error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_missing_training_file_is_one_line(tmp_path: Path) -> None:
    """baseline build on a path that does not exist names the path."""
    result = _run(
        "baseline",
        "build",
        "--input",
        str(tmp_path / "nope.parquet"),
        "--model",
        "m",
        "--output",
        str(tmp_path / "b.json"),
    )
    _one_line_error(result, "nope.parquet")


def test_missing_column_lists_available_columns(tmp_path: Path) -> None:
    """A --label that is not a column names it and lists what there is."""
    pq.write_table(training(200), tmp_path / "t.parquet")
    result = _run(
        "baseline",
        "build",
        "--input",
        str(tmp_path / "t.parquet"),
        "--model",
        "m",
        "--label",
        "nope",
        "--output",
        str(tmp_path / "b.json"),
    )
    _one_line_error(result, "nope", "score")


def test_bad_yaml_is_one_line(tmp_path: Path) -> None:
    """A config file with broken YAML gives one line with the line number."""
    (tmp_path / "c.yaml").write_text("models: [\n")
    _one_line_error(_run("config", "check", "--config", str(tmp_path / "c.yaml")), "not valid YAML")


def test_unknown_config_field_is_one_line(tmp_path: Path) -> None:
    """A misspelt config field is named with the fix."""
    (tmp_path / "c.yaml").write_text("models: []\nwindowz: {}\n")
    _one_line_error(
        _run("config", "check", "--config", str(tmp_path / "c.yaml")), "windowz", "unknown"
    )


def test_replay_without_baseline_or_config_says_what_to_pass(tmp_path: Path) -> None:
    """replay with neither --config nor --baseline says which to pass."""
    result = _run("replay", "--input", "x.jsonl", "--output", str(tmp_path / "r.jsonl"))
    _one_line_error(result, "--config", "--baseline")


def test_replay_of_a_corrupt_baseline_is_one_line(tmp_path: Path) -> None:
    """A baseline that is not JSON is reported in one line."""
    (tmp_path / "b.json").write_text("{not json")
    result = _run(
        "replay",
        "--baseline",
        str(tmp_path / "b.json"),
        "--input",
        "x.jsonl",
        "--output",
        str(tmp_path / "r.jsonl"),
    )
    _one_line_error(result, "b.json")


def test_replay_of_a_missing_input_is_one_line(tmp_path: Path) -> None:
    """A replay input that does not exist is named in one line."""
    _built_baseline(tmp_path)
    result = _run(
        "replay",
        "--baseline",
        str(tmp_path / "b.json"),
        "--input",
        str(tmp_path / "missing.jsonl"),
        "--output",
        str(tmp_path / "r.jsonl"),
    )
    _one_line_error(result, "missing.jsonl")


def test_report_into_a_missing_folder_is_one_line(tmp_path: Path) -> None:
    """A report path whose folder does not exist is named in one line."""
    _built_baseline(tmp_path)
    (tmp_path / "e.jsonl").write_text('{"model": "m", "timestamp": 0, "features": {}}\n')
    out = tmp_path / "no-such-folder" / "r.jsonl"
    result = _run(
        "replay",
        "--baseline",
        str(tmp_path / "b.json"),
        "--input",
        str(tmp_path / "e.jsonl"),
        "--output",
        str(out),
    )
    _one_line_error(result, "no-such-folder", "No such file or directory")


def test_baseline_build_prints_the_missing_rate_of_each_column(tmp_path: Path) -> None:
    """After writing the baseline, the build lists each stored column's kind and missing rate."""
    path = tmp_path / "t.csv"
    path.write_text("x,color,score\n1.5,red,0.3\n,blue,0.4\n2.5,,0.5\n3.5,red,0.6\n", "utf-8")
    args = ["--input", str(path), "--model", "m", "--prediction", "score"]
    result = _run("baseline", "build", *args, "--output", str(tmp_path / "b.json"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1:] == [
        "missing rate of each stored column:",
        "  x                   numeric       25.00%",
        "  color               categorical   25.00%",
        "  score (prediction)  numeric        0.00%",
    ]
