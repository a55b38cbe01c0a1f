"""Soak run of issue 12: a long stream with bad messages, rebalances and broker pauses.

Run: ``.venv/bin/python benchmarks/soak.py [--events 20000000] [--rate 12000]
[--partitions 4] [--rebalance-every-s 60] [--pause-every-s 300] [--pause-s 75]
[--output benchmarks/results/soak.json]``; a smoke run: ``--events 200000 --rate 2000
--rebalance-every-s 20 --pause-every-s 60 --pause-s 20 --output /tmp/soak-smoke.json``.

One broker of its own (``tests.support.kafka.LocalBroker``), one prediction topic of
``--partitions`` partitions. The stream is **paced, produced while the daemon consumes**, at most
``--rate`` messages/s (after a broker pause the producer catches up as fast as it can): a run of
20M messages then lasts ~30 minutes, long enough for the rebalances and pauses to hit it at every
stage. Message ``i`` goes to partition ``i % partitions``; every 100th message is a bad one from
``tests.support.malformed.CORPUS`` (the 25 kinds in turn, so 1%), the rest are good events of model
``m`` (16 numeric + 4 categorical features, seeded per chunk) evenly spread over 24 hours of event
time, so every partition is in event-time order.

One ``driftwarden run`` process (checkpoints every 30 s, a report file, a dead-letter topic,
an ``allowed_lateness`` from ``lateness_h``, long enough for partitions held by the guest to
come back in time: 6 h at 15,000 messages/s, 5 h at 10,000). The guest joins only a daemon that
has caught up with the topic.
Every ``--rebalance-every-s`` a guest group member (a bare kafka-python consumer whose client id
sorts before the daemon's, so the range assignor gives it partitions) joins or leaves: a
rebalance each time. Every ``--pause-every-s`` (first at half that) the broker's JVM is frozen
with SIGSTOP for ``--pause-s``. Every ``--sample-every-s`` the daemon's VmRSS (/proc), /healthz
and /status totals are sampled.

At the end, with every message counted, SIGTERM, then the checks: good events counted == good
produced (lost 0, doubled 0), rejects per reason == bad produced per reason, every corpus message
on the dead-letter topic at least once, the topic holding each message once, exit status 0,
/healthz 200 at every sample, every window the daemon closed byte-identical to the same line of
``driftwarden replay --config … --topic …`` of the same topic (an uninterrupted run; the replay
also closes the last windows, which the live daemon holds open for late events), and RSS growth
within 10%: the least-squares slope of the samples after the warm-up times the time they span,
over the fitted RSS at their start. The warm-up lasts until the daemon has closed its first
window (``totals.windows`` of /status above 0): only then has the number of open windows, whose
buffered values are most of the state, reached its steady size. The growth of the samples after
the first ``--warmup`` share of the messages (10%) is reported beside it, not checked.
Everything, with every sample, goes to ``--output``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from bench_kafka import proc_status_kib  # noqa: E402
from bench_replay import NUMERIC, START_MS, columns  # noqa: E402

from tests.support.kafka import LocalBroker  # noqa: E402
from tests.support.malformed import CORPUS  # noqa: E402

BAD_EVERY = 100
CHUNK = 10_000
SPAN_MS = 24 * 3_600_000
MAX_GROWTH = 0.10
RESULTS = ROOT / "benchmarks" / "results" / "soak.json"


def feature_columns(rows: int, seed: int, shift: float) -> dict[str, np.ndarray]:
    """bench_replay's columns with the first one named ``x``, the feature the corpus's
    wrong-type messages carry, so they are rejected as the corpus says."""
    data = columns(rows, seed, shift)
    data["x"] = data.pop(NUMERIC[0])
    return data


def message_at(i: int, row: dict[str, Any], events: int) -> bytes:
    """Message ``i`` of the stream: a corpus entry every ``BAD_EVERY``, else a good event."""
    if i % BAD_EVERY == BAD_EVERY - 1:
        return CORPUS[(i // BAD_EVERY) % len(CORPUS)][0]
    return orjson.dumps(
        {
            "event_id": f"e{i}",
            "model": "m",
            "timestamp": START_MS + i * SPAN_MS // events,
            "features": {k: v for k, v in row.items() if k != "prediction"},
            "prediction": row["prediction"],
        }
    )


def expected_rejects(events: int) -> Counter[str]:
    """Reject reasons of the bad messages among the first ``events``."""
    bad = events // BAD_EVERY
    return Counter(CORPUS[k % len(CORPUS)][1] for k in range(bad))


class PacedProducer(threading.Thread):
    """Writes the stream at no more than ``rate`` messages/s; counts what was acknowledged."""

    def __init__(self, bootstrap: str, topic: str, events: int, partitions: int, rate: float):
        super().__init__(daemon=True)
        from kafka import KafkaProducer

        self.producer = KafkaProducer(
            bootstrap_servers=bootstrap,
            acks="all",
            enable_idempotence=True,
            linger_ms=50,
            batch_size=512 * 1024,
            max_block_ms=900_000,  # a paused broker blocks send() until it is back
            delivery_timeout_ms=900_000,
        )
        self.topic, self.events, self.partitions, self.rate = topic, events, partitions, rate
        self.sent = 0
        self.failed = 0
        self.error: BaseException | None = None

    def _fail(self, _: Any) -> None:
        self.failed += 1

    def run(self) -> None:
        try:
            started = time.monotonic()
            for start in range(0, self.events, CHUNK):
                count = min(CHUNK, self.events - start)
                chunk = feature_columns(count, start // CHUNK, 0.3)
                data = {k: v.tolist() for k, v in chunk.items()}
                for j in range(count):
                    i = start + j
                    row = {k: v[j] for k, v in data.items()}
                    future = self.producer.send(
                        self.topic, message_at(i, row, self.events), partition=i % self.partitions
                    )
                    future.add_errback(self._fail)
                self.sent = start + count
                ahead = self.sent / self.rate - (time.monotonic() - started)
                if ahead > 0:
                    time.sleep(ahead)
            self.producer.flush(timeout=900)
        except BaseException as error:  # reported by the main thread
            self.error = error
        finally:
            self.producer.close(timeout=60)


class Guest:
    """A group member that takes partitions from the daemon until it leaves; never commits."""

    def __init__(self, bootstrap: str, group: str, topic: str) -> None:
        from kafka import KafkaConsumer
        from kafka.coordinator.assignors.range import RangePartitionAssignor

        self.consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=group,
            client_id="a-guest",  # sorts before the daemon's member id
            enable_auto_commit=False,
            partition_assignment_strategy=[RangePartitionAssignor],
        )
        self.consumer.subscribe([topic])
        self.leave = threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()

    def _poll(self) -> None:
        try:
            while not self.leave.is_set():
                self.consumer.poll(timeout_ms=100, max_records=1)
        finally:
            self.consumer.close(autocommit=False)


def get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


def totals(port: int) -> dict[str, Any] | None:
    status, body = get(port, "/status")
    return orjson.loads(body)["totals"] if status == 200 else None


def progress(port: int) -> tuple[int, int]:
    """Messages the daemon has counted (accepted + rejected) and windows it has closed; -1 for
    both while /status does not answer."""
    now = totals(port)
    if now is None:
        return -1, -1
    return sum(now["events"].values()) + sum(now["rejected"].values()), now["windows"]


def lateness_h(args: argparse.Namespace) -> int:
    """Hours of event time by which the partitions a guest held may lag when they come back
    (held for a rebalance interval, longer when a pause defers the guest's leaving), doubled,
    plus one."""
    held_s = args.rebalance_every_s + args.pause_s
    lag_ms = 2 * args.rate * held_s * SPAN_MS / args.events
    return int(np.ceil(lag_ms / 3_600_000)) + 1


def config_for(
    baseline: Path, bootstrap: str, topic: str, dead: str, state: Path, port: int, lateness: int
) -> dict[str, Any]:
    return {
        "models": [{"name": "m", "baseline": str(baseline)}],
        "windows": {"size": "1h", "allowed_lateness": f"{lateness}h"},
        "decode": {"max_message_bytes": 10_000},
        "kafka": {
            "bootstrap_servers": [bootstrap],
            "prediction_topics": [topic],
            "group_id": f"soak-{topic}",
            "group_instance_id": None,
            "client_id": "soak",
            "max_poll_records": 5_000,
            "dead_letter_topic": dead,
        },
        "daemon": {
            "http_host": "127.0.0.1",
            "http_port": port,
            "checkpoint_path": str(state / "checkpoint.json"),
            "report_path": str(state / "report.jsonl"),
        },
    }


def first_window_closed_s(samples: list[dict[str, Any]]) -> float | None:
    """When the daemon had closed its first window (the first sample counting one): from then
    on the open windows, and the values buffered for them, keep a steady size. None when no
    window closed while it ran."""
    return next((s["t_s"] for s in samples if s["windows"] > 0), None)


def events_reached_s(samples: list[dict[str, Any]], events: int) -> float:
    """When the daemon had first counted ``events`` messages."""
    return next(s["t_s"] for s in samples if s["events"] >= events)


def rss_growth(samples: list[dict[str, Any]], from_s: float) -> dict[str, Any]:
    """Least-squares growth of RSS over the samples taken at or after ``from_s`` seconds."""
    kept = [s for s in samples if s["t_s"] >= from_s and s["rss_kib"] > 0]
    t = np.array([s["t_s"] for s in kept])
    rss = np.array([s["rss_kib"] for s in kept], dtype=float)
    slope, intercept = np.polyfit(t, rss, 1)
    start = slope * t[0] + intercept
    return {
        "samples": len(kept),
        "from_s": float(t[0]),
        "to_s": float(t[-1]),
        "slope_kib_per_min": float(slope * 60),
        "fitted_start_mib": float(start / 1024),
        "growth": float(slope * (t[-1] - t[0]) / start),
        "min_mib": float(rss.min() / 1024),
        "max_mib": float(rss.max() / 1024),
    }


def read_topic(bootstrap: str, topic: str) -> list[bytes]:
    """Every message value of every partition of ``topic``, to its current end."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        ends = consumer.end_offsets(parts)
        values: list[bytes] = []
        deadline = time.monotonic() + 600
        while any(consumer.position(p) < ends[p] for p in parts) and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                values.extend(m.value for m in batch)
        return values
    finally:
        consumer.close()


def end_offsets(bootstrap: str, topic: str, partitions: int) -> int:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    try:
        return sum(
            consumer.end_offsets([TopicPartition(topic, p) for p in range(partitions)]).values()
        )
    finally:
        consumer.close()


def assignments(log: Path) -> list[dict[str, Any]]:
    found = []
    for line in log.read_bytes().splitlines():
        entry = orjson.loads(line) if line.startswith(b"{") else {}
        if entry.get("event") in ("partitions assigned", "partitions revoked"):
            found.append(
                {
                    "event": entry["event"],
                    "at": entry.get("timestamp"),
                    "partitions": entry.get("partitions"),
                }
            )
    return found


def log_counts(log: Path) -> Counter[str]:
    """How often each (event, level) pair of warning or worse appears in the daemon's log."""
    counts: Counter[str] = Counter()
    for line in log.read_bytes().splitlines():
        entry = orjson.loads(line) if line.startswith(b"{") else {}
        if entry.get("level") in ("warning", "error", "critical"):
            counts[f"{entry['level']}: {entry.get('event')}"] += 1
    return counts


def soak(args: argparse.Namespace, state: Path) -> dict[str, Any]:
    import pyarrow as pa
    from kafka.admin import KafkaAdminClient, NewTopic

    from baselines.build import build_baseline

    baseline = build_baseline(
        pa.table(feature_columns(200_000, seed=1, shift=0.0)), model="m", prediction="prediction"
    )
    baseline.save(state / "m.json")
    broker = LocalBroker()
    broker.start()
    try:
        return _soak(args, state, broker, KafkaAdminClient, NewTopic)
    finally:
        broker.stop(purge=True)


def _soak(
    args: argparse.Namespace, state: Path, broker: LocalBroker, admin_cls: Any, new_topic: Any
) -> dict[str, Any]:
    bootstrap = broker.bootstrap
    topic, dead = f"soak-{uuid.uuid4().hex[:6]}", f"soak-dead-{uuid.uuid4().hex[:6]}"
    admin = admin_cls(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([new_topic(topic, args.partitions, 1), new_topic(dead, 1, 1)])
    finally:
        admin.close()
    (port,) = _free_port()
    config = state / "driftwarden.yaml"
    config.write_bytes(
        orjson.dumps(
            config_for(state / "m.json", bootstrap, topic, dead, state, port, lateness_h(args))
        )
    )
    log = state / "daemon.log"
    producer = PacedProducer(bootstrap, topic, args.events, args.partitions, args.rate)
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "run", "--config", str(config)],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    started = time.monotonic()
    while get(port, "/healthz")[0] != 200:
        if process.poll() is not None or time.monotonic() - started > 300:
            raise RuntimeError(f"the daemon did not come up; see {log}")
        time.sleep(0.1)
    samples: list[dict[str, Any]] = []
    rebalances: list[dict[str, Any]] = []
    pauses: list[dict[str, Any]] = []
    guest: Guest | None = None
    next_rebalance = args.rebalance_every_s
    next_pause = args.pause_every_s / 2
    paused_since: float | None = None
    producer.start()
    exit_status: int | None = None
    last_seen, last_change = -1, 0.0
    try:
        while True:
            now = time.monotonic() - started
            if process.poll() is not None:
                raise RuntimeError(f"daemon exited with {process.returncode}; see {log}")
            if producer.error is not None:
                raise RuntimeError(f"producer failed: {producer.error!r}")
            seen, windows = progress(port)
            samples.append(
                {
                    "t_s": round(now, 2),
                    "events": seen,
                    "windows": windows,
                    "produced": producer.sent,
                    "rss_kib": proc_status_kib(process.pid, "VmRSS"),
                    "healthz": get(port, "/healthz")[0],
                    "readyz": get(port, "/readyz")[0],
                    "paused": paused_since is not None,
                    "guest": guest is not None,
                }
            )
            done_producing = not producer.is_alive()
            if seen != last_seen:
                last_seen, last_change = seen, now
            settled = seen == args.events or now - last_change > args.settle_s
            if done_producing and settled and guest is None and paused_since is None:
                break
            if now > args.timeout_s:
                raise RuntimeError(f"daemon counted {seen} of {args.events} in {now:.0f} s")
            if paused_since is not None and now >= paused_since + args.pause_s:
                broker.resume()
                pauses[-1]["resumed_s"] = round(now, 2)
                paused_since = None
            elif paused_since is None and now >= next_pause and not done_producing:
                broker.pause()
                pauses.append({"paused_s": round(now, 2), "events": seen})
                paused_since = now
                next_pause += args.pause_every_s
            if paused_since is None and (now >= next_rebalance or done_producing):
                behind = end_offsets(bootstrap, topic, args.partitions) - seen
                if guest is None and not done_producing and behind > args.rate * 2:
                    time.sleep(args.sample_every_s)  # the guest joins once the daemon caught up:
                    continue  # its partitions then lag by no more than it holds them
                if guest is None and not done_producing:
                    guest = Guest(bootstrap, f"soak-{topic}", topic)
                    rebalances.append({"t_s": round(now, 2), "guest": "joins", "events": seen})
                elif guest is not None:
                    guest.leave.set()
                    guest = None
                    rebalances.append({"t_s": round(now, 2), "guest": "leaves", "events": seen})
                next_rebalance += args.rebalance_every_s
            time.sleep(args.sample_every_s)
        final = totals(port)
        peak = proc_status_kib(process.pid, "VmHWM")
    finally:
        broker.resume()
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                exit_status = process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                process.kill()
                exit_status = process.wait()
        else:
            exit_status = process.returncode
    soak_s = time.monotonic() - started
    raw = {"samples": samples, "rebalances_requested": rebalances, "pauses": pauses}
    args.output.write_text(json.dumps({"unverified": True, **raw}) + "\n")  # kept if verify dies
    return verify(
        args,
        state,
        bootstrap,
        topic,
        dead,
        config,
        log,
        final,
        exit_status,
        peak,
        soak_s,
        samples,
        rebalances,
        pauses,
        producer,
    )


def _free_port() -> list[int]:
    from tests.support.ports import free_loopback_ports

    return free_loopback_ports(1)


def verify(
    args: argparse.Namespace,
    state: Path,
    bootstrap: str,
    topic: str,
    dead: str,
    config: Path,
    log: Path,
    final: dict[str, Any] | None,
    exit_status: int,
    peak_kib: int,
    soak_s: float,
    samples: list[dict[str, Any]],
    rebalances: list[dict[str, Any]],
    pauses: list[dict[str, Any]],
    producer: PacedProducer,
) -> dict[str, Any]:
    assert final is not None
    bad = args.events // BAD_EVERY
    good = args.events - bad
    accepted = sum(final["events"].values())
    rejected = dict(final["rejected"])
    in_topic = end_offsets(bootstrap, topic, args.partitions)
    letters = Counter(read_topic(bootstrap, dead))
    corpus = {message for message, _ in CORPUS}
    replayed = state / "replay.jsonl"
    replay_started = time.monotonic()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "monitor.cli",
            "replay",
            "--config",
            str(config),
            "--topic",
            topic,
            "--output",
            str(replayed),
            "--no-progress",
        ],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    replay_s = time.monotonic() - replay_started
    live = (state / "report.jsonl").read_bytes()
    offline = replayed.read_bytes()
    live_lines, offline_lines = live.splitlines(), offline.splitlines()
    steady_s = first_window_closed_s(samples)
    growth = None if steady_s is None else rss_growth(samples, steady_s)
    growth_after_share = rss_growth(samples, events_reached_s(samples, args.events * args.warmup))
    assigned = [a for a in assignments(log) if a["event"] == "partitions assigned"]
    checks = {
        "events_lost": max(0, good - accepted),
        "events_doubled": max(0, accepted - good),
        "rejects_by_reason_match": rejected == dict(expected_rejects(args.events)),
        "every_corpus_message_dead_lettered": corpus <= set(letters),
        "topic_holds_every_message_once": in_topic == args.events,
        "exit_status": exit_status,
        "healthz_not_200_samples": sum(1 for s in samples if s["healthz"] != 200),
        "report_windows_identical_to_replay": offline.startswith(live) and len(live_lines) > 0,
        "rss_growth_within_10pct": growth is not None and abs(growth["growth"]) <= MAX_GROWTH,
    }
    checks["passed"] = (
        checks["events_lost"] == 0
        and checks["events_doubled"] == 0
        and checks["rejects_by_reason_match"]
        and checks["every_corpus_message_dead_lettered"]
        and checks["topic_holds_every_message_once"]
        and exit_status == 0
        and checks["healthz_not_200_samples"] == 0
        and checks["report_windows_identical_to_replay"]
        and checks["rss_growth_within_10pct"]
    )
    return {
        "command": " ".join(["benchmarks/soak.py", *sys.argv[1:]]),
        "settings": {k: v for k, v in vars(args).items() if k != "output"},
        "cpus": os.cpu_count(),
        "loadavg_1m_at_end": os.getloadavg()[0],
        "checks": checks,
        "messages": args.events,
        "good_events": good,
        "bad_messages": bad,
        "accepted": accepted,
        "rejected": rejected,
        "late": final.get("late"),
        "allowed_lateness_h": lateness_h(args),
        "messages_in_topic": in_topic,
        "producer_send_failures": producer.failed,
        "dead_letters": {"messages": sum(letters.values()), "distinct": len(letters)},
        "report": {
            "live_lines": len(live_lines),
            "replay_lines": len(offline_lines),
            "windows": live.count(b'"kind":"window"'),
            "differing_lines": sum(a != b for a, b in zip(live_lines, offline_lines, strict=False)),
            "bytes": len(live),
            "replay_seconds": replay_s,
        },
        "soak_seconds": soak_s,
        "events_per_s": args.events / soak_s,
        "rss_growth": growth,  # None: no window closed, so no steady state to check
        "rss_growth_after_warmup_share": growth_after_share,
        "peak_rss_mib": peak_kib / 1024,
        "rebalances_requested": rebalances,
        "assignments_logged": len(assigned),
        "pauses": pauses,
        "log_warnings": dict(log_counts(log)),
        "samples": samples,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000_000, help="messages, 1%% bad")
    parser.add_argument("--rate", type=float, default=12_000, help="at most messages/s produced")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--rebalance-every-s", type=float, default=60)
    parser.add_argument("--pause-every-s", type=float, default=300)
    parser.add_argument("--pause-s", type=float, default=75)
    parser.add_argument("--sample-every-s", type=float, default=2)
    parser.add_argument(
        "--warmup",
        type=float,
        default=0.1,
        help="share of messages after which RSS growth is also reported (not checked)",
    )
    parser.add_argument(
        "--settle-s", type=float, default=300, help="stop when the count stands still this long"
    )
    parser.add_argument("--timeout-s", type=float, default=4 * 3600)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    (ROOT / ".cache" / "bench").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="soak-", dir=ROOT / ".cache" / "bench") as folder:
        result = soak(args, Path(folder))
    args.output.write_text(json.dumps(result, indent=1) + "\n")
    summary = {
        k: result[k] for k in ("checks", "accepted", "rejected", "soak_seconds", "peak_rss_mib")
    }
    print(json.dumps({**summary, "rss_growth": result["rss_growth"]}, indent=1))
    return 0 if result["checks"]["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
