"""Replay throughput: columnar (Parquet) windowing + scoring, and JSON Lines end to end.

Run: ``.venv/bin/python benchmarks/bench_replay.py [--events 1000000] [--json-events 200000]
[--attempts 5]``; the raw figures go to benchmarks/results/replay.json.

Every side below runs ``--attempts`` times in rounds of rotating order and is summarised by its
median with min and max (benchmarks/attempts.py); ratios are of medians. The pipeline runs the
default configuration (every default detector on); it also runs with the optional detectors off
(``detectors.prediction`` and ``detectors.window_series`` empty), reported beside it.

1. Parquet: a table of ``--events`` events × 20 features (16 numeric, 4 categorical) already in
   memory (file read excluded), in batches of 100,000, replayed through the whole pipeline
   (decode, windows, scoring, levels, report objects serialised). Floor: the counting alone on
   columns decoded before the clock starts, with the pipeline's own binning (per batch and
   numeric column ``FeatureBaseline.slots`` + ``bincount``; per categorical column a
   ``bincount`` of slots mapped in advance); the pipeline does all of that and more, so the
   ratio is its overhead above the counting. Also timed: the same counts through
   ``np.searchsorted`` + ``bincount``, the floor this script used to claim, which is slower than
   the pipeline's binning (a binary search per value against one branch-free comparison pass per
   edge). CPU seconds over wall seconds show how many cores each side kept busy.
   Target: ≥ 1,000,000 events/s on one core.
2. JSON Lines: ``--json-events`` lines replayed from a file (``replay_file``, file read and line
   count included) against a bare reference that reads the same file and ``orjson.loads`` every
   line, at equal thread counts: the native reader on 1 parse thread against the bare loop in
   one thread, and on 2 parse threads against the bare loop split over 2 processes (orjson
   holds the GIL, so threads would not help it). The rest of the replay (reading the file,
   windows, scoring) runs on its main thread. Target: ratio ≤ 1.5.
3. Multiclass: the same ``--events`` events of a 10-class model (``--classes``) whose prediction
   is an object of class probabilities (a struct column: Dirichlet draws), replayed from Parquet
   in memory like side 1, in the same rounds as side 1's binary stream (default
   configuration); also with each event's label (the multiclass performance accumulator).
   Targets: ≥ 500,000 events/s, and ≥ 0.5 of the binary stream's rate (medians).
4. Whole processes, as a user runs them: ``driftwarden replay --input`` of the JSON Lines file
   (decode.threads 1) against ``python -c`` running the bare loop, interpreter start and
   imports included.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute
import pyarrow.parquet as pq
from attempts import spread, timed_rounds

from baselines.build import build_baseline
from monitor.allocator import tune_allocators
from monitor.app import replay_file
from monitor.config import load_settings
from monitor.pipeline import Pipeline
from monitor.sinks.base import Record, report_json

NUMERIC = [f"n{i:02d}" for i in range(16)]
CATEGORICAL = [f"c{i}" for i in range(4)]
START_MS = 1_700_000_000_000 // 3_600_000 * 3_600_000
CACHE = Path(__file__).resolve().parent.parent / ".cache" / "bench"
RESULTS = Path(__file__).resolve().parent / "results" / "replay.json"
START = datetime.datetime.now(datetime.UTC)


def columns(rows: int, seed: int, shift: float = 0.0) -> dict[str, np.ndarray]:
    """Seeded feature columns; ``shift`` moves the first four numeric features."""
    rng = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {}
    for i, name in enumerate(NUMERIC):
        out[name] = rng.normal(shift if i < 4 else 0.0, 1.0 + i / 16, rows)
    for i, name in enumerate(CATEGORICAL):
        out[name] = rng.choice(np.array([f"v{j}" for j in range(5 + 3 * i)]), rows)
    out["prediction"] = rng.uniform(0, 1, rows)
    return out


def multiclass_columns(rows: int, seed: int, classes: int, shift: float = 0.0) -> dict[str, Any]:
    """:func:`columns` with the prediction an object of ``classes`` class probabilities (a
    struct column) and the true class (``label``) drawn from them."""
    out: dict[str, Any] = columns(rows, seed, shift)
    rng = np.random.default_rng(seed + 7)
    probabilities = rng.dirichlet(np.ones(classes), rows)
    names = [f"class{k}" for k in range(classes)]
    out["prediction"] = pa.StructArray.from_arrays(
        [pa.array(probabilities[:, k]) for k in range(classes)], names=names
    )
    drawn = (probabilities.cumsum(axis=1) < rng.uniform(0, 1, (rows, 1))).sum(axis=1)
    out["label"] = np.array(names)[np.minimum(drawn, classes - 1)]
    return out


def events_table(rows: int, seed: int = 2, classes: int = 0) -> pa.Table:
    """Events of model "bench" spread over 24 hours, in timestamp order (of a multiclass
    model, with labels, when ``classes``)."""
    if classes:
        cols = multiclass_columns(rows, seed, classes, shift=0.3)
    else:
        cols = columns(rows, seed, shift=0.3)
    times = START_MS + np.sort(np.random.default_rng(seed + 1).integers(0, 24 * 3_600_000, rows))
    return pa.table({"model": pa.array(["bench"] * rows), "timestamp": times, **cols})


class Discard:
    """Sink that takes each record's report line as a report file writes it (``report_json``)
    and drops it."""

    def __init__(self) -> None:
        self.bytes = 0

    def write(self, record: Record) -> None:
        self.bytes += len(report_json(record.report))


def decoded_batches(batches: list[pa.RecordBatch], baseline: Any) -> list[list[Decoded]]:
    """Per batch, every feature decoded in advance: numeric columns as float64 arrays,
    categorical ones already mapped to their slots."""
    out = []
    for batch in batches:
        decoded = [
            Decoded(batch.column(name).to_numpy(), baseline.features[name]) for name in NUMERIC
        ]
        for name in CATEGORICAL:
            feature = baseline.features[name]
            decoded.append(Decoded(feature.slots(batch.column(name)), feature, slotted=True))
        out.append(decoded)
    return out


@dataclass(frozen=True)
class Decoded:
    """One column of one batch, decoded before the clock starts."""

    values: np.ndarray
    feature: Any
    slotted: bool = False


def counting_floor(decoded: list[list[Decoded]]) -> None:
    """The counting alone, with the pipeline's own binning: per batch, each numeric column's
    slots (``FeatureBaseline.slots``: one branch-free comparison pass per bin edge) and one
    ``bincount`` per column."""
    for columns in decoded:
        for column in columns:
            slots = column.values if column.slotted else column.feature.slots(column.values)
            np.bincount(slots, minlength=column.feature.n_slots)


def searchsorted_counting(decoded: list[list[Decoded]]) -> None:
    """The same counts through ``np.searchsorted`` (a binary search per value) + ``bincount``:
    the reference this script used before, which turned out slower than the pipeline."""
    for columns in decoded:
        for column in columns:
            if column.slotted:
                np.bincount(column.values, minlength=column.feature.n_slots)
                continue
            edges = column.feature.layout.edges
            np.bincount(np.searchsorted(edges, column.values, "right"), minlength=len(edges) + 2)


def clocked(work: Callable[[], object], cpu: list[float]) -> float:
    """Wall seconds of ``work()``; its process CPU seconds are appended to ``cpu``."""
    cpu_started, started = time.process_time(), time.perf_counter()
    work()
    wall = time.perf_counter() - started
    cpu.append(time.process_time() - cpu_started)
    return wall


def replay_table(batches: list[pa.RecordBatch], settings: Any, baseline: Any) -> None:
    pipeline = Pipeline(settings, {"bench": baseline}, [Discard()])
    offset = 0
    for batch in batches:
        pipeline.process_table(batch, first_offset=offset, now_ms=START_MS + 10**10)
        offset += batch.num_rows
    pipeline.finish()


def bench_multiclass(
    events: int, classes: int, settings: Any, binary: Any, attempts: int
) -> dict[str, Any]:
    """The binary stream of :func:`bench_parquet` against a multiclass one of ``classes``
    classes (probability objects), with and without labels, in the same rounds."""
    reference = pa.table(multiclass_columns(200_000, 1, classes))
    baseline = build_baseline(reference, model="bench", prediction="prediction", label="label")
    path = CACHE / f"events-{events}-{classes}-classes.parquet"
    if not path.exists():
        pq.write_table(events_table(events, classes=classes), path)
    labeled = pq.read_table(path)
    plain = labeled.drop_columns(["label"])
    batches = {
        "binary stream": (pq.read_table(CACHE / f"events-{events}.parquet"), binary),
        f"multiclass stream, {classes} classes": (plain, baseline),
        f"multiclass stream, {classes} classes, labels in the events": (labeled, baseline),
    }
    cpu: dict[str, list[float]] = {name: [] for name in batches}
    sides = {
        name: partial(
            clocked,
            partial(replay_table, table.to_batches(max_chunksize=100_000), settings, model),
            cpu[name],
        )
        for name, (table, model) in batches.items()
    }
    seconds = timed_rounds(sides, attempts)
    out: dict[str, Any] = {"events": events, "classes": classes, "sides": {}}
    for name, values in seconds.items():
        out["sides"][name] = {
            "seconds": values,
            "cpu_seconds": cpu[name],
            "summary": spread(values),
            "cpu_summary": spread(cpu[name]),
            "events_per_s_median": events / spread(values)["median"],
        }
    binary_rate = out["sides"]["binary stream"]["events_per_s_median"]
    for side in out["sides"].values():
        side["rate_to_binary_medians"] = side["events_per_s_median"] / binary_rate
    return out


def bench_parquet(
    events: int, variants: Mapping[str, Any], baseline: Any, attempts: int
) -> dict[str, Any]:
    path = CACHE / f"events-{events}.parquet"
    if not path.exists():
        pq.write_table(events_table(events), path)
    batches = pq.read_table(path).to_batches(max_chunksize=100_000)
    decoded = decoded_batches(batches, baseline)
    work: dict[str, Callable[[], object]] = {
        f"pipeline, {name}": partial(replay_table, batches, settings, baseline)
        for name, settings in variants.items()
    }
    work["counting floor"] = partial(counting_floor, decoded)
    work["searchsorted + bincount"] = partial(searchsorted_counting, decoded)
    cpu: dict[str, list[float]] = {name: [] for name in work}
    sides = {name: partial(clocked, job, cpu[name]) for name, job in work.items()}
    seconds = timed_rounds(sides, attempts)
    out: dict[str, Any] = {"events": events, "batch_rows": 100_000, "sides": {}}
    for name, values in seconds.items():
        out["sides"][name] = {
            "seconds": values,
            "cpu_seconds": cpu[name],
            "summary": spread(values),
            "events_per_s_median": events / spread(values)["median"],
            "cores_busy_median": statistics.median(
                c / w for c, w in zip(cpu[name], values, strict=True)
            ),
        }
    floor_median = spread(seconds["counting floor"])["median"]
    for name in variants:
        side = out["sides"][f"pipeline, {name}"]
        side["ratio_to_floor_medians"] = side["summary"]["median"] / floor_median
    return out


def jsonl_events(events: int) -> Path:
    """The benchmark's JSON Lines file of ``events`` events (written once, cached)."""
    path = CACHE / f"events-{events}.jsonl"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        table = events_table(events, seed=4)
        with path.open("wb") as out:
            for row in table.to_pylist():
                event = {
                    "event_id": f"e{row['timestamp']}",
                    "model": "bench",
                    "timestamp": row["timestamp"],
                    "features": {k: row[k] for k in (*NUMERIC, *CATEGORICAL)},
                    "prediction": row["prediction"],
                }
                out.write(orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE))
    return path


