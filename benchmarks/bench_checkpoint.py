"""Checkpoint of a loaded state: file size, time and peak memory of saving and restoring it.

Run: ``.venv/bin/python benchmarks/bench_checkpoint.py [--values 4000000] [--pending 1000000]
[--before 28bc958] [--attempts 3]``; raw figures go to benchmarks/results/checkpoint.json.

The state is what dominates a daemon's checkpoint under load: the prediction scores buffered
for the open windows (``--values`` of them over five hourly windows, as in the soak with 4 h of
allowed lateness; times, (partition, offset) tie-breaks and scores) and ``--pending``
predictions waiting for their label in the join (ids like ``e123456``, one segment field; 0
leaves the join out). Each attempt runs in a process of its own: it builds the state, then
saves it with :class:`monitor.state.checkpoint.CheckpointStore` and restores it, each step timed
and with its own peak resident set above the RSS before it (``VmHWM`` reset through
``/proc/self/clear_refs``); then the resident set left above the one before the save, with the
old state dropped for the restored one, before and after the free memory of glibc's malloc and
of the Arrow pool is returned to the kernel (what the daemon now does after each restore; done
by hand here, as the older code has no such call). The process sets its allocators as every
``driftwarden`` command does (``tune_allocators``). Two sides in rotating rounds: this tree,
and the code of commit ``--before`` (``git archive`` of monitor/, detectors/ and baselines/
under .cache/bench/).
"""

from __future__ import annotations

import argparse
import ctypes
import dataclasses
import gc
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "checkpoint.json"
sys.path.insert(0, str(ROOT / "benchmarks"))

from attempts import rotation, spread  # noqa: E402

BATCH = 5_000
WINDOWS = 5
HOUR_MS = 3_600_000
ORIGIN_MS = 1_796_342_400_000  # 2026-12-04T00:00Z: event times as long as real ones


def kib(field: str) -> int:
    """A ``kB`` field of this process's /proc status (VmRSS, VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/self/status has no {field}")


def measured(step: Any) -> tuple[Any, float, float, float]:
    """``step()``'s result, its seconds, its CPU seconds and its peak RSS above the RSS before
    it (MiB)."""
    gc.collect()
    Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
    before = kib("VmRSS")
    started, cpu = time.perf_counter(), time.process_time()
    result = step()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return result, seconds, cpu, (kib("VmHWM") - before) / 1024


def worker(values: int, pending: int) -> dict[str, Any]:
    """Build the state with the code first on sys.path, save and restore it; the figures."""
    import pyarrow as pa
    from bench_labels import batch

    from monitor.allocator import TOP_PAD_BYTES, tune_allocators
    from monitor.join.label_join import LabelJoin
    from monitor.state.checkpoint import CheckpointStore
    from monitor.window.value_buffers import ValueBuffers

    tune_allocators()  # as every driftwarden command does at start
    streams = ValueBuffers(("score",), HOUR_MS)
    rng = np.random.default_rng(7)
    for start in range(0, values, BATCH):
        n = min(BATCH, values - start)
        offsets = np.arange(start, start + n, dtype=np.int64)
        streams.add(
            "m",
            "v1",
            ORIGIN_MS + offsets * (WINDOWS * HOUR_MS) // values,
            pa.array(offsets % 4 * (1 << 40) + offsets // 4),
            {"score": rng.random(n)},
        )
    join = LabelJoin(
        horizon_ms=10**12,
        max_pending=max(1, pending),
        max_orphans=1_000,
        segment_fields=("platform",),
        prediction_kind="numeric",
        label_kind="numeric",
    )
    for start in range(0, pending, BATCH):
        predictions = batch(start, min(BATCH, pending - start), label=False)
        join.add_predictions(
            dataclasses.replace(predictions, event_time_ms=predictions.event_time_ms + ORIGIN_MS)
        )
    with tempfile.TemporaryDirectory() as folder:
        store = CheckpointStore(Path(folder) / "checkpoint.json")

        def save() -> None:
            state = {"score_values": streams.state(), "join": join.state()}
            store.save({"pipeline": state, "report_bytes": 0}, {"predictions:0": values})

        rss = kib("VmRSS") / 1024
        _, save_s, save_cpu_s, save_peak = measured(save)
        size = store.path.stat().st_size

        def restore() -> tuple[Any, Any]:
            loaded = store.load()
            assert loaded is not None
            state = loaded.state["pipeline"]
            return streams.restored(state["score_values"]), join.restored(state["join"])

        (streams, join), restore_s, restore_cpu_s, restore_peak = measured(restore)
    assert sum(len(p[0]) for parts in streams.buffers.values() for p in parts) == values
    gc.collect()
    retained = kib("VmRSS") / 1024 - rss
    pa.default_memory_pool().release_unused()  # what monitor.allocator.release_free_memory does
    ctypes.CDLL(None).malloc_trim(ctypes.c_size_t(TOP_PAD_BYTES))
    return {
        "rss_with_state_mib": rss,
        "file_mib": size / 2**20,
        "save_s": save_s,
        "save_cpu_s": save_cpu_s,
        "save_peak_above_rss_mib": save_peak,
        "restore_s": restore_s,
        "restore_cpu_s": restore_cpu_s,
        "restore_peak_above_rss_mib": restore_peak,
        "rss_after_restore_above_before_mib": retained,
        "same_after_releasing_free_memory_mib": kib("VmRSS") / 1024 - rss,
    }


def exported(revision: str) -> Path:
    """The Python packages of ``revision``, extracted once under .cache/bench/."""
    folder = ROOT / ".cache" / "bench" / f"checkpoint-code-{revision}"
    if not folder.exists():
        folder.mkdir(parents=True)
        archive = subprocess.run(
            ["git", "archive", revision, "monitor", "detectors", "baselines"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def attempt(code: Path, values: int, pending: int) -> dict[str, Any]:
    """One worker process with ``code`` first on its path."""
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            f"--worker={code}",
            f"--values={values}",
            f"--pending={pending}",
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=4_000_000)
    parser.add_argument("--pending", type=int, default=1_000_000)
    parser.add_argument("--before", default="28bc958", help="commit of the 'before' side")
    parser.add_argument("--attempts", type=int, default=3)
    parser.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.worker:
        sys.path.insert(0, str(args.worker))
        print(json.dumps(worker(args.values, args.pending)))
        return
    sides = {f"before ({args.before})": exported(args.before), "this tree": ROOT}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in sides}
    for _, name in rotation(list(sides), args.attempts):
        runs[name].append(attempt(sides[name], args.values, args.pending))
        print(name, runs[name][-1], flush=True)
    summary = {
        name: {key: spread([r[key] for r in results]) for key in results[0]}
        for name, results in runs.items()
    }
    document = {
        "benchmark": "checkpoint",
        "command": " ".join(["benchmarks/bench_checkpoint.py", *sys.argv[1:]]),
        "values": args.values,
        "pending": args.pending,
        "summary": summary,
        "attempts": runs,
    }
    args.output.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
