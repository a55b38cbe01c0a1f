"""Hostile volume: a stream of ever-new names keeps every piece of state at its cap.

200,000 predictions, each of a new model version, a new segment value, a new unknown feature
and a new event id whose label never comes, mixed with events of 1,000 models nobody
configured, and 20,000 labels of predictions that never come. Every piece of state that such a
stream could grow stops at its cap, and every cap hit is counted.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest

from baselines.values import Baseline
from monitor.batches import RawRecords
from monitor.config import load_settings
from monitor.pipeline import Pipeline
from monitor.sinks.collector import DriftCollector, RunningTotals
from monitor.sinks.latest_windows import LatestWindows
from monitor.window.caps import OTHER

HOUR = 3_600_000
T0 = 1_554_076_800_000  # 2019-04-01T00:00:00Z
PREDICTIONS = 200_000
UNCONFIGURED = 1_000
LABELS = 20_000
BATCH = 10_000
CAPS = {"versions": 5, "segments": 4, "unknown": 10, "pending": 1_000, "orphans": 500}
#: Segment values the baseline has a reference for come first (tests/support/builders.py).
PREFERRED_SEGMENTS = ["ios", "android"]


def _prediction(i: int) -> dict[str, Any]:
    """Prediction ``i``: every name in it is new; one in 201 belongs to an unconfigured model."""
    unconfigured = i % 201 == 200
    return {
        "event_id": f"e{i}",
        "model": f"stranger-{i % UNCONFIGURED}" if unconfigured else "m",
        "model_version": f"v{i}",
        "timestamp": T0 + i * (4 * HOUR // PREDICTIONS),
        "features": {"x": 0.5, "y": 5.0, "color": "red", f"new-{i}": 1},
        "prediction": 0.5,
        "segments": {"platform": f"p{i}"},
    }


def _records(messages: list[bytes], partition: int) -> list[RawRecords]:
    return [
        RawRecords(
            messages[i : i + BATCH],
            np.full(len(messages[i : i + BATCH]), partition, np.int64),
            np.arange(i, i + len(messages[i : i + BATCH]), dtype=np.int64),
            np.full(len(messages[i : i + BATCH]), -1, np.int64),
        )
        for i in range(0, len(messages), BATCH)
    ]


@pytest.fixture(scope="module")
def flooded(baseline: Baseline, tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    """A pipeline after the whole hostile stream (its windows closed at the end)."""
    path = tmp_path_factory.mktemp("volume") / "m.json"
    baseline.save(path)
    settings = load_settings(
        None,
        models=[{"name": "m", "baseline": path}],
        windows={"size": "1h", "allowed_lateness": "0s", "max_versions": CAPS["versions"]},
        segments={"fields": ["platform"], "max_values": CAPS["segments"]},
        decode={"max_unknown_features": CAPS["unknown"]},
        labels={"max_pending": CAPS["pending"], "max_orphans": CAPS["orphans"]},
        kafka={"prediction_topics": ["predictions"], "label_topics": ["labels"]},
    )
    pipeline = Pipeline(settings, {"m": baseline}, [])
    now = T0 + 10 * HOUR
    predictions = [orjson.dumps(_prediction(i)) for i in range(PREDICTIONS)]
    labels = [
        orjson.dumps({"event_id": f"never-{i}", "model": "m", "timestamp": T0 + i, "label": 1})
        for i in range(LABELS)
    ]
    for batch in _records(predictions, partition=0):
        pipeline.process_records(batch, now)
    for batch in _records(labels, partition=1):
        pipeline.process_labels(batch, now)
    pipeline.finish()
    return pipeline


def _counts() -> tuple[int, int]:
    """Predictions of the configured model, and of the unconfigured ones."""
    strangers = sum(1 for i in range(PREDICTIONS) if i % 201 == 200)
    return PREDICTIONS - strangers, strangers


def test_unconfigured_models_cost_only_their_rejects(flooded: Pipeline) -> None:
    """1,000 unconfigured model names leave counts by reason only, no entry of their own."""
    mine, strangers = _counts()
    assert flooded.totals.events == {"m": mine}
    assert flooded.totals.rejected == {"unknown_model": strangers}
    assert set(flooded.windower.late.by_model) <= {"m"}
    stats = flooded.stage1.join.stats
    assert set(stats.labels) | set(stats.joined) | set(stats.pending) <= {"m"}


def test_model_versions_stop_at_their_cap(flooded: Pipeline) -> None:
    """The first versions keep their own windows and checks, the rest share __other__."""
    mine, _ = _counts()
    first = [f"v{i}" for i in range(CAPS["versions"])]
    assert list(flooded.windower.version_values["m"].known) == first
    assert flooded.cap_overflow()["model_versions"] == mine - CAPS["versions"]
    versions = {key.model_version for key, _, _ in flooded.check_states}
    assert versions == {*first, OTHER}
    assert {key.model_version for key, _ in flooded.stage2.series} <= {*first, OTHER}


def test_segment_values_stop_at_their_cap(flooded: Pipeline) -> None:
    """The baseline's segment values and then the first come keep their own windows."""
    mine, _ = _counts()
    room = CAPS["segments"] - len(PREFERRED_SEGMENTS)
    known = [*PREFERRED_SEGMENTS, *(f"p{i}" for i in range(room))]
    assert list(flooded.windower.segment_values[("m", "platform")].known) == known
    assert flooded.cap_overflow()["segment_values"] == mine - room
    segments = {key.segment for key, _, _ in flooded.check_states}
    assert segments <= {"", *(f"platform={v}" for v in [*known, OTHER])}


def test_unknown_feature_names_stop_at_their_cap(flooded: Pipeline) -> None:
    """The first unknown names are counted by name, the rest under __other__."""
    mine, _ = _counts()
    first = {f"new-{i}": 1 for i in range(CAPS["unknown"])}
    assert flooded.stage1.decoder.unknown_features == {**first, OTHER: mine - CAPS["unknown"]}
    assert flooded.cap_overflow()["unknown_features"] == mine - CAPS["unknown"]


def test_joins_that_never_come_stop_at_their_caps(flooded: Pipeline) -> None:
    """Predictions waiting for labels and labels waiting for predictions stay at their caps."""
    mine, _ = _counts()
    assert len(flooded.stage1.join.pending) == CAPS["pending"]
    assert len(flooded.stage1.join.orphans) == CAPS["orphans"]
    assert flooded.stage1.join.stats.unlabeled[("m", "capacity")] == mine - CAPS["pending"]
    assert flooded.stage1.join.stats.unmatched["m"] == LABELS - CAPS["orphans"]


def test_cap_hits_are_exported(flooded: Pipeline) -> None:
    """/metrics carries driftwarden_cap_overflow_total per cap."""
    from prometheus_client import CollectorRegistry, generate_latest

    registry = CollectorRegistry()
    DriftCollector(
        LatestWindows(),
        lambda: RunningTotals(cap_overflow=flooded.cap_overflow()),
        max_segments=10,
        registry=registry,
    )
    text = generate_latest(registry).decode()
    mine, _ = _counts()
    expected = mine - CAPS["versions"]
    assert f'driftwarden_cap_overflow_total{{cap="model_versions"}} {float(expected)}' in text
