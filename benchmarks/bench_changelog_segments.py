"""What a changelog restore reads after many snapshots: the broker's segments against driftwarden's.

Run: ``.venv/bin/python benchmarks/bench_changelog_segments.py --bootstrap 127.0.0.1:9092
[--snapshots 60] [--restores 5] [--wait-s 180]`` against a running broker
(``deploy/local/kafka.sh start``); the raw figures go to
benchmarks/results/changelog_segments.json.

One task's 10 MiB snapshot is written ``--snapshots`` times, each in a commit cycle of its own
(``monitor.exchange.changelog``), to partition 0 of a stage-1 changelog made two ways: by
``ensure_topics`` (``segment.bytes`` 64 MiB, ``segment.ms`` 10 min) and by hand with the
broker's segments (1 GiB, 7 days). Compaction never touches a partition's active segment, so
with the broker's segments every snapshot stays until the segment rolls. Then the log cleaner
gets its chance: until neither partition's size (the broker's log-dir figure) has changed for
30 s, or ``--wait-s`` passed. Last, a fresh reader restores the key from each side,
``--restores`` times in rotating rounds (``attempts.rotation``); medians with min and max.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid
from pathlib import Path

from attempts import rotation, spread
from kafka import KafkaAdminClient

from monitor.config import ExchangeConfig
from monitor.exchange.changelog import Changelog
from monitor.exchange.commit_cycle import CommitCycle, transactional_id
from monitor.exchange.topics import ensure_topics, internal_topics

MIB = 1024 * 1024
SNAPSHOT_MIB = 10
SETTLED_S = 30  # no size changed this long: the cleaner is done with the partitions
SIDES = ("driftwarden", "broker")
RESULTS = Path(__file__).resolve().parent / "results" / "changelog_segments.json"


def partition_bytes(admin: KafkaAdminClient, topic: str) -> int:
    """The size on the broker's disk of partition 0 of ``topic``, every segment included."""
    for broker in admin.describe_log_dirs({topic: [0]}):
        for log_dir in broker["log_dirs"]:
            for described in log_dir["topics"]:
                if described["name"] == topic:
                    return int(described["partitions"][0]["partition_size"])
    raise LookupError(f"no log-dir entry for {topic}[0]")


def changelog_with(admin: KafkaAdminClient, side: str) -> str:
    """A fresh group's stage-1 changelog, made by ensure_topics or first by hand."""
    group = f"bench-{uuid.uuid4().hex[:8]}"
    topic = f"{group}-stage1-changelog"
    if side == "broker":
        compact = {"cleanup.policy": "compact"}
        admin.create_topics(
            {topic: {"num_partitions": 1, "replication_factor": 1, "configs": compact}},
            wait_for_metadata=True,
        )
    exchange = ExchangeConfig(partitions=1, replication_factor=1)
    ensure_topics(admin, group, internal_topics(group, exchange, tasks=1))
    return topic


def write_snapshots(bootstrap: str, topic: str, count: int) -> bytes:
    """Write ``count`` snapshots of key t0 to partition 0, a cycle each; the last one."""
    changelog = Changelog(topic)
    name = transactional_id(topic.removesuffix("-stage1-changelog"), 1, "bench")
    cycle = CommitCycle({"bootstrap_servers": bootstrap}, name, timeout_ms=120_000)
    data = b""
    for _ in range(count):
        data = os.urandom(SNAPSHOT_MIB * MIB)
        cycle.begin()
        changelog.write(cycle, 0, "t0", data)
        cycle.commit({}, None)
        changelog.committed()
    cycle.close()
    return data


def settle(admin: KafkaAdminClient, topics: dict[str, str], wait_s: float) -> dict[str, int]:
    """Partition sizes by side once none changed for SETTLED_S (or wait_s passed)."""
    sizes = {side: partition_bytes(admin, topic) for side, topic in topics.items()}
    started = changed = time.monotonic()
    while time.monotonic() - changed < SETTLED_S and time.monotonic() - started < wait_s:
        time.sleep(1)
        now = {side: partition_bytes(admin, topic) for side, topic in topics.items()}
        if now != sizes:
            sizes, changed = now, time.monotonic()
    return sizes


def timed_restore(bootstrap: str, topic: str, expected: bytes) -> float:
    started = time.perf_counter()
    restored = Changelog(topic).restore({"bootstrap_servers": bootstrap}, 0, "t0")
    took = time.perf_counter() - started
    assert restored == expected, "the restored snapshot differs from the last one written"
    return took


def measure(admin: KafkaAdminClient, bootstrap: str, args: argparse.Namespace) -> dict[str, object]:
    topics = {side: changelog_with(admin, side) for side in SIDES}
    last = {
        side: write_snapshots(bootstrap, topic, args.snapshots) for side, topic in topics.items()
    }
    written = {side: partition_bytes(admin, topic) for side, topic in topics.items()}
    cleaned = settle(admin, topics, args.wait_s)
    restores: dict[str, list[float]] = {side: [] for side in SIDES}
    for _, side in rotation(SIDES, args.restores):
        restores[side].append(timed_restore(bootstrap, topics[side], last[side]))
    return {
        "snapshots": args.snapshots,
        "snapshot_mib": SNAPSHOT_MIB,
        "bytes_after_writes": written,
        "bytes_after_cleaner": cleaned,
        "restore_seconds": {side: spread(times) for side, times in restores.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--snapshots", type=int, default=60)
    parser.add_argument("--restores", type=int, default=5)
    parser.add_argument("--wait-s", type=float, default=180)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    admin = KafkaAdminClient(bootstrap_servers=args.bootstrap, request_timeout_ms=30_000)
    try:
        document = measure(admin, args.bootstrap, args)
    finally:
        admin.close()
    args.output.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(document, indent=1))


if __name__ == "__main__":
    main()
