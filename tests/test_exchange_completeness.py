"""Stage 2 decides from marks which windows are complete, exactly as the one-process watermark
decides from the events themselves."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from baselines.values import Baseline
from monitor.exchange.completeness import Completeness
from monitor.exchange.local import Windower
from monitor.exchange.records import Mark
from monitor.window.slot_layout import ModelLayout
from monitor.window.watermark import Watermarks
from tests.support.builders import make_batch

HOUR = 3_600_000
PARTITIONS = 3

steps = st.lists(
    st.one_of(
        st.tuples(
            st.just("events"),
            st.integers(0, PARTITIONS - 1),
            st.lists(st.integers(0, 6 * HOUR), min_size=1, max_size=5),
        ),
        st.tuples(st.just("idle"), st.integers(0, PARTITIONS - 1), st.just([])),
    ),
    max_size=25,
)


class _StageOne:
    """What stage 1 reports of each source partition: its position and largest event time."""

    def __init__(self) -> None:
        self.end = dict.fromkeys(range(PARTITIONS), 0)
        self.largest: dict[int, int | None] = dict.fromkeys(range(PARTITIONS))

    def mark(self, kind: str, partition: int, times: list[int]) -> Mark:
        self.end[partition] += len(times)
        before = self.largest[partition]
        if times:
            self.largest[partition] = max(times) if before is None else max(before, *times)
        return Mark("c", partition, self.end[partition], self.largest[partition], kind == "idle")


def _tracker(lateness_ms: int = 0) -> Completeness:
    tracker = Completeness(allowed_lateness_ms=lateness_ms)
    tracker.set_sources(set(range(PARTITIONS)))
    return tracker


@given(steps)
def test_the_watermark_from_marks_is_the_one_process_watermark(steps: list[Any]) -> None:
    """After every poll or idle report, the marks give stage 2 the watermark a process holding
    every partition computes from the events (held, idle and all-idle cases included)."""
    one_process = Watermarks()
    one_process.hold(set(range(PARTITIONS)))
    tracker, stage_one = _tracker(), _StageOne()
    for kind, partition, times in steps:
        if kind == "events":
            one_process.advance(np.array(times, np.int64), np.full(len(times), partition))
        else:
            one_process.set_idle({partition})
        tracker.mark(stage_one.mark(kind, partition, times))
        assert tracker.watermark() == one_process.current()


@settings(max_examples=30)
@given(steps, st.sampled_from([0, HOUR // 2, 2 * HOUR]))
def test_complete_windows_are_the_windows_one_process_closes(
    baseline: Baseline, steps: list[Any], lateness_ms: int
) -> None:
    """Stage 2 counts a window complete exactly when one windower fed every partition's events
    closes it, whatever the allowed lateness."""
    windower = Windower({"m": ModelLayout(baseline)}, size_ms=HOUR, allowed_lateness_ms=lateness_ms)
    windower.counters.hold(set(range(PARTITIONS)))
    tracker, stage_one = _tracker(lateness_ms), _StageOne()
    for kind, partition, times in steps:
        if kind == "idle":
            windower.counters.set_idle({partition})
        windower.add(make_batch(times, partition=[partition] * len(times)))
        tracker.mark(stage_one.mark(kind, partition, times))
        closed = tracker.closed_through()
        assert windower.closed_through == (np.iinfo(np.int64).min if closed is None else closed)


def test_a_partition_that_never_reported_holds_every_window() -> None:
    """Until each source partition has sent a mark, no window is complete: its owner may not have
    started yet."""
    tracker = _tracker()
    for partition in range(PARTITIONS - 1):
        tracker.mark(Mark("c", partition, 10, 5 * HOUR, idle=False))
    assert (tracker.watermark(), tracker.closed_through()) == (None, None)


def test_an_empty_partition_that_is_idle_does_not_stall_closing() -> None:
    """A partition without any event that reports idle lets the others close their windows."""
    tracker = _tracker()
    tracker.mark(Mark("c", 0, 0, None, idle=True))
    tracker.mark(Mark("c", 1, 4, 3 * HOUR, idle=False))
    tracker.mark(Mark("c", 2, 9, 2 * HOUR, idle=False))
    assert tracker.closed_through() == 2 * HOUR


def test_a_partition_that_appears_holds_until_its_first_mark() -> None:
    """A partition added to a topic holds the watermark from the moment metadata shows it until
    it reports, as an assigned partition does before its first events."""
    tracker = _tracker()
    for partition in range(PARTITIONS):
        tracker.mark(Mark("c", partition, 1, HOUR, idle=False))
    tracker.set_sources(set(range(PARTITIONS + 1)))
    assert tracker.watermark() is None
    tracker.mark(Mark("c", PARTITIONS, 1, 2 * HOUR, idle=False))
    assert tracker.watermark() == HOUR


def test_a_partition_that_disappears_no_longer_holds() -> None:
    """A partition no longer in the topics' metadata stops holding windows back."""
    tracker = _tracker()
    tracker.mark(Mark("c", 0, 1, 3 * HOUR, idle=False))
    tracker.mark(Mark("c", 1, 1, 3 * HOUR, idle=False))
    tracker.set_sources({0, 1})
    assert tracker.closed_through() == 3 * HOUR


def test_a_mark_older_than_the_last_one_is_ignored() -> None:
    """A mark with a smaller position than one already taken changes nothing (it can only be a
    copy of an older one)."""
    tracker = _tracker()
    for partition in range(PARTITIONS):
        tracker.mark(Mark("c", partition, 10, 2 * HOUR, idle=False))
    tracker.mark(Mark("c", 0, 5, HOUR, idle=False))
    assert tracker.watermark() == 2 * HOUR


def test_completeness_never_goes_back_when_an_idle_partition_wakes_up() -> None:
    """An idle partition behind the others takes part again with its next events and lowers the
    watermark, but windows already complete stay complete (their late events are counted)."""
    tracker = _tracker()
    tracker.mark(Mark("c", 0, 1, HOUR, idle=True))
    tracker.mark(Mark("c", 1, 1, 4 * HOUR, idle=False))
    tracker.mark(Mark("c", 2, 1, 4 * HOUR, idle=False))
    tracker.mark(Mark("c", 0, 2, HOUR, idle=False))
    assert (tracker.watermark(), tracker.closed_through()) == (HOUR, 4 * HOUR)
