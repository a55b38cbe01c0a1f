"""Delayed labels: joined to their predictions by event id, scored per window, bounded memory."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry

from baselines.values import Baseline
from monitor.batches import EventBatch, RawRecords
from monitor.config import Settings
from monitor.join.label_join import DELAY_BUCKETS_S, Interner, JoinStats, LabelJoin
from monitor.pipeline import Pipeline
from monitor.sinks.collector import DriftCollector, RunningTotals
from monitor.sinks.latest_windows import LatestWindows
from monitor.sinks.memory import ListSink
from monitor.state.snapshot import restore, snapshot
from tests.support.label_stream import HOUR, LABELS, NOW_MS, PREDICTIONS, T0
from tests.support.label_stream import label_settings as _settings
from tests.support.label_stream import labelled_stream as _stream
from tests.support.label_stream import object_records as _records


def _windows(sink: ListSink, segment: str = "") -> list[Mapping[str, Any]]:
    """The report objects of the windows of one segment the sink received."""
    return [w.report for w in sink.windows() if w.key.segment == segment]


def _run(
    baseline: Baseline,
    steps: list[tuple[str, list[dict[str, Any]]]],
    settings: Settings | None = None,
) -> tuple[Pipeline, ListSink]:
    """Feed ("predictions" | "labels", objects) steps in order, then finish."""
    sink = ListSink()
    pipeline = Pipeline(settings or _settings(), {"m": baseline}, [sink])
    for kind, objects in steps:
        if kind == "predictions":
            pipeline.process_records(_records(objects, PREDICTIONS), NOW_MS)
        else:
            pipeline.process_labels(_records(objects, LABELS), NOW_MS)
    pipeline.finish()
    return pipeline, sink


def _interleaved(
    predictions: list[dict[str, Any]], labels: list[dict[str, Any]], size: int = 500
) -> list[tuple[str, list[dict[str, Any]]]]:
    steps: list[tuple[str, list[dict[str, Any]]]] = []
    for start in range(0, len(predictions), size):
        steps.append(("predictions", predictions[start : start + size]))
        steps.append(("labels", labels[start : start + size]))
    return steps


def _performance(sink: ListSink) -> list[tuple[str, Any]]:
    return [(w["start"], w.get("performance", {}).get("metrics")) for w in _windows(sink)]


def test_labels_without_delay_score_like_labels_carried_in_the_events(baseline: Baseline) -> None:
    """Joined labels dated with their predictions give each window the inline labels' metrics."""
    predictions, labels = _stream(delay_ms=0)
    inline = [{**p, "label": lab["label"]} for p, lab in zip(predictions, labels, strict=True)]
    _, joined = _run(baseline, _interleaved(predictions, labels))
    _, carried = _run(baseline, [("predictions", inline)])
    assert _performance(joined) == _performance(carried)
    assert all(metrics is not None for _, metrics in _performance(joined))


def test_labels_arriving_before_their_predictions_join_the_same(baseline: Baseline) -> None:
    """Whether a batch of labels comes before or after its predictions, the report is the same."""
    predictions, labels = _stream()
    after = _interleaved(predictions, labels)
    before = [step for pair in zip(after[1::2], after[::2], strict=True) for step in pair]
    assert _run(baseline, before)[1].reports() == _run(baseline, after)[1].reports()


def test_pairs_are_dated_by_their_label(baseline: Baseline) -> None:
    """Labels an hour late make each window's performance that of the previous hour's events."""
    predictions, labels = _stream(delay_ms=HOUR)
    pipeline, sink = _run(baseline, _interleaved(predictions, labels))
    first, second = _windows(sink)[:2]
    assert "performance" not in first
    hour_one = sum(1 for p in predictions if p["timestamp"] < T0 + HOUR)
    assert second["performance"]["labeled"] == hour_one
    assert pipeline.stage1.join.stats.joined["m"] == len(labels)


