"""Live daemon on a real broker: end-to-end events/s against a bare consumer, and RSS growth.

Run: ``.venv/bin/python benchmarks/bench_kafka.py [--events 1000000] [--rss-events 3000000]
[--partitions 4] [--max-poll-records 5000 20000] [--repeats 3] [--backends …]
[--pipeline-events N] [--bootstrap HOST:PORT]`` (about 10 minutes on 2 cores with
``--repeats 2``; the full results also go to benchmarks/results/kafka.json).

Without ``--bootstrap`` it starts its own single-node broker with ``deploy/local/kafka.sh`` on
free loopback ports and stops (and purges) it at the end. Events are JSON per the event contract
(shape of ``bench_replay.bench_jsonl``: 16 numeric + 4 categorical features, epoch-ms
timestamps over 24 hours), produced once per run with kafka-python's batching producer,
round-robin over the partitions so every partition is in event-time order.

Backends (``--backends``), each measured on the same topic:

- ``kafka-python``: the project's environment as installed. Each result names the CRC-32C
  implementation kafka-python checked record batches with: ``crc32c._crc32c`` (the C package
  the project depends on) or ``kafka.record._crc32c`` (pure Python, ~8x slower end to end);
- ``confluent-kafka``: a bare loop only, from a scratch venv under ``.cache/``, to show what a
  second consumer backend would buy. Nothing is ever installed into ``.venv``.

1. Throughput, ``--events`` in one topic, for each ``--max-poll-records``, ``--repeats`` times,
   alternating. Every measurement is a fresh interpreter and a fresh consumer group that
   subscribes and reads from the beginning to the end offsets:

   - *bare*: ``poll`` + ``orjson.loads`` of every value, nothing else;
   - *daemon*: the real :class:`monitor.runtime.daemon.Daemon` (checkpoints and report file on,
     default detectors) run in-process, with one change: after each loop step it stops itself
     once its totals (what ``/status`` serves) hold every message. Its time inside
     ``Pipeline.process_records`` and ``to_raw_records`` is recorded too.

   Both clocks start just before the first ``poll`` (so both include joining the group and
   the first fetch) and stop when the last message has been handled; the daemon's shutdown is
   not timed. This is more exact than polling ``/status`` from outside, which adds the polling
   interval and the interpreter start. Target: daemon events/s >= 0.85 x bare events/s at the
   same ``max_poll_records`` and backend (the medians of the repeats).
2. The pipeline alone, from memory at the daemon's mean poll size, with the JSON reader on its
   default threads and on one: what sharing the cores with the broker costs the pipeline.
3. Memory: ``driftwarden run --config FILE`` as its own process on a ``--rss-events`` topic;
   ``VmRSS`` from ``/proc/<pid>/status`` sampled every time ``/status`` is polled (50 ms), every
   sample kept in the raw results. Growth: the least-squares line of VmRSS against events seen,
   over every sample after the warm-up (from 1M events, or a third of the topic if smaller, to
   the end), from its value at the first of those samples to its value at the last. Target: < 10%.
   The same run gives the out-of-process throughput, timed from the daemon's own ``consuming``
   log line to the first ``/status`` that shows every event.

This file also runs as the confluent worker under the scratch venv, which holds only
confluent-kafka and orjson; so everything beyond the standard library and orjson is imported
inside the functions that need it.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from attempts import fitted_growth, rotation, spread

if TYPE_CHECKING:
    from baselines.values import Baseline

ROOT = Path(__file__).resolve().parent.parent
KAFKA_SH = ROOT / "deploy" / "local" / "kafka.sh"
CACHE = ROOT / ".cache" / "bench"
RESULTS = ROOT / "benchmarks" / "results" / "kafka.json"
CONFLUENT_VENV = ROOT / ".cache" / "bench-confluent-venv"
CONFLUENT = "confluent-kafka==2.16.1"
BACKENDS = ["kafka-python", "confluent-kafka"]
PRODUCE_CHUNK = 100_000
POLL_TIMEOUT_MS = 1000
FETCH_BYTES = 8 * 1_048_576  # per partition and fetch, the same for every consumer measured
STATUS_EVERY_S = 0.05
MiB = 1 << 20


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports free on 127.0.0.1 right now."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@contextmanager
def broker(bootstrap: str | None) -> Iterator[str]:
    """The given broker, or our own single-node one on free ports, stopped and purged after."""
    if bootstrap:
        yield bootstrap
        return
    port, controller = (str(p) for p in free_ports(2))
    start = ["start", "--port", port, "--controller-port", controller, "--timeout", "120"]
    subprocess.run(
        ["bash", str(KAFKA_SH), *start, "--stop-with-pid", str(os.getpid())],
        check=True,
        timeout=600,
    )
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run(
            ["bash", str(KAFKA_SH), "stop", "--port", port, "--purge"], check=False, timeout=120
        )


def event_object(row: Mapping[str, Any], features: Sequence[str]) -> dict[str, Any]:
    """One prediction event as JSON data, the shape ``bench_replay.bench_jsonl`` writes."""
    return {
        "event_id": f"e{row['timestamp']}",
        "model": "bench",
        "timestamp": row["timestamp"],
        "features": {k: row[k] for k in features},
        "prediction": row["prediction"],
    }


def produce_topic(bootstrap: str, events: int, partitions: int, seed: int) -> dict[str, Any]:
    """A fresh topic holding ``events`` JSON events, round-robin over ``partitions``."""
    from bench_replay import CATEGORICAL, NUMERIC, events_table
    from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition

    topic = f"bench-{events}-{uuid.uuid4().hex[:6]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics({topic: {"num_partitions": partitions, "replication_factor": 1}})
    finally:
        admin.close()
    table = events_table(events, seed=seed)
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks=1, linger_ms=50, batch_size=512 * 1024
    )
    features = (*NUMERIC, *CATEGORICAL)
    started = time.perf_counter()
    size = 0
    for start in range(0, events, PRODUCE_CHUNK):
        for i, row in enumerate(table.slice(start, PRODUCE_CHUNK).to_pylist(), start):
            message = orjson.dumps(event_object(row, features))
            size += len(message)
            producer.send(topic, message, partition=i % partitions)
    producer.flush(timeout=600)
    producer.close()
    seconds = time.perf_counter() - started
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        ends = consumer.end_offsets([TopicPartition(topic, p) for p in range(partitions)])
    finally:
        consumer.close()
    stored = sum(ends.values())
    if stored != events:
        raise RuntimeError(f"topic {topic} holds {stored} messages, expected {events}")
    return {
        "topic": topic,
        "events": events,
        "partitions": partitions,
        "produce_seconds": seconds,
        "mean_message_bytes": size / events,
    }


def daemon_config(
    baseline: Path, bootstrap: str, topic: str, max_poll_records: int, state: Path, port: int
) -> dict[str, Any]:
    """The daemon's configuration: defaults, plus checkpoints and a report file as deployed."""
    return {
        "models": [{"name": "bench", "baseline": str(baseline)}],
        "kafka": {
            "bootstrap_servers": [bootstrap],
            "prediction_topics": [topic],
            "group_id": f"bench-daemon-{uuid.uuid4().hex[:8]}",
            "client_id": "bench",
            "max_poll_records": max_poll_records,
            "max_partition_fetch_bytes": FETCH_BYTES,
            "poll_timeout": f"{POLL_TIMEOUT_MS}ms",
        },
        "daemon": {
            "http_host": "127.0.0.1",
            "http_port": port,
            "checkpoint_path": str(state / "checkpoint.json"),
            "report_path": str(state / "report.jsonl"),
        },
    }