def bare_loop(path: Path, start: int = 0, stop: int | None = None) -> int:
    """``orjson.loads`` of every line of ``path`` from byte ``start`` (a line start) to the
    first line starting at or after ``stop``; the number of lines parsed."""
    parsed = 0
    with path.open("rb") as lines:
        lines.seek(start)
        position = start
        for line in lines:
            if stop is not None and position >= stop:
                break
            position += len(line)
            parsed += orjson.loads(line) is not None
    return parsed


def halves(path: Path) -> list[tuple[int, int | None]]:
    """Two byte ranges of ``path`` that split it at a line start near its middle."""
    with path.open("rb") as file:
        file.seek(path.stat().st_size // 2)
        file.readline()
        middle = file.tell()
    return [(0, middle), (middle, None)]


def bench_jsonl(
    events: int, settings_by_threads: Mapping[int, Any], baseline: Any, attempts: int
) -> dict[str, Any]:
    path = jsonl_events(events)
    ranges = halves(path)
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(abs, [0, 0]))  # both workers started before any clock runs

        def two_processes() -> int:
            return sum(pool.map(bare_loop, [path, path], *zip(*ranges, strict=True)))

        def replay(threads: int) -> Callable[[], float]:
            def side() -> float:
                started = time.perf_counter()
                replay_file(settings_by_threads[threads], {"bench": baseline}, path, Discard())
                return time.perf_counter() - started

            return side

        def bare(work: Callable[[], int]) -> Callable[[], float]:
            def side() -> float:
                started = time.perf_counter()
                if work() != events:
                    raise RuntimeError(f"the bare loop did not parse {events} lines")
                return time.perf_counter() - started

            return side

        seconds = timed_rounds(
            {
                "bare orjson loop, 1 thread": bare(lambda: bare_loop(path)),
                "bare orjson loop, 2 processes": bare(two_processes),
                "replay, 1 parse thread": replay(1),
                "replay, 2 parse threads": replay(2),
            },
            attempts,
        )
    summary = {name: spread(values) for name, values in seconds.items()}
    return {
        "events": events,
        "seconds": seconds,
        "summary": summary,
        "ratio_1_thread_medians": summary["replay, 1 parse thread"]["median"]
        / summary["bare orjson loop, 1 thread"]["median"],
        "ratio_2_threads_medians": summary["replay, 2 parse threads"]["median"]
        / summary["bare orjson loop, 2 processes"]["median"],
    }


