"""Building baselines: column roles, task inference, performance, segments, errors, determinism."""

from __future__ import annotations

import gzip
import math
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from baselines.binning import CategoricalLayout, NumericLayout, slot_counts
from baselines.build import build_baseline, build_baseline_file
from baselines.errors import BaselineError
from baselines.values import Baseline, FeatureBaseline, NumericSummary

FAST: dict[str, Any] = {"window_sizes": (50,), "replicates": 10}


def training_table(rows: int = 1000, seed: int = 3) -> pa.Table:
    """Mixed-type training data with a score, a 0/1 label and a platform column."""
    rng = np.random.default_rng(seed)
    amount = rng.normal(50.0, 10.0, rows)
    amount[::50] = np.nan
    score = rng.random(rows)
    return pa.table(
        {
            "amount": pa.array(amount, from_pandas=True),
            "term": rng.choice([12, 24, 36], rows),
            "country": rng.choice(
                ["FR", "DE", "US", "IT", "ES"], rows, p=[0.4, 0.3, 0.2, 0.07, 0.03]
            ),
            "online": rng.random(rows) < 0.3,
            "platform": np.where(rng.random(rows) < 0.7, "ios", "android"),
            "score": score,
            "repaid": (rng.random(rows) < score).astype(np.int64),
        }
    )


def build(table: pa.Table, **options: Any) -> Baseline:
    return build_baseline(table, model="m", **{**FAST, **options})


def categories(feature: FeatureBaseline) -> CategoricalLayout:
    assert isinstance(feature.layout, CategoricalLayout)
    return feature.layout


def numeric_summary(feature: FeatureBaseline) -> NumericSummary:
    assert isinstance(feature.summary, NumericSummary)
    return feature.summary


def comparable(baseline: Baseline) -> dict[str, Any]:
    """The document without what depends on the input file (name, hash) and the digest."""
    doc = baseline.to_dict()
    for key in ("digest", "source"):
        doc.pop(key)
    return doc


def test_every_other_column_is_a_feature_in_input_order() -> None:
    """Columns with a role, excluded and reserved columns are not features."""
    table = training_table().append_column("event_id", pa.array(["e"] * 1000))
    table = table.append_column("model_version", pa.array(["v1"] * 1000))
    baseline = build(
        table, prediction="score", label="repaid", segments=["platform"], exclude=["online"]
    )
    assert list(baseline.features) == ["amount", "term", "country"]


def test_kinds_follow_the_column_types() -> None:
    """Numbers are numeric, text and bools categorical, unless named in ``categorical``."""
    baseline = build(training_table(), categorical=["term"])
    kinds = {name: feature.kind for name, feature in baseline.features.items()}
    assert kinds == {
        "amount": "numeric",
        "term": "categorical",
        "country": "categorical",
        "online": "categorical",
        "platform": "categorical",
        "score": "numeric",
        "repaid": "numeric",
    }
    assert set(categories(baseline.features["term"]).vocabulary) == {"12", "24", "36"}
    assert set(categories(baseline.features["online"]).vocabulary) == {"true", "false"}


def test_columns_named_prediction_label_and_timestamp_take_those_roles() -> None:
    """A file of logged events needs no role options."""
    table = pa.table(
        {
            "timestamp": ["2024-01-01T00:00:00Z"] * 4,
            "x": [1.0, 2.0, 3.0, 4.0],
            "prediction": [0.1, 0.9, 0.8, 0.3],
            "label": [0, 1, 1, 1],
        }
    )
    baseline = build(table)
    assert list(baseline.features) == ["x"]
    assert baseline.task == "classification"
    assert baseline.source.parameters.timestamp == "timestamp"
    assert baseline.prediction is not None and baseline.prediction.name == "prediction"


def test_counts_add_up_to_the_rows() -> None:
    """Every row lands in exactly one slot of every feature, missing ones included."""
    baseline = build(training_table(), prediction="score", label="repaid")
    for feature in [*baseline.features.values(), baseline.prediction, baseline.label]:
        assert feature is not None
        assert sum(feature.counts) == 1000
    amount = baseline.features["amount"]
    assert amount.counts[amount.missing_slot] == 20
    assert amount.missing_rate == 0.02


def test_categorical_reference_counts_other_values_beyond_top_k() -> None:
    """Values outside the top K count as ``other``; beyond the known-value cap as ``unseen``."""
    table = training_table()
    baseline = build(table, top_k=3, max_known_values=1)
    country = baseline.features["country"]
    layout = categories(country)
    assert (layout.vocabulary, layout.known_other, layout.truncated) == (
        ("FR", "DE", "US"),
        ("IT",),
        True,
    )
    values = table.column("country").to_pylist()
    assert country.counts[layout.other_slot] == values.count("IT")
    assert country.counts[layout.unseen_slot] == values.count("ES")