class Clock:
    """When the first poll started, when the first records were handled, when all were."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.first_poll = 0.0
        self.first_handled = 0.0
        self.first_count = 0
        self.done = 0.0
        self.polls = 0

    def before_poll(self) -> None:
        if not self.first_poll:
            self.first_poll = time.perf_counter()
        self.polls += 1

    def after(self, count: int) -> bool:
        """Note ``count`` messages handled so far; true once all are."""
        now = time.perf_counter()
        if count and not self.first_handled:
            self.first_handled, self.first_count = now, count
        if count >= self.expected:
            self.done = now
            return True
        return False

    def result(self, kind: str, max_poll_records: int, **extra: Any) -> dict[str, Any]:
        seconds = self.done - self.first_poll
        steady = self.done - self.first_handled
        if self.first_count >= self.expected:  # one batch held everything (tiny runs)
            steady, self.first_count = seconds, 0
        return {
            "kind": kind,
            "max_poll_records": max_poll_records,
            "events": self.expected,
            "seconds": seconds,
            "events_per_s": self.expected / seconds,
            "steady_events_per_s": (self.expected - self.first_count) / steady,
            "until_first_batch_s": self.first_handled - self.first_poll,
            "polls": self.polls,
            **extra,
        }


def kafka_crc32c() -> str:
    """The module kafka-python checks record batches' CRC-32C with (C ``crc32c`` or its own)."""
    from kafka.record import util

    return str(util.calc_crc32c.__defaults__[0].__module__)


