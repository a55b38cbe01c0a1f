"""Multiclass models in live mode: labels joined by event id, error streams of wrong classes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest

from baselines.build import build_baseline
from baselines.values import Baseline
from monitor.pipeline import Pipeline
from monitor.sinks.memory import ListSink
from monitor.state.snapshot import restore, snapshot
from tests.support.label_stream import HOUR, LABELS, NOW_MS, PREDICTIONS, T0, label_settings
from tests.support.label_stream import object_records as records
from tests.test_multiclass import CLASSES, four_class_table

Steps = list[tuple[str, list[dict[str, Any]]]]


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Baseline:
    """A 4-class model's baseline from probability columns."""
    table, _, _ = four_class_table(6_000, seed=1)
    built = build_baseline(table, model="m", label="y", prediction_proba="proba_*")
    built.save(Path(tmp_path_factory.mktemp("labels")) / "m.json")
    return built


def stream(hours: int = 12, change_from_hour: int = 6, delay_ms: int = 60_000) -> Steps:
    """Predictions (objects of class probabilities, 1,000 an hour) and their labels
    ``delay_ms`` later, in batches of an hour; the concept changes from ``change_from_hour``
    on."""
    per_hour = 1_000
    steps: Steps = []
    for hour in range(hours):
        shift = int(hour >= change_from_hour)
        table, truth, probabilities = four_class_table(per_hour, 200 + hour, concept_shift=shift)
        x = table["x"].to_numpy()
        times = T0 + hour * HOUR + np.arange(per_hour) * (HOUR // per_hour)
        predictions = [
            {
                "event_id": f"{hour}-{i}",
                "model": "m",
                "timestamp": int(times[i]),
                "features": {"x": float(x[i])},
                "segments": {"platform": "ios"},
                "prediction": dict(zip(CLASSES, probabilities[i].tolist(), strict=True)),
            }
            for i in range(per_hour)
        ]
        labels = [
            {"event_id": f"{hour}-{i}", "model": "m", "timestamp": int(t) + delay_ms, "label": c}
            for i, (t, c) in enumerate(zip(times, np.array(CLASSES)[truth], strict=True))
        ]
        steps += [("predictions", predictions), ("labels", labels)]
    return steps


def feed(pipeline: Pipeline, steps: Steps) -> None:
    """Feed each step's events to the pipeline as prediction or label messages."""
    for kind, objects in steps:
        if kind == "predictions":
            pipeline.process_records(records(objects, PREDICTIONS), NOW_MS)
        else:
            pipeline.process_labels(records(objects, LABELS), NOW_MS)


def run(baseline: Baseline, steps: Steps) -> ListSink:
    """A fresh pipeline fed ``steps`` and finished."""
    sink = ListSink()
    pipeline = Pipeline(label_settings(), {"m": baseline}, [sink])
    feed(pipeline, steps)
    pipeline.finish()
    return sink


def overall(sink: ListSink) -> list[dict[str, Any]]:
    """The report objects of the overall (unsegmented) windows."""
    return [w.report for w in sink.windows() if w.key.segment == ""]


def test_joined_labels_score_like_labels_carried_in_the_events(baseline: Baseline) -> None:
    """Each window's multiclass metrics are the same whether labels join or ride along."""
    steps = stream(hours=3, delay_ms=0)
    inline = [
        ("predictions", [{**p, "label": lab["label"]} for p, lab in zip(ps, ls, strict=True)])
        for (_, ps), (_, ls) in zip(steps[::2], steps[1::2], strict=True)
    ]
    joined = [w["performance"]["metrics"] for w in overall(run(baseline, steps))]
    carried = [w["performance"]["metrics"] for w in overall(run(baseline, inline))]
    assert joined == carried
    assert len(joined) == 3 and all("roc_auc" in m for m in joined)


def test_a_concept_change_raises_accuracy_and_fires_the_error_detectors(
    baseline: Baseline,
) -> None:
    """After the change, accuracy intervenes and wrong classes fire the error-stream detectors
    in the change's window; in the stable hours between the first (their warm-up, where a
    streak of early right answers can fire DDM) and the change, none fires."""
    sink = run(baseline, stream())
    alerts = [r for r in sink.reports() if r["kind"] == "alert" and r["segment"] == ""]
    assert ("performance", "accuracy", "intervention") in {
        (a["subject"], a["check"], a["to"]) for a in alerts
    }
    fired = {
        w["start"][11:13]: sorted(
            name
            for name, verdict in w["detectors"].items()
            if name.startswith(("error_", "abs_error_")) and verdict.get("detections", 0)
        )
        for w in overall(sink)
    }
    assert {"error_ddm_np", "error_hddm_a"} <= set(fired["06"])
    assert [fired[hour] for hour in ("01", "02", "03", "04", "05")] == [[]] * 5


def test_a_restored_pipeline_keeps_the_waiting_probabilities(baseline: Baseline) -> None:
    """Snapshot with predictions waiting, restore: the rest of the report is the same."""
    steps = stream(hours=4)
    cut = 3  # after hour 1's predictions, before their labels
    whole = run(baseline, steps)
    first = ListSink()
    pipeline = Pipeline(label_settings(), {"m": baseline}, [first])
    feed(pipeline, steps[:cut])
    state = orjson.loads(orjson.dumps(snapshot(pipeline)))
    assert state["labels"]["join"]["pending"]["ids"]
    second = ListSink()
    resumed = Pipeline(label_settings(), {"m": baseline}, [second])
    restore(resumed, state)
    feed(resumed, steps[cut:])
    resumed.finish()
    assert first.reports() + second.reports() == whole.reports()
