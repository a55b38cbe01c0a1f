"""Multiclass models: the baseline's classes and subjects, and performance exact against sklearn."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry
from rich.console import Console
from sklearn.metrics import accuracy_score, precision_recall_fscore_support, roc_auc_score

from baselines.build import build_baseline
from baselines.codec import decode_baseline
from baselines.errors import BaselineError
from detectors.performance import SCORE_BINS, multiclass_accumulate, multiclass_metrics
from monitor.app import quick_look_fields, replay_file
from monitor.batches import RawRecords
from monitor.config import load_settings
from monitor.evaluate.levels import Level
from monitor.pipeline import Pipeline
from monitor.runtime.replay import ReplaySummary, summary_table
from monitor.sinks.base import Record, report_json
from monitor.sinks.collector import DriftCollector, RunningTotals
from monitor.sinks.latest_windows import LatestWindows
from monitor.sinks.memory import ListSink
from tests.test_closing import OneAtATime

CLASSES = ("ant", "bee", "cat", "dog")


REFERENCE_PRIOR = (0.4, 0.3, 0.2, 0.1)
DRIFTED_PRIOR = (0.1, 0.2, 0.3, 0.4)


def four_class_table(
    rows: int, seed: int, prior: tuple[float, ...] = REFERENCE_PRIOR, concept_shift: int = 0
) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """A synthetic 4-class table: true classes drawn from ``prior``, probabilities that favour
    the true class (softmax of noise plus 1.5 on it; after a concept change the class
    ``concept_shift`` places after it), one feature."""
    rng = np.random.default_rng(seed)
    truth = rng.choice(len(CLASSES), size=rows, p=prior)
    logits = rng.normal(size=(rows, len(CLASSES)))
    logits[np.arange(rows), (truth + concept_shift) % len(CLASSES)] += 1.5
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    columns = {
        "x": rng.normal(size=rows),
        "y": np.array(CLASSES)[truth],
        **{f"proba_{name}": probabilities[:, i] for i, name in enumerate(CLASSES)},
    }
    return pa.table(columns), truth, probabilities


def sklearn_metrics(truth: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    """scikit-learn's accuracy, averaged precision/recall/F1 and OvR ROC AUC on binned scores."""
    predicted = probabilities.argmax(axis=1)
    out = {"accuracy": accuracy_score(truth, predicted)}
    for average in ("macro", "weighted"):
        p, r, f, _ = precision_recall_fscore_support(
            truth, predicted, average=average, zero_division=0
        )
        out |= {f"precision_{average}": p, f"recall_{average}": r, f"f1_{average}": f}
    binned = np.minimum(np.floor(probabilities * SCORE_BINS), SCORE_BINS - 1)
    out["roc_auc"] = float(
        np.mean([roc_auc_score(truth == k, binned[:, k]) for k in range(len(CLASSES))])
    )
    return out


def test_a_label_of_four_classes_builds_a_multiclass_baseline() -> None:
    """Probability columns matched by a pattern give the sorted classes and one subject each."""
    table, _, _ = four_class_table(2_000, seed=1)
    baseline = build_baseline(table, model="m", label="y", prediction_proba="proba_*", replicates=5)
    assert (baseline.task, baseline.classes) == ("multiclass", CLASSES)
    assert list(baseline.probabilities) == [f"prediction[{c}]" for c in CLASSES]
    assert list(baseline.features) == ["x"]
    assert baseline.prediction is not None and baseline.prediction.kind == "categorical"


def test_reference_performance_equals_sklearn() -> None:
    """The baseline's reference metrics equal scikit-learn's to 1e-12 (ROC AUC on binned
    scores, and within 1e-4 of the unbinned one)."""
    table, truth, probabilities = four_class_table(5_000, seed=2)
    baseline = build_baseline(table, model="m", label="y", prediction_proba="proba_*", replicates=5)
    assert baseline.performance is not None
    expected = sklearn_metrics(truth, probabilities)
    for name, value in expected.items():
        assert baseline.performance[name] == pytest.approx(value, abs=1e-12), name
    unbinned = roc_auc_score(truth, probabilities, multi_class="ovr")
    assert abs(baseline.performance["roc_auc"] - unbinned) < 1e-4


