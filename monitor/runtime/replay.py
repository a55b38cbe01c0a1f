"""Replay a file of events through the live pipeline and summarise what it raised."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from baselines.values import PREDICTION_NAME, PREDICTION_SUBJECT, Baseline
from monitor.batches import RawRecords
from monitor.config import Settings
from monitor.evaluate.levels import Level
from monitor.pipeline import event_schema
from monitor.runtime.guarded import Polled, batch_size
from monitor.sinks.base import AlertRecord, Record, Sink
from monitor.sinks.report import ReportWriter
from monitor.sources.files import count_rows, iter_file

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

#: Events per batch read from a file: large enough that per-batch work is amortised, small
#: enough that a batch's columns stay in the CPU caches while each is binned (on the project's
#: VM, 1M Parquet rows replayed fastest around 32k; 10k and 64k were both slower). The report
#: does not depend on it.
DEFAULT_BATCH_SIZE = 32_768


@dataclass(frozen=True)
class ReplaySummary:
    """What a replay saw and where it left each check."""

    events: Mapping[str, int]
    rejected: Mapping[str, int]
    late: Mapping[str, int]
    windows: int
    transitions: int
    raised: list[tuple[str, str, str, str, str, str]]
    seconds: float
    raises: Mapping[tuple[str, str, Level], int] = field(default_factory=dict)
    """Transitions up to warning or intervention, by (model, check, level reached)."""


class _Counting:
    """Sink that counts alert transitions, and the raises among them by model and check."""

    def __init__(self) -> None:
        self.transitions = 0
        self.raises: Counter[tuple[str, str, Level]] = Counter()

    def write(self, record: Record) -> None:
        if isinstance(record, AlertRecord):
            self.transitions += 1
            if record.after.rank > record.before.rank:
                self.raises[(record.key.model, record.check, record.after)] += 1


@contextmanager
def _progress(total: int | None, enabled: bool) -> Iterator[Any]:
    """A progress bar's advance function; rich is loaded only when the bar is shown."""
    if not enabled:
        yield lambda n: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = [
        TextColumn("replaying"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("events"),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("replay", total=total)
        yield lambda n: bar.advance(task, n)


def replay_file(
    settings: Settings,
    baselines: Mapping[str, Baseline],
    input_path: Path,
    output: Sink,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool = False,
    also: Sequence[Sink] = (),
) -> ReplaySummary:
    """Feed every event of ``input_path`` through a fresh pipeline, close all windows at the end."""
    return replay_batches(
        settings,
        baselines,
        iter_file(
            input_path,
            batch_size,
            categories=event_schema(settings, baselines).categorical_features,
            empty_is_missing=settings.decode.csv_empty_is_missing,
        ),
        output,
        total=count_rows(input_path),
        progress=progress,
        also=also,
    )


def replay_batches(
    settings: Settings,
    baselines: Mapping[str, Baseline],
    batches: Iterable[RawRecords | pa.RecordBatch | Polled],
    output: Sink,
    *,
    total: int | None = None,
    progress: bool = False,
    also: Sequence[Sink] = (),
    hold: frozenset[int] = frozenset(),
) -> ReplaySummary:
    """Feed file or topic batches through a fresh pipeline; close every window at the end.

    A batch is raw messages (a JSON Lines file, a prediction topic), a columnar record batch
    (Parquet, CSV), or one poll of prediction and label topics, fed as the daemon feeds it:
    predictions, then labels. ``output`` and the sinks in ``also`` receive every report record.
    The partitions in ``hold`` hold the watermark back until they deliver, as the daemon's
    assigned partitions do, so a topic read ahead of another does not make its events late. A
    message whose processing raises is rejected as ``internal_error``, the rest replayed as if
    it had not been there (:class:`~monitor.runtime.guarded.GuardedPipeline`).
    """
    from monitor.app import build_replay

    counting = _Counting()
    guarded = build_replay(settings, baselines, [output, *also, counting], hold=hold)
    now_ms = int(time.time() * 1000)
    started = time.perf_counter()
    offset = 0
    with _progress(total, progress) as advance:
        for batch in batches:
            guarded.feed(batch, offset, now_ms)
            size = batch_size(batch)
            offset += size
            advance(size)
        guarded.finish()
    totals = guarded.pipeline.running_totals()
    return ReplaySummary(
        totals.events,
        totals.rejected,
        totals.late,
        totals.windows,
        counting.transitions,
        guarded.pipeline.raised(),
        time.perf_counter() - started,
        dict(counting.raises),
    )


def replay_to_file(
    settings: Settings,
    baselines: Mapping[str, Baseline],
    input_path: Path,
    output_path: Path,
    **options: Any,
) -> ReplaySummary:
    """Replay into a JSON Lines report file."""
    writer = ReportWriter.open(output_path)
    try:
        return replay_file(settings, baselines, input_path, writer, **options)
    finally:
        writer.close()


def summary_line(summary: ReplaySummary) -> str:
    """One line of totals printed at the end of a replay."""
    total = sum(summary.events.values())
    rejected = ", ".join(f"{n:,} {reason}" for reason, n in sorted(summary.rejected.items()))
    return (
        f"{total:,} events, {summary.windows:,} windows, {summary.transitions} level changes, "
        f"{sum(summary.rejected.values()):,} rejected{f' ({rejected})' if rejected else ''}, "
        f"{sum(summary.late.values()):,} late, in {summary.seconds:.1f}s"
    )


def print_summary(console: Console, summary: ReplaySummary) -> None:
    """The totals line and the table of checks in warning or intervention at the end."""
    console.print(summary_line(summary), highlight=False)
    console.print(summary_table(summary))


def summary_table(summary: ReplaySummary) -> Table:
    """What is in warning or intervention at the end of a replay."""
    from rich.table import Table

    table = Table()
    for column in ("model", "version", "segment", "subject", "check", "level now"):
        table.add_column(column)
    for row in summary.raised:
        table.add_row(*[(c or "-").replace(PREDICTION_SUBJECT, PREDICTION_NAME) for c in row])
    if not summary.raised:
        table.add_row("-", "-", "-", "-", "-", "all ok")
    return table


def what_if_table(as_configured: ReplaySummary, what_if: ReplaySummary, changes: str) -> Table:
    """Warnings and pages (raises to intervention) per model and check, as configured and with
    the ``changes`` of the what-if."""
    from rich.table import Table

    table = Table(title=f"raises per model and check, as configured and with {changes}")
    table.add_column("model")
    table.add_column("check")
    for column in ("warnings", "what-if", "pages", "what-if"):
        table.add_column(column, justify="right")
    keys = sorted({(m, c) for m, c, _ in [*as_configured.raises, *what_if.raises]})
    for model, check in keys:
        counts = [
            summary.raises.get((model, check, level), 0)
            for level in (Level.WARNING, Level.INTERVENTION)
            for summary in (as_configured, what_if)
        ]
        table.add_row(model, check, *(f"{n:,}" for n in counts))
    if not keys:
        table.add_row("-", "-", "0", "0", "0", "0")
    return table


def replay_topic_to_file(
    settings: Settings,
    baselines: Mapping[str, Baseline],
    topic: str,
    output_path: Path,
    *,
    from_ms: int | None = None,
    to_ms: int | None = None,
    progress: bool = False,
    also: Sequence[Sink] = (),
) -> ReplaySummary:
    """Replay a bounded slice of a Kafka topic into a JSON Lines report file."""
    from monitor.sources.kafka import read_topic

    assert settings.kafka is not None
    writer = ReportWriter.open(output_path)
    try:
        batches = read_topic(settings.kafka, topic, from_ms=from_ms, to_ms=to_ms)
        return replay_batches(settings, baselines, batches, writer, progress=progress, also=also)
    finally:
        writer.close()


def replay_topics_to_file(
    settings: Settings,
    baselines: Mapping[str, Baseline],
    output_path: Path,
    *,
    from_ms: int | None = None,
    to_ms: int | None = None,
    progress: bool = False,
    also: Sequence[Sink] = (),
) -> ReplaySummary:
    """Replay the configured prediction and label topics over a time range, as the daemon reads
    them, into a JSON Lines report file.

    Predictions are read from ``from_ms`` to ``to_ms``, labels to ``labels.horizon`` past
    ``to_ms`` so that the range's predictions get theirs. The partitions get the daemon's ids
    and each poll is fed as the daemon feeds it, so the windows are the daemon's.
    """
    from monitor.sources.kafka import PartitionIds, plan_topics, read_slice

    kafka = settings.kafka
    if kafka is None:
        raise ValueError("replaying the configured topics needs a kafka section")
    label_to = None if to_ms is None else to_ms + settings.labels.horizon
    ranges = {topic: (from_ms, to_ms) for topic in kafka.prediction_topics}
    ranges.update({topic: (from_ms, label_to) for topic in kafka.label_topics})
    plan = plan_topics(kafka, ranges)
    ids = PartitionIds([*kafka.prediction_topics, *kafka.label_topics])
    delivering = frozenset(
        ids.id_of(tp.topic, tp.partition) for tp in plan.end if plan.end[tp] > plan.start[tp]
    )
    writer = ReportWriter.open(output_path)
    try:
        polls = read_slice(kafka, plan, ids, label_topics=frozenset(kafka.label_topics))
        return replay_batches(
            settings,
            baselines,
            polls,
            writer,
            total=plan.total,
            progress=progress,
            also=also,
            hold=delivering,
        )
    finally:
        writer.close()
