"""Stage 1 of a scaled-out process: one :class:`~monitor.stage_one.StageOne` per task.

A task ``k`` is partition ``k`` of every prediction and label topic (labels are keyed like their
predictions, so a prediction and its label are in the same task). Each task has its own label
join, so its state can move to another process on its own: :meth:`StageOneTasks.snapshot` is
everything of task ``k`` that shapes its future partials (the join's waiting rows, and per
source partition of the task the largest event time and the windows it has passed), and
:meth:`StageOneTasks.restore` puts it back in whichever process is given the task next. The
counts themselves never stay: every commit cycle drains them into partials
(:mod:`monitor.exchange.handover`).

Decoder counters, totals and caps are the process's (its metrics), not the task's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from monitor.batches import RawRecords
from monitor.errors import CheckpointError
from monitor.sources.kafka import TOPIC_STRIDE
from monitor.stage_one import StageOne
from monitor.window.source_counters import SourceCounters

TASK_FORMAT = "driftwarden.stage1/1"


def task_of(source: int) -> int:
    """The task of a source partition id: its partition number, whatever the topic.

    >>> task_of(3), task_of(100_003)
    (3, 3)
    """
    return source % TOPIC_STRIDE


class StageOneTasks:
    """The stage 1 of every task this process owns."""

    def __init__(self, new_stage: Callable[[], StageOne], counters: SourceCounters) -> None:
        """``new_stage`` makes the stage 1 of a task (a fresh join, sharing ``counters``, the
        process's caps and totals)."""
        self.new_stage = new_stage
        self.counters = counters
        self.tasks: dict[int, StageOne] = {}
        self.changed: set[int] = set()  # took records since their last snapshot
        self.retired: Counter[str] = Counter()  # decoder caps of tasks dropped since start

    def stage(self, task: int) -> StageOne:
        """The stage 1 of ``task``, made when first needed."""
        found = self.tasks.get(task)
        if found is None:
            found = self.tasks[task] = self.new_stage()
        return found

    def process(self, predictions: RawRecords | None, labels: RawRecords | None, now: int) -> None:
        """Count one task's part of a poll: its predictions, then its labels."""
        source = predictions if predictions is not None else labels
        if source is None or not len(source.values):
            return
        task = task_of(int(source.partition[0]))
        stage = self.stage(task)
        self.changed.add(task)
        if predictions is not None and len(predictions.values):
            stage.process_records(predictions, now)
        if labels is not None and len(labels.values):
            stage.process_labels(labels, now)

    def expire(self) -> None:
        """Give up on each task's predictions and labels its own watermark has left behind by
        more than ``labels.horizon`` (the minimum over the task's source partitions)."""
        watermarks: dict[int, int] = {}
        for source, time in self.counters.seen().items():
            task = task_of(source)
            watermarks[task] = min(time, watermarks.get(task, time))
        for task, stage in self.tasks.items():
            if task in watermarks:
                stage.join.expire(watermarks[task])

    def snapshot(self, task: int) -> bytes:
        """What task ``task`` needs to continue elsewhere, as bytes (deterministic); it counts
        as unchanged from now on."""
        self.changed.discard(task)
        sources = {
            str(source): {
                "seen": counter.watermarks.seen.get(source),
                "passed_through": int(counter.passed_through),
            }
            for source, counter in sorted(self.counters.counters.items())
            if task_of(source) == task
        }
        return orjson.dumps(
            {"format": TASK_FORMAT, "join": self.stage(task).join.state(), "sources": sources},
            option=orjson.OPT_SORT_KEYS,
        )

    def restore(self, task: int, data: bytes | None, positions: Mapping[int, int]) -> None:
        """Start ``task`` from its snapshot (None: fresh) with its source partitions at
        ``positions`` (source id → next offset), each held until it delivers."""
        stage = self.stage(task)
        state: dict[str, Any] = {}
        if data is not None:
            state = orjson.loads(data)
            if state.get("format") != TASK_FORMAT:
                raise CheckpointError(
                    f"stage-1 snapshot of task {task} has format {state.get('format')!r}, but "
                    f"this driftwarden reads {TASK_FORMAT!r}; write a tombstone for it to start "
                    "the task afresh"
                )
            stage.join = stage.join.restored(state["join"])
        saved = {int(s): v for s, v in state.get("sources", {}).items()}
        for source, position in positions.items():
            counter = self.counters.counter(source)
            entry = saved.get(source)
            if entry is not None:
                if entry["seen"] is not None:
                    counter.watermarks.seen = {source: int(entry["seen"])}
                counter.passed_through = max(counter.passed_through, int(entry["passed_through"]))
            counter.first, counter.end = None, position
        self.counters.hold(set(positions))

    def drop(self) -> None:
        """Forget every task (a rebalance or a failed cycle: each is restored from its last
        committed snapshot when given again); the decoder counters stay counted."""
        for stage in self.tasks.values():
            self.retired.update(stage.decoder.capped)
        self.tasks = {}
        self.changed = set()
        self.counters.forget(set(self.counters.counters))

    def cap_overflow(self, caps: Mapping[str, int]) -> dict[str, int]:
        """Events past a state cap since start, by cap: the decoders' of every task, and
        ``caps`` (the process's version and segment caps)."""
        total = Counter(self.retired)
        for stage in list(self.tasks.values()):  # called from the endpoints' thread
            total.update(stage.decoder.capped)
        total.update(caps)
        return dict(total)
