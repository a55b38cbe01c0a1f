"""Scale-out on a real broker: aggregate events/s of 1, 2 and 3 ``driftwarden run`` processes with
``exchange.enabled`` against one process of today's daemon (``exchange.enabled: false``).

Run: ``.venv/bin/python benchmarks/bench_scale_out.py [--predictions 240000] [--models 3]
[--attempts 3] [--sides single exchange-1 …] [--poll-timeout 100ms] [--set SECTION.FIELD=VALUE]
[--bootstrap HOST:PORT]``;
the raw figures go to benchmarks/results/scale_out.json (``--output``). ``--poll-timeout`` sets
``kafka.poll_timeout`` of every process of the run (a diagnostic: the exchange loop waits up to
half of it in each of its two polls); ``--set`` any other setting of every process (not of the
replay the reports are compared with).

Without ``--bootstrap`` it starts its own single-node broker with ``deploy/local/kafka.sh`` on free
loopback ports (``bench_kafka.broker``) and stops and purges it at the end.

The stream, produced once: ``--predictions`` events of ``--models`` models (round-robin), the
20 features of ``bench_replay.columns``, one segment field (``platform``, 3 values), epoch-ms
timestamps over 24 hours, and for each prediction its label event 10 minutes (event time) later
on a label topic. Both topics have 12 partitions; every message is keyed by its event id and sent
to the partition Kafka's default partitioner gives that key, in timestamp order, so each
partition is in event-time order and a prediction and its label share a partition number.

Sides, each attempt a fresh consumer group (so fresh internal topics) and every process a whole
``driftwarden run`` (interpreter start, imports, joining the groups included):

- ``single``: one process, ``exchange.enabled: false`` (today's daemon, the reference), default
  settings (``daemon.checkpoint_interval`` 30 s), with a checkpoint file and a report file;
- ``exchange-1``, ``exchange-2``, ``exchange-3``: that many processes with
  ``exchange.enabled: true`` (12 exchange partitions, the default), distinct
  ``kafka.group_instance_id``, each its own report file, ``daemon.checkpoint_interval`` 1 s (the
  cycle that publishes stage 1's partials; docs/daemon.md "Scaling out" calls 1 s cheap).

Every other setting is the default. Each process logs to a file of its own (never a pipe).

Clocks start just before the first process is spawned (the others follow at once) and read the
``/status`` of every process every 100 ms:

- *counted*: the sums over processes of ``totals.events`` (accepted predictions) and of
  ``totals.labels.received`` reach what was produced, and every one of the 24 source partitions
  is listed with lag 0 by some process (a moved task counts its uncommitted events again in
  its new owner's totals, so the sums alone could be reached early);
- *reported*: the union of the processes' report files holds, for every line of a one-process
  replay of the topics (``replay_topics_to_file``) whose window closes by the watermark alone
  (window end <= the earliest last event time of a source partition minus
  ``windows.allowed_lateness``), a line with the same key (``report_merge.line_key``). Whether the
  union's lines for those keys are byte for byte the replay's is recorded too.

Sides go in rotating rounds (``attempts.rotation``), the same number of attempts each; medians
with min and max; ratios are of medians against ``single``. CPU seconds (user + system) of every
process are read from ``/proc`` before it is stopped. Each attempt also records what explains a
figure: the label join's counts (``/status``) and losses (``/metrics``), the warnings and errors
of each log (by message) and how often tasks and exchange partitions were restored, the exit
codes, and where the report differs from the replay's (field paths of the first few keys); the
folder of an attempt that did not complete is kept with its logs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import yaml
from attempts import rotation, spread
from bench_kafka import broker, free_ports
from bench_replay import CATEGORICAL, NUMERIC, START_MS, columns

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "bench" / "scale-out"
RESULTS = ROOT / "benchmarks" / "results" / "scale_out.json"
SOURCES = 12
HOUR = 3_600_000
LABEL_DELAY_MS = 600_000
PLATFORMS = ("ios", "android", "web")
STATUS_EVERY_S = 0.1
SIDES = ("single", "exchange-1", "exchange-2", "exchange-3")


@dataclass(frozen=True)
class Stream:
    """What was produced: topics, counts and when each window can close."""

    predictions_topic: str
    labels_topic: str
    predictions: int
    labels: int
    models: tuple[str, ...]
    closable_until_ms: int
    produce_seconds: float


def training_baseline(models: Sequence[str], folder: Path) -> dict[str, Path]:
    """One baseline (bench_replay's features, the prediction and a 0/1 label), saved per model."""
    from baselines.build import build_baseline

    train = columns(50_000, seed=1)
    train["label"] = (np.random.default_rng(5).random(50_000) < train["prediction"]).astype(int)
    baseline = build_baseline(
        pa.table(train), model="bench", prediction="prediction", label="label"
    )
    paths = {}
    for model in models:
        paths[model] = folder / f"{model}.baseline.json"
        replace(baseline, model=model).save(paths[model])
    return paths


def produce(bootstrap: str, predictions: int, models: tuple[str, ...]) -> Stream:
    """The prediction and label topics (12 partitions each), keyed by event id, in time order."""
    from kafka import KafkaAdminClient, KafkaProducer

    from monitor.exchange.partitioner import partition_of

    run = uuid.uuid4().hex[:6]
    names = (f"scale-predictions-{run}", f"scale-labels-{run}")
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics(
            {n: {"num_partitions": SOURCES, "replication_factor": 1} for n in names},
            wait_for_metadata=True,
        )
    finally:
        admin.close()
    cols = columns(predictions, seed=2, shift=0.3)
    rng = np.random.default_rng(3)
    times = (START_MS + np.sort(rng.integers(0, 24 * HOUR, predictions))).tolist()
    labels = (rng.random(predictions) < cols["prediction"]).astype(int).tolist()
    platforms = rng.choice(np.array(PLATFORMS), predictions).tolist()
    features = {name: cols[name].tolist() for name in (*NUMERIC, *CATEGORICAL)}
    scores = cols["prediction"].tolist()
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks=1, linger_ms=50, batch_size=512 * 1024
    )
    last_ms = [0] * SOURCES
    started = time.perf_counter()
    for i in range(predictions):  # timestamps are sorted: each partition in event-time order
        event_id = f"e{i}"
        partition = partition_of(event_id, SOURCES)
        last_ms[partition] = times[i]
        event = {
            "event_id": event_id,
            "model": models[i % len(models)],
            "timestamp": times[i],
            "features": {name: values[i] for name, values in features.items()},
            "segments": {"platform": platforms[i]},
            "prediction": scores[i],
        }
        producer.send(names[0], orjson.dumps(event), key=event_id.encode(), partition=partition)
    for i in range(predictions):  # a constant delay keeps the labels in time order too
        event_id = f"e{i}"
        label = {
            "event_id": event_id,
            "model": models[i % len(models)],
            "timestamp": times[i] + LABEL_DELAY_MS,
            "label": labels[i],
        }
        producer.send(
            names[1],
            orjson.dumps(label),
            key=event_id.encode(),
            partition=partition_of(event_id, SOURCES),
        )
    producer.flush(timeout=600)
    producer.close()
    seconds = time.perf_counter() - started
    from monitor.config import WindowConfig

    lateness = WindowConfig().allowed_lateness
    return Stream(
        names[0], names[1], predictions, predictions, models, min(last_ms) - lateness, seconds
    )


