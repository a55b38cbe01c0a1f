"""Driftwarden's side of the drift-score workload, run from the project's .venv.

Two steps, one process each, as a user runs ``driftwarden baseline build`` then
``driftwarden replay``; both start as the CLI does (``tune_allocators``: glibc's heap top pad,
jemalloc for pyarrow) and call the functions those commands call:

- ``build --reference R --baseline B --result J``: ``build_baseline_file`` (read, bin, count,
  calibrate, save).
- ``replay --current C --baseline B --report O --result J``: ``replay_to_file`` with one window
  of 3650 days, so the whole file is one window scored once against the baseline. The result
  also holds ``batch_clock``: the wait for the first batch and for all batches, and the time
  the pipeline spent per batch (sum and median), so fixed and per-row costs can be told apart.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from common import MODEL, Phases, emit, verdict

#: One event-time window that holds the whole current set.
WINDOW = "3650d"
#: Driftwarden's default PSI warning threshold. The verdict uses it directly: alert levels need
#: several consecutive windows, and this workload has one.
WARNING_PSI = 0.1


def build(args: argparse.Namespace) -> None:
    phases = Phases()
    with phases("import"):
        from baselines.build import build_baseline_file
        from monitor.allocator import tune_allocators

        tune_allocators()
    with phases("build"):
        baseline = build_baseline_file(args.reference, args.baseline, model=MODEL)
    emit(
        args.result,
        phases,
        ("build",),
        features=len(baseline.features),
        reference_rows=baseline.rows,
    )


class BatchClock:
    """Times a batch source: how long each batch was waited for, and how long the pipeline
    worked on it before asking for the next (so fixed and per-row costs can be told apart)."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.work: list[float] = []

    def timed(self, batches: Iterator[Any]) -> Iterator[Any]:
        handed_out = None
        while True:
            asked = time.perf_counter()
            if handed_out is not None:
                self.work.append(asked - handed_out)
            batch = next(batches, None)
            if batch is None:
                return
            handed_out = time.perf_counter()
            self.waits.append(handed_out - asked)
            yield batch

    def figures(self) -> dict[str, float]:
        return {
            "batches": len(self.waits),
            "first_batch_wait_seconds": self.waits[0] if self.waits else 0.0,
            "reader_wait_seconds": sum(self.waits),
            "batch_work_seconds": sum(self.work),
            "batch_work_median_ms": statistics.median(self.work) * 1e3 if self.work else 0.0,
        }


def replay(args: argparse.Namespace) -> None:
    phases = Phases()
    clock = BatchClock()
    with phases("import"):
        import monitor.runtime.replay
        from monitor.allocator import tune_allocators
        from monitor.app import load_baselines, replay_to_file
        from monitor.config import load_settings

        tune_allocators()
        read = monitor.runtime.replay.iter_file
        monitor.runtime.replay.iter_file = lambda *a, **k: clock.timed(read(*a, **k))  # type: ignore[assignment]
    with phases("replay"):
        settings = load_settings(
            None, models=[{"name": MODEL, "baseline": args.baseline}], windows={"size": WINDOW}
        )
        summary = replay_to_file(settings, load_baselines(settings), args.current, args.report)
    windows = [
        record
        for record in map(json.loads, args.report.read_text(encoding="utf-8").splitlines())
        if record["kind"] == "window" and record["segment"] == ""
    ]
    if len(windows) != 1:
        raise SystemExit(f"expected one overall window in {args.report}, found {len(windows)}")
    emit(
        args.result,
        phases,
        ("replay",),
        events=sum(summary.events.values()),
        batch_clock=clock.figures(),
        rejected=sum(summary.rejected.values()),
        scores=scores(windows[0]["features"]),
    )


def scores(features: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """PSI per feature, drift when it reaches ``WARNING_PSI``; JS alongside."""
    return {
        name: verdict(values["psi"], values["psi"] >= WARNING_PSI, "psi") | {"js": values["js"]}
        for name, values in sorted(features.items())
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    steps = parser.add_subparsers(dest="step", required=True)
    build_step = steps.add_parser("build")
    build_step.add_argument("--reference", type=Path, required=True)
    build_step.add_argument("--baseline", type=Path, required=True)
    build_step.add_argument("--result", type=Path, required=True)
    replay_step = steps.add_parser("replay")
    replay_step.add_argument("--current", type=Path, required=True)
    replay_step.add_argument("--baseline", type=Path, required=True)
    replay_step.add_argument("--report", type=Path, required=True)
    replay_step.add_argument("--result", type=Path, required=True)
    args = parser.parse_args()
    (build if args.step == "build" else replay)(args)


if __name__ == "__main__":
    main()