def test_probability_objects_and_columns_give_the_same_baseline_parts() -> None:
    """A prediction column of objects class → probability is read like one column per class."""
    table, _, probabilities = four_class_table(1_000, seed=3)
    objects = pa.array([dict(zip(CLASSES, row, strict=True)) for row in probabilities.tolist()])
    as_objects = pa.table({"x": table["x"], "y": table["y"], "prediction": objects})
    a = build_baseline(table, model="m", label="y", prediction_proba="proba_*", replicates=5)
    b = build_baseline(as_objects, model="m", label="y", replicates=5)
    assert a.classes == b.classes
    assert a.performance == b.performance
    assert [p.counts for p in a.probabilities.values()] == [
        p.counts for p in b.probabilities.values()
    ]


def test_predicted_classes_alone_give_metrics_without_roc_auc() -> None:
    """A predicted-class column gives the class metrics, and no ROC AUC (no probabilities)."""
    table, truth, probabilities = four_class_table(1_000, seed=4)
    predicted = pa.array(np.array(CLASSES)[probabilities.argmax(axis=1)])
    classes_only = pa.table({"x": table["x"], "y": table["y"], "yp": predicted})
    baseline = build_baseline(classes_only, model="m", label="y", prediction="yp", replicates=5)
    assert baseline.performance is not None
    assert "roc_auc" not in baseline.performance
    assert baseline.performance["accuracy"] == accuracy_score(truth, probabilities.argmax(axis=1))


def test_ties_go_to_the_first_class_in_sorted_order() -> None:
    """Equal probabilities predict the class that sorts first."""
    table = pa.table(
        {"x": [1.0, 2.0, 3.0], "y": ["b", "a", "c"], "p_c": [0.5] * 3, "p_a": [0.5] * 3}
    )
    baseline = build_baseline(table, model="m", label="y", prediction_proba="p_*", replicates=5)
    assert baseline.prediction is not None
    assert baseline.prediction.summary.top == (("a", 3),)  # type: ignore[union-attr]


def test_the_multiclass_baseline_survives_its_json_document() -> None:
    """Classes and per-class references round-trip through the document, digest unchanged."""
    table, _, _ = four_class_table(1_000, seed=5)
    baseline = build_baseline(table, model="m", label="y", prediction_proba="proba_*", replicates=5)
    again = decode_baseline(baseline.to_dict(), origin="doc")
    assert (again.classes, again.probabilities, again.digest) == (
        baseline.classes,
        baseline.probabilities,
        baseline.digest,
    )


def test_a_pattern_matching_no_column_is_a_one_line_error() -> None:
    """--prediction-proba that matches nothing names the pattern and the columns."""
    table, _, _ = four_class_table(100, seed=6)
    with pytest.raises(BaselineError, match="'score_\\*' matches no column; available columns: x"):
        build_baseline(table, model="m", label="y", prediction_proba="score_*", replicates=5)


def test_accumulators_merge_exactly() -> None:
    """Two halves' accumulators add up to the whole one's, slot for slot."""
    _, truth, probabilities = four_class_table(3_000, seed=7)
    predicted = probabilities.argmax(axis=1)
    whole = multiclass_accumulate(predicted, truth, 4, probabilities)
    halves = multiclass_accumulate(predicted[:1234], truth[:1234], 4, probabilities[:1234])
    halves += multiclass_accumulate(predicted[1234:], truth[1234:], 4, probabilities[1234:])
    assert np.array_equal(whole, halves)


def test_classes_outside_the_baseline_count_as_wrong() -> None:
    """An event of an unknown true class (index K) is never right and joins no class's support."""
    acc = multiclass_accumulate([0, 1, 2], [0, 1, 2], 2)
    metrics = multiclass_metrics(acc, ["a", "b"], scored=False)
    assert metrics["accuracy"] == 2 / 3
    assert metrics["recall_weighted"] == 1.0
    p, r, f, _ = precision_recall_fscore_support(
        [0, 1, 2], [0, 1, 2], labels=[0, 1], average="macro", zero_division=0
    )
    assert (metrics["precision_macro"], metrics["recall_macro"], metrics["f1_macro"]) == (p, r, f)


