"""What a stage-2 snapshot costs, against the one-process checkpoint of the same state (issue 15).

Run: ``.venv/bin/python benchmarks/bench_stage_two_snapshot.py [--attempts 5]
[--cases 1x10000 1x100000 10x10000 10x100000 100x10000]``; raw figures go to
benchmarks/results/stage_two_snapshot.json.

A case ``MxK`` is M models, all hashed to exchange partition 0 (of the default 12), so the
snapshot measured is that of one partition holding every model, the state the one-process
checkpoint holds too. Each model is bench_exchange's: 20 features, a score and a 0/1 label, one
segment field with 10 values (11 window parts). With the default detectors (a prediction detector
on every score, four on the joined pairs' errors, one on the window series), hourly windows and
the default 5 min allowed lateness, each model gets 1,000 events in each of three windows that
close (so levels, window series and the metrics store's latest windows exist) and then K events
in a fourth that stays open. Every prediction's label follows in a label topic 60 s later (event
time) with its 16-hex-character event id, so the open window buffers a score per event and two
pair errors per event, each with its time and tie-break (offsets start at 2³¹, so an event's
tie-break takes 8 bytes, as on every source partition but partition 0).

The same polls (predictions of one source partition as a table, then their labels as JSON
messages of one label partition) are fed to two processes in memory:

- ``stage2``: a scaled-out process (``monitor.app.exchange_stages``) whose stage 1 publishes a
  commit cycle after every poll (partials and marks, encoded and decoded as on the exchange),
  read by its stage 2, which owns partition 0 and writes to the metrics store (LatestWindows).
  Taken: ``StageTwoPartitions.snapshot`` (levels, detectors, counts, marks, ledger and the
  metrics store's windows of its models; no window contents); restored: ``assign`` +
  ``restore`` in a fresh process's stages, which decodes the partition's records from the
  snapshot's ``replay_from`` on and refills the open windows from them, as a process taking the
  partition over does (here from memory, not from the broker). The restored open windows are
  checked equal to the original's.
- ``checkpoint`` (the reference): a one-process ``Pipeline`` with the same sinks. Taken:
  ``monitor.state.snapshot.snapshot`` in the document ``CheckpointStore.save`` serialises (as
  the daemon saves it, without the file write and fsync); restored: that document parsed and
  ``restore`` into a fresh pipeline.

Per case and side, in rotating rounds, ``--attempts`` each: the seconds to take and to restore
(a fresh process's objects are built outside the clock), and the peak resident set of each step
above the one before it (``VmHWM`` reset through ``/proc/self/clear_refs``, both allocators'
free memory given back to the kernel first; allocators set as every ``driftwarden`` command
sets them). Sizes are exact (the same every attempt).
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "stage_two_snapshot.json"
sys.path.insert(0, str(ROOT / "benchmarks"))

from attempts import rotation, spread  # noqa: E402
from bench_checkpoint import measured  # noqa: E402
from bench_exchange import CATEGORICAL, NUMERIC, columns, model_baseline  # noqa: E402

from baselines.values import Baseline  # noqa: E402
from monitor.allocator import tune_allocators  # noqa: E402
from monitor.app import ExchangeStages, exchange_stages  # noqa: E402
from monitor.batches import RawRecords  # noqa: E402
from monitor.config import Settings, load_settings  # noqa: E402
from monitor.exchange import handover  # noqa: E402
from monitor.exchange.partitioner import partition_of  # noqa: E402
from monitor.exchange.reader import Received  # noqa: E402
from monitor.exchange.records import decode, encode  # noqa: E402
from monitor.exchange.stage_one_tasks import task_of  # noqa: E402
from monitor.pipeline import Pipeline  # noqa: E402
from monitor.sinks.latest_windows import LatestWindows  # noqa: E402
from monitor.sources.kafka import TOPIC_STRIDE  # noqa: E402
from monitor.state.snapshot import restore, snapshot  # noqa: E402

HOUR = 3_600_000
T0 = 1_796_342_400_000  # 2026-12-04T00:00Z
NOW = T0 + 10 * HOUR
LABEL_DELAY = 60_000
CLOSED_WINDOWS, CLOSED_EVENTS = 3, 1_000
POLL = 50_000  # rows per poll, and a commit cycle after each
PREDICTIONS, LABELS = 0, TOPIC_STRIDE  # the source partition ids of the two topics
TASK = task_of(PREDICTIONS)  # stage 1's task of both
PARTITION = 0  # the exchange partition measured
FIRST_OFFSET = 1 << 31  # of both source partitions


def settings_for(models: list[str]) -> Settings:
    """Defaults, scale-out on, a prediction and a label topic, the segment field."""
    return load_settings(
        None,
        models=[{"name": m, "baseline": f"{m}.json"} for m in models],
        segments={"fields": ["region"]},
        kafka={
            "prediction_topics": ["predictions"],
            "label_topics": ["labels"],
            "group_instance_id": "bench",
        },
        exchange={"enabled": True},
    )


def model_names(count: int, partitions: int) -> list[str]:
    """The first ``count`` names ``model-NNN`` that hash to the measured exchange partition."""
    names: list[str] = []
    i = 0
    while len(names) < count:
        name = f"model-{i:03d}"
        if partition_of(name, partitions) == PARTITION:
            names.append(name)
        i += 1
    return names


@dataclass(frozen=True)
class Poll:
    """One poll: predictions as a table (offsets from ``first``) and their labels."""

    first: int
    predictions: pa.Table
    labels: RawRecords


def polls(models: list[str], open_events: int) -> Iterator[Poll]:
    """Three windows of ``CLOSED_EVENTS`` per model, then one of ``open_events``, in time order,
    the models' events interleaved; ``POLL`` rows a poll."""
    rng = np.random.default_rng(3)
    names = np.array(models)
    first = FIRST_OFFSET
    for window, per_model in enumerate([CLOSED_EVENTS] * CLOSED_WINDOWS + [open_events]):
        rows = per_model * len(models)
        times = T0 + window * HOUR + np.sort(rng.integers(0, HOUR, rows))
        owner = rng.permutation(np.repeat(np.arange(len(models)), per_model))
        for start in range(0, rows, POLL):
            n = min(POLL, rows - start)
            yield poll(first, times[start : start + n], names[owner[start : start + n]], rng)
            first += n


