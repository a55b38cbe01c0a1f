"""Per-version baselines and canary-vs-stable drift: each version judged by its own training data,
and a canary also compared with the stable version in the same window."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pytest

from baselines.build import build_baseline
from baselines.errors import BaselineError
from baselines.values import Baseline
from monitor.app import load_version_baselines
from monitor.batches import RawRecords
from monitor.config import Settings, load_settings
from monitor.errors import ConfigError
from monitor.pipeline import Pipeline
from monitor.sinks.memory import ListSink
from monitor.window.slot_layout import same_bins
from tests.support.builders import training

HOUR = 3_600_000
T0 = 1_554_076_800_000
NOW_MS = T0 + 400 * HOUR


def _shifted(table: pa.Table, by: float) -> pa.Table:
    x = table.column("x").to_numpy() + by
    return table.set_column(table.schema.get_field_index("x"), "x", pa.array(x))


@pytest.fixture(scope="module")
def v2_baseline(baseline: Baseline) -> Baseline:
    """Version v2 trained on data where x is one unit higher, in the model baseline's bins."""
    return build_baseline(
        _shifted(training(), 1.0),
        model="m",
        prediction="score",
        label="label",
        segments=("platform",),
        window_sizes=(100, 1000),
        replicates=200,
        bins_from=baseline,
    )


def _settings(**model: Any) -> Settings:
    return load_settings(
        None,
        models=[{"name": "m", "baseline": "m.json", **model}],
        windows={"size": "1h", "allowed_lateness": "0s"},
        alerts={"min_events": 50, "performance": {"min_labels": 50}},
    )


def _events(
    version: str, shift: float, n: int = 2_000, hours: int = 4, seed: int = 0
) -> list[bytes]:
    rng = np.random.default_rng(seed)
    table = training(n, seed=seed + 100)
    x = table.column("x").to_numpy() + shift
    times = T0 + np.sort(rng.integers(0, hours * HOUR, n))
    return [
        orjson.dumps(
            {
                "event_id": f"{version}-{i}",
                "model": "m",
                "model_version": version,
                "timestamp": int(times[i]),
                "features": {
                    "x": float(x[i]),
                    "y": float(table.column("y")[i].as_py()),
                    "color": table.column("color")[i].as_py(),
                },
                "prediction": float(table.column("score")[i].as_py()),
            }
        )
        for i in range(n)
    ]


def _run(
    baseline: Baseline,
    settings: Settings,
    lines: list[bytes],
    versions: Mapping[str, Mapping[str, Baseline]],
) -> list[Mapping[str, Any]]:
    sink = ListSink()
    pipeline = Pipeline(settings, {"m": baseline}, [sink], versions=versions)
    order = sorted(range(len(lines)), key=lambda i: orjson.loads(lines[i])["timestamp"])
    ordered = [lines[i] for i in order]
    n = len(ordered)
    pipeline.process_records(
        RawRecords(ordered, np.zeros(n, np.int64), np.arange(n), np.full(n, -1)), NOW_MS
    )
    pipeline.finish()
    return sink.reports()


def _windows(records: list[Mapping[str, Any]], version: str) -> list[Mapping[str, Any]]:
    return [
        r
        for r in records
        if r["kind"] == "window" and r["model_version"] == version and r["segment"] == ""
    ]


def test_bins_from_reuses_the_other_baselines_bins(
    baseline: Baseline, v2_baseline: Baseline
) -> None:
    """A baseline built with bins_from has the same slots but its own reference counts."""
    assert same_bins(v2_baseline, baseline)
    assert v2_baseline.features["x"].counts != baseline.features["x"].counts


def test_bins_from_refuses_other_columns(baseline: Baseline) -> None:
    """Building with bins_from on a table with other features says which and how to fix it."""
    table = training().drop_columns(["y"])
    with pytest.raises(BaselineError, match="same columns"):
        build_baseline(table, model="m", prediction="score", label="label", bins_from=baseline)