HOUR_MS = 3_600_000
START_MS = 1_554_163_200_000  # 2019-04-02T00:00:00Z
PER_HOUR = 1_800


def stream_hours() -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Six hours of events: two as trained, two with a drifted class prior, two after a
    concept change (each hour's features, true classes and probabilities)."""
    phases = [(REFERENCE_PRIOR, 0)] * 2 + [(DRIFTED_PRIOR, 0)] * 2 + [(REFERENCE_PRIOR, 1)] * 2
    hours = []
    for hour, (prior, shift) in enumerate(phases):
        table, truth, probabilities = four_class_table(PER_HOUR, 100 + hour, prior, shift)
        hours.append((table["x"].to_numpy(), truth, probabilities))
    return hours


def stream_events(**extra: Any) -> list[dict[str, Any]]:
    """The events of :func:`stream_hours`, labels included, one every two seconds (``extra``
    fields added to each)."""
    return [
        {
            "event_id": f"{hour}-{i}",
            "model": "m",
            "timestamp": START_MS + hour * HOUR_MS + i * 2_000,
            "features": {"x": float(x[i])},
            "prediction": dict(zip(CLASSES, probabilities[i].tolist(), strict=True)),
            "label": CLASSES[truth[i]],
            **extra,
        }
        for hour, (x, truth, probabilities) in enumerate(stream_hours())
        for i in range(PER_HOUR)
    ]


@dataclass(frozen=True)
class Replayed:
    """The report objects of the stream's replay by each JSON reader, and the native one's
    records (what sinks get)."""

    native: list[dict[str, Any]]
    python: list[dict[str, Any]]
    parquet: list[dict[str, Any]]
    records: list[Record]


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> Replayed:
    """The six-hour stream replayed with the label in each event, by each JSON reader."""
    folder = tmp_path_factory.mktemp("multiclass")
    table, _, _ = four_class_table(6_000, seed=1)
    baseline = build_baseline(table, model="m", label="y", prediction_proba="proba_*")
    baseline.save(folder / "m.json")
    rows = stream_events()
    events = folder / "events.jsonl"
    events.write_bytes(b"\n".join(map(orjson.dumps, rows)) + b"\n")
    flat = pa.table(
        {
            "event_id": [r["event_id"] for r in rows],
            "model": [r["model"] for r in rows],
            "timestamp": [r["timestamp"] for r in rows],
            "x": [r["features"]["x"] for r in rows],
            "prediction": [r["prediction"] for r in rows],
            "label": [r["label"] for r in rows],
        }
    )
    pq.write_table(flat, folder / "events.parquet")
    settings = load_settings(
        None,
        models=[{"name": "m", "baseline": folder / "m.json"}],
        windows={"size": "1h", "allowed_lateness": "0s"},
    )
    sinks = {}
    with pytest.MonkeyPatch.context() as patch:
        for reader in ("native", "python"):
            patch.setenv("DRIFTWARDEN_JSON_READER", reader)
            sinks[reader] = ListSink()
            replay_file(settings, {"m": baseline}, Path(events), sinks[reader])
    sinks["parquet"] = ListSink()
    replay_file(settings, {"m": baseline}, folder / "events.parquet", sinks["parquet"])
    native = sinks["native"]
    return Replayed(
        native.reports(), sinks["python"].reports(), sinks["parquet"].reports(), native.records
    )


def test_every_window_performance_equals_sklearn(replayed: Replayed) -> None:
    """Each hourly window's metrics equal scikit-learn's on that hour's events to 1e-12."""
    windows = [r for r in replayed.native if r["kind"] == "window"]
    assert len(windows) == 6
    for window, (_, truth, probabilities) in zip(windows, stream_hours(), strict=True):
        metrics = window["performance"]["metrics"]
        for name, value in sklearn_metrics(truth, probabilities).items():
            assert metrics[name] == pytest.approx(value, abs=1e-12), name
        assert window["performance"]["labeled"] == PER_HOUR


def test_both_json_readers_and_parquet_give_the_same_report(replayed: Replayed) -> None:
    """The native and the Python reader, and a Parquet column of objects, read probability
    objects alike."""
    assert replayed.native == replayed.python == replayed.parquet


def test_a_drifting_class_prior_shows_in_the_predicted_class(
    replayed: Replayed,
) -> None:
    """The predicted-class PSI stays small as trained and passes 0.25 under the drifted prior."""
    windows = [r for r in replayed.native if r["kind"] == "window"]
    psi = [w["prediction"]["psi"] for w in windows]
    assert max(psi[:2]) < 0.1
    assert min(psi[2:4]) > 0.25


def test_a_concept_change_raises_the_performance_checks(replayed: Replayed) -> None:
    """After the concept change accuracy falls and its check intervenes; not before."""
    windows = [r for r in replayed.native if r["kind"] == "window"]
    levels = [w["performance"]["levels"]["accuracy"] for w in windows]
    assert levels[:4] == [Level.OK.value] * 4
    assert levels[5] == Level.INTERVENTION.value
    assert windows[5]["performance"]["metrics"]["accuracy"] < 0.4


def test_per_class_series_carry_a_class_label(replayed: Replayed) -> None:
    """A class's probability drift and its recall are exported with ``class``; the window's
    report holds them under ``classes`` and ``recall[<class>]``."""
    latest = LatestWindows()
    for record in replayed.records:
        latest.write(record)
    registry = CollectorRegistry()
    DriftCollector(latest, RunningTotals, max_segments=5, registry=registry)
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        for sample in family.samples
    }
    last = [r for r in replayed.native if r["kind"] == "window"][-1]
    key = (("model", "m"), ("model_version", ""), ("segment", ""))
    ant = ("class", "ant")
    assert samples[("driftwarden_class_psi", (ant, *key))] == last["classes"]["ant"]["psi"]
    recall = samples[("driftwarden_class_performance", (ant, ("metric", "recall"), *key))]
    assert recall == last["performance"]["metrics"]["recall[ant]"]
    assert ("driftwarden_performance", (("metric", "recall[ant]"), *key)) not in samples