def poll(first: int, times: np.ndarray, models: np.ndarray, rng: np.random.Generator) -> Poll:
    """Predictions of ``models`` at ``times`` with fresh features and ids, and their labels."""
    n = len(times)
    data = columns(n, int(rng.integers(1 << 30)))
    ids = [f"{x:016x}" for x in rng.integers(0, 1 << 63, n).tolist()]
    table = pa.table(
        {
            "event_id": pa.array(ids),
            "model": pa.array(models),
            "model_version": pa.array(["v1"] * n),
            "timestamp": times,
            "prediction": data["score"],
            "region": pa.array(data["region"]),
            **{f"n{i}": data[f"n{i}"] for i in range(NUMERIC)},
            **{f"c{i}": pa.array(data[f"c{i}"]) for i in range(CATEGORICAL)},
        }
    )
    labels = [
        orjson.dumps({"event_id": i, "model": m, "timestamp": t + LABEL_DELAY, "label": y})
        for i, m, t, y in zip(
            ids, models.tolist(), times.tolist(), data["label"].tolist(), strict=True
        )
    ]
    offsets = np.arange(first, first + n, dtype=np.int64)
    return Poll(first, table, RawRecords(labels, np.full(n, LABELS), offsets, np.full(n, -1)))


@dataclass
class Sides:
    """The two processes fed the same polls."""

    settings: Settings
    baselines: dict[str, Baseline]
    stages: ExchangeStages
    pipeline: Pipeline
    source_offset: int = 0  # of both source partitions: a label per prediction
    log: list[bytes] = field(default_factory=list)  # the measured exchange partition

    def feed(self, poll: Poll) -> None:
        self.pipeline.process_table(poll.predictions, poll.first, NOW)
        self.pipeline.process_labels(poll.labels, NOW)
        self.stages.tasks.stage(TASK).process_table(poll.predictions, poll.first, NOW)
        self.stages.tasks.process(None, poll.labels, NOW)
        self.stages.tasks.expire()
        self.cycle()
        self.source_offset = poll.first + poll.predictions.num_rows

    def cycle(self) -> None:
        """Stage 1's commit cycle into the exchange, then stage 2 reads the measured partition."""
        partitions = self.stages.partitions
        counters = self.stages.tasks.counters
        records = [
            encode(p)
            for p in handover.drain(counters, partitions.config)
            if partition_of(p.model, partitions.partitions) == PARTITION
        ]
        records += [encode(m) for m in handover.marks(counters, partitions.config)[1]]
        first = len(self.log)
        self.log += records
        partitions.receive(list(self.read(PARTITION, first, len(self.log))))

    def read(self, e: int, start: int, end: int) -> Iterator[Received]:
        """The records of the measured partition from ``start`` to ``end``, decoded one at a
        time as a reader hands them over."""
        return (Received(e, start + i, decode(r)) for i, r in enumerate(self.log[start:end]))

    def stage_two_snapshot(self) -> bytes:
        return self.stages.partitions.snapshot(PARTITION, len(self.log))

    def checkpoint(self) -> bytes:
        """The daemon's checkpoint document as ``CheckpointStore.save`` serialises it."""
        state = {"pipeline": snapshot(self.pipeline), "report_bytes": 0, "alertmanager": []}
        offsets = {"labels:0": self.source_offset, "predictions:0": self.source_offset}
        return orjson.dumps(
            {"state": state, "offsets": offsets, "saved_at": "2026-12-04T04:00:00Z"}
        )