def test_a_concept_drift_is_caught_by_performance_and_error_detectors(baseline: Baseline) -> None:
    """Labels that flip while the inputs stay the same raise performance to intervention and
    fire the error-stream detectors, and no feature or prediction check."""
    predictions, labels = _stream(n=12_000, hours=12, flip_from_hour=6)
    _, sink = _run(baseline, _interleaved(predictions, labels))
    alerts = [r for r in sink.reports() if r["kind"] == "alert" and r["segment"] == ""]
    raised = {(a["subject"], a["check"], a["to"]) for a in alerts}
    assert ("performance", "accuracy", "intervention") in raised
    assert {a["subject"] for a in alerts} == {"performance"}
    fired = {
        name
        for w in _windows(sink)
        if w["start"] >= "2019-04-01T06"
        for name, verdict in w["detectors"].items()
        if name.startswith(("error_", "abs_error_")) and verdict.get("detections", 0)
    }
    assert {"error_ddm_np", "error_hddm_a"} <= fired


def test_stable_labels_fire_no_error_detector(baseline: Baseline) -> None:
    """On labels drawn like the training data the default error-stream detectors stay quiet."""
    predictions, labels = _stream(n=12_000, hours=12)
    _, sink = _run(baseline, _interleaved(predictions, labels))
    fired = [
        (w["start"], name)
        for w in _windows(sink)
        for name in w["detectors"]
        if name.startswith(("error_", "abs_error_"))
    ]
    assert fired == []


def test_a_full_buffer_gives_up_on_the_oldest_predictions(baseline: Baseline) -> None:
    """With room for 100 waiting predictions, the oldest of 300 leave unlabeled (capacity)."""
    predictions, labels = _stream(n=300, hours=1)
    pipeline, _ = _run(
        baseline,
        [("predictions", predictions), ("labels", labels)],
        _settings(labels={"max_pending": 100, "max_orphans": 10}),
    )
    stats = pipeline.stage1.join.stats
    assert stats.unlabeled[("m", "capacity")] == 200
    assert stats.joined["m"] == 100
    assert stats.unmatched["m"] == 190  # 200 labels without a prediction: 10 wait, 190 gave way
    assert len(pipeline.stage1.join.orphans) == 10


def test_predictions_older_than_the_horizon_leave_unlabeled(baseline: Baseline) -> None:
    """Predictions whose label has not come within the horizon are counted and dropped."""
    predictions, _ = _stream(n=600, hours=6)
    pipeline, _ = _run(
        baseline, [("predictions", predictions)], _settings(labels={"horizon": "2h"})
    )
    stats = pipeline.stage1.join.stats
    watermark = max(p["timestamp"] for p in predictions)  # one batch: its newest event
    expected = sum(1 for p in predictions if p["timestamp"] < watermark - 2 * HOUR)
    assert stats.unlabeled[("m", "horizon")] == expected
    assert stats.pending["m"] == len(predictions) - expected


def test_a_label_dated_before_its_prediction_is_an_order_violation(baseline: Baseline) -> None:
    """Labels timestamped before their predictions are counted as violations and still joined."""
    predictions, labels = _stream(n=200, hours=1, delay_ms=-1_000)
    pipeline, _ = _run(baseline, [("predictions", predictions), ("labels", labels)])
    assert pipeline.stage1.join.stats.order_violations["m"] == 200
    assert pipeline.stage1.join.stats.joined["m"] == 200


def test_label_delays_are_counted_in_their_histogram_bucket(baseline: Baseline) -> None:
    """Labels ten minutes late land in the 15-minute bucket (upper bounds inclusive)."""
    predictions, labels = _stream(n=200, hours=1, delay_ms=600_000)
    pipeline, _ = _run(baseline, [("predictions", predictions), ("labels", labels)])
    stats = pipeline.stage1.join.stats
    assert stats.delay_counts["m"] == [0, 0, 200, 0, 0, 0, 0, 0, 0]
    assert stats.delay_sum_s["m"] == pytest.approx(200 * 600.0)


def test_label_events_without_id_or_value_are_rejected_by_reason(baseline: Baseline) -> None:
    """A label event with no event id or no label is rejected under its own reason."""
    label = {"event_id": "e1", "model": "m", "timestamp": T0, "label": 1}
    no_id = {k: v for k, v in label.items() if k != "event_id"}
    no_label = {k: v for k, v in label.items() if k != "label"}
    pipeline, _ = _run(baseline, [("labels", [no_id, no_label, label])])
    assert dict(pipeline.totals.rejected) == {
        "label_missing_event_id": 1,
        "label_missing_label": 1,
    }
    assert pipeline.stage1.join.stats.labels["m"] == 1


