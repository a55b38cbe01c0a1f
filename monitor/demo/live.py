"""``driftwarden demo``: the demo stream through a real Kafka broker and the live daemon.

The main thread runs :class:`~monitor.runtime.daemon.Daemon` exactly as ``driftwarden run`` does
(consumer group, label join, ``/metrics``, SIGINT/SIGTERM handling); a second thread produces
the stream as fast as the client can send it, waits until the daemon has consumed all of it,
prints the verdicts and then either stops the daemon or leaves it serving until Ctrl-C.

How the last windows close, deterministically: windows close when the watermark (the minimum
over all partitions of the latest event time) passes their end, and only when records arrive.
After the stream, every partition of both topics gets one *flush* event stamped an hour after
the stream's end, so once the daemon's position reaches the end of every partition, the
watermark stands there and every window of the stream has closed, whatever the interleaving.
The flush predictions open a window that never closes; the flush labels match no prediction.
Partitions are never treated as idle during the demo (``daemon.idle_timeout``), so a consumer
that catches up with the producer cannot make the next events late.
"""

from __future__ import annotations

import threading
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import orjson
from kafka import KafkaProducer, TopicPartition
from kafka.errors import KafkaError
from rich.console import Console

from monitor.app import build_daemon
from monitor.defaults import DEFAULT_HTTP_PORT
from monitor.demo.broker import create_topics, demo_broker, run_id
from monitor.demo.data import (
    END_MS,
    HOUR_MS,
    MODEL,
    VERSION,
    Message,
    demo_stream,
    live_messages,
    write_training,
)
from monitor.demo.scenario import Timeline, build_demo_baseline, demo_settings, verdicts
from monitor.errors import ConfigError, SourceError
from monitor.logs import configure_logging
from monitor.runtime.daemon import Daemon

PARTITIONS = 4
FLUSH_MS = END_MS + HOUR_MS
NO_PROGRESS_S = 60.0
INTERRUPTED = 130


@dataclass(frozen=True)
class Topics:
    """This run's prediction and label topics."""

    predictions: str
    labels: str


def run_kafka_demo(
    folder: Path,
    console: Console,
    *,
    http_port: int = DEFAULT_HTTP_PORT,
    stay: bool = True,
    keep_broker: bool = False,
) -> int:
    """Run the Kafka demo in ``folder``; with ``stay``, serve until SIGINT/SIGTERM after the
    verdicts. Return the exit status: 0 when every expectation held, 1 when one did not, 130
    when interrupted before the verdicts."""
    console.print(f"[bold]driftwarden demo[/bold] — files in {folder}")
    baseline_path, baseline = build_demo_baseline(write_training(folder), folder, console)
    with demo_broker(console, keep=keep_broker) as bootstrap:
        suffix = run_id()
        topics = Topics(
            f"driftwarden-demo-predictions-{suffix}", f"driftwarden-demo-labels-{suffix}"
        )
        create_topics(bootstrap, [topics.predictions, topics.labels], PARTITIONS)
        report = folder / "report.jsonl"
        report.unlink(missing_ok=True)
        settings = demo_settings(
            baseline_path,
            kafka={
                "bootstrap_servers": [bootstrap],
                "prediction_topics": [topics.predictions],
                "label_topics": [topics.labels],
                "group_id": f"driftwarden-demo-{suffix}",
                "poll_timeout": "200ms",
            },
            daemon={
                "http_host": "127.0.0.1",
                "http_port": http_port,
                "idle_timeout": "1d",
                "report_path": report,
            },
        )
        configure_logging("error")
        try:
            daemon = build_daemon(settings, {MODEL: baseline})
        except ConfigError as exc:  # the HTTP port is taken
            raise ConfigError(f"{exc}: driftwarden demo --http-port N (0: any free port)") from None
        timeline = Timeline(console)
        daemon.pipeline.sinks.append(timeline)
        console.print(
            f"topics: {topics.predictions} and {topics.labels}, {PARTITIONS} partitions each, "
            f"keyed by event id\nreport: {report}\n\n[bold]alert timeline[/bold] (printed as "
            "windows close; a line per window and check; values of the first segment)"
        )
        conductor = _Conductor(daemon, timeline, console, stay=stay)
        conductor.start(bootstrap, topics)
        try:
            daemon.run()
        finally:
            conductor.cancel()
        if conductor.error is not None:
            raise conductor.error
        if conductor.ok is None:
            return INTERRUPTED
        return 0 if conductor.ok else 1