def test_the_replay_summary_names_a_class_subject_as_it_is() -> None:
    """A class's subject (``prediction[ant]``) is printed as text, not read as console markup."""
    summary = ReplaySummary(
        {}, {}, {}, 1, 1, [("m", "", "", "prediction[ant]", "psi", "warning")], 0.1
    )
    console = Console(record=True, width=120)
    console.print(summary_table(summary))
    assert "prediction[ant]" in console.export_text()


def test_a_canary_compares_the_class_probabilities_too(tmp_path: Path) -> None:
    """A version's window against the stable version's holds the classes under ``classes``."""
    table, _, _ = four_class_table(2_000, seed=1)
    baseline = build_baseline(table, model="m", label="y", prediction_proba="proba_*", replicates=5)
    baseline.save(tmp_path / "m.json")
    settings = load_settings(
        None,
        models=[{"name": "m", "baseline": tmp_path / "m.json", "stable_version": "v1"}],
        windows={"size": "1h", "allowed_lateness": "0s"},
    )
    _, _, probabilities = four_class_table(400, seed=2)
    events = [
        {
            "model": "m",
            "model_version": "v1" if i % 2 else "v2",
            "timestamp": START_MS + i * 1_000,
            "features": {"x": 0.0},
            "prediction": dict(zip(CLASSES, row, strict=True)),
        }
        for i, row in enumerate(probabilities.tolist())
    ]
    lines = tmp_path / "events.jsonl"
    lines.write_bytes(b"\n".join(orjson.dumps(e) for e in events) + b"\n")
    sink = ListSink()
    replay_file(settings, {"m": baseline}, lines, sink)
    (canary,) = [r for r in sink.reports() if r["kind"] == "window" and "versus" in r]
    assert canary["model_version"] == "v2"
    assert list(canary["versus"]["classes"]) == list(CLASSES)
    assert list(canary["versus"]["features"]) == ["x"]


