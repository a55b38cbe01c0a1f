"""Start-up time of the ``driftwarden`` command, whole processes, as a user runs it.

Run: ``.venv/bin/python benchmarks/bench_startup.py [--attempts 21]``

Four commands, each run ``--attempts`` times as a fresh process, round-robin with the order
rotating every round so that machine load falls on all of them alike:

- ``python``: ``python -c pass``, the interpreter alone (the floor of any Python command);
- ``numpy+pyarrow``: ``python -c "import numpy, pyarrow"``, the columnar libraries a replay
  cannot do without (the floor of a replay);
- ``help``: ``driftwarden --help`` (target: median <= 0.15 s);
- ``replay-empty``: ``driftwarden replay --baseline B --input empty.jsonl --output report.jsonl``
  (target: median <= 0.3 s), with the demo's baseline (9 features, 6 segments, calibrated).

Printed: median, min and max wall seconds of each command; each command's median against the
floors measured in the same run; the verdict on each target (on the median); and, from one
extra ``-X importtime`` run of the empty replay (not timed), the import time by top-level
package. Raw figures: ``benchmarks/results/startup.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "startup.json"
DRIFTWARDEN = str(Path(sys.executable).with_name("driftwarden"))
#: Median wall seconds each command must stay within.
TARGETS = {"help": 0.15, "replay-empty": 0.3}


def commands(folder: Path) -> dict[str, list[str]]:
    """The timed commands, with the baseline and empty input they need written into ``folder``."""
    from baselines.build import build_baseline_file
    from monitor.demo.data import write_training

    baseline = folder / "baseline.json"
    build_baseline_file(
        write_training(folder),
        baseline,
        model="car-loan",
        prediction="y_pred_proba",
        label="repaid",
        segments=("platform", "region"),
    )
    empty = folder / "empty.jsonl"
    empty.write_bytes(b"")
    replay = ["replay", "--baseline", str(baseline), "--input", str(empty)]
    return {
        "python": [sys.executable, "-c", "pass"],
        "numpy+pyarrow": [sys.executable, "-c", "import numpy, pyarrow"],
        "help": [DRIFTWARDEN, "--help"],
        "replay-empty": [DRIFTWARDEN, *replay, "--output", str(folder / "report.jsonl")],
    }


def wall_seconds(command: list[str]) -> float:
    """Seconds from start to exit of one fresh process running ``command`` (which must succeed)."""
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def import_seconds_by_package(command: list[str]) -> dict[str, float]:
    """Self import time summed by top-level package, from one ``-X importtime`` run."""
    traced = [command[0], "-X", "importtime", *command[1:]]
    if command[0] == DRIFTWARDEN:
        traced = [sys.executable, "-X", "importtime", "-m", "monitor.cli", *command[1:]]
    stderr = subprocess.run(traced, check=True, capture_output=True, text=True).stderr
    totals: defaultdict[str, float] = defaultdict(float)
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _, name = line.removeprefix("import time:").split("|")
        totals[name.strip().split(".")[0]] += int(self_us) / 1e6
    return dict(sorted(totals.items(), key=lambda item: -item[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=21, help="runs of each command")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as folder:
        timed = commands(Path(folder))
        names = list(timed)
        runs: dict[str, list[float]] = {name: [] for name in names}
        for attempt in range(args.attempts):
            shift = attempt % len(names)
            for name in names[shift:] + names[:shift]:
                runs[name].append(wall_seconds(timed[name]))
        imports = import_seconds_by_package(timed["replay-empty"])
    medians = {name: statistics.median(seconds) for name, seconds in runs.items()}
    print(f"{'command':<14} {'median':>8} {'min':>8} {'max':>8}  vs python  vs numpy+pyarrow")
    for name in names:
        seconds = runs[name]
        print(
            f"{name:<14} {medians[name]:8.3f} {min(seconds):8.3f} {max(seconds):8.3f}"
            f"  {medians[name] / medians['python']:8.2f}x"
            f"  {medians[name] / medians['numpy+pyarrow']:8.2f}x"
        )
    verdicts = {name: medians[name] <= limit for name, limit in TARGETS.items()}
    for name, limit in TARGETS.items():
        state = "met" if verdicts[name] else "MISSED"
        print(f"target {name}: median {medians[name]:.3f} s <= {limit} s: {state}")
    print("empty replay, import seconds by package (one -X importtime run):")
    for package, seconds in list(imports.items())[:12]:
        print(f"  {package:<22} {seconds:.3f}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "attempts": args.attempts,
                "seconds": runs,
                "median": medians,
                "targets": TARGETS,
                "met": verdicts,
                "replay_empty_import_seconds": imports,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"raw results: {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