def test_a_rejected_label_carries_its_own_message(baseline: Baseline) -> None:
    """Unusable labels from interleaved partitions sharing offsets keep their own bytes, also
    when a message before them did not decode."""
    good = {"event_id": "e1", "model": "m", "timestamp": T0, "label": 1}
    objects = [good, {**good, "event_id": None}, {**good, "label": None, "event_id": "x"}]
    objects += [{**good, "event_id": "y", "label": None}]
    records = RawRecords(
        [b"not json", *(orjson.dumps(o) for o in objects)],
        np.array([0, 0, 1, 0, 1], np.int64),
        np.array([4, 5, 5, 6, 6], np.int64),
        np.full(5, -1, np.int64),
    )
    sink = ListSink()
    pipeline = Pipeline(_settings(), {"m": baseline}, [sink], reject_sinks=[sink])
    pipeline.process_labels(records, NOW_MS)
    kept = [(r.reason, r.partition, r.offset, r.raw) for r in sink.rejects]
    assert kept[1:] == [
        ("label_missing_event_id", 1, 5, records.values[2]),
        ("label_missing_label", 0, 6, records.values[3]),
        ("label_missing_label", 1, 6, records.values[4]),
    ]
    assert kept[0][1:] == (0, 4, b"not json")


def test_a_restored_pipeline_continues_the_join_exactly(baseline: Baseline) -> None:
    """Snapshot mid-stream, restore into a fresh pipeline: the rest of the report is the same."""
    predictions, labels = _stream(n=6_000, hours=6, flip_from_hour=3, delay_ms=20 * 60_000)
    steps = _interleaved(predictions, labels)
    cut = len(steps) // 2 + 1
    _, whole = _run(baseline, steps)
    first = ListSink()
    pipeline = Pipeline(_settings(), {"m": baseline}, [first])
    for kind, objects in steps[:cut]:
        feed = pipeline.process_records if kind == "predictions" else pipeline.process_labels
        feed(_records(objects, PREDICTIONS if kind == "predictions" else LABELS), NOW_MS)
    state = orjson.loads(orjson.dumps(snapshot(pipeline)))
    assert state["labels"]["join"]["pending"]["ids"]
    second = ListSink()
    resumed = Pipeline(_settings(), {"m": baseline}, [second])
    restore(resumed, state)
    for kind, objects in steps[cut:]:
        feed = resumed.process_records if kind == "predictions" else resumed.process_labels
        feed(_records(objects, PREDICTIONS if kind == "predictions" else LABELS), NOW_MS)
    resumed.finish()
    assert first.reports() + second.reports() == whole.reports()


def test_the_join_is_exported_as_prometheus_metrics(baseline: Baseline) -> None:
    """Label counters, unlabeled predictions by reason, coverage and the delay histogram."""
    predictions, labels = _stream(n=300, hours=1, delay_ms=600_000)
    pipeline, _ = _run(
        baseline,
        [("predictions", predictions), ("labels", labels[:200])],
        _settings(labels={"max_pending": 250}),
    )
    totals = RunningTotals(labels=pipeline.stage1.join.stats.copy(), late_labels={"m": 3})
    registry = CollectorRegistry()
    DriftCollector(LatestWindows(), lambda: totals, max_segments=5, registry=registry)
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for sample in family.samples
    }
    model = (("model", "m"),)
    assert samples[("driftwarden_labels_total", model)] == 200
    assert samples[("driftwarden_labels_joined_total", model)] == 200 - 50
    assert samples[("driftwarden_labels_unmatched_total", model)] == 0  # 50 still waiting
    assert samples[("driftwarden_labels_late_total", model)] == 3
    assert (
        samples[("driftwarden_predictions_unlabeled_total", (*model, ("reason", "capacity")))] == 50
    )
    assert samples[("driftwarden_label_coverage_ratio", model)] == 150 / 200
    assert samples[("driftwarden_label_delay_seconds_bucket", (("le", "900.0"), *model))] == 150
    assert samples[("driftwarden_label_delay_seconds_bucket", (("le", "300.0"), *model))] == 0
    assert samples[("driftwarden_label_delay_seconds_sum", model)] == 150 * 600.0


