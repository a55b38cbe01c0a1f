"""What a command loads: only the libraries it uses, when it uses them (start-up time)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from baselines.build import build_baseline_file
from tests.support.builders import training

#: Runs the CLI in a fresh interpreter, then prints the top-level packages it imported.
_PROBE = """
import json, sys
from monitor.cli import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""
HEAVY = {"numpy", "pyarrow", "scipy", "river", "rich", "pydantic", "structlog", "kafka"}


def _loaded(*args: str) -> set[str]:
    """The top-level packages that ``driftwarden ARGS`` imports, in a fresh interpreter."""
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.splitlines()[-1]))


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A baseline of model "m" with a numeric prediction."""
    folder = tmp_path_factory.mktemp("startup")
    pq.write_table(training(300), folder / "t.parquet")
    build_baseline_file(folder / "t.parquet", folder / "b.json", model="m", prediction="score")
    return folder / "b.json"


def test_help_loads_none_of_the_heavy_libraries() -> None:
    """``driftwarden --help`` imports no numeric, Kafka, logging or terminal library."""
    assert _loaded("--help") & HEAVY == set()


def test_an_empty_replay_loads_no_statistics_detectors_or_kafka(
    baseline: Path, tmp_path: Path
) -> None:
    """A replay that scores no window never imports scipy, river, kafka or structlog."""
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    args = ["replay", "--baseline", str(baseline), "--input", str(empty)]
    loaded = _loaded(*args, "--output", str(tmp_path / "r.jsonl"), "--no-progress")
    assert loaded & {"scipy", "river", "kafka", "structlog"} == set()


def test_a_replay_without_river_detectors_never_loads_river(baseline: Path, tmp_path: Path) -> None:
    """Scoring windows with the default per-event detectors (numpy ones) leaves river unloaded."""
    events = tmp_path / "events.jsonl"
    line = {"model": "m", "timestamp": 1554163201015, "features": {}, "prediction": 0.5}
    events.write_text("".join(json.dumps({**line, "event_id": str(i)}) + "\n" for i in range(50)))
    args = ["replay", "--baseline", str(baseline), "--input", str(events)]
    loaded = _loaded(*args, "--output", str(tmp_path / "r.jsonl"), "--no-progress")
    assert "scipy" in loaded and "river" not in loaded