def test_summary_statistics_of_a_numeric_feature() -> None:
    """Count, missing, range, mean, std and quantiles describe the non-missing values."""
    table = pa.table({"x": [1.0, 2.0, None, 4.0, 8.0]})
    summary = numeric_summary(build(table).features["x"])
    assert (summary.count, summary.missing, summary.min, summary.max) == (4, 1, 1.0, 8.0)
    assert summary.mean == 3.75
    assert summary.std == pytest.approx(np.std([1.0, 2.0, 4.0, 8.0]))
    assert summary.quantiles["p50"] == 3.0


def test_constant_feature_gets_one_bin_and_a_point_mass_null() -> None:
    """A feature with one value bins and calibrates without special cases."""
    baseline = build(pa.table({"c": [5.0] * 300}))
    constant = baseline.features["c"]
    assert constant.layout == NumericLayout((5.0, 5.0))
    assert constant.counts == (0, 300, 0, 0)
    assert baseline.null_summaries()["psi"]["c"][0].is_point_mass


def test_classification_performance_matches_a_hand_computation() -> None:
    """Reference metrics equal the confusion matrix, Mann-Whitney AUC and mean log loss."""
    scores = [0.9, 0.2, 0.7, 0.4, 0.6]
    labels = [1, 0, 0, 1, 1]
    baseline = build(
        pa.table({"x": [1, 2, 3, 4, 5], "p": scores, "y": labels}), prediction="p", label="y"
    )
    performance = baseline.performance
    assert performance is not None
    assert (baseline.task, baseline.positive_label) == ("classification", "1")
    assert performance["accuracy"] == pytest.approx(3 / 5)
    assert performance["precision"] == pytest.approx(2 / 3)
    assert performance["recall"] == pytest.approx(2 / 3)
    assert performance["roc_auc"] == pytest.approx(4 / 6)
    log_loss = -np.mean([math.log(0.9), math.log(0.8), math.log(0.3), math.log(0.4), math.log(0.6)])
    assert performance["log_loss"] == pytest.approx(log_loss, abs=1e-6)
    assert performance["n"] == 5


def test_regression_performance_matches_a_hand_computation() -> None:
    """A numeric label with more than two values gives regression MAE and RMSE."""
    table = pa.table({"x": [1, 2, 3, 4], "pred": [1.0, 2.0, 3.0, 4.0], "y": [1.5, 2.0, 2.0, 5.0]})
    baseline = build(table, prediction="pred", label="y")
    assert baseline.task == "regression" and baseline.positive_label is None
    assert baseline.label is not None and baseline.label.kind == "numeric"
    assert baseline.label.scale == pytest.approx(np.std([1.5, 2.0, 2.0, 5.0]))
    assert baseline.performance == pytest.approx({"mae": 0.625, "rmse": 0.75, "n": 4.0}, abs=1e-6)


def test_rows_without_label_are_left_out_of_performance() -> None:
    """Performance uses the rows that have both a prediction and a label."""
    table = pa.table({"x": [1, 2, 3], "p": [0.9, 0.1, 0.8], "y": pa.array([1, 0, None])})
    performance = build(table, prediction="p", label="y").performance
    assert performance is not None and performance["n"] == 2 and performance["accuracy"] == 1.0


def test_class_predictions_become_scores_of_the_positive_class() -> None:
    """Predicted classes equal to the label's classes count as scores 0 and 1."""
    table = pa.table(
        {"x": [1, 2, 3, 4], "p": ["yes", "no", "yes", "yes"], "y": ["yes", "no", "no", "yes"]}
    )
    baseline = build(table, prediction="p", label="y")
    assert baseline.positive_label == "yes"
    assert baseline.prediction is not None and baseline.prediction.kind == "categorical"
    assert baseline.performance is not None
    assert (baseline.performance["accuracy"], baseline.performance["precision"]) == (0.75, 2 / 3)


@pytest.mark.parametrize(
    ("labels", "positive"),
    [([True, False], "true"), (["no", "yes"], "yes"), (["cat", "dog"], "dog"), ([2, 1], "1")],
)
def test_positive_label_prefers_one_true_yes_then_the_larger(
    labels: list[Any], positive: str
) -> None:
    """The positive class is "1", "true" or "yes" when present, else the larger text."""
    table = pa.table({"x": [1.0, 2.0], "y": labels})
    assert build(table, label="y").positive_label == positive