def test_without_label_topics_predictions_do_not_wait_for_labels(baseline: Baseline) -> None:
    """A pipeline with no label source keeps no prediction waiting (no memory, no cost)."""
    predictions, _ = _stream(n=300, hours=1)
    settings = _settings()
    without = settings.model_copy(update={"kafka": None})
    pipeline, _ = _run(baseline, [("predictions", predictions)], without)
    assert len(pipeline.stage1.join.pending) == 0
    waiting, _ = _run(baseline, [("predictions", predictions)], settings)
    assert len(waiting.stage1.join.pending) == 300


def _day_join() -> LabelJoin:
    """A join of numeric predictions and labels, room for ten of each, a day's horizon."""
    return LabelJoin(
        horizon_ms=24 * HOUR,
        max_pending=10,
        max_orphans=10,
        segment_fields=(),
        prediction_kind="numeric",
        label_kind="numeric",
    )


def _events(
    times_ms: list[int], *, prediction: list[float] | None = None, label: list[float] | None = None
) -> EventBatch:
    """Events e0, e1, … of model m at these times, with the given prediction/label values."""
    n = len(times_ms)
    return EventBatch(
        event_time_ms=np.asarray(times_ms, np.int64),
        partition=np.zeros(n, np.int64),
        offset=np.arange(n, dtype=np.int64),
        model=pa.array(["m"] * n, pa.string()),
        model_version=pa.array(["v1"] * n, pa.string()),
        event_id=pa.array([f"e{i}" for i in range(n)], pa.string()),
        prediction=None if prediction is None else np.asarray(prediction, np.float64),
        label=None if label is None else np.asarray(label, np.float64),
    )


def test_a_pair_is_dated_at_the_later_of_its_two_timestamps() -> None:
    """A label stamped before its prediction dates the pair at the prediction, not the label."""
    join = _day_join()
    join.add_predictions(_events([T0 + 5_000, T0 + 5_000], prediction=[0.2, 0.7]))
    pairs = join.add_labels(_events([T0 + 9_000, T0 + 1_000], label=[0.0, 1.0]))
    assert pairs is not None
    assert pairs.batch.event_time_ms.tolist() == [T0 + 9_000, T0 + 5_000]


def test_a_delay_on_a_bucket_bound_counts_in_that_bucket() -> None:
    """Delays of exactly each upper bound land in that bound's bucket (``le``: inclusive)."""
    bounds_ms = [int(bound * 1000) for bound in DELAY_BUCKETS_S]
    join = _day_join()
    delays_ms = [*bounds_ms, bounds_ms[-1] + 1]
    join.add_predictions(_events([T0] * len(delays_ms), prediction=[0.5] * len(delays_ms)))
    join.add_labels(_events([T0 + d for d in delays_ms], label=[1.0] * len(delays_ms)))
    assert join.stats.delay_counts["m"] == [1] * (len(DELAY_BUCKETS_S) + 1)


def test_a_prediction_carrying_its_own_label_waits_for_none() -> None:
    """An event with both prediction and label is not kept for a label from the label topic."""
    join = _day_join()
    assert join.add_predictions(_events([T0], prediction=[0.4], label=[1.0])) is None
    assert len(join.pending) == 0
    assert join.add_labels(_events([T0 + 1_000], label=[1.0])) is None


def test_a_restored_pipeline_keeps_the_late_label_count(baseline: Baseline) -> None:
    """Labels whose window had closed are counted as late, and a restore keeps that count."""
    predictions, labels = _stream(n=600, hours=6)
    pipeline = Pipeline(_settings(), {"m": baseline}, [ListSink()])
    pipeline.process_records(_records(predictions, PREDICTIONS), NOW_MS)
    pipeline.process_labels(_records(labels, LABELS), NOW_MS)
    late = dict(pipeline.windower.late_labels.by_model)
    assert late["m"] > 0
    resumed = Pipeline(_settings(), {"m": baseline}, [ListSink()])
    restore(resumed, orjson.loads(orjson.dumps(snapshot(pipeline))))
    assert resumed.windower.late_labels.by_model == late


