"""Replay with glibc's and pyarrow's allocator defaults, and with what the CLI sets instead.

Run: ``.venv/bin/python benchmarks/bench_allocator.py [--events 4000000] [--rounds 6]``

Each attempt is a fresh process that replays the same Parquet file through ``replay_file`` as
``driftwarden replay`` does, in one window, as the peers benchmark does (its data generator:
20 features, ``--events`` current rows against a baseline of 200,000 reference rows). Three
kinds of process take turns, the order rotating every round:

- ``default``: glibc's malloc and pyarrow's pool (mimalloc) as they start;
- ``pad``: glibc's heap top pad only (``monitor.allocator.keep_heap_top``);
- ``tuned``: what every ``driftwarden`` command sets at start (``tune_allocators``: the pad and
  jemalloc as pyarrow's pool).

Printed per attempt and as medians: replay seconds, minor page faults, system and user CPU
seconds, peak RSS; then each kind against ``default``. Raw figures:
``benchmarks/results/allocator.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from attempts import rotation, spread
from bench_kafka import proc_status_kib
from bench_replay import CACHE, Discard

from baselines.build import build_baseline_file
from monitor.allocator import keep_heap_top, tune_allocators
from monitor.app import load_baselines, replay_file
from monitor.config import load_settings

# The peers benchmark's model name and data generator, so both benchmarks replay the same data.
sys.path.insert(0, str(Path(__file__).resolve().parent / "peers"))
from common import MODEL
from data import CURRENT_SEED, REFERENCE_SEED, write_table

RESULTS = Path(__file__).resolve().parent / "results" / "allocator.json"
#: What each kind of process sets before it replays; each returns the names of the settings made.
SETTINGS: dict[str, Callable[[], tuple[str, ...]]] = {
    "default": lambda: (),
    "pad": lambda: ("glibc heap top pad",) if keep_heap_top() else (),
    "tuned": tune_allocators,
}
KINDS = tuple(SETTINGS)
REFERENCE_ROWS = 200_000
#: One window holding the whole file, as in the peers benchmark.
WINDOW = "3650d"


def prepare(events: int) -> tuple[Path, Path]:
    """The events file and the baseline file (generated once, kept in .cache/bench)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    data = CACHE / f"allocator-current-{events}.parquet"
    if not data.exists():
        write_table(data, events, CURRENT_SEED, shifted=True, events=True)
    reference = CACHE / f"allocator-reference-{REFERENCE_ROWS}.parquet"
    if not reference.exists():
        write_table(reference, REFERENCE_ROWS, REFERENCE_SEED, shifted=False, events=False)
    baseline = CACHE / "allocator.baseline.json"
    if not baseline.exists():
        build_baseline_file(reference, baseline, model=MODEL)
    return data, baseline


def child(kind: str, data: Path, baseline: Path) -> None:
    """One attempt: replay ``data`` and print its figures as one JSON line."""
    made = SETTINGS[kind]()
    settings = load_settings(
        None, models=[{"name": MODEL, "baseline": baseline}], windows={"size": WINDOW}
    )
    started = time.perf_counter()
    summary = replay_file(settings, load_baselines(settings), data, Discard())
    seconds = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    figures = {
        "kind": kind,
        "settings_made": list(made),
        "events": sum(summary.events.values()),
        "seconds": seconds,
        "minor_faults": usage.ru_minflt,
        "system_seconds": usage.ru_stime,
        "user_seconds": usage.ru_utime,
        # VmHWM: ru_maxrss would carry the parent's peak across fork and exec
        "peak_rss_mib": proc_status_kib(os.getpid(), "VmHWM") / 1024,
    }
    print(json.dumps(figures))


def attempt(kind: str, data: Path, baseline: Path) -> dict[str, Any]:
    argv = [sys.executable, __file__, "--child", kind, "--data", str(data)]
    done = subprocess.run(
        [*argv, "--baseline", str(baseline)], check=True, capture_output=True, text=True
    )
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def summarise(runs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Median, min and max of every figure, per kind."""
    keys = ("seconds", "minor_faults", "system_seconds", "user_seconds", "peak_rss_mib")
    return {
        kind: {k: spread([r[k] for r in runs if r["kind"] == kind]) for k in keys} for kind in KINDS
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=4_000_000)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--child", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--baseline", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.data, args.baseline)
        return
    data, baseline = prepare(args.events)
    runs = []
    print("round kind     replay s  minor faults  system s  user s  peak RSS MiB")
    for round_, kind in rotation(KINDS, args.rounds):
        run = attempt(kind, data, baseline)
        runs.append(run)
        print(
            f"{round_:>5} {kind:<8} {run['seconds']:8.2f} {run['minor_faults']:13,} "
            f"{run['system_seconds']:9.2f} {run['user_seconds']:7.2f} "
            f"{run['peak_rss_mib']:13.0f}"
        )
    medians = summarise(runs)
    print(f"medians over {args.rounds} rounds, {args.events:,} events:")
    default = {k: v["median"] for k, v in medians["default"].items()}
    for kind, spreads in medians.items():
        figures = {k: v["median"] for k, v in spreads.items()}
        print(
            f"  {kind:<8} {figures['seconds']:.2f} s, {figures['minor_faults']:,.0f} faults, "
            f"{figures['system_seconds']:.2f} s system, {figures['peak_rss_mib']:.0f} MiB; "
            f"default / {kind}: time {default['seconds'] / figures['seconds']:.2f}, faults "
            f"{default['minor_faults'] / figures['minor_faults']:.1f}, system time "
            f"{default['system_seconds'] / figures['system_seconds']:.2f}"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    document = {"events": args.events, "rounds": args.rounds, "runs": runs, "medians": medians}
    RESULTS.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