def test_a_flat_file_in_the_training_schema_replays_its_probability_columns(
    tmp_path: Path, replayed: Replayed
) -> None:
    """A quick look at a CSV with the training file's ``proba_*`` columns (no ``prediction``
    column) reads them as the probability objects: the report equals the JSON events' one."""
    training, _, _ = four_class_table(6_000, seed=1)
    baseline = build_baseline(training, model="m", label="y", prediction_proba="proba_*")
    baseline.save(tmp_path / "m.json")
    hours = stream_hours()
    columns: dict[str, Any] = {
        "event_id": [f"{h}-{i}" for h in range(len(hours)) for i in range(PER_HOUR)],
        "timestamp": [
            START_MS + h * HOUR_MS + i * 2_000 for h in range(len(hours)) for i in range(PER_HOUR)
        ],
        "x": np.concatenate([x for x, _, _ in hours]),
        "y": np.array(CLASSES)[np.concatenate([truth for _, truth, _ in hours])],
    }
    probabilities = np.concatenate([p for _, _, p in hours])
    columns |= {f"proba_{c}": probabilities[:, k] for k, c in enumerate(CLASSES)}
    pq.write_table(pa.table(columns), tmp_path / "analysis.parquet")
    settings = load_settings(
        None,
        windows={"size": "1h", "allowed_lateness": "0s"},
        **quick_look_fields({tmp_path / "m.json": baseline}),
    )
    sink = ListSink()
    replay_file(settings, {"m": baseline}, tmp_path / "analysis.parquet", sink)
    assert sink.reports() == replayed.native


@pytest.mark.parametrize("mode", ["fixed", "calibrated"])
def test_multiclass_windows_judged_together_equal_each_judged_alone(mode: str) -> None:
    """The report lines written as matrices (classes between the features and the prediction)
    are those of each window judged alone and written by ``window_record``."""
    table, _, _ = four_class_table(3_000, seed=1)
    baseline = build_baseline(table, model="m", label="y", prediction_proba="proba_*")
    settings = load_settings(
        None,
        models=[{"name": "m", "baseline": "m.json"}],
        windows={"size": "1h", "allowed_lateness": "0s"},
        alerts={"min_events": 50, "drift": {"mode": mode}},
        detectors={"window_series": []},
    )
    messages = [orjson.dumps(event) for event in stream_events()]
    records = RawRecords(
        messages,
        np.zeros(len(messages), np.int64),
        np.arange(len(messages)),
        np.full(len(messages), -1),
    )
    together, alone = ListSink(), ListSink()
    for pipeline in (
        Pipeline(settings, {"m": baseline}, [together]),
        OneAtATime.pipeline(settings, {"m": baseline}, alone),
    ):
        pipeline.process_records(records, now_ms=START_MS + 10 * 24 * HOUR_MS)
        pipeline.finish()
    assert any(r["kind"] == "alert" for r in alone.reports())
    assert [report_json(r) for r in together.reports()] == [report_json(r) for r in alone.reports()]


def test_segments_keep_their_own_class_references() -> None:
    """Each segment's reference holds its own class probabilities and performance, on the
    overall bins, and survives the JSON document."""
    table, truth, probabilities = four_class_table(4_000, seed=8)
    region = np.where(np.arange(4_000) % 4 == 0, "north", "south")
    table = table.append_column("region", pa.array(region))
    baseline = build_baseline(
        table, model="m", label="y", prediction_proba="proba_*", segments=["region"], replicates=5
    )
    north = baseline.segments["region=north"]
    assert list(north.probabilities) == [f"prediction[{c}]" for c in CLASSES]
    assert sum(north.probabilities["prediction[ant]"].counts) == 1_000
    rows = region == "north"
    assert north.performance is not None
    assert north.performance["accuracy"] == accuracy_score(
        truth[rows], probabilities[rows].argmax(axis=1)
    )
    again = decode_baseline(baseline.to_dict(), origin="doc")
    assert again.segments["region=north"].probabilities == north.probabilities