def config(
    stream: Stream,
    baselines: Mapping[str, Path],
    bootstrap: str,
    group: str,
    member: int,
    exchange: bool,
    folder: Path,
    settings: Mapping[str, Mapping[str, Any]] | None = None,
) -> tuple[Path, int]:
    """Member ``member`` of ``group``: its config file and HTTP port; ``settings`` (section ->
    field -> value) add to or replace fields of the config."""
    (port,) = free_ports(1)
    state = folder / f"member-{member}"
    state.mkdir(parents=True, exist_ok=True)
    daemon: dict[str, Any] = {
        "http_host": "127.0.0.1",
        "http_port": port,
        "report_path": str(state / "report.jsonl"),
    }
    if exchange:
        daemon["checkpoint_interval"] = "1s"
    else:
        daemon["checkpoint_path"] = str(state / "checkpoint.json")
    document: dict[str, Any] = {
        "models": [{"name": m, "baseline": str(baselines[m])} for m in stream.models],
        "segments": {"fields": ["platform"]},
        "kafka": {
            "bootstrap_servers": [bootstrap],
            "prediction_topics": [stream.predictions_topic],
            "label_topics": [stream.labels_topic],
            "group_id": group,
            "group_instance_id": f"{group}-{member}",
        },
        "exchange": {"enabled": exchange},
        "daemon": daemon,
    }
    for section, fields in (settings or {}).items():
        document[section] = {**document.get(section, {}), **fields}
    path = state / "driftwarden.yaml"
    path.write_text(yaml.safe_dump(document))
    return path, port