def _join(**options: Any) -> LabelJoin:
    """A join of numeric predictions and labels carrying the platform segment."""
    defaults: dict[str, Any] = {
        "horizon_ms": HOUR,
        "max_pending": 100,
        "max_orphans": 100,
        "segment_fields": ("platform",),
        "prediction_kind": "numeric",
        "label_kind": "numeric",
    }
    return LabelJoin(**{**defaults, **options})


def _batch(
    ids: list[str | None],
    times: list[int],
    *,
    model: str = "m",
    prediction: np.ndarray | pa.Array | None = None,
    label: np.ndarray | pa.Array | None = None,
    platform: list[str] | None = None,
) -> EventBatch:
    """Events of one model with the given ids, times, values and platform segment."""
    n = len(ids)
    return EventBatch(
        event_time_ms=np.asarray(times, np.int64),
        partition=np.zeros(n, np.int64),
        offset=np.arange(n, dtype=np.int64),
        model=pa.array([model] * n, pa.string()),
        model_version=pa.array(["v1"] * n, pa.string()),
        event_id=pa.array(ids, pa.string()),
        segments={} if platform is None else {"platform": pa.array(platform, pa.string())},
        prediction=prediction,
        label=label,
    )


def test_only_predictions_with_an_id_a_value_and_no_label_of_their_own_wait() -> None:
    """Of four predictions, only the one with an id, a value and no inline label waits."""
    join = _join()
    join.add_predictions(
        _batch(
            ["e0", None, "e2", "e3"],
            [T0] * 4,
            prediction=np.array([0.1, 0.2, np.nan, 0.4]),
            label=np.array([np.nan, np.nan, np.nan, 1.0]),
        )
    )
    assert len(join.pending) == 1


def test_a_batch_without_predictions_or_labels_joins_nothing() -> None:
    """A feature-only batch neither waits nor completes anything, on either side."""
    join = _join()
    assert join.add_predictions(_batch(["e0"], [T0])) is None
    assert join.add_labels(_batch(["e0"], [T0])) is None
    assert (len(join.pending), len(join.orphans)) == (0, 0)


def test_a_label_completes_its_waiting_prediction_into_a_pair() -> None:
    """A pair is dated at its label, carries prediction, label, version, segment and its key,
    and names the label row that completed it."""
    join = _join()
    join.add_predictions(
        _batch(["e0", "e1"], [T0, T0], prediction=np.array([0.2, 0.7]), platform=["ios", "a"])
    )
    pairs = join.add_labels(
        _batch(["x", "e1", "e0"], [T0 + 5000] * 3, label=np.array([1.0, 0.0, 1.0]))
    )
    assert pairs is not None
    assert pairs.trigger.tolist() == [1, 2]
    batch = pairs.batch
    assert batch.event_time_ms.tolist() == [T0 + 5000, T0 + 5000]
    assert batch.event_id.to_pylist() == ["m\x1fe1", "m\x1fe0"]
    assert batch.model_version.to_pylist() == ["v1", "v1"]
    assert batch.segments["platform"].to_pylist() == ["a", "ios"]
    assert np.asarray(batch.prediction).tolist() == [0.7, 0.2]
    assert np.asarray(batch.label).tolist() == [0.0, 1.0]


def test_pairs_come_from_no_partition() -> None:
    """A pair's partition and offset are int64 zeros: it was made by the join, not read."""
    join = _join()
    join.add_predictions(_batch(["e0"], [T0], prediction=np.array([0.5])))
    pairs = join.add_labels(_batch(["e0"], [T0 + 1], label=np.array([1.0])))
    assert pairs is not None
    for column in (pairs.batch.partition, pairs.batch.offset):
        assert (column.dtype, column.tolist()) == (np.dtype(np.int64), [0])


def test_a_prediction_completes_its_waiting_label_into_a_pair() -> None:
    """A label that came first waits; the prediction row that arrives names itself the trigger."""
    join = _join()
    assert join.add_labels(_batch(["e1"], [T0 + 10], label=np.array([1.0]))) is None
    pairs = join.add_predictions(
        _batch(["e0", "e1"], [T0, T0], prediction=np.array([0.3, 0.6]), platform=["i", "a"])
    )
    assert pairs is not None
    assert (pairs.trigger.tolist(), pairs.batch.event_time_ms.tolist()) == ([1], [T0 + 10])


