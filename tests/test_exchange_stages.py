"""Stage 1 hands what it counted to stage 2 as partials and marks; stage 2 merges them and
closes windows: counted apart and merged, the windows are those one counter of everything
closes."""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from baselines.values import Baseline
from monitor.batches import RawRecords
from monitor.columns import batch_rows
from monitor.exchange import handover
from monitor.exchange.local import Windower
from monitor.exchange.open_windows import OpenWindows
from monitor.exchange.partitioned_windows import PartitionedWindows
from monitor.exchange.reader import Received
from monitor.exchange.records import Mark
from monitor.pipeline import Pipeline
from monitor.sinks.memory import ListSink
from monitor.window.caps import Caps
from monitor.window.grid import as_grid
from monitor.window.open_counts import OpenCounts
from monitor.window.slot_layout import ModelLayout
from monitor.window.source_counters import SourceCounters
from monitor.window.windower import WindowCounter, WindowCounts, WindowKey
from tests.support.builders import make_batch
from tests.support.state_stream import NOW_MS, state_lines, state_settings

HOUR = 3_600_000
LATENESS = 10 * HOUR
GRID = as_grid(HOUR)
OPTIONS = {
    "size_ms": HOUR,
    "allowed_lateness_ms": LATENESS,
    "segment_fields": ("platform",),
    "buffer_scores": True,
}


def _counters(baseline: Baseline) -> SourceCounters:
    caps = Caps({"m": ModelLayout(baseline)}, segment_fields=("platform",))
    return SourceCounters(
        partial(WindowCounter, caps, grid=GRID, allowed_lateness_ms=LATENESS, buffer_scores=True)
    )


def _stage2() -> OpenWindows:
    return OpenWindows(GRID, LATENESS, score_streams=("score",))


def _summary(windows: list[WindowCounts]) -> list[tuple[object, ...]]:
    return [
        (
            w.key,
            w.start_ms,
            w.events,
            w.counts.tolist(),
            {s: v.tolist() for s, v in sorted(w.values.items())},
        )
        for w in windows
    ]


def test_a_hand_over_empties_stage_one(baseline: Baseline) -> None:
    """After a drain stage 1 holds no counts, values or late counts: they are all in the
    partials."""
    counters = _counters(baseline)
    counters.add(make_batch([10, HOUR + 10, 20], platform=["ios", "ios", "android"]))
    (counted,) = handover.drain(counters, "c")
    assert [(p.start_ms, p.segment, p.events) for p in counted.windows] == [
        (0, "", 2),
        (0, "platform=android", 1),
        (0, "platform=ios", 1),
        (HOUR, "", 1),
        (HOUR, "platform=ios", 1),
    ]
    assert [(v.start_ms, v.time.tolist()) for v in counted.values] == [
        (0, [10, 20]),
        (HOUR, [HOUR + 10]),
    ]
    counter = counters.counters[0]
    assert (len(counter.counted), counter.score_values.buffers, handover.drain(counters, "c")) == (
        0,
        {},
        [],
    )


def test_marks_say_which_partitions_hold_and_which_are_idle(baseline: Baseline) -> None:
    """A held partition is marked without a watermark, an idle one as idle, one away not at all."""
    counters = _counters(baseline)
    counters.add(make_batch([50, 70], partition=[0, 1]))
    counters.hold({2, 3})
    counters.set_idle({3})
    counters.set_away({1})
    sources, marks = handover.marks(counters, "c")
    assert sources == {0, 2, 3}
    assert marks == [
        Mark("c", 0, 1, 50, False),
        Mark("c", 2, 0, None, False),
        Mark("c", 3, 0, None, True),
    ]


def test_a_window_waits_for_the_mark_of_every_source(baseline: Baseline) -> None:
    """Stage 2 closes the first hour only when both partitions' marks have passed its end."""
    counters = _counters(baseline)
    windows = OpenWindows(GRID, 0)
    counters.add(make_batch([10, 2 * HOUR], partition=[0, 0]))
    windows.receive(handover.drain(counters, "c"), {0, 1}, [Mark("c", 0, 0, 2 * HOUR, False)])
    assert windows.close_ready() == []
    windows.receive([], None, [Mark("c", 1, 0, HOUR, False)])
    assert [(w.key.segment, w.start_ms) for w in windows.close_ready()] == [
        ("", 0),
        ("platform=ios", 0),
    ]


def test_a_part_of_a_closed_window_counts_as_late(baseline: Baseline) -> None:
    """A partial adding to a window stage 2 closed already adds its events to the late count."""
    counters = _counters(baseline)
    windows = OpenWindows(GRID, 0)
    counters.add(make_batch([10, 20], platform=["ios", "ios"]))
    windows.receive(handover.drain(counters, "c"), {0}, [Mark("c", 0, 0, 2 * HOUR, False)])
    assert len(windows.close_ready()) == 2
    counters.add(make_batch([30]))
    windows.receive(handover.drain(counters, "c"), None, [])
    assert (windows.late.by_model, windows.open) == ({"m": 2}, {})