def expected_lines(
    stream: Stream, baselines: Mapping[str, Path], bootstrap: str
) -> dict[tuple[Any, ...], bytes]:
    """Key -> line of a one-process replay of the topics, for the windows that close by the
    watermark alone (and their alerts)."""
    from monitor.app import load_baselines, replay_topics_to_file
    from monitor.config import load_settings

    with tempfile.TemporaryDirectory(dir=CACHE) as folder:
        path, _ = config(stream, baselines, bootstrap, "replay", 0, False, Path(folder))
        settings = load_settings(path)
        report = Path(folder) / "replayed.jsonl"
        replay_topics_to_file(settings, load_baselines(settings), report)
        lines = report.read_bytes().splitlines()
    out = {}
    for line in lines:
        key = report_key(line)
        if key[0] <= stream.closable_until_ms:
            out[key] = line
    return out


def report_key(line: bytes) -> tuple[Any, ...]:
    from monitor.sinks.report_merge import line_key

    return tuple(line_key(orjson.loads(line)))


@dataclass
class ReportWatch:
    """The whole lines appended so far to a set of report files, read incrementally."""

    paths: list[Path]
    read: dict[Path, int] = field(default_factory=dict)
    lines: dict[tuple[Any, ...], set[bytes]] = field(default_factory=dict)

    def update(self) -> None:
        for path in self.paths:
            if not path.exists():
                continue
            with path.open("rb") as file:
                file.seek(self.read.get(path, 0))
                data = file.read()
            whole = data[: data.rfind(b"\n") + 1]
            self.read[path] = self.read.get(path, 0) + len(whole)
            for line in whole.splitlines():
                self.lines.setdefault(report_key(line), set()).add(line)

    def holds(self, expected: Mapping[tuple[Any, ...], bytes]) -> int:
        return sum(key in self.lines for key in expected)

    def identical(self, expected: Mapping[tuple[Any, ...], bytes]) -> bool:
        return all(self.lines.get(key) == {line} for key, line in expected.items())

    def digest(self, expected: Mapping[tuple[Any, ...], bytes]) -> str:
        """sha256 of the lines held for the expected keys, in key order (to compare attempts)."""
        lines = b"".join(
            b"".join(sorted(self.lines.get(key, set()))) + b"\n" for key in sorted(expected)
        )
        return hashlib.sha256(lines).hexdigest()

    def differences(self, expected: Mapping[tuple[Any, ...], bytes]) -> dict[str, Any]:
        """How many keys hold other lines than the replay's, and for the first few, the paths
        of the fields that differ (``a.b.c``)."""
        differ = [k for k, line in expected.items() if k in self.lines and self.lines[k] != {line}]
        examples = []
        for key in differ[:3]:
            want = orjson.loads(expected[key])
            for got in sorted(self.lines[key]):
                examples.append(
                    {"key": [str(k) for k in key[:4]], "fields": differing(want, orjson.loads(got))}
                )
        return {"keys": len(differ), "examples": examples}


def differing(want: Any, got: Any, path: str = "") -> list[str]:
    """The paths at which two parsed JSON values differ, at most 10."""
    if isinstance(want, dict) and isinstance(got, dict):
        out: list[str] = []
        for name in sorted(set(want) | set(got)):
            out += differing(want.get(name), got.get(name), f"{path}.{name}" if path else name)
        return out[:10]
    return [] if want == got else [f"{path}: {want!r:.60} != {got!r:.60}"]


def status_of(port: int) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=2) as response:
            document: dict[str, Any] = orjson.loads(response.read())
    except OSError:
        return None
    return document


def counted(documents: Sequence[dict[str, Any] | None]) -> dict[str, Any]:
    """Sums over processes of accepted predictions and received labels, and the source
    partitions some process lists at lag 0."""
    events = labels = joined = late_pairs = pending = 0
    caught_up = set()
    per_process = []
    for document in documents:
        if document is None:
            per_process.append(None)
            continue
        totals = document["totals"]
        per_process.append(sum(totals["events"].values()))
        events += per_process[-1]
        pairs = totals.get("labels", {})
        labels += sum(pairs.get("received", {}).values())
        joined += sum(pairs.get("joined", {}).values())
        late_pairs += sum(pairs.get("late", {}).values())
        pending += sum(pairs.get("pending", {}).values())
        for lag in document.get("consumer_lag") or []:
            if lag["records"] == 0:
                caught_up.add((lag["topic"], lag["partition"]))
    return {
        "events": events,
        "labels": labels,
        "caught_up": len(caught_up),
        "events_per_process": per_process,
        "labels_joined": joined,
        "labels_late": late_pairs,
        "predictions_pending": pending,
    }


