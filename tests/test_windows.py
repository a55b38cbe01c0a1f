"""Event-time tumbling windows of exact slot counts."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pyarrow as pa
import pytest

from baselines.build import build_baseline
from baselines.values import Baseline
from monitor.batches import EventBatch
from monitor.evaluate.detector_feed import DetectorFeed
from monitor.exchange.local import Windower
from monitor.join.label_join import Pairs
from monitor.window.caps import OTHER, SegmentValues
from monitor.window.slot_layout import ModelLayout
from monitor.window.windower import LateCounts, WindowCounts, WindowKey
from tests.support.builders import make_batch, training

HOUR = 3_600_000


def _windower(baseline: Baseline, **kwargs: object) -> Windower:
    options: dict[str, object] = {
        "size_ms": HOUR,
        "allowed_lateness_ms": 0,
        "segment_fields": ("platform",),
    }
    options.update(kwargs)
    return Windower({"m": ModelLayout(baseline)}, **options)  # type: ignore[arg-type]


def _all(windower: Windower, batches: list) -> list[WindowCounts]:
    closed = [w for b in batches for w in windower.add(b)]
    return closed + windower.flush()


def _fed(closed: list[WindowCounts], *detectors: tuple[str, dict]) -> list[WindowCounts]:
    """``closed`` with each overall window's buffered scores fed to ``detectors`` in order, their
    detections recorded on the window, as the pipeline does."""
    feed = DetectorFeed(tuple(("score", n, p) for n, p in detectors), prefixed=False)
    for w in closed:
        if not w.key.segment:
            w.detections.update(feed.detections(w.key.model, w.key.model_version, w.values))
    return closed


def test_each_event_counts_once_per_subject(baseline: Baseline) -> None:
    """An overall window holds every event once in each subject's slots."""
    windower = _windower(baseline, segment_fields=())
    (window,) = _all(windower, [make_batch(np.arange(100) * 1000)])
    layout = ModelLayout(baseline)
    for subject in layout.subjects:
        assert (
            window.counts[subject.offset : subject.offset + subject.baseline.n_slots].sum() == 100
        )
    assert window.events == 100


def test_events_split_by_event_time_not_arrival(baseline: Baseline) -> None:
    """Events land in the window of their own timestamp, whatever order they arrive in."""
    times = [HOUR + 5, 10, HOUR + 7, 20]
    windower = _windower(baseline, segment_fields=(), allowed_lateness_ms=HOUR)
    closed = _all(windower, [make_batch(times)])
    assert [(w.start_ms, w.events) for w in closed] == [(0, 2), (HOUR, 2)]


def test_late_event_is_counted_and_dropped(baseline: Baseline) -> None:
    """An event whose window ended before the watermark minus lateness is dropped and counted."""
    windower = _windower(baseline, segment_fields=())
    closed = _all(windower, [make_batch([10, 2 * HOUR + 1, 20])])
    assert [(w.start_ms, w.events) for w in closed] == [(0, 1), (2 * HOUR, 1)]
    assert windower.late.by_model == {"m": 1}


def test_windows_close_when_watermark_passes(baseline: Baseline) -> None:
    """A window is emitted by the batch that moves the watermark past its end plus lateness."""
    windower = _windower(baseline, segment_fields=(), allowed_lateness_ms=60_000)
    assert windower.add(make_batch([10, HOUR + 59_000])) == []
    assert [w.start_ms for w in windower.add(make_batch([HOUR + 60_000], seed=1))] == [0]


def test_segment_windows_partition_the_overall_window(baseline: Baseline) -> None:
    """Per-segment windows of one field add up to the overall window exactly."""
    windower = _windower(baseline)
    closed = _all(windower, [make_batch(np.arange(300) * 1000)])
    overall = next(w for w in closed if w.key.segment == "")
    parts = [w for w in closed if w.key.segment.startswith("platform=")]
    assert {w.key.segment for w in parts} == {"platform=ios", "platform=android"}
    assert np.array_equal(sum(w.counts for w in parts), overall.counts)
    assert np.array_equal(sum(w.performance for w in parts), overall.performance)


