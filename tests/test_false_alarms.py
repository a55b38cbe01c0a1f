"""False alarms on a stable stream: 200 windows drawn from the training distribution."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import scipy.stats

from baselines.build import build_baseline
from baselines.values import Baseline
from monitor.config import load_settings
from monitor.pipeline import Pipeline
from monitor.sinks.memory import ListSink
from tests.support.builders import training

WINDOWS = 200
PER_WINDOW = 1_000
HOUR = 3_600_000
DRIFT_CHECKS = {"psi", "js"}


@pytest.fixture(scope="module")
def stable() -> tuple[Baseline, pa.Table]:
    """A baseline of 20,000 training rows and 200 hourly windows from the same process."""
    baseline = build_baseline(
        training(20_000, seed=11),
        model="m",
        prediction="score",
        label="label",
        window_sizes=(500, 1_000, 2_000),
        replicates=2_000,
    )
    events = training(WINDOWS * PER_WINDOW, seed=12)
    times = np.repeat(np.arange(WINDOWS) * HOUR, PER_WINDOW) + np.tile(
        np.arange(PER_WINDOW), WINDOWS
    )
    table = events.rename_columns(["x", "y", "color", "platform", "prediction", "label"])
    table = table.append_column("timestamp", pa.array(times)).append_column(
        "model", pa.array(["m"] * len(times))
    )
    return baseline, table


def _levels(
    tmp_path: Path, baseline: Baseline, table: pa.Table, drift: dict[str, Any]
) -> list[str]:
    path = tmp_path / "m.json"
    baseline.save(path)
    settings = load_settings(
        None,
        models=[{"name": "m", "baseline": path}],
        windows={"size": "1h", "allowed_lateness": "0s"},
        alerts={"drift": drift, "consecutive": 1, "hysteresis": 0.0},
    )
    sink = ListSink()
    pipeline = Pipeline(settings, {"m": baseline}, [sink])
    for offset in range(0, table.num_rows, 50_000):
        pipeline.process_table(table.slice(offset, 50_000), first_offset=offset, now_ms=10**13)
    pipeline.finish()
    windows = [r for r in sink.reports() if r["kind"] == "window"]
    assert len(windows) == WINDOWS
    statistic = drift.get("statistic", "psi")
    return [
        subject["levels"][statistic]
        for w in windows
        for subject in [*w["features"].values(), w["prediction"]]
    ]


def test_fixed_thresholds_never_intervene_on_a_stable_stream(
    tmp_path: Path, stable: tuple[Baseline, pa.Table]
) -> None:
    """Fixed PSI thresholds 0.1/0.25 raise no intervention in 200 stable windows."""
    levels = _levels(tmp_path, *stable, {"mode": "fixed"})
    assert len(levels) == WINDOWS * 5  # x, y, color, platform and the prediction
    assert levels.count("intervention") == 0


@pytest.mark.parametrize("statistic", ["psi", "js"])
def test_calibrated_thresholds_hold_the_false_alarm_rate(
    tmp_path: Path, stable: tuple[Baseline, pa.Table], statistic: str
) -> None:
    """Thresholds calibrated at a 1% false-alarm rate warn in about 1% of stable checks: as
    often as 1,000 draws at 1% would, inside their two-sided 99% binomial interval (3 to 19)."""
    drift = {
        "mode": "calibrated",
        "statistic": statistic,
        "false_alarm_rate": {"warning": 0.01, "intervention": 0.001},
    }
    levels = _levels(tmp_path, *stable, drift)
    raised = sum(level in ("warning", "intervention") for level in levels)
    low, high = scipy.stats.binom.interval(0.99, len(levels), 0.01)
    assert (low, high) == (3, 19)
    assert low <= raised <= high, f"{raised} of {len(levels)} stable checks raised"
