"""What the scale-out's exactly-once rests on, on a real broker: kafka-python's transactions.

Run: ``.venv/bin/python benchmarks/bench_transactions.py --bootstrap 127.0.0.1:9092
[--cycles 50]`` against a running broker (``deploy/local/kafka.sh start``); the raw figures go to
benchmarks/results/transactions.json.

A consume-transform-produce loop as stage 1 would run it (docs/scale-out.md, "Commit order"): a
group consumer reading 2 partitions with ``isolation_level="read_committed"``, a transactional
producer copying every record to an output topic, and per cycle ``send_offsets_to_transaction``
with the consumer's group metadata (KIP-447 fencing) then ``commit_transaction``. Every fifth
cycle is aborted instead and the consumer rewound to its committed offsets, as a kill would.
Reported: the time ``init_transactions`` takes, the time of the offsets-and-commit step per
cycle (median and largest), and whether a ``read_committed`` reader of the output sees every
input record exactly once while a ``read_uncommitted`` one also sees the aborted copies.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import uuid
from pathlib import Path

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.structs import OffsetAndMetadata

PER_CYCLE = 200
RESULTS = Path(__file__).resolve().parent / "results" / "transactions.json"


def read_all(bootstrap: str, topic: str, isolation: str) -> list[bytes]:
    reader = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        isolation_level=isolation,
        consumer_timeout_ms=5_000,
    )
    try:
        return [m.value for m in reader]
    finally:
        reader.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--cycles", type=int, default=50)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    run = uuid.uuid4().hex[:8]
    source, output, group = f"tx-source-{run}", f"tx-output-{run}", f"tx-{run}"
    admin = KafkaAdminClient(bootstrap_servers=args.bootstrap)
    admin.create_topics(
        {name: {"num_partitions": 2, "replication_factor": 1} for name in (source, output)},
        wait_for_metadata=True,
    )
    admin.close()
    total = args.cycles * PER_CYCLE
    plain = KafkaProducer(bootstrap_servers=args.bootstrap)
    for i in range(total):
        plain.send(source, str(i).encode(), partition=i % 2)
    plain.flush()
    plain.close()

    consumer = KafkaConsumer(
        source,
        bootstrap_servers=args.bootstrap,
        group_id=group,
        group_instance_id="bench-0",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    producer = KafkaProducer(bootstrap_servers=args.bootstrap, transactional_id=f"{group}-stage1")
    started = time.perf_counter()
    producer.init_transactions()
    init_seconds = time.perf_counter() - started
    commits, aborted, done, cycle = [], 0, 0, 0
    while done < total:
        polled = consumer.poll(timeout_ms=1_000, max_records=PER_CYCLE)
        if not polled:
            continue
        cycle += 1
        producer.begin_transaction()
        offsets = {}
        for tp, records in polled.items():
            for record in records:
                producer.send(output, record.value, partition=tp.partition)
            offsets[tp] = OffsetAndMetadata(records[-1].offset + 1, "", -1)
        started = time.perf_counter()
        producer.send_offsets_to_transaction(offsets, consumer.group_metadata())
        if cycle % 5 == 0:
            producer.abort_transaction()
            aborted += sum(len(records) for records in polled.values())
            for tp in offsets:
                consumer.seek(tp, consumer.committed(tp) or 0)
            continue
        producer.commit_transaction()
        commits.append(time.perf_counter() - started)
        done += sum(len(records) for records in polled.values())
    consumer.close()
    producer.close()
    committed = read_all(args.bootstrap, output, "read_committed")
    everything = read_all(args.bootstrap, output, "read_uncommitted")
    document = {
        "records": total,
        "records_per_cycle": PER_CYCLE,
        "cycles_committed": len(commits),
        "records_aborted": aborted,
        "init_transactions_seconds": init_seconds,
        "offsets_and_commit_seconds_median": statistics.median(commits),
        "offsets_and_commit_seconds_max": max(commits),
        "read_committed_records": len(committed),
        "read_committed_distinct": len(set(committed)),
        "read_uncommitted_records": len(everything),
    }
    args.output.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(document, indent=1))


if __name__ == "__main__":
    main()