def bare_kafka_python(args: argparse.Namespace) -> dict[str, Any]:
    """Poll the topic with kafka-python in a fresh group and ``orjson.loads`` every value."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        bootstrap_servers=[args.bootstrap],
        client_id="bench",
        group_id=f"bench-bare-{uuid.uuid4().hex[:8]}",
        session_timeout_ms=45_000,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=args.max_poll_records,
        max_partition_fetch_bytes=FETCH_BYTES,
    )
    consumer.subscribe([args.topic])
    clock = Clock(args.expected)
    count = 0
    loads = 0.0
    while True:
        clock.before_poll()
        polled = consumer.poll(timeout_ms=POLL_TIMEOUT_MS, max_records=args.max_poll_records)
        started = time.perf_counter()
        for records in polled.values():
            for record in records:
                orjson.loads(record.value)
            count += len(records)
        loads += time.perf_counter() - started
        if clock.after(count):
            break
    consumer.close()
    return clock.result(
        "bare kafka-python", args.max_poll_records, loads_seconds=loads, crc32c=kafka_crc32c()
    )


def bare_confluent(args: argparse.Namespace) -> dict[str, Any]:
    """The same bare loop on confluent-kafka (runs under the scratch venv)."""
    from confluent_kafka import Consumer, KafkaException  # type: ignore[import-not-found]

    consumer = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            "client.id": "bench",
            "group.id": f"bench-confluent-{uuid.uuid4().hex[:8]}",
            "session.timeout.ms": 45_000,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "max.partition.fetch.bytes": FETCH_BYTES,
        }
    )
    consumer.subscribe([args.topic])
    clock = Clock(args.expected)
    count = 0
    loads = 0.0
    while True:
        clock.before_poll()
        messages = consumer.consume(args.max_poll_records, POLL_TIMEOUT_MS / 1000)
        started = time.perf_counter()
        for message in messages:
            if message.error() is not None:
                raise KafkaException(message.error())
            orjson.loads(message.value())
        count += len(messages)
        loads += time.perf_counter() - started
        if clock.after(count):
            break
    consumer.close()
    return clock.result("bare confluent-kafka", args.max_poll_records, loads_seconds=loads)


def live_daemon(args: argparse.Namespace) -> dict[str, Any]:
    """The real daemon in-process, stopped by itself once its totals hold every message."""
    import monitor.runtime.daemon
    from monitor.allocator import tune_allocators
    from monitor.app import build_daemon, load_baselines
    from monitor.config import load_settings
    from monitor.logs import configure_logging

    tune_allocators()  # as `driftwarden run` does at start
    clock = Clock(args.expected)
    spent = {"pipeline": 0.0, "to_raw_records": 0.0}

    def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def call(*a: Any) -> Any:
            started = time.perf_counter()
            out = function(*a)
            spent[name] += time.perf_counter() - started
            return out

        return call

    configure_logging("warning", json=True)
    # the name the daemon's loop calls, re-bound to a timed wrapper
    monitor.runtime.daemon.to_raw_records = timed(  # type: ignore[attr-defined]
        "to_raw_records",
        monitor.runtime.daemon.to_raw_records,  # type: ignore[attr-defined]
    )
    with tempfile.TemporaryDirectory(prefix="bench-daemon-", dir=CACHE) as state:
        (port,) = free_ports(1)
        config = daemon_config(
            Path(args.baseline),
            args.bootstrap,
            args.topic,
            args.max_poll_records,
            Path(state),
            port,
        )
        settings = load_settings(None, **config)
        daemon = build_daemon(settings, load_baselines(settings))
        daemon.pipeline.process_records = timed(  # type: ignore[method-assign]
            "pipeline", daemon.pipeline.process_records
        )
        step = daemon._step

        def step_until_every_message_is_counted() -> None:
            clock.before_poll()
            step()
            totals = daemon.pipeline.running_totals()
            if clock.after(sum(totals.events.values()) + sum(totals.rejected.values())):
                daemon.stopping = True

        daemon._step = step_until_every_message_is_counted  # type: ignore[method-assign]
        daemon.run()
    totals = daemon.pipeline.running_totals()
    return clock.result(
        "driftwarden daemon",
        args.max_poll_records,
        pipeline_seconds=spent["pipeline"],
        to_raw_records_seconds=spent["to_raw_records"],
        rejected=sum(totals.rejected.values()),
        late=sum(totals.late.values()),
        windows=totals.windows,
        crc32c=kafka_crc32c(),
    )


def pipeline_alone(args: argparse.Namespace) -> dict[str, Any]:
    """The daemon's Pipeline on the same kind of messages from memory: no broker, no consumer.

    Batches of ``--max-poll-records`` messages, four partitions round-robin as in the topic;
    ``--reader-threads`` sets ``decode.threads`` (0: the default).
    """
    import numpy as np
    from bench_replay import CATEGORICAL, NUMERIC, events_table

    from monitor.allocator import tune_allocators
    from monitor.app import build_pipeline, load_baselines
    from monitor.batches import RawRecords
    from monitor.config import load_settings

    tune_allocators()  # as the CLI does at start

    features = (*NUMERIC, *CATEGORICAL)
    rows = events_table(args.expected, seed=4).to_pylist()
    messages = [orjson.dumps(event_object(row, features)) for row in rows]
    settings = load_settings(
        None,
        models=[{"name": "bench", "baseline": args.baseline}],
        decode={"threads": args.reader_threads or None},
    )
    pipeline = build_pipeline(settings, load_baselines(settings), [])
    size = args.max_poll_records
    index = np.arange(args.expected, dtype=np.int64)
    now_ms = int(time.time() * 1000)
    started = time.perf_counter()
    for start in range(0, args.expected, size):
        at = index[start : start + size]
        batch = RawRecords(messages[start : start + size], at % 4, at // 4, np.full(len(at), -1))
        pipeline.process_records(batch, now_ms)
    seconds = time.perf_counter() - started
    return {
        "kind": "pipeline alone",
        "batch": size,
        "events": args.expected,
        "seconds": seconds,
        "events_per_s": args.expected / seconds,
        "reader_threads": pipeline.stage1.decoder.threads,
    }


WORKERS: dict[str, Callable[[argparse.Namespace], dict[str, Any]]] = {
    "bare": bare_kafka_python,
    "confluent": bare_confluent,
    "daemon": live_daemon,
    "pipeline": pipeline_alone,
}


@dataclass(frozen=True)
class Backend:
    """Where a worker runs: its interpreter, an extra import path, and the loops it measures."""

    python: Path
    import_path: Path | None
    kinds: tuple[str, ...]

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        if self.import_path is not None:
            env["PYTHONPATH"] = str(self.import_path)
        return env


def backends(names: Sequence[str]) -> dict[str, Backend]:
    """The named consumer set-ups, installing the scratch packages they need."""
    here = Path(sys.executable)
    known = {
        "kafka-python": lambda: Backend(here, None, ("bare", "daemon")),
        "confluent-kafka": lambda: Backend(confluent_python(), None, ("confluent",)),
    }
    return {name: known[name]() for name in names}


def run_worker(
    backend: Backend,
    kind: str,
    bootstrap: str,
    produced: Mapping[str, Any],
    max_poll: int,
    *extra: str,
) -> dict[str, Any]:
    """One measurement in a fresh interpreter; its result is the last line it prints."""
    command = [
        str(backend.python),
        str(Path(__file__).resolve()),
        "worker",
        kind,
        "--bootstrap",
        bootstrap,
        "--topic",
        produced["topic"],
        "--expected",
        str(produced["events"]),
        "--max-poll-records",
        str(max_poll),
        "--baseline",
        str(CACHE / "bench.baseline.json"),
        *extra,
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=3600, check=False, env=backend.env()
    )
    if done.returncode != 0:
        raise RuntimeError(f"{kind} worker failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["loadavg_1m_at_end"] = os.getloadavg()[0]
    return result


def scratch_pip(python: Path, *args: str) -> None:
    env = {**os.environ, "PIP_CACHE_DIR": str(ROOT / ".cache" / "pip")}
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *args], check=True, env=env)


def confluent_python() -> Path:
    """The scratch venv's interpreter, with confluent-kafka and our orjson version installed."""
    python = CONFLUENT_VENV / "bin" / "python"
    wanted = [CONFLUENT, f"orjson=={orjson.__version__}"]
    stamp = CONFLUENT_VENV / "requirements.txt"
    if python.exists() and stamp.exists() and stamp.read_text().split() == wanted:
        return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(CONFLUENT_VENV)], check=True)
    scratch_pip(python, *wanted)
    stamp.write_text("\n".join(wanted))
    return python


