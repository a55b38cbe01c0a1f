"""State left by a hostile stream: every version, segment value, feature name and event id new.

Run: ``.venv/bin/python benchmarks/bench_hostile_volume.py [--events 200000 1000000]``

For each size, a fresh pipeline (one model, the default caps, one segment field) replays
predictions in batches of 10,000 in which every model version, segment value, unknown feature
name and event id is new, one in 201 of an unconfigured model; once without label topics and
once with them (so that every prediction waits for a label that never comes). Printed per run:
the Python allocations left after the stream and their peak during it (``tracemalloc``), the
seconds, and the waiting predictions.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa

from baselines.build import build_baseline
from monitor.batches import RawRecords
from monitor.config import load_settings
from monitor.logs import configure_logging
from monitor.pipeline import Pipeline

HOUR = 3_600_000
T0 = 1_554_076_800_000
BATCH = 10_000
UNCONFIGURED = 1_000


def _message(i: int, events: int) -> bytes:
    stranger = i % 201 == 200
    return orjson.dumps(
        {
            "event_id": f"e{i}",
            "model": f"stranger-{i % UNCONFIGURED}" if stranger else "m",
            "model_version": f"v{i}",
            "timestamp": T0 + i * (4 * HOUR // events),
            "features": {"x": 0.5, "color": "red", f"new-{i}": 1},
            "prediction": 0.5,
            "segments": {"platform": f"p{i}"},
        }
    )


RESULTS = Path(__file__).resolve().parent / "results" / "hostile_volume.json"


def _run(baseline_path: Path, baseline: object, events: int, labels: bool) -> dict[str, object]:
    settings = load_settings(
        None,
        models=[{"name": "m", "baseline": baseline_path}],
        windows={"size": "1h", "allowed_lateness": "0s"},
        segments={"fields": ["platform"]},
        kafka={"prediction_topics": ["p"], "label_topics": ["l"] if labels else []},
    )
    pipeline = Pipeline(settings, {"m": baseline}, [])  # type: ignore[dict-item]
    messages = [_message(i, events) for i in range(events)]
    tracemalloc.start()
    started = time.perf_counter()
    for start in range(0, events, BATCH):
        values = messages[start : start + BATCH]
        n = len(values)
        offsets = np.arange(start, start + n, dtype=np.int64)
        batch = RawRecords(values, np.zeros(n, np.int64), offsets, np.full(n, -1, np.int64))
        pipeline.process_records(batch, T0 + 10 * HOUR)
    pipeline.finish()
    seconds = time.perf_counter() - started
    left, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "events": events,
        "label_topics": labels,
        "left_mib": left / 2**20,
        "peak_mib": peak / 2**20,
        "seconds": seconds,
        "waiting_predictions": len(pipeline.stage1.join.pending),
    }


def _line(run: dict[str, object]) -> str:
    return (
        f"{run['events']:>9,} events, label topics {'on ' if run['label_topics'] else 'off'}: "
        f"{run['left_mib']:6.1f} MiB left, peak {run['peak_mib']:6.1f} MiB, "
        f"{run['seconds']:5.1f} s, {run['waiting_predictions']:,} waiting predictions"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, nargs="+", default=[200_000, 1_000_000])
    args = parser.parse_args()
    # logging set up (and its library loaded) before tracemalloc starts, and quiet: otherwise the
    # first reject's log line would count the logging library as state left by the stream
    configure_logging("error")
    rng = np.random.default_rng(3)
    x = rng.normal(0, 1, 5_000)
    training = pa.table(
        {
            "x": x,
            "color": rng.choice(["red", "green"], 5_000),
            "platform": rng.choice(["ios", "android"], 5_000),
            "score": 1 / (1 + np.exp(-x)),
        }
    )
    baseline = build_baseline(
        training, model="m", prediction="score", segments=("platform",), window_sizes=(100,)
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "m.json"
        baseline.save(path)
        _run(path, baseline, 2 * BATCH, True)  # warm-up: libraries loaded on first use not counted
        runs = []
        for events in args.events:
            for labels in (False, True):
                runs.append(_run(path, baseline, events, labels))
                print(_line(runs[-1]), flush=True)
    RESULTS.write_text(json.dumps({"runs": runs}, indent=2) + "\n")
    print(f"raw results: {RESULTS}")


if __name__ == "__main__":
    main()
