"""Many models in one process: replay throughput and the cost of evaluating one window.

Run: ``.venv/bin/python benchmarks/bench_models.py [--attempts 3] [--output PATH]``

The case (issue 16, item 6): ``--models`` models (default 100) with 20 numeric features and a
numeric prediction each, events of two versions (``v1``, ``v2``) carrying a ``region`` field
with 5 values (segments), 1,000,000 events over 5.5 hours in a Parquet file, 1-hour windows:
models × 2 versions × (overall + 5 segments) windows per hour. Every model has its own baseline
(with segment references), built once into ``.cache/bench/models/`` with a small calibration.

Measured in the same run, ``--attempts`` times each, interleaved round-robin:

1. ``many``: the Parquet replay of the ``--models`` case (file read included).
2. ``one`` (the reference): the same million events, all of one model: the same decoding and
   counting, a hundredth of the windows.
3. the sweep: ``--sweep-events`` events over models × segment values growing, to show the
   cost per window staying flat as the number of windows grows.

For each run the time spent closing windows (``StageTwo.emit``: scoring, checks, levels,
report lines) is divided by the windows it closed: the cost per
(model, version, segment) window. Targets: ≥ 500,000 events/s for ``many`` and ≤ 0.3 ms per
window. Every figure is the median of the attempts, with min and max. Wall and CPU time
(``time.process_time``) are both recorded: on a shared machine the process's CPU time is the
steadier of the two.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable, Mapping
from functools import wraps
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from baselines.build import build_baseline
from baselines.values import Baseline
from monitor.allocator import tune_allocators
from monitor.config import Settings, load_settings
from monitor.pipeline import Pipeline
from monitor.runtime.replay import DEFAULT_BATCH_SIZE
from monitor.sinks.base import Record, report_json
from monitor.sources.files import iter_file
from monitor.stage_one import event_schema

FEATURES = [f"f{i:02d}" for i in range(20)]
REGIONS = ["na", "eu", "apac", "latam", "mea", "af", "oc", "ru", "cn", "in"]
START_MS = 1_700_000_000_000 // 3_600_000 * 3_600_000
SPAN_MS = 5 * 3_600_000 + 1_800_000  # 5.5 hours: 6 hourly windows
ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "bench" / "models"
RESULTS = ROOT / "benchmarks" / "results" / "models.json"
#: The sweep's (models, segment values) cases: windows grow 20×, events stay the same.
SWEEP = ((5, 1), (10, 5), (25, 5), (50, 5), (100, 5), (100, 10))


def model_name(i: int) -> str:
    return f"model-{i:03d}"


def training_table(i: int, rows: int, regions: int) -> pa.Table:
    """Seeded training rows of model ``i``: each model has its own feature distributions."""
    rng = np.random.default_rng(1000 + i)
    columns: dict[str, Any] = {
        name: rng.normal(i / 100 + j / 20, 1.0 + j / 40, rows) for j, name in enumerate(FEATURES)
    }
    columns["prediction"] = rng.uniform(0, 1, rows)
    columns["region"] = rng.choice(np.array(REGIONS[:regions]), rows)
    return pa.table(columns)


def baseline_path(i: int, regions: int) -> Path:
    return CACHE / f"{model_name(i)}-r{regions}.baseline.json"


def baselines(models: int, regions: int) -> dict[str, Baseline]:
    """The models' baselines, built once (small calibration: 2 window sizes × 200 replicates)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    out: dict[str, Baseline] = {}
    for i in range(models):
        path = baseline_path(i, regions)
        if not path.exists():
            built = build_baseline(
                training_table(i, 5_000, regions),
                model=model_name(i),
                prediction="prediction",
                segments=["region"] if regions > 1 else [],
                window_sizes=(100, 1000),
                replicates=200,
            )
            built.save(path)
        out[model_name(i)] = Baseline.load(path)
    return out


def events_path(events: int, models: int, regions: int) -> Path:
    """Seeded events spread evenly over the models, in timestamp order (written once)."""
    path = CACHE / f"events-{events}-m{models}-r{regions}.parquet"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    owner = rng.integers(0, models, events)
    shift = np.where(rng.uniform(0, 1, events) < 0.5, 0.0, 0.2)  # v2 drifts a little
    columns: dict[str, Any] = {
        "event_id": pa.array([f"e{n}" for n in range(events)]),
        "model": pa.array(np.array([model_name(i) for i in range(models)])[owner]),
        "model_version": pa.array(np.where(shift > 0, "v2", "v1")),
        "timestamp": START_MS + np.sort(rng.integers(0, SPAN_MS, events)),
        "region": pa.array(rng.choice(np.array(REGIONS[:regions]), events)),
    }
    for j, name in enumerate(FEATURES):
        columns[name] = rng.normal(owner / 100 + j / 20 + shift, 1.0 + j / 40)
    columns["prediction"] = rng.uniform(0, 1, events)
    pq.write_table(pa.table(columns), path)
    return path


def settings_for(models: int, regions: int) -> Settings:
    return load_settings(
        None,
        models=[
            {"name": model_name(i), "baseline": baseline_path(i, regions)} for i in range(models)
        ],
        segments={"fields": ["region"] if regions > 1 else []},
    )


