"""Throughput of the online drift detectors: river's loop, our river wrappers, our numpy versions.

Run ``python benchmarks/bench_detectors.py [--values N] [--attempts 5]`` (default 10,000,000
values); the raw figures go to benchmarks/results/detectors.json. ADWIN, Page-Hinkley and CUSUM
read a seeded gaussian stream (sd 0.1) whose mean shifts abruptly four times; DDM reads seeded
0/1 error indicators whose rate rises from 0.1 to 0.3 halfway. Every implementation runs on the
whole stream ``--attempts`` times, in rounds of rotating order, each in this one thread; the
table gives medians with min and max and speeds on the medians (benchmarks/attempts.py). Every
attempt of the wrappers and the numpy detectors must report river's detection indices.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from attempts import rotation, spread
from bench_replay import cell
from river import drift
from river.drift import binary

from detectors.online import ADWIN, DDM, CUSUMNumpy, DDMNumpy, PageHinkley, PageHinkleyNumpy

SEED = 20240601
RESULTS = Path(__file__).resolve().parent / "results" / "detectors.json"


def gaussian_stream(n: int) -> npt.NDArray[np.float64]:
    """Gaussian values (sd 0.1) whose mean steps through 0, 1, -0.5, 0.5, 0 in equal parts."""
    rng = np.random.default_rng(SEED)
    means = np.array([0.0, 1.0, -0.5, 0.5, 0.0])
    return rng.normal(means[np.arange(n) * means.size // n], 0.1)


def error_stream(n: int) -> npt.NDArray[np.float64]:
    """0/1 error indicators at rate 0.1 for the first half, 0.3 for the second."""
    rng = np.random.default_rng(SEED + 1)
    rate = np.where(np.arange(n) < n // 2, 0.1, 0.3)
    return (rng.random(n) < rate).astype(np.float64)


def river_loop(detector: Any, values: list[float]) -> list[int]:
    """The plain loop a river user writes."""
    hits = []
    for i, x in enumerate(values):
        detector.update(x)
        if detector.drift_detected:
            hits.append(i)
    return hits


def bench(n: int, attempts: int) -> dict[str, Any]:
    """Every implementation's seconds per attempt and detection indices, checked against river's."""
    gaussian, errors = gaussian_stream(n), error_stream(n)
    gaussian_list, errors_list = gaussian.tolist(), errors.tolist()
    cases: dict[tuple[str, str], Callable[[], Any]] = {
        ("adwin", "river loop"): lambda: river_loop(drift.ADWIN(), gaussian_list),
        ("adwin", "wrapper update_many"): lambda: ADWIN().update_many(gaussian),
        ("page_hinkley", "river loop"): lambda: river_loop(drift.PageHinkley(), gaussian_list),
        ("page_hinkley", "wrapper update_many"): lambda: PageHinkley().update_many(gaussian),
        ("page_hinkley", "numpy update_many"): lambda: PageHinkleyNumpy().update_many(gaussian),
        ("ddm", "river loop"): lambda: river_loop(binary.DDM(), errors_list),
        ("ddm", "wrapper update_many"): lambda: DDM().update_many(errors),
        ("ddm", "numpy update_many"): lambda: DDMNumpy().update_many(errors),
        ("cusum", "numpy update_many"): lambda: CUSUMNumpy().update_many(gaussian),
    }
    seconds: dict[tuple[str, str], list[float]] = {case: [] for case in cases}
    detections: dict[tuple[str, str], list[int]] = {}
    for attempt, case in rotation(list(cases), attempts):
        started = time.perf_counter()
        hits = list(np.asarray(cases[case]()).tolist())
        seconds[case].append(time.perf_counter() - started)
        print(f"  {attempt} {case[0]:<13} {case[1]:<22} {seconds[case][-1]:8.2f} s", flush=True)
        if detections.setdefault(case, hits) != hits:
            raise AssertionError(f"{case}: detections differ between attempts")
    for (detector, implementation), hits in detections.items():
        expected = detections.get((detector, "river loop"), hits)
        if hits != expected:
            raise AssertionError(f"{detector} {implementation}: detections differ from river's")
    return {
        f"{detector} / {implementation}": {
            "detector": detector,
            "implementation": implementation,
            "seconds": seconds[detector, implementation],
            "summary": spread(seconds[detector, implementation]),
            "detections": len(detections[detector, implementation]),
        }
        for detector, implementation in cases
    }


def table(results: dict[str, Any], n: int) -> str:
    river = {
        r["detector"]: r["summary"]["median"]
        for r in results.values()
        if r["implementation"] == "river loop"
    }
    lines = [
        f"{'detector':<13} {'implementation':<22} {'seconds: median (min-max)':>27} "
        f"{'values/s':>12} {'vs river':>9} {'detections':>10}"
    ]
    for r in results.values():
        median = r["summary"]["median"]
        speed = river[r["detector"]] / median if r["detector"] in river else None
        lines.append(
            f"{r['detector']:<13} {r['implementation']:<22} {cell(r['summary']):>27} "
            f"{n / median:12,.0f} {'-' if speed is None else f'{speed:.1f}x':>9} "
            f"{r['detections']:>10}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=10_000_000, help="stream length")
    parser.add_argument("--attempts", type=int, default=5)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    n = args.values
    print(f"timing on {n:,} values (seed {SEED}); river and numpy detections checked equal")
    results = bench(n, args.attempts)
    print()
    print(table(results, n))
    document = {
        "benchmark": "online_detectors",
        "values": n,
        "attempts": args.attempts,
        "cpus": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
        "results": results,
    }
    args.output.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    print(f"raw figures: {args.output}")


if __name__ == "__main__":
    main()