def test_a_version_is_judged_against_its_own_baseline(
    baseline: Baseline, v2_baseline: Baseline
) -> None:
    """v2 events drawn like v2's training data raise nothing; judged by the model's they drift."""
    lines = _events("v2", shift=1.0)
    own = _run(baseline, _settings(), lines, {"m": {"v2": v2_baseline}})
    shared = _run(baseline, _settings(), lines, {})
    assert [r for r in own if r["kind"] == "alert"] == []
    assert {(r["subject"], r["to"]) for r in shared if r["kind"] == "alert"} >= {
        ("x", "intervention")
    }


def test_a_canary_is_compared_with_the_stable_version_in_the_same_window(
    baseline: Baseline, v2_baseline: Baseline
) -> None:
    """A canary whose x runs one unit above the stable version's raises canary_psi on x only."""
    lines = _events("v1", shift=0.0) + _events("v2", shift=1.0, seed=1)
    records = _run(baseline, _settings(stable_version="v1"), lines, {"m": {"v2": v2_baseline}})
    canary = _windows(records, "v2")
    assert all(w["versus"]["model_version"] == "v1" for w in canary)
    assert all(w["versus"]["features"]["x"]["psi"] > 0.25 for w in canary)
    assert all(w["versus"]["features"]["y"]["psi"] < 0.1 for w in canary)
    assert all("versus" not in w for w in _windows(records, "v1"))
    raised = {
        (r["model_version"], r["subject"], r["check"], r["to"])
        for r in records
        if r["kind"] == "alert" and r["segment"] == ""
    }
    assert raised == {("v2", "x", "canary_psi", "intervention")}


def test_canary_psi_equals_the_psi_of_the_two_windows_counts(
    baseline: Baseline, v2_baseline: Baseline
) -> None:
    """The canary's PSI on x is the PSI between the two versions' x slot counts of the window."""
    from detectors.statistics import psi

    lines = _events("v1", shift=0.0) + _events("v2", shift=1.0, seed=1)
    sink = ListSink()
    pipeline = Pipeline(
        _settings(stable_version="v1"), {"m": baseline}, [sink], versions={"m": {"v2": v2_baseline}}
    )
    order = sorted(lines, key=lambda line: orjson.loads(line)["timestamp"])
    first_hour = [line for line in order if orjson.loads(line)["timestamp"] < T0 + HOUR]
    n = len(first_hour)
    pipeline.process_records(
        RawRecords(first_hour, np.zeros(n, np.int64), np.arange(n), np.full(n, -1)), NOW_MS
    )
    windows = {w.key.model_version: w for w in pipeline.windower.flush() if not w.key.segment}
    x = pipeline.layouts["m"].by_name["x"]
    part = slice(x.offset, x.offset + x.baseline.n_slots)
    expected = psi(
        x.baseline.distribution(windows["v1"].counts[part]),
        x.baseline.distribution(windows["v2"].counts[part]),
        epsilon=1e-4,
    )
    pipeline.stage2.emit(sorted(windows.values(), key=lambda w: w.key))
    (canary,) = _windows(sink.reports(), "v2")
    assert canary["versus"]["features"]["x"]["psi"] == pytest.approx(expected, rel=1e-12)


def test_a_version_baseline_with_other_bins_is_refused(tmp_path: Path, baseline: Baseline) -> None:
    """A version baseline not built with --bins-from gets a one-line error naming the fix."""
    other = build_baseline(
        _shifted(training(), 1.0), model="m", prediction="score", label="label", replicates=2
    )
    baseline.save(tmp_path / "m.json")
    other.save(tmp_path / "v2.json")
    settings = load_settings(
        None,
        models=[
            {"name": "m", "baseline": tmp_path / "m.json", "versions": {"v2": tmp_path / "v2.json"}}
        ],
    )
    with pytest.raises(ConfigError, match="--bins-from"):
        load_version_baselines(settings, {"m": baseline})