def bench_processes(events: int, baseline_path: Path, attempts: int) -> dict[str, Any]:
    """``driftwarden replay`` of the JSON Lines file (1 parse thread) against the bare loop in
    ``python -c``, each a whole process."""
    path = jsonl_events(events)
    config = CACHE / "bench-replay.yaml"
    config.write_bytes(
        orjson.dumps(
            {
                "models": [{"name": "bench", "baseline": str(baseline_path)}],
                "decode": {"threads": 1},
            }
        )
    )
    python = Path(sys.executable)
    commands = {
        "driftwarden replay": [
            str(python.with_name("driftwarden")),
            *("replay", "--input", str(path), "--config", str(config)),
            *("--output", str(CACHE / "bench-replay-report.jsonl"), "--no-progress"),
        ],
        "python -c bare orjson loop": [
            str(python),
            "-c",
            "import orjson, sys\nfor line in open(sys.argv[1], 'rb'): orjson.loads(line)",
            str(path),
        ],
    }

    def process(argv: list[str]) -> Callable[[], float]:
        def side() -> float:
            started = time.perf_counter()
            subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            return time.perf_counter() - started

        return side

    seconds = timed_rounds({name: process(argv) for name, argv in commands.items()}, attempts)
    summary = {name: spread(values) for name, values in seconds.items()}
    return {
        "events": events,
        "commands": commands,
        "seconds": seconds,
        "summary": summary,
        "ratio_medians": summary["driftwarden replay"]["median"]
        / summary["python -c bare orjson loop"]["median"],
    }