class Discard:
    """Sink that takes each record's report line as a report file writes it (``report_json``:
    the pipeline's window lines as built, alert objects serialised by orjson) and drops it."""

    def __init__(self) -> None:
        self.bytes = 0

    def write(self, record: Record) -> None:
        self.bytes += len(report_json(record.report))


def timed(method: Callable[..., None], clock: list[float]) -> Callable[..., None]:
    """``method``, adding the wall and CPU seconds each call takes to ``clock[0]``, ``clock[1]``."""

    @wraps(method)
    def call(*args: Any) -> None:
        started, cpu = time.perf_counter(), time.process_time()
        method(*args)
        clock[0] += time.perf_counter() - started
        clock[1] += time.process_time() - cpu

    return call


def replay(path: Path, settings: Settings, loaded: Mapping[str, Baseline]) -> dict[str, float]:
    """One replay of a Parquet file (read included), as ``driftwarden replay`` runs it."""
    sink = Discard()
    pipeline = Pipeline(settings, loaded, [sink])
    clock = [0.0, 0.0]
    pipeline.stage2.emit = timed(pipeline.stage2.emit, clock)  # type: ignore[method-assign]
    categories = event_schema(settings, loaded).categorical_features
    started, cpu = time.perf_counter(), time.process_time()
    offset = 0
    for batch in iter_file(path, DEFAULT_BATCH_SIZE, categories=categories):
        assert isinstance(batch, pa.RecordBatch)
        pipeline.process_table(batch, first_offset=offset, now_ms=START_MS + 10**10)
        offset += batch.num_rows
    pipeline.finish()
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    events = sum(pipeline.totals.events.values())
    windows = pipeline.totals.windows
    return {
        "events": events,
        "windows": windows,
        "seconds": seconds,
        "events_per_s": events / seconds,
        "cpu_seconds": cpu_seconds,
        "events_per_cpu_s": events / cpu_seconds,
        "emit_seconds": clock[0],
        "ms_per_window": 1000 * clock[0] / windows,
        "emit_cpu_seconds": clock[1],
        "cpu_ms_per_window": 1000 * clock[1] / windows,
        "report_bytes": sink.bytes,
    }


def spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def summarise(runs: list[dict[str, float]]) -> dict[str, Any]:
    """Median, min and max of every measured figure of one case's attempts."""
    first = runs[0]
    return {
        "events": first["events"],
        "windows": first["windows"],
        "report_bytes": first["report_bytes"],
        **{
            name: spread([run[name] for run in runs])
            for name in (
                "seconds",
                "events_per_s",
                "cpu_seconds",
                "events_per_cpu_s",
                "emit_seconds",
                "ms_per_window",
                "emit_cpu_seconds",
                "cpu_ms_per_window",
            )
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=100)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--sweep-events", type=int, default=200_000)
    parser.add_argument("--attempts", type=int, default=3)
    parser.add_argument("--no-sweep", action="store_true")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    tune_allocators()  # as the CLI does at start
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    cases: dict[str, tuple[Path, Settings, dict[str, Baseline]]] = {
        "many": (
            events_path(args.events, args.models, 5),
            settings_for(args.models, 5),
            baselines(args.models, 5),
        ),
        "one": (events_path(args.events, 1, 5), settings_for(1, 5), baselines(1, 5)),
    }
    if not args.no_sweep:
        for models, regions in SWEEP:
            cases[f"sweep-m{models}-r{regions}"] = (
                events_path(args.sweep_events, models, regions),
                settings_for(models, regions),
                baselines(models, regions),
            )
    runs: dict[str, list[dict[str, float]]] = {name: [] for name in cases}
    for attempt in range(args.attempts):  # round-robin: every case once per attempt
        for name, (path, settings, loaded) in cases.items():
            runs[name].append(replay(path, settings, loaded))
            last = runs[name][-1]
            print(
                f"attempt {attempt + 1} {name}: {last['seconds']:.2f} s, "
                f"{last['events_per_s']:,.0f} events/s, {last['windows']:,} windows, "
                f"{last['ms_per_window']:.3f} ms/window (CPU: {last['cpu_seconds']:.2f} s, "
                f"{last['cpu_ms_per_window']:.3f} ms/window)"
            )
    cases_summary = {name: summarise(case_runs) for name, case_runs in runs.items()}
    results: dict[str, Any] = {
        "command": "benchmarks/bench_models.py "
        f"--models {args.models} --events {args.events} --sweep-events {args.sweep_events} "
        f"--attempts {args.attempts}",
        "cpus": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
        "cases": cases_summary,
        "attempts": runs,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    for name, case in cases_summary.items():
        print(f"{name}: {case['events']:,} events, {case['windows']:,} windows")
        for figure, unit in (
            ("events_per_s", "events/s"),
            ("events_per_cpu_s", "events per CPU s"),
            ("ms_per_window", "ms per window"),
            ("cpu_ms_per_window", "CPU ms per window"),
        ):
            spread_of = case[figure]
            print(
                f"  {unit}: median {spread_of['median']:,.3f} "
                f"(min {spread_of['min']:,.3f}, max {spread_of['max']:,.3f})"
            )


if __name__ == "__main__":
    main()