times = st.lists(st.integers(0, 5 * HOUR), min_size=1, max_size=60)


@settings(max_examples=40, deadline=None)
@given(times, st.lists(st.integers(0, 2), min_size=60, max_size=60), st.integers(1, 4))
def test_counted_apart_and_merged_is_counted_together(
    baseline: Baseline, times_ms: list[int], partitions: list[int], polls: int
) -> None:
    """Three processes' stage 1, one partition each, handing over after each of their polls,
    give stage 2 the windows (counts and detector values in feeding order) that one process
    counting every partition gives."""
    n = len(times_ms)
    batch = make_batch(times_ms, partition=partitions[:n], seed=n)
    together = Windower({"m": ModelLayout(baseline)}, **OPTIONS)  # type: ignore[arg-type]
    expected = together.add(batch) + together.flush()
    processes = {p: _counters(baseline) for p in range(3)}
    windows = _stage2()
    windows.completeness.set_sources({0, 1, 2})
    closed = []
    for p, stage in processes.items():
        rows = np.flatnonzero(batch.partition == p)
        for part in np.array_split(rows, polls):
            stage.add(batch_rows(batch, part))
            _, marks = handover.marks(stage, "c")
            windows.receive(handover.drain(stage, "c"), None, marks)
            closed += windows.close_ready()
    closed += windows.flush()
    order = sorted(range(len(closed)), key=lambda i: (closed[i].start_ms, closed[i].key))
    assert _summary([closed[i] for i in order]) == _summary(expected)


def test_each_exchange_partition_closes_on_its_own_marks(baseline: Baseline) -> None:
    """A model's window closes once the marks in its own exchange partition have passed it,
    whatever another partition has read; a copy of a counted partial is skipped and counted."""
    counters = _counters(baseline)
    counters.add(make_batch([10, 20], platform=["ios", "ios"]))
    (counted,) = handover.drain(counters, "c")
    windows = PartitionedWindows(partial(OpenWindows, GRID, 0))
    windows.assign([0, 1])
    windows.set_sources({0})
    passed = Mark("c", 0, 2, 2 * HOUR, False)
    received = [Received(1, 0, counted), Received(1, 1, counted), Received(1, 2, passed)]
    closed = windows.receive(received)
    assert [(w.key.segment, w.events) for w in closed] == [("", 2), ("platform=ios", 2)]
    assert windows.duplicates == {"m": 1}
    assert windows.partitions[0].completeness.closed_through() is None


def test_late_counts_read_between_hand_overs_hold_the_last_batch(baseline: Baseline) -> None:
    """An event found late by a batch that closes no window is in the late counts at once."""
    windower = Windower({"m": ModelLayout(baseline)}, size_ms=HOUR, allowed_lateness_ms=0)
    windower.add(make_batch([2 * HOUR + 10]))
    assert windower.add(make_batch([2 * HOUR + 20, 10])) == []
    assert windower.late.by_model == {"m": 1}


def test_a_revoked_partition_keeps_what_it_counted(baseline: Baseline) -> None:
    """Events a partition counted before it was revoked stay in their windows."""

    def events_per_window(revoke: bool) -> list[tuple[str, str, int]]:
        sink = ListSink()
        pipeline = Pipeline(state_settings(), {"m": baseline}, [sink])
        lines = state_lines(hours=2)
        for first in (0, 50):  # the second batch closes no window
            rows = np.arange(first, first + 50)
            records = RawRecords(lines[first : first + 50], rows % 2, rows, np.full(50, -1))
            pipeline.process_records(records, now_ms=NOW_MS)
        if revoke:
            pipeline.forget_partitions({1})
        pipeline.finish()
        return [(r["segment"], r["start"], r["events"]) for r in sink.reports()]

    assert events_per_window(revoke=True) == events_per_window(revoke=False)


def test_reading_the_late_counts_while_a_batch_is_counted_loses_no_event(
    baseline: Baseline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The late counts read in the middle of counting a batch (as the endpoints' thread may)
    change nothing: the windows hold every event."""
    windower = Windower({"m": ModelLayout(baseline)}, size_ms=HOUR, allowed_lateness_ms=0)
    add = OpenCounts.add

    def add_while_read(self: OpenCounts[WindowKey], *args: Any) -> None:
        assert windower.late.by_model == {}
        add(self, *args)

    monkeypatch.setattr(OpenCounts, "add", add_while_read)
    windower.add(make_batch([10]))
    windower.add(make_batch([20, 30]))
    closed = windower.flush()
    assert [(w.key.segment, w.events) for w in closed if not w.key.segment] == [("", 3)]
