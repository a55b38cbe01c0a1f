"""Bytes and costs of the stage 1 → stage 2 records (docs/scale-out.md, "Sizing").

Run: ``.venv/bin/python benchmarks/bench_exchange.py [--events 5000]``; the raw figures go to
benchmarks/results/exchange.json. No comparison here, so one run of each (medians of repeats for
the timings).

The model: 20 features (15 numeric with 10 bins, 5 categorical with 60 values, top 50 kept), a
score and a 0/1 label, so classification performance; one segment field with 10 values, so 11
window parts (overall and one per value). One commit cycle of one source partition is
``--events`` events in one window; the partial is measured without and with the score values of
the prediction detectors, encoded, and compressed as the producer would (gzip, Kafka's codec
that needs no extra package). Stage 2's cost per window is the merge of the partials of 1 … 256
source partitions of that window (decode and sum).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa

from baselines.build import build_baseline
from baselines.values import Baseline
from monitor.batches import EventBatch
from monitor.exchange import handover
from monitor.exchange.records import Mark, Partial, decode, encode, merge
from monitor.window.slot_layout import ModelLayout
from monitor.window.windower import WindowCounter

HOUR = 3_600_000
NUMERIC, CATEGORICAL, SEGMENT_VALUES = 15, 5, 10
RESULTS = Path(__file__).resolve().parent / "results" / "exchange.json"


def columns(rows: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    data = {f"n{i}": rng.normal(0, 1, rows) for i in range(NUMERIC)}
    for i in range(CATEGORICAL):
        data[f"c{i}"] = rng.choice([f"v{j}" for j in range(60)], rows)
    score = 1 / (1 + np.exp(-data["n0"]))
    data["score"] = score
    data["label"] = (rng.random(rows) < score).astype(np.int64)
    data["region"] = rng.choice([f"r{j}" for j in range(SEGMENT_VALUES)], rows)
    return data


def events(n: int, seed: int) -> EventBatch:
    data = columns(n, seed)
    return EventBatch(
        event_time_ms=np.sort(np.random.default_rng(seed).integers(0, HOUR, n)),
        partition=np.zeros(n, np.int64),
        offset=np.arange(n, dtype=np.int64),
        model=pa.array(["m"] * n),
        model_version=pa.array(["v1"] * n),
        event_id=pa.array([f"e{i}" for i in range(n)]),
        segments={"region": pa.array(data["region"])},
        numeric={f"n{i}": data[f"n{i}"] for i in range(NUMERIC)},
        categorical={f"c{i}": pa.array(data[f"c{i}"]) for i in range(CATEGORICAL)},
        prediction=data["score"],
        label=pa.array(data["label"].astype(str)),
    )


def cycle_partial(layout: ModelLayout, n: int, seed: int, *, values: bool) -> Partial:
    """The partial one source partition sends for ``n`` events of one window."""
    counter = WindowCounter(
        {"m": layout},
        size_ms=HOUR,
        allowed_lateness_ms=0,
        segment_fields=("region",),
        buffer_scores=values,
    )
    counter.add(events(n, seed))
    (partial,) = handover.drain(counter, "sha256:" + "0" * 64)
    return replace(partial, source=seed, end=n)


def model_baseline() -> Baseline:
    """The benchmark model's baseline, from 20,000 training rows."""
    return build_baseline(
        pa.table(columns(20_000, seed=1)),
        model="m",
        prediction="score",
        label="label",
        segments=("region",),
        window_sizes=(1000,),
        replicates=50,
    )


def model_layout() -> ModelLayout:
    """The benchmark model's slot layout."""
    return ModelLayout(model_baseline())


def median_seconds(step: object, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        step()  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5_000)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    layout = model_layout()
    counts_only = encode(cycle_partial(layout, args.events, 0, values=False))
    scored = cycle_partial(layout, args.events, 0, values=True)
    with_values = encode(scored)
    mark = encode(Mark("sha256:" + "0" * 64, 100_003, 53_712, 1_554_199_872_000, False))
    merges = {}
    for sources in (1, 4, 16, 64, 256):
        sent = [encode(cycle_partial(layout, 500, s, values=False)) for s in range(sources)]
        merges[sources] = median_seconds(lambda sent=sent: merge(decode(d) for d in sent))  # type: ignore[misc]
    document = {
        "events_per_partial": args.events,
        "slots": {"counts": layout.size, "performance": layout.performance_size},
        "window_parts": 1 + SEGMENT_VALUES,
        "partial_counts_only_bytes": len(counts_only),
        "partial_counts_only_gzip_bytes": len(zlib.compress(counts_only, 6)),
        "partial_with_scores_bytes": len(with_values),
        "partial_with_scores_gzip_bytes": len(zlib.compress(with_values, 6)),
        "score_bytes_per_event": (len(with_values) - len(counts_only)) / args.events,
        "score_gzip_bytes_per_event": (
            len(zlib.compress(with_values, 6)) - len(zlib.compress(counts_only, 6))
        )
        / args.events,
        "mark_bytes": len(mark),
        "encode_seconds_with_scores": median_seconds(lambda: encode(scored)),
        "decode_seconds_with_scores": median_seconds(lambda: decode(with_values)),
        "stage2_merge_seconds_per_window_by_sources": merges,
    }
    args.output.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(document, indent=1))


if __name__ == "__main__":
    main()