@pytest.mark.parametrize(
    ("columns", "options", "message"),
    [
        (
            {"x": [1.0, 2.0], "y": [1, 2]},
            {"label": "nope"},
            "column 'nope' (--label) is not in the input; available columns: x, y",
        ),
        (
            {"x": [1.0, 2.0]},
            {"segments": ["platform"]},
            "column 'platform' (--segments) is not in the input; available columns: x",
        ),
        (
            {"x": [1.0, 2.0], "empty": pa.nulls(2, pa.float64())},
            {},
            "column 'empty' (feature) has no values, every row is missing;"
            " leave it out with --exclude empty",
        ),
        (
            {"x": [1.0, 2.0], "tags": [[1], [2]]},
            {},
            "column 'tags' has type list<item: int64>, which is neither numeric nor categorical;"
            " leave it out with --exclude tags",
        ),
        (
            {"x": [1.0, math.inf]},
            {},
            "column 'x' has 1 infinite values; replace them with missing values or leave it out"
            " with --exclude x",
        ),
        (
            {"x": [1.0, 2.0], "y": [1, 1]},
            {"label": "y"},
            "column 'y' (--label) has the single value '1'; a baseline needs two classes"
            " (classification) or a numeric label (regression)",
        ),
        (
            {"x": [1.0, 2.0, 3.0], "p": [0.2, 0.5, 0.9], "y": ["a", "b", "c"]},
            {"prediction": "p", "label": "y"},
            "column 'p' (--prediction) holds ['0.2', '0.5', '0.9'], which are not the label's"
            " classes ['a', 'b', 'c']; pass the predicted classes, or the class probabilities"
            " with --prediction-proba",
        ),
        (
            {"x": [1.0, 2.0, 3.0], "p_a": [0.2, 0.5, 0.9], "y": ["a", "b", "c"]},
            {"prediction_proba": "p_", "label": "y"},
            "--prediction-proba 'p_' needs exactly one '*' standing for the class name,"
            " e.g. 'proba_*'",
        ),
        (
            {"x": [1.0, 2.0, 3.0], "p_a": [0.2, 0.5, 1.5], "y": ["a", "b", "c"]},
            {"prediction_proba": "p_*", "label": "y"},
            "column 'p_a' (--prediction-proba) holds values outside [0, 1]; class probabilities"
            " must be probabilities",
        ),
        (
            {"x": [1.0, 2.0], "p": [0.5, 3.0], "y": [0, 1]},
            {"prediction": "p", "label": "y"},
            "column 'p' (--prediction) holds ['0.5', '3'], which are neither scores in [0, 1]"
            " nor the label's classes ['0', '1']; pass probability scores or the predicted"
            " classes",
        ),
        (
            {"x": [1.0, 2.0, 3.0], "p": ["a", "b", "c"], "y": [1.0, 2.0, 3.0]},
            {"prediction": "p", "label": "y"},
            "column 'p' (--prediction) has type string, but the label 'y' is a regression"
            " target; pass the numeric prediction column",
        ),
        ({"x": [1.0]}, {"exclude": ["x"]}, "no feature or prediction columns are left"),
        ({"x": [1.0]}, {"bins": 0}, "bins must be at least 1, got 0"),
        ({"x": [1.0]}, {"replicates": 1}, "replicates must be at least 2, got 1"),
        ({"x": [1.0]}, {"window_sizes": [0, 10]}, "window_sizes must be positive event counts"),
    ],
)
def test_user_mistakes_raise_one_line_errors(
    columns: dict[str, Any], options: dict[str, Any], message: str
) -> None:
    """Each mistake names the problem and the fix in one line."""
    with pytest.raises(BaselineError) as caught:
        build(pa.table(columns), **options)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_segments_count_their_own_rows_in_the_overall_bins() -> None:
    """A segment's reference counts its rows with the overall layout."""
    table = training_table()
    baseline = build(table, prediction="score", label="repaid", segments=["platform"])
    assert list(baseline.segments) == ["platform=ios", "platform=android"]
    ios_rows = np.asarray(table.column("platform").to_pylist()) == "ios"
    ios = baseline.segments["platform=ios"]
    assert ios.rows == int(ios_rows.sum())
    overall = baseline.features["amount"]
    segment = ios.features["amount"]
    assert segment.layout is overall.layout
    amount = table.column("amount").to_numpy(zero_copy_only=False)[ios_rows]
    assert isinstance(overall.layout, NumericLayout)
    expected = slot_counts(overall.layout.slots(amount), overall.n_slots)
    assert segment.counts == tuple(expected.tolist())


