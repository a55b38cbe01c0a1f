"""Replay throughput: columnar (Parquet) windowing + scoring, and JSON Lines end to end.

Run: ``.venv/bin/python benchmarks/bench_replay.py [--events 1000000] [--json-events 200000]``

Measures, on the same generated data in the same run:

1. Parquet: a table of ``--events`` events × 20 features (16 numeric, 4 categorical) already in
   memory (file read excluded) replayed through the whole pipeline (decode, windows, scoring,
   levels, report objects). Reference: the bare numpy work of binning the same columns
   (one ``searchsorted`` + ``bincount`` per feature), so the ratio shows the pipeline's overhead.
   Target: ≥ 1,000,000 events/s on one core.
2. JSON Lines: ``--json-events`` lines replayed from a file versus a bare loop that reads the
   same file and ``orjson.loads`` every line. Target: ratio ≤ 1.5.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from baselines.build import build_baseline
from monitor.allocator import tune_allocators
from monitor.config import load_settings
from monitor.pipeline import Pipeline
from monitor.replay import replay_file

NUMERIC = [f"n{i:02d}" for i in range(16)]
CATEGORICAL = [f"c{i}" for i in range(4)]
START_MS = 1_700_000_000_000 // 3_600_000 * 3_600_000
CACHE = Path(__file__).resolve().parent.parent / ".cache" / "bench"


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


def events_table(rows: int, seed: int = 2) -> pa.Table:
    """Events of model "bench" spread over 24 hours, in timestamp order."""
    cols = columns(rows, seed, shift=0.3)
    times = START_MS + np.sort(np.random.default_rng(seed + 1).integers(0, 24 * 3_600_000, rows))
    return pa.table({"model": pa.array(["bench"] * rows), "timestamp": times, **cols})


class Discard:
    """Sink that serialises report objects (as a real report would) and drops them."""

    def __init__(self) -> None:
        self.bytes = 0

    def write(self, record: Mapping[str, Any]) -> None:
        self.bytes += len(orjson.dumps(record))


def bare_numpy_binning(table: pa.Table, baseline: Any) -> None:
    """The minimal numpy work behind the same counts: bin every column once."""
    for name in NUMERIC:
        edges = baseline.features[name].layout.edges
        np.bincount(
            np.searchsorted(edges, table[name].to_numpy(), "right"), minlength=len(edges) + 2
        )
    for name in CATEGORICAL:
        np.bincount(table[name].combine_chunks().dictionary_encode().indices.to_numpy())


def bench_parquet(events: int, settings: Any, baseline: Any) -> dict[str, float]:
    path = CACHE / f"events-{events}.parquet"
    if not path.exists():
        pq.write_table(events_table(events), path)
    table = pq.read_table(path)
    batches = table.to_batches(max_chunksize=100_000)
    started = time.perf_counter()
    bare_numpy_binning(table, baseline)
    reference = time.perf_counter() - started
    pipeline = Pipeline(settings, {"bench": baseline}, [Discard()])
    started = time.perf_counter()
    offset = 0
    for batch in batches:
        pipeline.process_table(batch, first_offset=offset, now_ms=START_MS + 10**10)
        offset += batch.num_rows
    pipeline.finish()
    elapsed = time.perf_counter() - started
    return {
        "events": events,
        "seconds": elapsed,
        "events_per_s": events / elapsed,
        "bare_numpy_seconds": reference,
        "ratio_vs_bare_numpy": elapsed / reference,
        "windows": pipeline.totals.windows,
    }


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


def bench_jsonl(events: int, settings: Any, baseline: Any) -> dict[str, float]:
    path = jsonl_events(events)
    started = time.perf_counter()
    with path.open("rb") as lines:
        parsed = sum(1 for line in lines if orjson.loads(line) is not None)
    bare = time.perf_counter() - started
    summary = replay_file(settings, {"bench": baseline}, path, Discard())
    return {
        "events": parsed,
        "seconds": summary.seconds,
        "events_per_s": parsed / summary.seconds,
        "bare_orjson_seconds": bare,
        "ratio_vs_bare_orjson": summary.seconds / bare,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--json-events", type=int, default=200_000)
    args = parser.parse_args()
    tune_allocators()  # as the CLI does at start
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    CACHE.mkdir(parents=True, exist_ok=True)
    reference = pa.table(columns(200_000, seed=1))
    started = time.perf_counter()
    baseline = build_baseline(reference, model="bench", prediction="prediction")
    build_seconds = time.perf_counter() - started
    path = CACHE / "bench.baseline.json"
    baseline.save(path)
    settings = load_settings(
        None,
        models=[{"name": "bench", "baseline": path}],
        detectors={"prediction": [], "window_series": []},
    )
    parquet = bench_parquet(args.events, settings, baseline)
    jsonl = bench_jsonl(args.json_events, settings, baseline)
    print(f"baseline build, 200,000 rows x 20 features: {build_seconds:.2f} s")
    print(
        f"parquet replay (in memory), {parquet['events']:,} events: {parquet['seconds']:.2f} s = "
        f"{parquet['events_per_s']:,.0f} events/s (target >= 1,000,000); "
        f"{parquet['ratio_vs_bare_numpy']:.1f}x the bare numpy binning of the same columns"
    )
    print(
        f"jsonl replay, {jsonl['events']:,} events: {jsonl['seconds']:.2f} s = "
        f"{jsonl['events_per_s']:,.0f} events/s; ratio vs bare orjson.loads loop "
        f"{jsonl['ratio_vs_bare_orjson']:.2f} (target <= 1.5)"
    )
    print(json.dumps({"baseline_build_seconds": build_seconds, "parquet": parquet, "jsonl": jsonl}))


if __name__ == "__main__":
    main()