LABEL_LOSSES = ("driftwarden_labels_unmatched_total", "driftwarden_predictions_unlabeled_total")


def label_losses(ports: Sequence[int]) -> dict[str, float]:
    """Sums over processes of the label join's losses on ``/metrics`` (labels given up on,
    predictions that left without a label)."""
    sums = dict.fromkeys(LABEL_LOSSES, 0.0)
    for port in ports:
        try:
            url = f"http://127.0.0.1:{port}/metrics"
            with urllib.request.urlopen(url, timeout=5) as response:
                text = response.read().decode()
        except OSError:
            continue
        for line in text.splitlines():
            name = line.partition("{")[0].partition(" ")[0]
            if name in sums:
                sums[name] += float(line.rpartition(" ")[2])
    return sums


NOTED_EVENTS = ("tasks restored", "exchange partitions owned")


def log_digest(log: Path) -> dict[str, int]:
    """How often each warning or error, and each restore of tasks or exchange partitions, shows
    in a process's JSON log."""
    seen: dict[str, int] = {}
    for line in log.read_bytes().splitlines():
        if not line.startswith(b"{"):
            continue
        entry = orjson.loads(line)
        if entry.get("level") in ("warning", "error", "critical") or entry.get("event") in (
            NOTED_EVENTS
        ):
            name = f"{entry.get('level')}: {entry.get('event')}"
            detail = entry.get("message") or entry.get("error")
            if detail and entry.get("event") != "alert level changed":
                name += f": {str(detail)[:100]}"
            seen[name] = seen.get(name, 0) + 1
    return seen


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_side(
    side: str,
    stream: Stream,
    baselines: Mapping[str, Path],
    bootstrap: str,
    expected: Mapping[tuple[Any, ...], bytes],
    deadline_s: float,
    settings: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """One attempt of one side: spawn its processes, watch /status and the reports, stop them."""
    exchange = side != "single"
    count = int(side.rpartition("-")[2]) if exchange else 1
    folder = Path(tempfile.mkdtemp(prefix=f"{side}-", dir=CACHE))
    group = f"scale-{side}-{uuid.uuid4().hex[:6]}"
    configs = [
        config(stream, baselines, bootstrap, group, n, exchange, folder, settings)
        for n in range(count)
    ]
    logs = [folder / f"member-{n}" / "daemon.log" for n in range(count)]
    watch = ReportWatch([folder / f"member-{n}" / "report.jsonl" for n in range(count)])
    processes: list[subprocess.Popen[bytes]] = []
    result: dict[str, Any] = {"side": side, "processes": count, "group": group}
    started = time.perf_counter()
    try:
        for (path, _), log in zip(configs, logs, strict=True):
            with log.open("wb") as stderr:
                processes.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "monitor.cli", "run", "--config", str(path)],
                        cwd=ROOT,
                        stdout=subprocess.DEVNULL,
                        stderr=stderr,
                    )
                )
        while True:
            now = time.perf_counter() - started
            exited = [p.returncode for p in processes if p.poll() is not None]
            if exited:
                result["exited"] = [p.poll() for p in processes]
                break
            seen = counted([status_of(port) for _, port in configs])
            result["last_status"] = seen
            all_in = (
                seen["events"] >= stream.predictions
                and seen["labels"] >= stream.labels
                and seen["caught_up"] >= 2 * SOURCES
            )
            if seen["events"] > 0 and "first_counted_s" not in result:
                result["first_counted_s"] = now
            if all_in and "counted_s" not in result:
                result["counted_s"] = now
            watch.update()
            held = watch.holds(expected)
            result["report_keys"] = held
            if held == len(expected) and "reported_s" not in result:
                result["reported_s"] = now
            if "counted_s" in result and "reported_s" in result:
                break
            if now > deadline_s:
                result["timed_out_s"] = deadline_s
                break
            time.sleep(STATUS_EVERY_S)
        result["label_losses"] = label_losses([port for _, port in configs])
        result["cpu_s"] = [cpu_seconds(p.pid) for p in processes if p.poll() is None]
        result["report_identical"] = watch.identical(expected)
        result["report_digest"] = watch.digest(expected)
        if not result["report_identical"]:
            result["report_differences"] = watch.differences(expected)
        result["events_over_produced"] = result["last_status"]["events"] - stream.predictions
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        codes = []
        for process in processes:
            try:
                codes.append(process.wait(timeout=60))
            except subprocess.TimeoutExpired:
                process.kill()
                codes.append(f"killed after 60 s: {process.wait()}")
        result["exit_codes"] = codes
        result["logs"] = [log_digest(log) for log in logs]
    complete = "counted_s" in result and "reported_s" in result and all(c == 0 for c in codes)
    if complete:
        shutil.rmtree(folder)
    else:
        result["kept"] = str(folder)
        result["log_tails"] = [log.read_text(errors="replace")[-3000:] for log in logs]
    return result