def test_a_segment_the_predictions_lack_is_null_in_the_pair() -> None:
    """Predictions without the configured segment column give pairs a null segment."""
    join = _join()
    join.add_predictions(_batch(["e0"], [T0], prediction=np.array([0.5])))
    pairs = join.add_labels(_batch(["e0"], [T0 + 1], label=np.array([1.0])))
    assert pairs is not None
    assert pairs.batch.segments["platform"].to_pylist() == [None]


def test_class_predictions_come_out_of_the_join_as_their_class_names() -> None:
    """Categorical predictions are kept as codes and decoded back to their class names."""
    join = _join(prediction_kind="categorical")
    join.add_predictions(_batch(["e0", "e1"], [T0, T0], prediction=pa.array(["yes", "no"])))
    pairs = join.add_labels(_batch(["e1", "e0"], [T0 + 1] * 2, label=np.array([0.0, 1.0])))
    assert pairs is not None
    assert pairs.batch.prediction.to_pylist() == ["no", "yes"]  # type: ignore[union-attr]


def test_the_same_event_id_of_two_models_does_not_join() -> None:
    """Keys are (model, event_id): a label of model b does not complete model a's prediction."""
    join = _join()
    join.add_predictions(_batch(["e0"], [T0], model="a", prediction=np.array([0.5])))
    assert join.add_labels(_batch(["e0"], [T0 + 1], model="b", label=np.array([1.0]))) is None


def test_label_delays_fall_in_buckets_whose_upper_bound_is_inclusive() -> None:
    """A delay of exactly 60 s counts in the first bucket, one of 60.03 s in the second."""
    join = _join()
    join.add_predictions(_batch(["e0", "e1"], [T0, T0], prediction=np.array([0.5, 0.5])))
    join.add_labels(_batch(["e0", "e1"], [T0 + 60_000, T0 + 60_030], label=np.array([1.0, 1.0])))
    assert join.stats.delay_counts["m"] == [1, 1] + [0] * (len(DELAY_BUCKETS_S) - 1)


def test_order_violations_are_labels_strictly_before_their_prediction() -> None:
    """A label with its prediction's timestamp is in order; earlier ones count, across batches."""
    join = _join()
    join.add_predictions(_batch(["e0", "e1", "e2"], [T0] * 3, prediction=np.full(3, 0.5)))
    join.add_labels(_batch(["e0", "e1"], [T0, T0 - 1000], label=np.array([1.0, 1.0])))
    join.add_labels(_batch(["e2"], [T0 - 1], label=np.array([1.0])))
    assert join.stats.order_violations["m"] == 2


def test_the_delay_sum_adds_the_waits_in_seconds_across_batches() -> None:
    """Waits of 2 s, 0 s (same timestamp) and 1.5 s add up to 3.5 s."""
    join = _join()
    join.add_predictions(_batch(["e0", "e1", "e2"], [T0] * 3, prediction=np.full(3, 0.5)))
    join.add_labels(_batch(["e0", "e1"], [T0 + 2000, T0], label=np.array([1.0, 1.0])))
    join.add_labels(_batch(["e2"], [T0 + 1500], label=np.array([1.0])))
    assert join.stats.delay_sum_s["m"] == 3.5


def test_predictions_pushed_out_of_a_full_buffer_add_up() -> None:
    """With room for one prediction, three arrivals push out two, counted as capacity."""
    join = _join(max_pending=1)
    for i in range(3):
        join.add_predictions(_batch([f"e{i}"], [T0], prediction=np.array([0.5])))
    assert join.stats.unlabeled[("m", "capacity")] == 2


def test_labels_pushed_out_of_a_full_orphan_buffer_add_up() -> None:
    """With room for one early label, three arrivals push out two, counted as unmatched."""
    join = _join(max_orphans=1)
    for i in range(3):
        join.add_labels(_batch([f"e{i}"], [T0], label=np.array([1.0])))
    assert join.stats.unmatched["m"] == 2