def fresh_stages(settings: Settings, baselines: dict[str, Baseline]) -> ExchangeStages:
    """A scaled-out process's stages, empty, writing to the metrics store."""
    stages = exchange_stages(settings, baselines, [LatestWindows()], [])
    stages.partitions.windows.set_sources({PREDICTIONS, LABELS})
    return stages


def fresh_pipeline(settings: Settings, baselines: dict[str, Baseline]) -> Pipeline:
    """A one-process pipeline, empty, writing to the metrics store."""
    return Pipeline(settings, baselines, [LatestWindows()], join_labels=True)


def build(models: int, open_events: int, baseline: Baseline) -> Sides:
    """Both processes, fed the case's polls."""
    names = model_names(models, settings_for(["m"]).exchange.partitions)
    settings = settings_for(names)
    baselines = dict.fromkeys(names, baseline)
    stages, pipeline = fresh_stages(settings, baselines), fresh_pipeline(settings, baselines)
    sides = Sides(settings, baselines, stages, pipeline)
    sides.stages.partitions.assign([PARTITION])
    sides.stages.partitions.live(PARTITION)
    sides.stages.tasks.restore(TASK, None, {PREDICTIONS: FIRST_OFFSET, LABELS: FIRST_OFFSET})
    sides.pipeline.hold_partitions({PREDICTIONS, LABELS})
    for p in polls(names, open_events):
        sides.feed(p)
    return sides


def taking(sides: Sides) -> dict[str, Callable[[], bytes]]:
    return {"stage2": sides.stage_two_snapshot, "checkpoint": sides.checkpoint}


def restoring(sides: Sides, data: dict[str, bytes]) -> dict[str, Callable[[], Callable[[], Any]]]:
    """Per side: builds a fresh process's objects, returns the restore step to time."""

    def stage2() -> Callable[[], Any]:
        partitions = fresh_stages(sides.settings, sides.baselines).partitions

        def step() -> int:
            partitions.assign([PARTITION])
            return partitions.restore(PARTITION, data["stage2"], "bench", sides.read)

        return step

    def checkpoint() -> Callable[[], Any]:
        pipeline = fresh_pipeline(sides.settings, sides.baselines)

        def step() -> None:
            restore(pipeline, orjson.loads(data["checkpoint"])["state"]["pipeline"])

        return step

    return {"stage2": stage2, "checkpoint": checkpoint}


def trimmed(step: Callable[[], Any]) -> tuple[float, float]:
    """``step``'s seconds and peak resident set above the one before it (MiB), the free memory
    of both allocators given back to the kernel first."""
    gc.collect()
    pa.default_memory_pool().release_unused()
    ctypes.CDLL(None).malloc_trim(ctypes.c_size_t(0))
    _, seconds, _, peak = measured(step)
    return seconds, peak


def measure(sides: Sides, attempts: int) -> dict[str, Any]:
    take = taking(sides)
    data = {name: step() for name, step in take.items()}
    make = restoring(sides, data)
    runs: dict[str, dict[str, list[float]]] = {
        name: {"take_s": [], "take_peak_mib": [], "restore_s": [], "restore_peak_mib": []}
        for name in take
    }
    for _, name in rotation(list(take), attempts):
        figures = runs[name]
        seconds, peak = trimmed(take[name])
        figures["take_s"].append(seconds)
        figures["take_peak_mib"].append(peak)
        seconds, peak = trimmed(make[name]())
        figures["restore_s"].append(seconds)
        figures["restore_peak_mib"].append(peak)
    parts = {name: sections(data[name], name) for name in data}
    check_refill(sides, data["stage2"])
    return {
        name: {
            "bytes": len(data[name]),
            "sections_bytes": parts[name],
            **{figure: spread(values) for figure, values in figures.items()},
        }
        for name, figures in runs.items()
    }


