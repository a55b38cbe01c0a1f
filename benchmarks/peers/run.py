"""Benchmark driftwarden against Evidently, whylogs, NannyML and river on the same data.

Run from the repository root: ``.venv/bin/python benchmarks/peers/run.py [--quick]``.

1. Builds (once) the peers' isolated venv under .cache/peers-venv from requirements.txt.
2. Generates the seeded data sets under .cache/peers-data (data.py): a 200,000-row reference,
   1,000,000- and 10,000,000-row current sets (16 numeric + 4 categorical features, 7 shifted),
   and 10,000,000-value detector streams. ``--quick`` uses 20,000 / 100,000 / 1,000,000 rows and
   200,000 values for a smoke run.
3. Runs every tool and workload in its own process (driftwarden from the project's .venv, the
   peers from theirs), measuring wall time, CPU time and peak RSS, with a time limit per run
   (``--limit``, default 600 s). Every side (driftwarden's build + replay, each peer workload,
   each detector implementation) gets the same ``--attempts`` (5), taken in rounds whose order
   rotates, so a slower spell of the shared machine falls on every side alike; the tables give
   each side's median with min and max, and ratios and verdicts on the medians
   (benchmarks/attempts.py). ``--peers-up-to ROWS`` leaves the peers out of the larger current
   sets (driftwarden still runs them, for the linearity target).
4. Writes the raw figures (benchmarks/results/peers.json) and the Markdown tables
   (benchmarks/peers/RESULTS.md), and prints the tables. A quick run writes both under
   .cache/peers-work instead, leaving the recorded results alone; with ``--record-quick`` it
   records them as benchmarks/results/peers-quick.json and benchmarks/peers/RESULTS-quick.md.

``--fixture`` instead regenerates tests/fixtures/peer_agreement.json (agreement.py, run with the
peers' interpreter); ``--render`` only rewrites the tables from the recorded raw figures.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from attempts import rotation
from common import QUIET_ENVIRONMENT
from data import stream_path, table_path
from environment import package_versions, peers_python
from measure import available_memory_bytes, measure
from table import render

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
DATA = ROOT / ".cache" / "peers-data"
WORK = ROOT / ".cache" / "peers-work"
PEER_PACKAGES = ("evidently", "whylogs", "nannyml", "river", "pandas", "numpy", "scipy", "pyarrow")
OUR_PACKAGES = ("driftwarden", "river", "numpy", "scipy", "pyarrow")
#: (detector, stream, driftwarden's river-backed name, driftwarden's numpy name or None)
DETECTOR_CASES = (
    ("adwin", "gaussian", "adwin", None),
    ("page_hinkley", "gaussian", "page_hinkley", "page_hinkley_np"),
    ("ddm", "errors", "ddm", "ddm_np"),
)
#: Peer drift workloads: (tool, workload, worker script, extra arguments).
PEER_CASES = (
    ("Evidently", 'DataDriftPreset(method="psi")', "work_evidently.py", ("--method", "psi")),
    ("Evidently", "DataDriftPreset() default tests", "work_evidently.py", ("--method", "default")),
    ("whylogs", "profile both + drift report", "work_whylogs.py", ()),
    ("NannyML", "UnivariateDriftCalculator(jensen_shannon)", "work_nannyml.py", ()),
)
#: Attempts of every side (driftwarden, each peer workload, each detector implementation): the
#: same number for all, taken in rounds of rotating order (benchmarks/attempts.py), summarised by
#: the median with min and max.
ATTEMPTS = 5


@dataclass(frozen=True)
class Sizes:
    """Rows and values of one benchmark run."""

    reference: int
    current: tuple[int, ...]
    values: int


FULL = Sizes(reference=200_000, current=(1_000_000, 10_000_000), values=10_000_000)
QUICK = Sizes(reference=20_000, current=(100_000, 1_000_000), values=200_000)


class Harness:
    """Runs the workers and collects one record per process."""

    def __init__(self, ours: Path, peers: Path, limit_seconds: float) -> None:
        self.ours = ours
        self.peers = peers
        self.limit_seconds = limit_seconds
        self.runs: list[dict[str, Any]] = []
        self.env = environment()

    def run(
        self, python: Path, script: str, arguments: Sequence[str], **labels: Any
    ) -> dict[str, Any]:
        """Run one worker and record its measurement under ``labels``."""
        name = "-".join(str(v) for v in labels.values()).replace(" ", "_").replace("/", "_")
        result = WORK / f"{name}.result.json"
        argv = [str(python), str(HERE / script), *arguments, "--result", str(result)]
        load = os.getloadavg()[0]
        measured = measure(
            argv,
            result_path=result,
            log_path=WORK / f"{name}.log",
            env=self.env,
            limit_seconds=self.limit_seconds,
        )
        record = {
            **labels,
            "status": measured.status,
            "wall_seconds": measured.wall_seconds,
            "cpu_seconds": measured.cpu_seconds,
            "peak_rss_mib": measured.peak_rss_mib,
            "load_average_before": load,
            **measured.result,
        }
        if not measured.ok:
            record["log_tail"] = measured.log
        work = record.get("work_seconds")
        shown = f"{work:8.2f} s work" if work is not None else f"{measured.status:>15}"
        print(
            f"  {labels.get('tool', ''):<11} {labels.get('workload', ''):<44} "
            f"{labels.get('rows', labels.get('values', '')):>10,} {shown} "
            f"{measured.wall_seconds:8.2f} s wall {measured.peak_rss_mib:8.0f} MiB",
            flush=True,
        )
        self.runs.append(record)
        return record


@dataclass(frozen=True)
class Case:
    """One side of the drift comparison at one current-set size: driftwarden's build then
    replay (two processes, one attempt), or one peer workload (one process)."""

    tool: str
    workload: str
    rows: int
    script: str = ""
    extra: tuple[str, ...] = ()

    def run(self, harness: Harness, attempt: int, reference: Path) -> None:
        current = table_path(DATA, "current", self.rows)
        if self.tool != "driftwarden":
            harness.run(
                harness.peers,
                self.script,
                ["--reference", str(reference), "--current", str(current), *self.extra],
                tool=self.tool,
                workload=self.workload,
                rows=self.rows,
                attempt=attempt,
            )
            return
        baseline = WORK / f"baseline-{self.rows}.json"
        labels = {"tool": "driftwarden", "rows": self.rows, "attempt": attempt}
        arguments = ["--reference", str(reference), "--baseline", str(baseline)]
        harness.run(
            harness.ours, "work_driftwarden.py", ["build", *arguments], workload="build", **labels
        )
        report = WORK / f"report-{self.rows}.jsonl"
        arguments = [
            "--current",
            str(current),
            "--baseline",
            str(baseline),
            "--report",
            str(report),
        ]
        harness.run(
            harness.ours, "work_driftwarden.py", ["replay", *arguments], workload="replay", **labels
        )


def drift_workloads(harness: Harness, sizes: Sizes, attempts: int, peers_up_to: int) -> None:
    """Every case, ``attempts`` times, in rotating rounds; peers only up to ``peers_up_to`` rows."""
    reference = table_path(DATA, "reference", sizes.reference)
    cases = []
    for rows in sizes.current:
        cases.append(Case("driftwarden", "build + replay", rows))
        if rows <= peers_up_to:
            cases += [
                Case(tool, workload, rows, script, extra)
                for tool, workload, script, extra in PEER_CASES
            ]
    for attempt, case in rotation(cases, attempts):
        case.run(harness, attempt, reference)


def detector_workloads(harness: Harness, sizes: Sizes, attempts: int) -> None:
    """Every detector implementation, ``attempts`` times, in rotating rounds; each attempt's
    detection indices are compared with river's of the same attempt."""
    cases = [
        (detector, stream, tool, python, script, name)
        for detector, stream, wrapper, vectorised in DETECTOR_CASES
        for tool, python, script, name in (
            ("river", harness.peers, "work_river.py", detector),
            ("driftwarden", harness.ours, "work_detectors.py", wrapper),
            ("driftwarden", harness.ours, "work_detectors.py", vectorised),
        )
        if name is not None
    ]
    records = []
    for attempt, (detector, stream, tool, python, script, name) in rotation(cases, attempts):
        path = WORK / f"indices-{tool}-{name}-{attempt}.npy"
        record = harness.run(
            python,
            script,
            [
                *("--detector", name),
                *("--stream", str(stream_path(DATA, stream, sizes.values))),
                *("--indices", str(path)),
            ],
            tool=tool,
            workload=f"detector {name}",
            detector=detector,
            implementation=name,
            values=sizes.values,
            attempt=attempt,
        )
        if record["status"] == "ok":
            record["detection_indices"] = np.load(path).tolist()
        records.append(record)
    river = {
        (r["detector"], r["attempt"]): r.get("detection_indices")
        for r in records
        if r["tool"] == "river"
    }
    for record in records:
        expected = river[record["detector"], record["attempt"]]
        found = record.get("detection_indices")
        record["same_indices_as_river"] = (
            None if expected is None or found is None else found == expected
        )