def test_segment_performance_is_the_performance_of_its_rows() -> None:
    """A slice's reference metrics equal those of a baseline built from its rows alone."""
    table = training_table()
    baseline = build(table, prediction="score", label="repaid", segments=["platform"])
    android = table.filter(pc.equal(table.column("platform"), "android"))
    alone = build(android, prediction="score", label="repaid")
    assert baseline.segments["platform=android"].performance == alone.performance


def test_segments_keep_frequent_values_only() -> None:
    """Values below ``min_segment_rows`` and beyond ``max_segment_values`` are skipped."""
    table = training_table()
    few = build(table, segments=["country"], min_segment_rows=150)
    assert list(few.segments) == ["country=FR", "country=DE", "country=US"]
    capped = build(table, segments=["country"], min_segment_rows=1, max_segment_values=2)
    assert list(capped.segments) == ["country=FR", "country=DE"]


def test_same_input_gives_the_same_bytes(tmp_path: Path) -> None:
    """Building twice writes byte-identical files."""
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    options = {"prediction": "score", "label": "repaid", "segments": ["platform"]}
    build(training_table(), **options).save(first)
    build(training_table(), **options).save(second)
    assert first.read_bytes() == second.read_bytes()


def test_the_seed_drives_the_calibration() -> None:
    """Another seed draws other null samples (and nothing else changes)."""
    table = training_table()
    one, other = build(table, seed=1), build(table, seed=2)
    assert one.features == other.features
    assert one.calibration != other.calibration


def write_all_formats(table: pa.Table, folder: Path) -> list[Path]:
    """The same rows as Parquet, CSV, gzipped CSV, JSON Lines and gzipped JSON Lines."""
    parquet = folder / "train.parquet"
    pq.write_table(table, parquet)
    csv = folder / "train.csv"
    pa_csv.write_csv(table, csv)
    csv_gz = folder / "train.csv.gz"
    csv_gz.write_bytes(gzip.compress(csv.read_bytes()))
    lines = b"".join(orjson.dumps(row) + b"\n" for row in table.to_pylist())
    jsonl = folder / "train.jsonl"
    jsonl.write_bytes(lines)
    jsonl_gz = folder / "train.jsonl.gz"
    jsonl_gz.write_bytes(gzip.compress(lines))
    return [parquet, csv, csv_gz, jsonl, jsonl_gz]


def test_every_input_format_gives_the_same_baseline(tmp_path: Path) -> None:
    """Parquet, CSV and JSON Lines (plain or gzipped) of one table build one baseline."""
    paths = write_all_formats(training_table(rows=400), tmp_path)
    options = {"prediction": "score", "label": "repaid", "segments": ["platform"], **FAST}
    built = [
        build_baseline_file(path, tmp_path / f"{path.name}.baseline.json", model="m", **options)
        for path in paths
    ]
    reference = comparable(built[0])
    for baseline in built[1:]:
        assert comparable(baseline) == reference


def test_events_file_builds_like_flat_training_data(tmp_path: Path) -> None:
    """Contract events (nested features and segments) are training data as they are."""
    events = tmp_path / "events.jsonl"
    events.write_bytes(
        b"".join(
            orjson.dumps(
                {
                    "event_id": f"e{i}",
                    "model": "m",
                    "timestamp": "2024-01-01T00:00:00Z",
                    "features": {"x": float(i), "c": "ab"[i % 2]},
                    "segments": {"platform": "ios"},
                    "prediction": i / 10,
                }
            )
            + b"\n"
            for i in range(10)
        )
    )
    baseline = build_baseline_file(
        events, tmp_path / "b.json", model="m", segments=["platform"], **FAST
    )
    assert list(baseline.features) == ["x", "c"]
    assert baseline.prediction is not None and baseline.task is None


def test_baseline_file_is_written_and_records_its_source(tmp_path: Path) -> None:
    """The saved file loads to the returned baseline, naming the input and its hash."""
    paths = write_all_formats(training_table(rows=300), tmp_path)
    output = tmp_path / "m.json"
    baseline = build_baseline_file(paths[0], output, model="m", label="repaid", **FAST)
    assert Baseline.load(output) == baseline
    assert baseline.source.file == "train.parquet"
    assert baseline.source.sha256 is not None and len(baseline.source.sha256) == 64
    assert (baseline.source.rows, baseline.source.columns[0]) == (300, "amount")
    assert baseline.source.parameters.label == "repaid"