def check_refill(sides: Sides, data: bytes) -> None:
    """A process restoring the snapshot holds the original's open windows, count for count."""
    partitions = fresh_stages(sides.settings, sides.baselines).partitions
    partitions.assign([PARTITION])
    partitions.restore(PARTITION, data, "bench", sides.read)
    restored = partitions.windows.partitions[PARTITION].open
    original = sides.stages.partitions.windows.partitions[PARTITION].open
    assert restored.keys() == original.keys()
    for key, window in original.items():
        assert window.events == restored[key].events
        assert np.array_equal(window.counts, restored[key].counts)


def sections(data: bytes, side: str) -> dict[str, int]:
    """The serialised bytes of the parts of a snapshot that grow with models and events."""
    state = orjson.loads(data)
    if side == "stage2":
        parts = {
            "counts_and_marks": state["windows"],
            "ledger": state["ledger"],
            "stage": state["stage"],
            "outputs": state["outputs"],
        }
    else:
        pipeline = state["state"]["pipeline"]
        parts = {
            "open_windows": pipeline["open"],
            "score_values": pipeline["score_streams"]["buffers"],
            "error_values": pipeline["labels"]["errors"]["buffers"],
            "stage": [
                pipeline["checks"],
                pipeline["series"],
                pipeline["score_streams"]["detectors"],
                pipeline["labels"]["errors"]["detectors"],
            ],
            "join": pipeline["labels"]["join"],
        }
    return {name: len(orjson.dumps(part)) for name, part in parts.items()}


def ratios(case: dict[str, Any]) -> dict[str, float]:
    """stage2 / checkpoint, of the bytes and of each figure's median."""
    ours, reference = case["stage2"], case["checkpoint"]
    out = {"bytes": ours["bytes"] / reference["bytes"]}
    for figure in ("take_s", "restore_s", "take_peak_mib", "restore_peak_mib"):
        out[figure] = ours[figure]["median"] / reference[figure]["median"]
    return out


def table(results: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| models × open events | side | bytes | take ms | restore ms | take peak MiB |"
        " restore peak MiB |",
        "|---|---|---|---|---|---|---|",
    ]
    for case, sides in results.items():
        for side in ("stage2", "checkpoint"):
            s = sides[side]
            lines.append(
                f"| {case} | {side} | {s['bytes']:,} | {1000 * s['take_s']['median']:.1f} | "
                f"{1000 * s['restore_s']['median']:.1f} | {s['take_peak_mib']['median']:.1f} | "
                f"{s['restore_peak_mib']['median']:.1f} |"
            )
        r = sides["ratios"]
        lines.append(
            f"| {case} | ratio | {r['bytes']:.2f} | {r['take_s']:.2f} | {r['restore_s']:.2f} | "
            f"{r['take_peak_mib']:.2f} | {r['restore_peak_mib']:.2f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=5)
    parser.add_argument(
        "--cases", nargs="+", default=["1x10000", "1x100000", "10x10000", "10x100000", "100x10000"]
    )
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    tune_allocators()  # as every driftwarden command does at start
    baseline = model_baseline()
    results: dict[str, dict[str, Any]] = {}
    for case in args.cases:
        models, open_events = (int(part) for part in case.split("x"))
        started = time.perf_counter()
        sides = build(models, open_events, baseline)
        built_s = time.perf_counter() - started
        figures = measure(sides, args.attempts)
        results[case] = {
            "models": models,
            "open_events_per_model": open_events,
            "build_s": built_s,
            **figures,
            "ratios": ratios(figures),
        }
        print(case, json.dumps(results[case]["ratios"]), flush=True)
        del sides
        gc.collect()
    document = {
        "benchmark": "stage_two_snapshot",
        "command": " ".join(["benchmarks/bench_stage_two_snapshot.py", *sys.argv[1:]]),
        "closed_windows": CLOSED_WINDOWS,
        "closed_events_per_model": CLOSED_EVENTS,
        "poll_rows": POLL,
        "results": results,
    }
    args.output.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    print(table(results))


if __name__ == "__main__":
    main()