def test_segment_values_beyond_cap_fold_into_other(baseline: Baseline) -> None:
    """Past max_segment_values, new segment values share the __other__ window."""
    windower = _windower(baseline, max_segment_values=2)
    batch = make_batch([1, 2, 3, 4], platform=["ios", "android", "web", "tv"])
    segments = {w.key.segment: w.events for w in _all(windower, [batch]) if w.key.segment}
    assert segments == {"platform=ios": 1, "platform=android": 1, f"platform={OTHER}": 2}


def test_batch_size_does_not_change_windows(baseline: Baseline) -> None:
    """Replaying the same events in batches of 1, 7 or all at once gives identical windows."""
    rng = np.random.default_rng(5)
    times = np.sort(rng.integers(0, 5 * HOUR, 400)) + rng.integers(-HOUR // 2, HOUR // 2, 400)
    whole = make_batch(times, seed=9)

    def windows(size: int) -> list[tuple[WindowKey, int, list[int], list[int]]]:
        windower = _windower(baseline, allowed_lateness_ms=HOUR // 4)
        batches = [_slice(whole, i, i + size) for i in range(0, len(times), size)]
        return [
            (w.key, w.start_ms, w.counts.tolist(), w.performance.tolist())
            for w in _all(windower, batches)
        ]

    assert windows(1) == windows(7) == windows(400)


def test_merge_of_partial_windows_equals_whole(baseline: Baseline) -> None:
    """Two processes counting halves of the events merge to the one-process window exactly."""
    batch = make_batch(np.arange(200) * 100)
    whole = _all(_windower(baseline, segment_fields=()), [batch])[0]
    first = _all(_windower(baseline, segment_fields=()), [_slice(batch, 0, 80)])[0]
    second = _all(_windower(baseline, segment_fields=()), [_slice(batch, 80, 200)])[0]
    merged = first.merge(second)
    assert np.array_equal(merged.counts, whole.counts) and merged.events == whole.events
    assert np.array_equal(merged.performance, whole.performance)


def _slice(batch, start: int, stop: int):  # type: ignore[no-untyped-def]
    from dataclasses import replace

    import pyarrow as pa

    take = lambda a: a.slice(start, stop - start) if isinstance(a, pa.Array) else a[start:stop]  # noqa: E731
    return replace(
        batch,
        event_time_ms=take(batch.event_time_ms),
        partition=take(batch.partition),
        offset=take(batch.offset),
        model=take(batch.model),
        model_version=take(batch.model_version),
        event_id=take(batch.event_id),
        segments={k: take(v) for k, v in batch.segments.items()},
        numeric={k: take(v) for k, v in batch.numeric.items()},
        categorical={k: take(v) for k, v in batch.categorical.items()},
        prediction=take(batch.prediction),
        label=take(batch.label),
    )


def test_a_closed_window_never_reopens_for_a_new_partition(baseline: Baseline) -> None:
    """A partition whose first events belong to an already closed window counts them late."""
    windower = _windower(baseline, segment_fields=())
    first = windower.add(make_batch([10, 2 * HOUR], partition=[0, 0]))
    assert [w.start_ms for w in first] == [0]
    assert windower.add(make_batch([20], partition=[1], seed=2)) == []
    assert windower.late.by_model == {"m": 1}
    assert [w.start_ms for w in windower.flush()] == [2 * HOUR]


def test_per_event_detections_do_not_depend_on_how_partitions_interleave(
    baseline: Baseline,
) -> None:
    """Two partitions read one after the other or in alternating slices detect the same."""
    hour = 3_600_000
    times = np.sort(np.random.default_rng(5).integers(0, 6 * hour, 4_000))
    x = np.where(times >= 3 * hour, 2.0, 0.0) + np.random.default_rng(6).normal(0, 1, 4_000)
    batch = make_batch(times, x=x, partition=np.arange(4_000) % 2)
    halves = [np.flatnonzero(batch.partition == p) for p in (0, 1)]

    def run(slices: list[np.ndarray]) -> list[tuple[int, dict[str, int]]]:
        windower = _windower(
            baseline,
            allowed_lateness_ms=7 * hour,  # nothing late: only the order of arrival differs
            buffer_scores=True,
        )
        closed = []
        for rows in slices:
            closed += windower.add(_take(batch, rows))
        closed = _fed(closed + windower.flush(), ("page_hinkley_np", {}))
        return sorted((w.start_ms, w.detections) for w in closed if not w.key.segment)

    one_after_the_other = run(halves)
    slices = zip(*(np.array_split(h, 8) for h in halves), strict=True)
    alternating = run([rows for pair in slices for rows in pair])
    assert one_after_the_other == alternating
    assert any(detections for _, detections in alternating)


def _take(batch: EventBatch, rows: np.ndarray) -> EventBatch:
    """The batch's events at ``rows``."""
    index = pa.array(rows)
    assert isinstance(batch.prediction, np.ndarray)
    return EventBatch(
        event_time_ms=batch.event_time_ms[rows],
        partition=batch.partition[rows],
        offset=batch.offset[rows],
        model=batch.model.take(index),
        model_version=batch.model_version.take(index),
        event_id=batch.event_id.take(index),
        segments={k: v.take(index) for k, v in batch.segments.items()},
        numeric={k: v[rows] for k, v in batch.numeric.items()},
        categorical={k: v.take(index) for k, v in batch.categorical.items()},
        prediction=batch.prediction[rows],
    )


def test_an_event_of_a_window_ending_exactly_at_the_horizon_is_late(baseline: Baseline) -> None:
    """Once the watermark reaches a window's end, that window is closed: a later event of it is
    late, and the window is emitted once."""
    windower = _windower(baseline, segment_fields=())
    closed = _all(windower, [make_batch([10, HOUR]), make_batch([20], seed=1)])
    assert [(w.start_ms, w.events) for w in closed] == [(0, 1), (HOUR, 1)]
    assert windower.late.by_model == {"m": 1}


def test_merge_adds_the_detections_of_both_parts() -> None:
    """Merged parts hold every detector either part fired, with the counts added."""
    key, none = WindowKey("m", "", ""), np.zeros(0, np.int64)
    a = WindowCounts(key, 0, 10, 1, np.array([1]), none, {"adwin": 1, "ph": 4})
    b = WindowCounts(key, 0, 10, 1, np.array([1]), none, {"adwin": 2, "kswin": 1})
    assert a.merge(b).detections == {"adwin": 3, "kswin": 1, "ph": 4}


def test_merge_of_different_windows_is_refused() -> None:
    """Parts of two different windows cannot be merged, and the error says so."""
    key, none = WindowKey("m", "", ""), np.zeros(0, np.int64)
    a = WindowCounts(key, 0, 10, 1, np.array([1]), none)
    b = WindowCounts(key, 10, 20, 1, np.array([1]), none)
    with pytest.raises(ValueError, match=r"^only parts of the same window can be merged$"):
        a.merge(b)


def test_segment_values_code_preferred_then_first_come_then_other() -> None:
    """Preferred values take the first codes, new ones the next up to the cap, nulls -1."""
    values = SegmentValues(3, ("ios", "android"))
    codes, names = values.codes(pa.array(["android", None, "web", "ios", "tv"]))
    assert (codes.tolist(), names) == ([1, -1, 2, 0, 3], ["ios", "android", "web", OTHER])


def test_a_segment_cap_of_zero_folds_every_value_into_other() -> None:
    """With a cap of 0 every value is __other__ (code 0) and a null stays -1."""
    codes, names = SegmentValues(0).codes(pa.array(["ios", None]))
    assert (codes.tolist(), names) == ([0, -1], [OTHER])


def test_late_counts_add_up_per_model() -> None:
    """Late events of one model add up across calls; a call with none records nothing."""
    late = LateCounts()
    late.add("m", 2)
    late.add("m", 3)
    late.add("x", 0)
    assert late.by_model == {"m": 5}


def test_an_event_in_a_window_ending_at_the_watermark_is_late(baseline: Baseline) -> None:
    """A window ending exactly at the watermark is closed, so an event for it is late."""
    windower = _windower(baseline, segment_fields=())
    closed = _all(windower, [make_batch([10, HOUR, 20])])
    assert [(w.start_ms, w.events) for w in closed] == [(0, 1), (HOUR, 1)]
    assert windower.late.by_model == {"m": 1}


def test_a_segment_field_gets_twenty_values_by_default(baseline: Baseline) -> None:
    """Without max_segment_values, 20 values get windows and the 21st and 22nd share __other__."""
    windower = _windower(baseline)
    names = ["ios", "android"] + [f"p{i}" for i in range(20)]
    segments = [w.key.segment for w in _all(windower, [make_batch([1] * 22, platform=names)])]
    assert len([s for s in segments if s.startswith("platform=")]) == 21
    assert f"platform={OTHER}" in segments


def test_the_baselines_segment_values_get_windows_first(baseline: Baseline) -> None:
    """Values with a baseline reference keep their windows even when others arrive first."""
    windower = _windower(baseline, max_segment_values=2)
    batch = make_batch([1, 2, 3], platform=["web", "tv", "ios"])
    segments = {w.key.segment for w in _all(windower, [batch]) if w.key.segment}
    assert segments == {"platform=ios", f"platform={OTHER}"}


def test_events_without_a_version_count_in_the_empty_version(baseline: Baseline) -> None:
    """Events whose model_version is null are windowed under version \"\"."""
    batch = make_batch([1, 2])
    batch = replace(batch, model_version=pa.array([None, None], pa.string()))
    (window,) = _all(_windower(baseline, segment_fields=()), [batch])
    assert window.key == WindowKey("m", "", "")


def test_two_versions_in_one_window_get_a_window_each(baseline: Baseline) -> None:
    """Events of versions v1 and v2 in the same hour land in two windows of their own."""
    batch = replace(make_batch([1, 2, 3]), model_version=pa.array(["v1", "v2", "v2"]))
    closed = _all(_windower(baseline, segment_fields=()), [batch])
    assert [(w.key.model_version, w.events) for w in closed] == [("v1", 1), ("v2", 2)]


def test_a_segment_field_absent_from_a_batch_does_not_stop_the_next(baseline: Baseline) -> None:
    """A batch without the first segment field is still windowed by the second."""
    windower = _windower(baseline, segment_fields=("region", "platform"))
    batch = make_batch([1, 2], platform=["ios", "ios"])
    segments = {w.key.segment for w in _all(windower, [batch])}
    assert segments == {"", "platform=ios"}


def test_a_label_pair_adds_performance_like_an_inline_label(baseline: Baseline) -> None:
    """A pair counted by add_labels adds what the same event's inline label adds, and no event."""
    event = make_batch([HOUR + 10])
    (expected,) = _all(_windower(baseline, segment_fields=()), [event])
    windower = _windower(baseline, segment_fields=())
    windower.add(replace(event, label=None))
    windower.add_labels(make_batch([HOUR + 20]), Pairs(event, np.array([0])))
    (window,) = windower.flush()
    assert (window.events, window.performance.tolist()) == (1, expected.performance.tolist())


def test_pairs_completed_by_predictions_add_performance_too(baseline: Baseline) -> None:
    """Pairs handed to add() with the predictions that completed them count like inline labels."""
    event = make_batch([HOUR + 10])
    (expected,) = _all(_windower(baseline, segment_fields=()), [event])
    windower = _windower(baseline, segment_fields=())
    windower.add(replace(event, label=None), Pairs(event, np.array([0])))
    (window,) = windower.flush()
    assert window.performance.tolist() == expected.performance.tolist()


def test_a_pair_for_a_window_ending_at_the_watermark_is_late(baseline: Baseline) -> None:
    """A pair dated in a window that ends exactly at the watermark is counted late, not added."""
    windower = _windower(baseline, segment_fields=())
    windower.add(make_batch([10, HOUR]))
    windower.add_labels(make_batch([HOUR]), Pairs(make_batch([20]), np.array([0])))
    assert windower.late_labels.by_model == {"m": 1}


def test_events_thousands_of_windows_apart_get_a_window_each(baseline: Baseline) -> None:
    """Two events 3000 windows apart in one batch land in two windows of one event each."""
    windower = _windower(baseline, segment_fields=(), allowed_lateness_ms=10_000 * HOUR)
    closed = _all(windower, [make_batch([3000 * HOUR + 1, 1])])
    assert [(w.start_ms, w.events) for w in closed] == [(0, 1), (3000 * HOUR, 1)]


def test_windows_fed_by_label_pairs_keep_integer_counts(baseline: Baseline) -> None:
    """A window that label pairs added to still holds int64 counts and performance."""
    event = make_batch([HOUR + 10])
    windower = _windower(baseline, segment_fields=())
    windower.add(replace(event, label=None))
    windower.add_labels(make_batch([HOUR + 20]), Pairs(event, np.array([0])))
    (window,) = windower.flush()
    assert (window.counts.dtype, window.performance.dtype) == (np.dtype(np.int64),) * 2


def test_an_inline_label_adds_to_its_windows_performance(baseline: Baseline) -> None:
    """An event carrying its own label gives its window non-zero performance counts."""
    (window,) = _all(_windower(baseline, segment_fields=()), [make_batch([10])])
    assert window.performance.any()


def test_events_without_a_segment_value_count_only_in_the_overall_window(
    baseline: Baseline,
) -> None:
    """An event whose platform is null is in the overall window and in no platform window."""
    batch = make_batch([1, 2])
    batch = replace(batch, segments={"platform": pa.array([None, "ios"], pa.string())})
    segments = {w.key.segment: w.events for w in _all(_windower(baseline), [batch])}
    assert segments == {"": 2, "platform=ios": 1}


def test_prediction_detections_are_named_by_their_detector(baseline: Baseline) -> None:
    """A prediction detector that fires is reported under its own name, without a prefix."""
    windower = _windower(baseline, segment_fields=(), buffer_scores=True)
    x = np.concatenate([np.full(500, -2.0), np.full(500, 2.0)])
    (window,) = _fed(_all(windower, [make_batch(np.arange(1000) * 1000, x=x)]), ("adwin", {}))
    assert window.detections == {"adwin": 1}


def test_single_events_of_each_segment_value_get_their_windows(baseline: Baseline) -> None:
    """One android event and then one ios event, a batch each, land in their platform windows."""
    batches = [make_batch([1], platform=["android"]), make_batch([2], platform=["ios"])]
    segments = {w.key.segment: w.events for w in _all(_windower(baseline), batches)}
    assert segments == {"": 2, "platform=android": 1, "platform=ios": 1}


def test_a_late_pair_of_an_unconfigured_model_counts_for_no_model(baseline: Baseline) -> None:
    """Of a model's on-time pair and another model's late one, no late label is counted for m."""
    windower = _windower(baseline, segment_fields=())
    windower.add(make_batch([10, 2 * HOUR]))
    pairs = make_batch([2 * HOUR + 5, 20])
    pairs = replace(pairs, model=pa.array(["m", "x"], pa.string()))
    windower.add_labels(make_batch([2 * HOUR]), Pairs(pairs, np.array([0, 0])))
    assert windower.late_labels.by_model == {}


def test_fold_names_segment_values_past_the_cap_other_and_counts_them(baseline: Baseline) -> None:
    """fold rewrites the segment values past max_segment_values as __other__ and counts them."""
    windower = _windower(baseline, max_segment_values=2)
    batch = make_batch([1, 2, 3, 4], platform=["ios", "android", "web", "tv"])
    folded = windower.fold(batch)
    assert folded.segments["platform"].to_pylist() == ["ios", "android", OTHER, OTHER]
    assert folded.model_version.equals(batch.model_version)
    assert windower.capped == {"model_versions": 0, "segment_values": 2}


def test_fold_counts_add_up_across_batches(baseline: Baseline) -> None:
    """Values folded in two batches are counted together."""
    windower = _windower(baseline, max_segment_values=1)
    windower.fold(make_batch([1, 2], platform=["ios", "web"]))
    windower.fold(make_batch([3], platform=["tv"]))
    assert windower.capped["segment_values"] == 2


def test_fold_names_versions_past_the_cap_other_and_counts_them(baseline: Baseline) -> None:
    """fold rewrites a model's versions past max_versions as __other__ and counts them."""
    windower = _windower(baseline, max_versions=1)
    batch = make_batch([1, 2, 3])
    batch = replace(batch, model_version=pa.array(["v1", "v2", "v1"]))
    folded = windower.fold(batch)
    assert folded.model_version.to_pylist() == ["v1", OTHER, "v1"]
    assert folded.segments["platform"].equals(batch.segments["platform"])
    assert windower.capped == {"model_versions": 1, "segment_values": 0}


def test_fold_returns_a_batch_within_the_caps_itself(baseline: Baseline) -> None:
    """A batch with no version or segment value past its cap comes back as the same object."""
    windower = _windower(baseline)
    batch = make_batch([1, 2, 3], platform=["ios", "android", None])
    assert windower.fold(batch) is batch
    assert windower.capped == {"model_versions": 0, "segment_values": 0}


def test_a_model_gets_twenty_versions_by_default(baseline: Baseline) -> None:
    """Without max_versions, 20 versions keep their names and the 21st and 22nd are __other__."""
    windower = _windower(baseline)
    versions = [f"v{i}" for i in range(22)]
    batch = replace(make_batch([1] * 22), model_version=pa.array(versions))
    assert windower.fold(batch).model_version.to_pylist() == [*versions[:20], OTHER, OTHER]


def test_preferred_versions_keep_their_names_even_when_others_arrive_first(
    baseline: Baseline,
) -> None:
    """A model's preferred version takes its one place under max_versions=1 before v1 does."""
    windower = _windower(baseline, max_versions=1, preferred_versions={"m": ("v2",)})
    batch = replace(make_batch([1, 2]), model_version=pa.array(["v1", "v2"]))
    assert windower.fold(batch).model_version.to_pylist() == [OTHER, "v2"]


def test_each_versions_prediction_detector_sees_only_its_own_scores(baseline: Baseline) -> None:
    """A shift in v1's predictions fires v1's detector, not that of v2, whose scores are steady."""
    windower = _windower(baseline, segment_fields=(), buffer_scores=True)
    x = np.concatenate([np.full(500, -2.0), np.full(500, 2.0), np.zeros(1000)])
    batch = make_batch(np.arange(2000) * 1000, x=x)
    batch = replace(batch, model_version=pa.array(["v1"] * 1000 + ["v2"] * 1000))
    closed = _fed(_all(windower, [batch]), ("adwin", {}))
    detections = {w.key.model_version: w.detections for w in closed}
    assert detections == {"v1": {"adwin": 1}, "v2": {}}


def test_a_batch_without_predictions_buffers_no_scores(baseline: Baseline) -> None:
    """With scores buffered, a batch carrying no predictions is still counted and buffers none."""
    windower = _windower(baseline, segment_fields=(), buffer_scores=True)
    batch = replace(make_batch([1, 2, 3]), prediction=None)
    (window,) = _all(windower, [batch])
    assert (window.events, window.values) == (3, {})


def test_another_models_rows_do_not_reach_the_buffered_scores(baseline: Baseline) -> None:
    """Rows of an unconfigured model in the batch are left out of m's windows and scores."""
    windower = _windower(baseline, segment_fields=(), buffer_scores=True)
    batch = replace(make_batch([1, 2, 3]), model=pa.array(["m", "m", "z"]))
    assert isinstance(batch.prediction, np.ndarray)
    (window,) = _all(windower, [batch])
    assert (window.key.model, window.events) == ("m", 2)
    assert window.values["score"].tolist() == batch.prediction[:2].tolist()


def test_a_model_without_a_prediction_buffers_no_scores() -> None:
    """A model whose baseline has no prediction counts its events and buffers no scores."""
    plain = build_baseline(
        training(500), model="m", exclude=("score", "label"), window_sizes=(100,), replicates=20
    )
    windower = Windower(
        {"m": ModelLayout(plain)},
        size_ms=HOUR,
        allowed_lateness_ms=0,
        buffer_scores=True,
    )
    (window,) = _all(windower, [make_batch([1, 2, 3])])
    assert (window.events, window.values) == (3, {})


def _up_detections(baseline: Baseline, batch: EventBatch) -> int:
    """Detections of an upward Page-Hinkley on the prediction scores of one window."""
    windower = _windower(baseline, segment_fields=(), buffer_scores=True)
    (window,) = _fed(_all(windower, [batch]), ("page_hinkley_np", {"mode": "up"}))
    return window.detections.get("page_hinkley_np", 0)


def test_events_of_equal_time_reach_a_detector_in_offset_order(baseline: Baseline) -> None:
    """Scores of one instant go to the detector by offset: low then high is an upward shift."""
    x = np.concatenate([np.full(300, -2.0), np.full(300, 2.0)])
    assert _up_detections(baseline, make_batch(np.full(600, 1_000), x=x)) == 1


def test_events_of_equal_time_reach_a_detector_partition_by_partition(baseline: Baseline) -> None:
    """Of one instant, a partition's scores all go before the next partition's, whatever the
    offsets: a low partition 0 then a high partition 1 is an upward shift."""
    x = np.concatenate([np.full(300, -2.0), np.full(300, 2.0)])
    batch = make_batch(np.full(600, 1_000), x=x, partition=[0] * 300 + [1] * 300)
    batch = replace(batch, offset=np.tile(np.arange(300, dtype=np.int64), 2))
    assert _up_detections(baseline, batch) == 1