def environment() -> dict[str, str]:
    """The workers' environment: ours, with the peers' usage analytics turned off."""
    return {**os.environ, **QUIET_ENVIRONMENT}


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "available_memory_gib_at_start": round(available_memory_bytes() / 2**30, 1),
        "load_average_at_start": os.getloadavg(),
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small data for a smoke run")
    parser.add_argument("--limit", type=float, default=600.0, help="seconds per run (600)")
    parser.add_argument(
        "--attempts", type=int, default=ATTEMPTS, help=f"attempts of every side ({ATTEMPTS})"
    )
    parser.add_argument(
        "--peers-up-to",
        type=int,
        default=sys.maxsize,
        metavar="ROWS",
        help="run the peers only on current sets of at most ROWS rows (driftwarden on all)",
    )
    parser.add_argument(
        "--only", choices=("drift", "detectors"), help="run one of the two workload groups"
    )
    parser.add_argument(
        "--fixture",
        action="store_true",
        help="only regenerate tests/fixtures/peer_agreement.json with the peers (agreement.py)",
    )
    parser.add_argument(
        "--render",
        action="store_true",
        help="only rewrite the Markdown tables from the recorded peers.json",
    )
    parser.add_argument(
        "--record-quick",
        action="store_true",
        help="with --quick: record under benchmarks/results/peers-quick.json and RESULTS-quick.md",
    )
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    name = "peers-quick.json" if args.quick else "peers.json"
    recorded = not args.quick or args.record_quick
    results = ROOT / "benchmarks" / "results" / name if recorded else WORK / name
    markdown = (HERE if recorded else WORK) / ("RESULTS-quick.md" if args.quick else "RESULTS.md")
    if args.render:
        document = json.loads(results.read_text(encoding="utf-8"))
        markdown.write_text(render(document), encoding="utf-8")
        print(f"wrote {markdown}")
        return
    WORK.mkdir(parents=True, exist_ok=True)
    peers = peers_python(ROOT)
    if args.fixture:
        subprocess.run([str(peers), str(HERE / "agreement.py")], check=True, env=environment())
        return
    print("generating data (seeded; kept in .cache/peers-data)", flush=True)
    subprocess.run(
        [
            sys.executable,
            str(HERE / "data.py"),
            "--out",
            str(DATA),
            "--reference",
            str(sizes.reference),
            "--current",
            *map(str, sizes.current),
            "--values",
            str(sizes.values),
        ],
        check=True,
    )
    harness = Harness(Path(sys.executable), peers, args.limit)
    started = datetime.datetime.now(datetime.UTC)
    at_start = machine()
    if args.only in (None, "drift"):
        drift_workloads(harness, sizes, args.attempts, args.peers_up_to)
    if args.only in (None, "detectors"):
        detector_workloads(harness, sizes, args.attempts)
    document = {
        "benchmark": "peers",
        "quick": args.quick,
        "started": started.isoformat(timespec="seconds"),
        "limit_seconds": args.limit,
        "attempts": args.attempts,
        "peers_up_to_rows": None if args.peers_up_to == sys.maxsize else args.peers_up_to,
        "machine": at_start | {"load_average_at_end": os.getloadavg()},
        "versions": {
            "peers": package_versions(peers, PEER_PACKAGES),
            "driftwarden_venv": package_versions(Path(sys.executable), OUR_PACKAGES),
        },
        "sizes": {
            "reference_rows": sizes.reference,
            "current_rows": list(sizes.current),
            "detector_values": sizes.values,
        },
        "runs": harness.runs,
    }
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    text = render(document)
    markdown.write_text(text, encoding="utf-8")
    print()
    print(text)
    print(f"raw figures: {results}; tables: {markdown}")


if __name__ == "__main__":
    main()
