"""The replay loop: feed every batch of a source to a guarded pipeline, then summarise what it
raised. The pipeline, its sinks and the source are built by :mod:`monitor.app`."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from baselines.values import PREDICTION_NAME, PREDICTION_SUBJECT
from monitor.batches import RawRecords, Reject
from monitor.config import FieldsConfig
from monitor.decode.reasons import MISSING_MODEL, MISSING_TIMESTAMP, UNKNOWN_MODEL
from monitor.evaluate.levels import Level
from monitor.runtime.guarded import GuardedPipeline, Polled, batch_size
from monitor.sinks.base import AlertRecord, Record, RejectSink, Sink

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
    first_rejects: Mapping[str, str] = field(default_factory=dict)
    """Reject reason → the detail of its first reject."""
    raised_by_absent: tuple[tuple[str, str], ...] = ()
    """(subject, check) raised to warning or intervention for a subject (a feature or the
    prediction) that no event of its model carried, sorted."""


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


class _FirstRejects:
    """Reject sink that keeps the detail of the first reject of each reason."""

    def __init__(self) -> None:
        self.details: dict[str, str] = {}

    def reject(self, reject: Reject) -> None:
        self.details.setdefault(reject.reason, reject.detail)


class _Absent:
    """Sink that finds the features and predictions no event carried (missing in every window
    of their model) and the checks raised for them."""

    def __init__(self) -> None:
        self.missing: dict[tuple[str, str], bool] = {}
        self.raised: set[tuple[str, str, str]] = set()

    def write(self, record: Record) -> None:
        if isinstance(record, AlertRecord):
            if record.after.rank > record.before.rank:
                self.raised.add((record.key.model, record.subject, record.check))
            return
        subjects = {**record.report["features"], PREDICTION_NAME: record.report.get("prediction")}
        for subject, entry in subjects.items():
            if entry is not None:
                key = (record.key.model, subject)
                self.missing[key] = self.missing.get(key, True) and entry["missing_rate"] == 1.0

    def raised_by_absent(self) -> tuple[tuple[str, str], ...]:
        """(subject, check) of every raise whose subject no event of its model carried."""
        raised = {(s, check) for m, s, check in self.raised if self.missing.get((m, s), False)}
        return tuple(sorted(raised))


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


def summary_line(summary: ReplaySummary) -> str:
    """One line of totals printed at the end of a replay."""
    total = sum(summary.events.values())
    rejected = ", ".join(f"{n:,} {reason}" for reason, n in sorted(summary.rejected.items()))
    return (
        f"{total:,} events, {summary.windows:,} windows, {summary.transitions} level changes, "
        f"{sum(summary.rejected.values()):,} rejected{f' ({rejected})' if rejected else ''}, "
        f"{sum(summary.late.values()):,} late, in {summary.seconds:.1f}s"
    )


#: For the reject reasons a replay of a file in its training schema runs into: what the events
#: lack, and how to replay them.
_REJECT_FIXES = {
    MISSING_MODEL: (
        "no model",
        "add a model column, or replay with one --baseline (its model is taken) or set "
        "fields.default_model",
    ),
    UNKNOWN_MODEL: (
        "a model no baseline is for",
        "replay with that model's baseline (--baseline FILE) or add it to the config's models",
    ),
    MISSING_TIMESTAMP: (
        "no event time",
        "name the column holding it with --timestamp COLUMN (fields.columns.timestamp)",
    ),
}


def replay_mistake(summary: ReplaySummary, fields: FieldsConfig) -> str | None:
    """A one-line error for a replay that judged nothing it was meant to, or None.

    Either every event was rejected (the cause: the most frequent reason), or a check was
    raised for a feature or the prediction that no event carried: a column the input names
    otherwise, not drift. ``fields`` names where the prediction was looked for.
    """
    total = sum(summary.rejected.values())
    if total and not sum(summary.events.values()):
        reason, count = max(sorted(summary.rejected.items()), key=lambda item: item[1])
        detail = summary.first_rejects.get(reason, "")
        lacking, fix = _REJECT_FIXES.get(reason, (detail, "see docs/contracts.md"))
        return f"all {total:,} events were rejected, {count:,} as {reason} ({lacking}); {fix}"
    if not summary.raised_by_absent:
        return None
    checks = ", ".join(f"{subject}/{check}" for subject, check in summary.raised_by_absent)
    subjects = dict.fromkeys(subject for subject, _ in summary.raised_by_absent)
    fixes = []
    if PREDICTION_NAME in subjects:
        columns = dict.fromkeys([fields.columns.get("prediction", fields.prediction)])
        columns[fields.prediction] = None
        looked = " or ".join(repr(column) for column in columns)
        fixes.append(
            f"no event has a prediction ({looked}): name its column with --prediction COLUMN "
            "(JSON events: fields.prediction)"
        )
        del subjects[PREDICTION_NAME]
    if subjects:
        names = ", ".join(subjects)
        fixes.append(
            f"no event has {names}: add the column(s), or build the baseline without them "
            f"(--exclude {','.join(subjects)})"
        )
    return f"{checks} raised because {'; '.join(fixes)}"


def print_summary(console: Console, summary: ReplaySummary) -> None:
    """The totals line and the table of checks in warning or intervention at the end."""
    console.print(summary_line(summary), highlight=False)
    console.print(summary_table(summary))


def summary_table(summary: ReplaySummary) -> Table:
    """What is in warning or intervention at the end of a replay."""
    from rich.markup import escape
    from rich.table import Table

    table = Table()
    for column in ("model", "version", "segment", "subject", "check", "level now"):
        table.add_column(column)
    for row in summary.raised:  # escaped: a class's subject, prediction[cat], is no markup
        table.add_row(
            *[escape((c or "-").replace(PREDICTION_SUBJECT, PREDICTION_NAME)) for c in row]
        )
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


def drive(
    build: Callable[[Sequence[Sink], Sequence[RejectSink]], GuardedPipeline],
    batches: Iterable[RawRecords | pa.RecordBatch | Polled],
    *,
    total: int | None = None,
    progress: bool = False,
) -> ReplaySummary:
    """Feed ``batches`` to the pipeline ``build`` makes (given the loop's own sinks and reject
    sink), close every window at the end, and summarise the run."""
    counting, absent, first_rejects = _Counting(), _Absent(), _FirstRejects()
    guarded = build([counting, absent], [first_rejects])
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
        dict(first_rejects.details),
        absent.raised_by_absent(),
    )