def summary(
    stream: Stream, runs: Sequence[Mapping[str, Any]], names: Sequence[str]
) -> dict[str, Any]:
    sides: dict[str, Any] = {}
    for side in names:
        mine = [r for r in runs if r["side"] == side]
        done = [r for r in mine if "counted_s" in r]
        reported = [r for r in mine if "reported_s" in r]
        entry: dict[str, Any] = {"attempts": len(mine), "completed": len(done)}
        if done:
            entry["counted_s"] = spread([r["counted_s"] for r in done])
            entry["events_per_s"] = spread([stream.predictions / r["counted_s"] for r in done])
            entry["messages_per_s"] = spread(
                [(stream.predictions + stream.labels) / r["counted_s"] for r in done]
            )
            entry["cpu_s"] = spread([sum(r["cpu_s"]) for r in done if r["cpu_s"]])
        started = [r["first_counted_s"] for r in mine if "first_counted_s" in r]
        if started:
            entry["first_counted_s"] = spread(started)
        entry["events_over_produced"] = [r.get("events_over_produced") for r in mine]
        if reported:
            entry["reported_s"] = spread([r["reported_s"] for r in reported])
        entry["report_identical"] = [r.get("report_identical") for r in mine]
        sides[side] = entry
    reference = sides.get("single", {}).get("events_per_s", {}).get("median")
    for entry in sides.values():
        if reference and "events_per_s" in entry:
            entry["ratio_to_single"] = entry["events_per_s"]["median"] / reference
    return sides


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--predictions", type=int, default=240_000)
    parser.add_argument("--models", type=int, default=3)
    parser.add_argument("--attempts", type=int, default=3)
    parser.add_argument("--deadline", type=float, default=300.0, help="seconds per attempt")
    parser.add_argument("--sides", nargs="+", default=list(SIDES), help="single, exchange-N")
    parser.add_argument(
        "--poll-timeout", help="kafka.poll_timeout of every process (default: the default)"
    )
    parser.add_argument("--bootstrap")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.FIELD=VALUE",
        help="a setting of every process of the run (VALUE in YAML), e.g. labels.max_orphans=1e6",
    )
    args = parser.parse_args()
    changed: dict[str, dict[str, Any]] = {}
    if args.poll_timeout:
        changed["kafka"] = {"poll_timeout": args.poll_timeout}
    for item in args.set:
        name, _, value = item.partition("=")
        section, _, field_name = name.partition(".")
        changed.setdefault(section, {})[field_name] = yaml.safe_load(value)
    CACHE.mkdir(parents=True, exist_ok=True)
    models = tuple(f"model-{k}" for k in range(args.models))
    load = [os.getloadavg()[0]]
    with broker(args.bootstrap) as bootstrap:
        baselines = training_baseline(models, CACHE)
        stream = produce(bootstrap, args.predictions, models)
        print(
            f"produced {stream.predictions:,} predictions + labels: {stream.produce_seconds:.0f} s"
        )
        expected = expected_lines(stream, baselines, bootstrap)
        print(f"replay: {len(expected)} report lines close by the watermark alone")
        runs = []
        for attempt, side in rotation(args.sides, args.attempts):
            run = run_side(side, stream, baselines, bootstrap, expected, args.deadline, changed)
            run["attempt"] = attempt
            runs.append(run)
            print(
                f"attempt {attempt} {side}: counted {run.get('counted_s', float('nan')):.1f} s, "
                f"reported {run.get('reported_s', float('nan')):.1f} s, "
                f"exit {run['exit_codes']}, identical {run.get('report_identical')}",
                flush=True,
            )
        load.append(os.getloadavg()[0])
    document = {
        "command": " ".join(["benchmarks/bench_scale_out.py", *sys.argv[1:]]),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpus": os.cpu_count(),
        "load_average_1m_start_end": load,
        "stream": {
            "predictions": stream.predictions,
            "labels": stream.labels,
            "models": len(stream.models),
            "source_partitions_per_topic": SOURCES,
            "produce_seconds": stream.produce_seconds,
            "closable_report_lines": len(expected),
        },
        "settings_changed": changed,
        "sides": summary(stream, runs, args.sides),
        "runs": runs,
    }
    args.output.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(document["sides"], indent=1))


if __name__ == "__main__":
    main()