def build_baseline() -> Baseline:
    """The baseline of bench_replay: 200,000 reference rows of the same generator."""
    import pyarrow as pa
    from bench_replay import columns

    from baselines.build import build_baseline as build

    baseline = build(pa.table(columns(200_000, seed=1)), model="bench", prediction="prediction")
    CACHE.mkdir(parents=True, exist_ok=True)
    baseline.save(CACHE / "bench.baseline.json")
    return baseline


def status_events(port: int) -> int:
    """Events /status reports (accepted + rejected), or -1 while it does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=2) as response:
            totals = orjson.loads(response.read())["totals"]
    except OSError:
        return -1
    return int(sum(totals["events"].values()) + sum(totals["rejected"].values()))


def proc_status_kib(pid: int, field: str) -> int:
    """A ``kB`` field of /proc/<pid>/status (VmRSS, VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"/proc/{pid}/status has no {field}")


def consuming_at(log: Path) -> float:
    """Epoch seconds of the daemon's ``consuming`` log line (just before its first poll)."""
    for line in log.read_bytes().splitlines():
        entry = orjson.loads(line) if line.startswith(b"{") else {}
        if entry.get("event") == "consuming":
            return datetime.fromisoformat(entry["timestamp"]).timestamp()
    raise RuntimeError(f"no 'consuming' line in {log}")