def cell(summary: Mapping[str, float], digits: int = 3) -> str:
    """``median (min–max)``."""
    return (
        f"{summary['median']:.{digits}f} ({summary['min']:.{digits}f}–{summary['max']:.{digits}f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--json-events", type=int, default=200_000)
    parser.add_argument("--attempts", type=int, default=5)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    tune_allocators()  # as the CLI does at start
    CACHE.mkdir(parents=True, exist_ok=True)
    reference = pa.table(columns(200_000, seed=1))
    build = partial(build_baseline, reference, model="bench", prediction="prediction")
    build_seconds = timed_rounds({"build": partial(clocked, build, [])}, args.attempts)["build"]
    baseline = build()
    path = CACHE / "bench.baseline.json"
    baseline.save(path)
    models = [{"name": "bench", "baseline": path}]
    variants = {
        "default configuration": load_settings(None, models=models),
        "optional detectors off": load_settings(
            None, models=models, detectors={"prediction": [], "window_series": []}
        ),
    }
    parquet = bench_parquet(args.events, variants, baseline, args.attempts)
    multiclass = bench_multiclass(
        args.events, args.classes, variants["default configuration"], baseline, args.attempts
    )
    jsonl = bench_jsonl(
        args.json_events,
        {n: load_settings(None, models=models, decode={"threads": n}) for n in (1, 2)},
        baseline,
        args.attempts,
    )
    processes = bench_processes(args.json_events, path, args.attempts)
    print(f"medians (min-max) of {args.attempts} attempts per side, rounds of rotating order")
    print(f"baseline build, 200,000 rows x 20 features: {cell(spread(build_seconds))} s")
    for name, side in parquet["sides"].items():
        ratio = side.get("ratio_to_floor_medians")
        print(
            f"parquet, {args.events:,} events, {name}: {cell(side['summary'])} s = "
            f"{side['events_per_s_median']:,.0f} events/s, {side['cores_busy_median']:.2f} cores"
            + (f"; {ratio:.2f}x the counting floor" if ratio else "")
        )
    for name, side in multiclass["sides"].items():
        print(
            f"parquet, {args.events:,} events, {name}: {cell(side['summary'])} s = "
            f"{side['events_per_s_median']:,.0f} events/s (target >= 500,000), CPU "
            f"{cell(side['cpu_summary'])} s, {side['rate_to_binary_medians']:.2f}x the binary "
            "stream's rate (target >= 0.5)"
        )
    for name, summary in jsonl["summary"].items():
        print(f"jsonl, {args.json_events:,} events, {name}: {cell(summary)} s")
    print(
        f"jsonl ratio (target <= 1.5): 1 vs 1 thread {jsonl['ratio_1_thread_medians']:.2f}, "
        f"2 vs 2 {jsonl['ratio_2_threads_medians']:.2f}"
    )
    for name, summary in processes["summary"].items():
        print(f"whole process, {name}: {cell(summary)} s")
    print(f"whole processes ratio: {processes['ratio_medians']:.2f}")
    document = {
        "benchmark": "replay",
        "started": START.isoformat(timespec="seconds"),
        "attempts": args.attempts,
        "machine": {"cpus": os.cpu_count(), "load_average_at_end": os.getloadavg()},
        "baseline_build_seconds": {"seconds": build_seconds, "summary": spread(build_seconds)},
        "parquet": parquet,
        "multiclass": multiclass,
        "jsonl": jsonl,
        "whole_processes": processes,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    print(f"raw figures: {args.output}")


if __name__ == "__main__":
    main()