class _Conductor:
    """The demo's second thread: produce, wait for the daemon, judge, then stop or serve on."""

    def __init__(self, daemon: Daemon, timeline: Timeline, console: Console, *, stay: bool):
        self.daemon = daemon
        self.timeline = timeline
        self.console = console
        self.stay = stay
        self.ok: bool | None = None
        self.error: BaseException | None = None
        self.cancelled = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self, bootstrap: str, topics: Topics) -> None:
        self.thread = threading.Thread(
            target=self._run, args=(bootstrap, topics), name="demo", daemon=True
        )
        self.thread.start()

    def cancel(self) -> None:
        """Stop producing or waiting (the daemon has stopped); wait for the thread to end."""
        self.cancelled.set()
        if self.thread is not None:
            self.thread.join(timeout=30)

    def _run(self, bootstrap: str, topics: Topics) -> None:
        try:
            self._conduct(bootstrap, topics)
        except BaseException as exc:  # handed to the main thread, which raises it
            self.error = exc
        if self.error is not None or not self.stay:
            self.daemon.stop()

    def _conduct(self, bootstrap: str, topics: Topics) -> None:
        if not self._wait_assigned():
            return
        started = time.perf_counter()
        ends, sent = produce(bootstrap, topics, live_messages(demo_stream()), self.cancelled)
        produced_s = time.perf_counter() - started
        if not ends or not self._wait_consumed(ends):
            return
        self.timeline.finish()
        self.ok = verdicts(self.timeline.alerts, self.console, self.timeline.error_detections)
        totals = self.daemon.pipeline.running_totals()
        self.console.print(
            f"\nthrough Kafka in {time.perf_counter() - started:.1f}s: {sent[False]:,} "
            f"predictions and {sent[True]:,} labels produced in {produced_s:.1f}s (then a flush "
            "event per partition)\n"
            f"daemon: {totals.labels.joined[MODEL]:,} labels joined, {totals.windows:,} windows, "
            f"{len(self.timeline.alerts)} level changes, {sum(totals.rejected.values()):,} "
            f"rejected, {sum(totals.late.values()):,} late",
            highlight=False,
        )
        base = f"http://127.0.0.1:{self.daemon.server.port}"
        if self.stay:
            self.console.print(
                f"\nthe daemon keeps running: {base}/metrics and {base}/status — Ctrl-C to stop",
                highlight=False,
            )

    def _wait_assigned(self) -> bool:
        """Wait until the daemon owns every partition of both topics.

        Producing only then keeps the group's rebalances (kafka-python first assigns nothing,
        before it has the new topics' metadata, then rebalances) away from a busy producer:
        about one run in ten, a rebalance overlapping the producer never completed.
        """
        deadline = time.monotonic() + NO_PROGRESS_S
        while not self.cancelled.is_set():
            consumer = self.daemon.consumer
            if consumer is not None and len(consumer.assignment()) == 2 * PARTITIONS:
                return True
            if time.monotonic() > deadline:
                raise SourceError(
                    f"the daemon was not assigned the demo's partitions within "
                    f"{NO_PROGRESS_S:.0f}s; check the broker"
                )
            time.sleep(0.05)
        return False

    def _wait_consumed(self, ends: dict[TopicPartition, int]) -> bool:
        """Wait until the daemon's position is at the end of every partition (its records are
        processed then: the daemon moves a position after processing the records before it)."""
        progress, since = -1, time.monotonic()
        while not self.cancelled.is_set():
            positions = [self.daemon.positions.get(tp, 0) for tp in ends]
            if all(p >= end for p, end in zip(positions, ends.values(), strict=True)):
                return True
            if sum(positions) != progress:
                progress, since = sum(positions), time.monotonic()
            elif time.monotonic() - since > NO_PROGRESS_S:
                raise SourceError(
                    f"the daemon consumed nothing for {NO_PROGRESS_S:.0f}s with "
                    f"{sum(ends.values()) - progress:,} records left; check the broker"
                )
            time.sleep(0.05)
        return False


Produced = tuple[dict[TopicPartition, int], dict[bool, int]]
"""End offset of every partition; how many labels (``True``) and predictions of the stream
were sent."""


def produce(
    bootstrap: str, topics: Topics, messages: Iterable[Message], cancelled: threading.Event
) -> Produced:
    """Send the messages keyed by event id, then a flush event to every partition of both
    topics; return the end offsets and the counts (no offsets when cancelled).

    A message goes to partition ``crc32(event id) % PARTITIONS`` of its topic, so a prediction
    and its label share a partition number, as with Kafka's default partitioner (murmur2, but
    in pure Python in this client: a quarter of the producer's time).
    """
    sent = {False: 0, True: 0}
    try:
        producer = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, batch_size=262_144)
    except KafkaError as exc:
        raise SourceError(f"cannot reach the broker at {bootstrap} ({exc}); check it") from None
    try:
        for message in messages:
            if cancelled.is_set():
                return {}, sent
            topic = topics.labels if message.is_label else topics.predictions
            partition = zlib.crc32(message.key) % PARTITIONS
            producer.send(topic, message.value, key=message.key, partition=partition)
            sent[message.is_label] += 1
        producer.flush()  # the flush events must come after everything else on each partition
        futures = [
            producer.send(topic, _flush_event(p, is_label), key=b"flush", partition=p)
            for topic, is_label in ((topics.predictions, False), (topics.labels, True))
            for p in range(PARTITIONS)
        ]
        producer.flush()
        ends = {}
        for future in futures:
            metadata = future.get(timeout=30)
            ends[TopicPartition(metadata.topic, metadata.partition)] = metadata.offset + 1
        return ends, sent
    except KafkaError as exc:
        raise SourceError(f"producing to {bootstrap} failed ({exc}); check the broker") from None
    finally:
        producer.close()


def _flush_event(partition: int, is_label: bool) -> bytes:
    """An event stamped after the stream: a prediction with no values, or a label for none."""
    event: dict[str, object] = {
        "event_id": f"flush-{partition}",
        "model": MODEL,
        "timestamp": FLUSH_MS,
    }
    if is_label:
        event["label"] = 0
    else:
        event["model_version"] = VERSION
    return orjson.dumps(event)