def memory_run(
    backend: Backend, bootstrap: str, produced: Mapping[str, Any], max_poll: int
) -> dict[str, Any]:
    """``driftwarden run`` as its own process: VmRSS when /status first reaches each mark."""
    with tempfile.TemporaryDirectory(prefix="bench-rss-", dir=CACHE) as folder:
        return _memory_run(backend, bootstrap, produced, max_poll, Path(folder))


def _memory_run(
    backend: Backend, bootstrap: str, produced: Mapping[str, Any], max_poll: int, state: Path
) -> dict[str, Any]:
    (port,) = free_ports(1)
    config = daemon_config(
        CACHE / "bench.baseline.json", bootstrap, produced["topic"], max_poll, state, port
    )
    (state / "driftwarden.yaml").write_bytes(orjson.dumps(config))  # JSON is YAML
    log = state / "daemon.log"
    expected = int(produced["events"])
    marks = sorted({min(1_000_000, expected // 3), expected * 2 // 3, expected})
    command = [str(backend.python), "-m", "monitor.cli", "run", "--config"]
    with log.open("wb") as stderr:
        spawned = time.time()
        process = subprocess.Popen(
            [*command, str(state / "driftwarden.yaml")],
            cwd=ROOT,
            env=backend.env(),
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        samples: list[tuple[float, int, int]] = []
        at_mark: dict[int, int] = {}
        try:
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"daemon exited with {process.returncode}; see {log}")
                seen = status_events(port)
                rss = proc_status_kib(process.pid, "VmRSS")
                samples.append((time.time(), seen, rss))
                for mark in marks:
                    if seen >= mark and mark not in at_mark:
                        at_mark[mark] = rss
                if seen >= expected:
                    break
                if time.time() - spawned > 3600:
                    raise RuntimeError(f"daemon saw {seen} of {expected} events in an hour")
                time.sleep(STATUS_EVERY_S)
            peak = proc_status_kib(process.pid, "VmHWM")
        finally:
            process.terminate()
            process.wait(timeout=60)
    done = samples[-1][0]
    started = consuming_at(log)
    warm = [(seen, rss / 1024) for _, seen, rss in samples if seen >= marks[0]]
    fit = fitted_growth([seen for seen, _ in warm], [rss for _, rss in warm])
    return {
        "events": expected,
        "max_poll_records": max_poll,
        "rss_mib_when_status_answers": next(rss for _, seen, rss in samples if seen >= 0) / 1024,
        "rss_mib_at": {str(m): at_mark[m] / 1024 for m in marks},
        "peak_rss_mib": peak / 1024,
        "warm_rss_mib": spread([rss for _, rss in warm]),
        "growth": fit["growth"],
        "growth_fit": fit | {"slope_mib_per_million_events": fit["slope"] * 1e6},
        "growth_from_to": [warm[0][0], warm[-1][0]],
        "seconds_from_consuming_log": done - started,
        "events_per_s_from_consuming_log": expected / (done - started),
        "seconds_from_spawn": done - spawned,
        "samples_s_events_rss_kib": [
            [round(t - spawned, 2), seen, rss] for t, seen, rss in samples
        ],
    }


def median_of(results: Sequence[Mapping[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in results))


def throughput(
    setups: Mapping[str, Backend],
    bootstrap: str,
    produced: Mapping[str, Any],
    poll_sizes: Sequence[int],
    repeats: int,
) -> dict[str, dict[str, dict[str, Any]]]:
    """Every backend's loops ``repeats`` times per poll size, in rounds of rotating order;
    medians (with min and max) and the ratio of the medians."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for name, backend in setups.items():
        out[name] = {}
        for max_poll in poll_sizes:
            runs: dict[str, list[dict[str, Any]]] = {kind: [] for kind in backend.kinds}
            for _, kind in rotation(backend.kinds, repeats):
                result = run_worker(backend, kind, bootstrap, produced, max_poll)
                runs[kind].append(result)
                print(
                    f"  {name} {kind} max_poll_records={max_poll}: "
                    f"{result['events_per_s']:,.0f} events/s",
                    flush=True,
                )
            row: dict[str, Any] = {
                kind: {
                    "events_per_s": median_of(r, "events_per_s"),
                    "events_per_s_spread": spread([x["events_per_s"] for x in r]),
                    "steady_events_per_s": median_of(r, "steady_events_per_s"),
                    "seconds": median_of(r, "seconds"),
                }
                for kind, r in runs.items()
            }
            if "daemon" in runs:
                daemon = runs["daemon"]
                row["ratio"] = row["daemon"]["events_per_s"] / row["bare"]["events_per_s"]
                row["steady_ratio"] = (
                    row["daemon"]["steady_events_per_s"] / row["bare"]["steady_events_per_s"]
                )
                for part in ("pipeline_seconds", "to_raw_records_seconds"):
                    row["daemon"][part] = median_of(daemon, part)
            out[name][str(max_poll)] = {**row, "runs": runs}
    return out


def projection(summary: Mapping[str, Any]) -> dict[str, float]:
    """Daemon events/s if confluent-kafka polled: its bare polling time plus our measured work.

    Our work per poll size is the daemon's time in ``to_raw_records`` and ``Pipeline``
    (medians); confluent's is its bare run minus the
    ``orjson.loads`` loop. An estimate: turning confluent messages into RawRecords costs about
    what ``to_raw_records`` costs on kafka-python's records.
    """
    measured = summary["throughput"]
    ours = measured.get("kafka-python")
    out: dict[str, float] = {}
    for max_poll, row in measured.get("confluent-kafka", {}).items():
        if ours is None or max_poll not in ours:
            continue
        bare = row["runs"]["confluent"]
        polling = median_of(bare, "seconds") - median_of(bare, "loads_seconds")
        daemon = ours[max_poll]["daemon"]
        work = daemon["pipeline_seconds"] + daemon["to_raw_records_seconds"]
        out[max_poll] = summary["throughput_topic"]["events"] / (polling + work)
    return out


def pipeline_alone_runs(summary: Mapping[str, Any], events: int) -> dict[str, Any]:
    """The pipeline from memory at the daemon's mean poll sizes, on the reader's threads and one.

    Compared with the pipeline's rate inside the daemon run (events / time in
    ``Pipeline.process_records``), it shows what the broker and the consumer sharing the
    machine's cores cost the pipeline.
    """
    measured = summary["throughput"]
    name = "kafka-python"
    if name not in measured:
        return {}
    here = Backend(Path(sys.executable), None, ("pipeline",))
    source = {"topic": "-", "events": events}
    total = summary["throughput_topic"]["events"]
    out: dict[str, Any] = {"backend": name}
    for max_poll, row in measured[name].items():
        batch = round(total / median_of(row["runs"]["daemon"], "polls"))
        found: dict[str, Any] = {
            "mean_poll_size": batch,
            "in_daemon_events_per_s": total / row["daemon"]["pipeline_seconds"],
        }
        alone = found["alone_events_per_s_by_reader_threads"] = {}
        for threads in (0, 1):
            result = run_worker(here, "pipeline", "-", source, batch, f"--reader-threads={threads}")
            alone[str(result["reader_threads"])] = result["events_per_s"]
        out[max_poll] = found
    return out


LOOPS = {
    "bare": "bare poll + orjson.loads",
    "daemon": "driftwarden daemon",
    "confluent": "bare poll + orjson.loads",
}


def print_report(summary: Mapping[str, Any]) -> None:
    data = summary["throughput_topic"]
    print(
        f"\nend to end from the broker: {data['events']:,} JSON events "
        f"({data['mean_message_bytes']:.0f} B each, 16 numeric + 4 categorical features), "
        f"{data['partitions']} partitions; medians of {summary['repeats']} run(s), each a fresh "
        "interpreter and consumer group; clocks from the first poll to the last message handled;"
        f" kafka-python checks CRC-32C with {summary['kafka_python_crc32c']}"
    )
    header = (
        f"{'consumer library':<20} | {'max_poll':>8} | {'loop':<24} | {'events/s':>9} | "
        f"{'after 1st batch':>15} | daemon / bare (target >= 0.85)"
    )
    print(header)
    print("-" * len(header))
    for name, rows in summary["throughput"].items():
        for max_poll, row in rows.items():
            for kind in row["runs"]:
                cell = row[kind]
                note = ""
                if kind == "daemon":
                    verdict = "ok" if row["ratio"] >= 0.85 else "BELOW TARGET"
                    note = (
                        f"{row['ratio']:.2f} {verdict} (after 1st batch {row['steady_ratio']:.2f})"
                    )
                rates = f"{cell['events_per_s']:>9,.0f} | {cell['steady_events_per_s']:>15,.0f}"
                print(f"{name:<20} | {max_poll:>8} | {LOOPS[kind]:<24} | {rates} | {note}")
            if "daemon" in row:
                daemon = row["daemon"]
                pipeline = daemon["pipeline_seconds"] / daemon["seconds"]
                raw = daemon["to_raw_records_seconds"] / daemon["seconds"]
                print(
                    f"{'':<20} | {'':>8} | daemon time: {pipeline:.0%} Pipeline.process_records, "
                    f"{raw:.0%} to_raw_records, the rest kafka-python poll"
                )
    for max_poll, rate in summary.get("confluent_projection", {}).items():
        print(
            f"projection, daemon on confluent-kafka, max_poll {max_poll}: ~{rate:,.0f} events/s "
            "(confluent's bare polling time + our measured to_raw_records and pipeline time)"
        )
    alone = dict(summary.get("pipeline_alone", {}))
    backend = alone.pop("backend", "")
    for max_poll, found in alone.items():
        rates = ", ".join(
            f"{threads} reader thread(s) {rate:,.0f}"
            for threads, rate in found["alone_events_per_s_by_reader_threads"].items()
        )
        print(
            f"Pipeline.process_records, max_poll {max_poll} "
            f"(mean poll {found['mean_poll_size']:,}): inside the {backend} daemon run "
            f"{found['in_daemon_events_per_s']:,.0f} events/s; alone from memory: {rates}"
        )
    memory = summary["memory"]
    low, high = memory["growth_from_to"]
    fit = memory["growth_fit"]
    verdict = "ok" if memory["growth"] < 0.10 else "ABOVE TARGET"
    print(
        "\nmemory, one `driftwarden run` process over "
        f"{memory['events']:,} events: VmRSS "
        + ", ".join(f"at {int(m):,}: {v:.0f} MiB" for m, v in memory["rss_mib_at"].items())
        + f"; when /status first answered {memory['rss_mib_when_status_answers']:.0f} MiB, "
        f"peak {memory['peak_rss_mib']:.0f} MiB\n"
        f"growth {low:,} -> {high:,} events, least squares over {fit['samples']} samples: "
        f"{fit['fitted_first']:.0f} -> {fit['fitted_last']:.0f} MiB, {memory['growth']:+.1%} "
        f"(target < 10%) {verdict}; samples ranged {memory['warm_rss_mib']['min']:.0f}-"
        f"{memory['warm_rss_mib']['max']:.0f} MiB"
    )
    print(
        "same run, out of process, `consuming` log line -> first /status showing all events: "
        f"{memory['events_per_s_from_consuming_log']:,.0f} events/s "
        f"({memory['seconds_from_spawn']:.0f} s from spawn)"
    )


def worker_main(argv: Sequence[str]) -> None:
    """``bench_kafka.py worker KIND …``: one measurement; prints its result as a JSON line."""
    parser = argparse.ArgumentParser(prog="bench_kafka.py worker")
    parser.add_argument("kind", choices=sorted(WORKERS))
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--expected", type=int, required=True)
    parser.add_argument("--max-poll-records", type=int, required=True)
    parser.add_argument("--baseline", required=True)
    parser.add_argument("--reader-threads", type=int, default=0, help="pipeline: 0 = default")
    args = parser.parse_args(argv)
    print(json.dumps(WORKERS[args.kind](args)), flush=True)


def compact(summary: Mapping[str, Any]) -> dict[str, Any]:
    """The summary without per-run details and samples: the one JSON line printed."""
    out = {k: v for k, v in summary.items() if k not in ("throughput", "memory")}
    out["throughput"] = {
        name: {m: {k: v for k, v in row.items() if k != "runs"} for m, row in rows.items()}
        for name, rows in summary["throughput"].items()
    }
    out["memory"] = {k: v for k, v in summary["memory"].items() if k != "samples_s_events_rss_kib"}
    return out


def main() -> None:
    if sys.argv[1:2] == ["worker"]:
        worker_main(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rss-events", type=int, default=3_000_000)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--max-poll-records", type=int, nargs="+", default=[5000, 20000])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS), metavar="BACKEND"
    )
    parser.add_argument("--pipeline-events", type=int, help="default: --events")
    parser.add_argument("--bootstrap", help="use this broker instead of starting one")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    setups = backends(args.backends)
    memory_backend = backends(["kafka-python"])["kafka-python"]
    build_baseline()
    summary: dict[str, Any] = {
        "repeats": args.repeats,
        "cpus": os.cpu_count(),
        "loadavg_1m_at_start": os.getloadavg()[0],
        "other_benchmarks_at_start": other_benchmarks(),
        "kafka_python_crc32c": kafka_crc32c(),
    }
    with broker(args.bootstrap) as bootstrap:
        print(f"broker {bootstrap}; producing {args.events:,} events", flush=True)
        produced = produce_topic(bootstrap, args.events, args.partitions, seed=4)
        summary["throughput_topic"] = produced
        print(f"  {produced['produce_seconds']:.0f} s; measuring throughput", flush=True)
        summary["throughput"] = throughput(
            setups, bootstrap, produced, args.max_poll_records, args.repeats
        )
        summary["confluent_projection"] = projection(summary)
        summary["pipeline_alone"] = pipeline_alone_runs(
            summary, args.pipeline_events or args.events
        )
        print(f"producing {args.rss_events:,} events for the memory run", flush=True)
        big = produce_topic(bootstrap, args.rss_events, args.partitions, seed=5)
        summary["memory_topic"] = big
        summary["memory"] = memory_run(memory_backend, bootstrap, big, args.max_poll_records[0])
    summary["loadavg_1m_at_end"] = os.getloadavg()[0]
    summary["other_benchmarks_at_end"] = other_benchmarks()
    print_report(summary)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps(compact(summary)))


def other_benchmarks() -> list[str]:
    """Command lines of running ``benchmarks/peers/`` processes (they share the 2 cores)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if any(b"benchmarks/peers/" in a for a in args):
            found.append(b" ".join(a.rsplit(b"/", 1)[-1] for a in args[:2]).decode())
    return sorted(found)


if __name__ == "__main__":
    main()
