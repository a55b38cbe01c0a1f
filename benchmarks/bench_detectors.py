"""Throughput of the online drift detectors: river's loop, our river wrappers, our numpy versions.

Run ``python benchmarks/bench_detectors.py [--values N]`` (default 10,000,000). ADWIN,
Page-Hinkley and CUSUM read a seeded gaussian stream (sd 0.1) whose mean shifts abruptly four
times; DDM reads seeded 0/1 error indicators whose rate rises from 0.1 to 0.3 halfway. Each
implementation is timed once on the whole stream; the script checks that the wrappers and the
numpy detectors report river's detection indices, prints a table, then one JSON line of the raw
figures.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from river import drift
from river.drift import binary

from detectors.online import ADWIN, DDM, CUSUMNumpy, DDMNumpy, PageHinkley, PageHinkleyNumpy

SEED = 20240601


@dataclass(frozen=True)
class Result:
    detector: str
    implementation: str
    values: int
    seconds: float
    detections: int

    @property
    def per_second(self) -> float:
        return self.values / self.seconds


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


def bench(n: int) -> list[Result]:
    gaussian, errors = gaussian_stream(n), error_stream(n)
    gaussian_list, errors_list = gaussian.tolist(), errors.tolist()
    results: list[Result] = []

    def record(
        detector: str, implementation: str, run: Callable[..., Any], *args: Any
    ) -> list[int]:
        start = time.perf_counter()
        hits = list(np.asarray(run(*args)).tolist())
        seconds = time.perf_counter() - start
        results.append(Result(detector, implementation, n, seconds, len(hits)))
        print(f"  {detector:<13} {implementation:<22} {seconds:8.2f} s", flush=True)
        return hits

    cases: list[tuple[str, Any, Any, Any, list[float], npt.NDArray[np.float64]]] = [
        ("adwin", drift.ADWIN, ADWIN, None, gaussian_list, gaussian),
        ("page_hinkley", drift.PageHinkley, PageHinkley, PageHinkleyNumpy, gaussian_list, gaussian),
        ("ddm", binary.DDM, DDM, DDMNumpy, errors_list, errors),
    ]
    for name, river_type, wrapper, numpy_type, as_list, as_array in cases:
        expected = record(name, "river loop", river_loop, river_type(), as_list)
        hits = record(name, "wrapper update_many", wrapper().update_many, as_array)
        if hits != expected:
            raise AssertionError(f"{name}: the wrapper's detections differ from river's")
        if numpy_type is not None:
            hits = record(name, "numpy update_many", numpy_type().update_many, as_array)
            if hits != expected:
                raise AssertionError(f"{name}: the numpy detections differ from river's")
    record("cusum", "numpy update_many", CUSUMNumpy().update_many, gaussian)
    return results


def table(results: list[Result]) -> str:
    river_speed = {r.detector: r.per_second for r in results if r.implementation == "river loop"}
    lines = [
        f"{'detector':<13} {'implementation':<22} {'values/s':>13} {'vs river':>9} "
        f"{'detections':>10}"
    ]
    for r in results:
        speedup = r.per_second / river_speed[r.detector] if r.detector in river_speed else None
        ratio = "-" if speedup is None else f"{speedup:.1f}x"
        lines.append(
            f"{r.detector:<13} {r.implementation:<22} {r.per_second:13,.0f} {ratio:>9} "
            f"{r.detections:>10}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=10_000_000, help="stream length")
    n = parser.parse_args().values
    print(f"timing on {n:,} values (seed {SEED}); river and numpy detections checked equal")
    results = bench(n)
    print()
    print(table(results))
    figures = [asdict(r) | {"values_per_second": r.per_second} for r in results]
    print(json.dumps({"benchmark": "online_detectors", "values": n, "results": figures}))


if __name__ == "__main__":
    main()