def _full_stats() -> JoinStats:
    return JoinStats(
        labels=Counter(m=5),
        joined=Counter(m=4),
        unmatched=Counter(m=3),
        unlabeled=Counter({("m", "horizon"): 2}),
        order_violations=Counter(m=1),
        delay_counts={"m": [1, 2, 0, 0, 0, 0, 0, 0, 1]},
        delay_sum_s={"m": 2.5},
        pending={"m": 7},
    )


def test_a_copy_of_the_join_stats_holds_every_counter() -> None:
    """A copy of the join's stats equals them in every field, the pending sizes included."""
    assert _full_stats().copy() == _full_stats()


def test_the_join_stats_survive_their_saved_state() -> None:
    """Stats rebuilt from their state equal them in every field but pending (recounted)."""
    stats = _full_stats()
    assert JoinStats.from_state(stats.state()) == replace(stats, pending={})


def test_a_name_keeps_its_code_across_batches() -> None:
    """The interner gives a name seen in an earlier batch the same code again."""
    names = Interner()
    names.encode(pa.array(["a", "b"]))
    assert names.encode(pa.array(["b", "c", "a"])).tolist() == [1, 2, 0]


def test_codes_of_an_empty_interner_decode_to_string_nulls() -> None:
    """Decoding missing codes with no names yet still gives a string column."""
    decoded = Interner().decode(np.array([-1, -1]))
    assert (decoded.type, decoded.to_pylist()) == (pa.string(), [None, None])


def test_an_event_id_ending_in_a_nul_character_is_its_own_key() -> None:
    """A waiting prediction of id "e0\\x00" is not completed by a label of id "e0"."""
    join = _join()
    join.add_predictions(_batch(["e0\x00"], [T0], prediction=np.array([0.5])))
    assert join.add_labels(_batch(["e0"], [T0 + 1], label=np.array([1.0]))) is None


def test_labels_of_two_models_in_one_batch_count_each_for_its_own_model(
    baseline: Baseline,
) -> None:
    """One label batch completing pairs of two models adds each pair to its own model's
    windows only: each model's labeled count is its own joined labels less its late ones."""
    predictions, labels = _stream(n=2_000, hours=2)
    other = {f"e{i}" for i in range(0, 2_000, 3)}  # a third of the events belong to model "n"
    for event in (*predictions, *labels):
        if event["event_id"] in other:
            event["model"] = "n"
    models = [{"name": "m", "baseline": "m.json"}, {"name": "n", "baseline": "n.json"}]
    report = ListSink()
    pipeline = Pipeline(_settings(models=models), {"m": baseline, "n": baseline}, [report])
    pipeline.process_records(_records(predictions, PREDICTIONS), NOW_MS)
    pipeline.process_labels(_records(labels, LABELS), NOW_MS)
    pipeline.finish()
    labeled: Counter[str] = Counter()
    for window in _windows(report):
        labeled[window["model"]] += window.get("performance", {}).get("labeled", 0)
    joined, late = pipeline.stage1.join.stats.joined, pipeline.windower.late_labels.by_model
    assert joined == {"m": 2_000 - len(other), "n": len(other)}
    assert labeled == {model: joined[model] - late[model] for model in ("m", "n")}
    assert all(labeled[model] > 0 and late[model] > 0 for model in ("m", "n"))


def test_a_pair_without_a_segment_value_counts_only_for_the_overall_window(
    baseline: Baseline,
) -> None:
    """Labels of predictions that carry no platform add to the overall window's performance
    and to no platform's window."""
    predictions, labels = _stream(n=2_000, hours=1, delay_ms=0)  # one window, no label late
    for event in predictions[::4]:
        del event["segments"]
    report = ListSink()
    pipeline = Pipeline(_settings(), {"m": baseline}, [report])
    pipeline.process_records(_records(predictions, PREDICTIONS), NOW_MS)
    pipeline.process_labels(_records(labels, LABELS), NOW_MS)
    pipeline.finish()

    def labeled(segments: tuple[str, ...]) -> int:
        return sum(
            r.get("performance", {}).get("labeled", 0)
            for r in report.reports()
            if r["kind"] == "window" and r["segment"] in segments
        )

    assert labeled(("",)) == 2_000
    assert labeled(("platform=ios", "platform=android")) == 1_500
