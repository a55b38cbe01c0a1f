"""The last line of defence of a replay: a batch whose processing raises costs only its culprit.

Decoding isolates its own failures (:mod:`monitor.decode.isolate`). The steps after it change
state as they go, so when one of them raises, the pipeline may hold part of the batch. A replay
has no checkpoint file to go back to, so :class:`GuardedPipeline` keeps one in memory: every
``interval_s`` seconds (and at the end) it snapshots the pipeline's state
(:func:`monitor.state.snapshot.snapshot`) and only then hands the report records produced since
the last snapshot to the sinks. When feeding a batch raises, it restores the snapshot into a fresh
pipeline, drops the records staged since, feeds the batches read since the snapshot again, and
feeds the failing batch in halves, restoring before each retry, until the messages that raise on
their own are found. Those are rejected as ``internal_error`` (counted, logged once with the
traceback, dead-lettered); the report is the one of the input without them. A replay without
failures pays one snapshot per interval and keeps the batches of one interval in memory.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeAlias

import pyarrow as pa

from baselines.values import Baseline
from monitor.batches import RawRecords, Reject
from monitor.config import Settings
from monitor.decode.decoder import row_json
from monitor.decode.isolate import INTERNAL_ERROR
from monitor.errors import error_text
from monitor.pipeline import Pipeline
from monitor.sinks.base import RejectSink, Sink
from monitor.sinks.memory import ListSink
from monitor.state.snapshot import restore, snapshot

Polled: TypeAlias = tuple[RawRecords, RawRecords]
"""One poll of prediction and label topics: its predictions and its labels."""
Batch: TypeAlias = "RawRecords | pa.RecordBatch | Polled"
#: Seconds of processing between two snapshots (and between two hand-overs to the sinks).
INTERVAL_S = 5.0


@dataclass(frozen=True)
class _Fed:
    """A batch, where its rows start (a flat file's row ``i`` has offset ``first + i``), and
    the positions of the messages found to raise (left out whenever it is fed again)."""

    batch: Batch
    first: int
    culprits: list[tuple[int, Exception]] = field(default_factory=list)

    def feed_without_culprits(self, pipeline: Pipeline, now_ms: int) -> None:
        """Feed the batch, each stretch between two culprits as one part, then reject the
        culprits (as when they were found)."""
        bounds = [-1, *(position for position, _ in self.culprits), batch_size(self.batch)]
        for before, after in itertools.pairwise(bounds):
            if after - before > 1:
                _feed(pipeline, self, before + 1, after, now_ms)
        pipeline.reject(
            [_internal_error(self, position, cause) for position, cause in self.culprits]
        )


class GuardedPipeline:
    """A :class:`Pipeline` fed batch by batch whose failures past decoding cost only the
    messages that cause them (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        baselines: Mapping[str, Baseline],
        sinks: Sequence[Sink],
        reject_sinks: Sequence[RejectSink] = (),
        *,
        hold: frozenset[int] = frozenset(),
        versions: Mapping[str, Mapping[str, Baseline]] | None = None,
        interval_s: float = INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sinks = list(sinks)
        self.reject_sinks = list(reject_sinks)
        # records and rejects are held until the state that produced them is snapshotted (so a
        # rewind drops them, and every one reaches the sinks once)
        self.staged = ListSink()
        self._fresh = partial(
            Pipeline, settings, baselines, [self.staged], [self.staged], versions=versions
        )
        self.pipeline = self._fresh()
        self.pipeline.hold_partitions(set(hold))
        self.interval_s = interval_s
        self.clock = clock
        self._saved = snapshot(self.pipeline)
        self._saved_at = clock()
        self._since: list[_Fed] = []

    def feed(self, batch: Batch, first_offset: int, now_ms: int) -> None:
        """Process one batch; a failure past decoding is isolated, never raised."""
        fed = _Fed(batch, first_offset)
        self._since.append(fed)
        try:
            _feed(self.pipeline, fed, 0, batch_size(batch), now_ms)
        except Exception as error:
            self._isolate(fed, error, now_ms)
        if self.clock() - self._saved_at >= self.interval_s:
            self._save()

    def finish(self) -> None:
        """Close every open window and hand all staged records to the sinks."""
        self.pipeline.finish()
        self._save()

    def _save(self) -> None:
        self._saved = snapshot(self.pipeline)
        self._saved_at = self.clock()
        self._since.clear()
        for record in self.staged.records:
            for sink in self.sinks:
                sink.write(record)
        for reject in self.staged.rejects:
            for reject_sink in self.reject_sinks:
                reject_sink.reject(reject)
        self.staged.clear()

    def _mark(self) -> tuple[int, int]:
        return len(self.staged.records), len(self.staged.rejects)

    def _load(self, state: Mapping[str, Any], mark: tuple[int, int]) -> None:
        self.pipeline = self._fresh()
        restore(self.pipeline, state)
        del self.staged.records[mark[0] :]
        del self.staged.rejects[mark[1] :]

    def _isolate(self, failing: _Fed, error: Exception, now_ms: int) -> None:
        """Back to the snapshot, the batches since fed again, the failing one in halves."""
        import structlog

        structlog.get_logger().error(
            "processing a batch raised; isolating the messages that cause it",
            error=error_text(error),
            exc_info=error,
        )
        self._load(self._saved, (0, 0))
        for fed in self._since[:-1]:
            fed.feed_without_culprits(self.pipeline, now_ms)
        self._halves(failing, 0, batch_size(failing.batch), now_ms, failing.culprits)
        self.pipeline.reject(
            [_internal_error(failing, position, cause) for position, cause in failing.culprits]
        )

    def _halves(
        self,
        fed: _Fed,
        start: int,
        stop: int,
        now_ms: int,
        culprits: list[tuple[int, Exception]],
    ) -> None:
        state, mark = snapshot(self.pipeline), self._mark()
        try:
            _feed(self.pipeline, fed, start, stop, now_ms)
            return
        except Exception as error:
            self._load(state, mark)
            if stop - start == 1:
                culprits.append((start, error))
                return
        middle = (start + stop) // 2
        self._halves(fed, start, middle, now_ms, culprits)
        self._halves(fed, middle, stop, now_ms, culprits)


def batch_size(batch: Batch) -> int:
    """Messages (or rows) in a batch."""
    if isinstance(batch, RawRecords):
        return len(batch.values)
    if isinstance(batch, tuple):
        return len(batch[0].values) + len(batch[1].values)
    return int(batch.num_rows)


def _feed(pipeline: Pipeline, fed: _Fed, start: int, stop: int, now_ms: int) -> None:
    """Feed positions ``start`` to ``stop - 1`` of a batch (a poll: predictions, then labels)."""
    batch = fed.batch
    if isinstance(batch, RawRecords):
        pipeline.process_records(batch.slice(start, stop), now_ms)
    elif isinstance(batch, tuple):
        predictions, labels = batch
        split = len(predictions.values)
        if start < split:
            pipeline.process_records(predictions.slice(start, min(stop, split)), now_ms)
        if stop > split:
            pipeline.process_labels(labels.slice(max(start - split, 0), stop - split), now_ms)
    else:
        rows = batch if stop - start == batch.num_rows else batch.slice(start, stop - start)
        pipeline.process_table(rows, first_offset=fed.first + start, now_ms=now_ms)


def _internal_error(fed: _Fed, position: int, error: Exception) -> Reject:
    """The reject of the message at ``position`` of a batch, its exception as the detail."""
    batch, detail = fed.batch, error_text(error)
    if isinstance(batch, tuple):
        predictions, labels = batch
        split = len(predictions.values)
        batch, position = (
            (predictions, position) if position < split else (labels, position - split)
        )
    if isinstance(batch, RawRecords):
        one = batch.slice(position, position + 1)
        return Reject(
            INTERNAL_ERROR, detail, int(one.partition[0]), int(one.offset[0]), one.values[0]
        )
    return Reject(
        INTERNAL_ERROR, detail, 0, fed.first + position, partial(row_json, batch, position)
    )
