"""A group consumer polling a paused broker: kafka-python's own poll against the daemon's.

Run: ``.venv/bin/python benchmarks/bench_paused_poll.py plain|paced [--pause-s 40]
[--output benchmarks/results/paused-poll-<mode>.jsonl]``; one broker of its own.

One 4-partition topic of 20,000 messages; one consumer joins a group and reads for 15 s, then
the broker is frozen with SIGSTOP for ``--pause-s`` while the consumer keeps calling
``poll(timeout_ms=1000)``, as the daemon's loop does. After each poll: kafka-python's poll rounds
(``KafkaConsumer._poll_once`` calls) since the pause, Python's allocated blocks above the count
at the pause (``sys.getallocatedblocks``) and the coordinator's time to the next poll. ``plain``
is kafka-python 3.0.12's ``KafkaConsumer``, ``paced`` the daemon's
:class:`monitor.sources.kafka.PacedConsumer`. Each line goes to stdout and ``--output``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

import kafka.consumer.group as group  # noqa: E402
from kafka import KafkaConsumer, KafkaProducer  # noqa: E402
from kafka.admin import KafkaAdminClient, NewTopic  # noqa: E402

from monitor.sources.kafka import PacedConsumer  # noqa: E402
from tests.support.kafka import LocalBroker  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("plain", "paced"))
    parser.add_argument("--pause-s", type=float, default=40)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    output = args.output or ROOT / "benchmarks" / "results" / f"paused-poll-{args.mode}.jsonl"
    rounds = [0]
    kafka_round = group.KafkaConsumer._poll_once

    def counted(self: Any, *a: Any, **k: Any) -> Any:
        rounds[0] += 1
        return kafka_round(self, *a, **k)

    group.KafkaConsumer._poll_once = counted
    consumer_class = PacedConsumer if args.mode == "paced" else KafkaConsumer
    broker = LocalBroker()
    broker.start()
    lines = []
    try:
        bootstrap = broker.bootstrap
        KafkaAdminClient(bootstrap_servers=bootstrap).create_topics([NewTopic("t", 4, 1)])
        producer = KafkaProducer(bootstrap_servers=bootstrap)
        for _ in range(20_000):
            producer.send("t", b"x" * 300)
        producer.flush()
        producer.close()
        consumer = consumer_class(
            bootstrap_servers=bootstrap,
            group_id="g",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        consumer.subscribe(["t"])
        read, started = 0, time.monotonic()
        while time.monotonic() - started < 15:
            read += sum(len(v) for v in consumer.poll(timeout_ms=1000).values())
        broker.pause()
        started, rounds[0], at_pause = time.monotonic(), 0, sys.getallocatedblocks()
        peak = 0
        while time.monotonic() - started < args.pause_s:
            consumer.poll(timeout_ms=1000)
            blocks = sys.getallocatedblocks() - at_pause
            peak = max(peak, blocks)
            line = {
                "t_s": round(time.monotonic() - started, 1),
                "poll_rounds": rounds[0],
                "blocks_above_pause": blocks,
                "time_to_next_poll_s": consumer._coordinator.time_to_next_poll(),
            }
            lines.append(line)
            print(json.dumps(line), flush=True)
        summary = {
            "mode": args.mode,
            "read_before_pause": read,
            "pause_s": args.pause_s,
            "poll_rounds": rounds[0],
            "peak_blocks_above_pause": peak,
        }
        lines.append(summary)
        print(json.dumps(summary), flush=True)
        broker.resume()
        consumer.close(timeout_ms=5000)
    finally:
        broker.resume()
        broker.stop(purge=True)
    output.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
