"""The label join: memory and speed, and how often error-stream detectors fire on stable labels.

Run: ``.venv/bin/python benchmarks/bench_labels.py [--pending 1000000] [--labels 50000]``; the raw
figures go to benchmarks/results/labels.json. No comparison here, so one run of each.

1. Memory: RSS growth of a process holding ``--pending`` predictions waiting for their label
   (ids like ``e123456``, one segment field), the size of the join's checkpoint part and the
   time to serialise it, and the time to join as many labels (5,000 per batch).
2. False alarms: every registered error-stream detector over ``--labels`` seeded stable labels
   of a calibrated classifier (accuracy about 0.67), on the 0/1 error or the absolute error as
   configured by default; the number of detections each reports (any is a false alarm).
"""

from __future__ import annotations

import argparse
import gc
import json
import time
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa

from detectors.online import make_detector
from monitor.batches import EventBatch
from monitor.join.label_join import LabelJoin

BATCH = 5_000
RESULTS = Path(__file__).resolve().parent / "results" / "labels.json"


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096 / 2**20


def batch(start: int, n: int, *, label: bool) -> EventBatch:
    ids = pa.array([f"e{i}" for i in range(start, start + n)])
    common = {
        "event_time_ms": np.arange(start, start + n, dtype=np.int64) + (1_000 if label else 0),
        "partition": np.full(n, int(label), np.int64),
        "offset": np.arange(n, dtype=np.int64),
        "model": pa.array(["car-loan"] * n),
        "event_id": ids,
    }
    if label:
        return EventBatch(**common, model_version=pa.nulls(n, pa.string()), label=np.ones(n))
    return EventBatch(
        **common,
        model_version=pa.array(["v3"] * n),
        segments={"platform": pa.array(["ios"] * n)},
        prediction=np.random.default_rng(start).random(n),
    )


def join_memory(pending: int) -> dict[str, float]:
    join = LabelJoin(
        horizon_ms=10**12,
        max_pending=pending,
        max_orphans=1_000,
        segment_fields=("platform",),
        prediction_kind="numeric",
        label_kind="numeric",
    )
    gc.collect()
    before = rss_mib()
    for start in range(0, pending, BATCH):
        join.add_predictions(batch(start, BATCH, label=False))
    gc.collect()
    grown = rss_mib() - before
    started = time.perf_counter()
    state = orjson.dumps(join.state())
    serialise = time.perf_counter() - started
    started = time.perf_counter()
    for start in range(0, pending, BATCH):
        join.add_labels(batch(start, BATCH, label=True))
    return {
        "pending": pending,
        "rss_growth_mib": grown,
        "checkpoint_mib": len(state) / 2**20,
        "checkpoint_seconds": serialise,
        "join_seconds": time.perf_counter() - started,
        "joined": join.stats.joined["car-loan"],
    }


def false_alarms(labels: int) -> dict[str, int]:
    rng = np.random.default_rng(5)
    score = 1 / (1 + np.exp(-rng.normal(0, 1, labels)))
    truth = rng.random(labels) < score
    streams = {"error": ((score >= 0.5) != truth).astype(float), "abs_error": np.abs(score - truth)}
    out = {}
    for name, stream in (
        ("ddm_np", "error"),
        ("ddm", "error"),
        ("eddm", "error"),
        ("hddm_a", "error"),
        ("hddm_w", "error"),
        ("adwin", "abs_error"),
        ("page_hinkley_np", "abs_error"),
    ):
        out[f"{stream}_{name}"] = len(make_detector(name).update_many(streams[stream]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pending", type=int, default=1_000_000)
    parser.add_argument("--labels", type=int, default=50_000)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    memory = join_memory(args.pending)
    print(
        f"{memory['pending']:,} waiting predictions: RSS +{memory['rss_growth_mib']:.0f} MiB; "
        f"checkpoint part {memory['checkpoint_mib']:.0f} MiB in {memory['checkpoint_seconds']:.2f}"
        f" s; joining as many labels {memory['join_seconds']:.2f} s"
    )
    alarms = false_alarms(args.labels)
    print(f"detections on {args.labels:,} stable labels: {alarms}")
    document = {"benchmark": "labels", "join": memory, "false_alarms": alarms}
    args.output.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    print(f"raw figures: {args.output}")


if __name__ == "__main__":
    main()
