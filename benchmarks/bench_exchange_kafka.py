"""The scale-out's Kafka transport on a real broker: changelog snapshots and stage-1 commit cycles.

Run: ``.venv/bin/python benchmarks/bench_exchange_kafka.py --bootstrap 127.0.0.1:9092
[--repeats 5] [--cycles 30]`` against a running broker (``deploy/local/kafka.sh start``); the
raw figures go to benchmarks/results/exchange_kafka.json.

Changelog (``monitor.exchange.changelog``): a snapshot of 1, 10 and 41 MiB (the stage-1 join
buffers reach 41 MiB for 1,000,000 waiting predictions) written in a commit cycle of its own
(chunks, manifest, commit) and restored by a fresh reader (read the partition to its end with
``read_committed``, join, check the digest). Each attempt writes to a changelog partition of its
own, so a restore reads one snapshot, as after compaction; ``restore_after_snapshots`` then
restores a partition holding ``--repeats`` successive 10 MiB snapshots of one key, as before
compaction runs (the active segment is never compacted).

Commit cycle (``monitor.exchange.commit_cycle`` and ``publish``) with 12 exchange partitions, one
model: a stage-1 process owning 2 tasks of a prediction and a label topic (4 source
partitions) sends per cycle the counts partial of its 2 prediction partitions (5,000 events of
one window each, bench_exchange.py's 20-feature model: 71 kB), a mark per source partition to
every exchange partition (48 marks) and the offsets of its 4 source partitions, then commits.
The other side is the same cycle without partials (a cycle of an idle process: marks and offsets
only). Sides alternate in rotating rounds; medians with min and max.
"""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid
from pathlib import Path

from attempts import spread, timed_rounds
from bench_exchange import cycle_partial, model_layout
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata

from monitor.config import ExchangeConfig
from monitor.exchange.changelog import Changelog
from monitor.exchange.commit_cycle import CommitCycle, transactional_id
from monitor.exchange.publish import publish
from monitor.exchange.records import Mark, Partial, encode
from monitor.exchange.topics import ensure_topics, internal_topics

MIB = 1024 * 1024
SIZES_MIB = (1, 10, 41)
EXCHANGE_PARTITIONS = 12
TASKS = 2
RESULTS = Path(__file__).resolve().parent / "results" / "exchange_kafka.json"


def make_group(bootstrap: str, tasks: int) -> str:
    group = f"bench-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    exchange = ExchangeConfig(partitions=EXCHANGE_PARTITIONS, replication_factor=1)
    ensure_topics(admin, group, internal_topics(group, exchange, tasks))
    admin.close()
    return group


def changelog_figures(bootstrap: str, repeats: int) -> dict[str, object]:
    options = {"bootstrap_servers": bootstrap}
    group = make_group(bootstrap, tasks=len(SIZES_MIB) * repeats + 1)
    changelog = Changelog(f"{group}-stage1-changelog")
    cycle = CommitCycle(options, transactional_id(group, 1, "bench"), timeout_ms=120_000)
    cycle.begin()  # init_transactions outside the clock
    cycle.commit({}, None)
    partitions = iter(range(len(SIZES_MIB) * repeats))

    def write(partition: int, data: bytes) -> float:
        started = time.perf_counter()
        cycle.begin()
        changelog.write(cycle, partition, f"t{partition}", data)
        cycle.commit({}, None)
        changelog.committed()
        return time.perf_counter() - started

    def write_and_restore(size: int) -> tuple[float, float]:
        partition, data = next(partitions), os.urandom(size * MIB)
        wrote = write(partition, data)
        started = time.perf_counter()
        restored = Changelog(changelog.topic).restore(options, partition, f"t{partition}")
        took = time.perf_counter() - started
        assert restored == data, "the restored snapshot differs from the one written"
        return wrote, took

    figures: dict[str, object] = {}
    for size in SIZES_MIB:
        times = [write_and_restore(size) for _ in range(repeats)]
        figures[f"{size}_mib"] = {
            "write_and_commit_seconds": spread([w for w, _ in times]),
            "restore_seconds": spread([r for _, r in times]),
        }
    stacked = len(SIZES_MIB) * repeats
    for _ in range(repeats):
        write(stacked, os.urandom(10 * MIB))
    started = time.perf_counter()
    Changelog(changelog.topic).restore(options, stacked, f"t{stacked}")
    figures["restore_after_snapshots"] = {
        "snapshots": repeats,
        "snapshot_mib": 10,
        "seconds": time.perf_counter() - started,
    }
    cycle.close()
    return figures


def cycle_figures(bootstrap: str, cycles: int) -> dict[str, object]:
    options = {"bootstrap_servers": bootstrap}
    group = make_group(bootstrap, tasks=TASKS)
    sources = [f"{group}-predictions", f"{group}-labels"]
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics(
        {name: {"num_partitions": TASKS, "replication_factor": 1} for name in sources},
        wait_for_metadata=True,
    )
    admin.close()
    member = KafkaConsumer(*sources, bootstrap_servers=bootstrap, group_id=group)
    while not member.assignment():
        member.poll(timeout_ms=500)
    layout = model_layout()
    partials = [cycle_partial(layout, 5_000, source, values=False) for source in range(TASKS)]
    config = partials[0].config
    source_ids = [index * 100_000 + task for index in range(len(sources)) for task in range(TASKS)]
    cycle = CommitCycle(options, transactional_id(group, 1, "bench"), timeout_ms=120_000)
    cycle.begin()  # init_transactions outside the clock
    cycle.commit({}, None)
    done = iter(range(1, 2 * cycles + 1))

    def one_cycle(sent: list[Partial]) -> float:
        position = next(done)
        marks = [Mark(config, s, position, 1_000 * position, False) for s in source_ids]
        offsets = {
            TopicPartition(topic, task): OffsetAndMetadata(position, "", -1)
            for topic in sources
            for task in range(TASKS)
        }
        started = time.perf_counter()
        cycle.begin()
        publish(cycle, f"{group}-exchange", EXCHANGE_PARTITIONS, sent, marks)
        cycle.commit(offsets, member.group_metadata())
        return time.perf_counter() - started

    times = timed_rounds(
        {
            "partials_marks_offsets": lambda: one_cycle(partials),
            "marks_offsets": lambda: one_cycle([]),
        },
        cycles,
    )
    cycle.close()
    member.close()
    return {
        "exchange_partitions": EXCHANGE_PARTITIONS,
        "source_partitions": len(source_ids),
        "partials_per_cycle": len(partials),
        "partial_bytes": len(encode(partials[0])),
        "marks_per_cycle": len(source_ids) * EXCHANGE_PARTITIONS,
        "cycle_seconds": {name: spread(values) for name, values in times.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cycles", type=int, default=30)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    document = {
        "changelog": changelog_figures(args.bootstrap, args.repeats),
        "commit_cycle": cycle_figures(args.bootstrap, args.cycles),
    }
    args.output.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(document, indent=1))


if __name__ == "__main__":
    main()
