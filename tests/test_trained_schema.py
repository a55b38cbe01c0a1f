"""Replay what you trained on: a file in its training schema, judged by its baseline alone.

The data is a small synthetic twin of NannyML's car-loan reference and analysis files
(:mod:`tests.support.car_loan`); the baseline is built with the command of issue 17.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pytest

from baselines.build import build_baseline
from monitor.app import quick_look_fields
from tests.support.car_loan import (
    LABEL,
    PREDICTION,
    TIMESTAMP,
    car_loan_table,
    with_reserved_names,
    write_csv,
    write_json_lines,
)

MODEL = "car-loan"
WINDOW_MS = 30 * 86_400_000


@dataclass(frozen=True)
class CarLoan:
    """The files of one car-loan case: the baseline, the analysis rows and their CSV file."""

    folder: Path
    baseline: Path
    analysis: pa.Table
    analysis_csv: Path


def _cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "monitor.cli", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def car_loan(tmp_path_factory: pytest.TempPathFactory) -> CarLoan:
    """The reference and analysis CSV files as shipped, and the baseline built from the first."""
    folder = tmp_path_factory.mktemp("car-loan")
    reference = write_csv(car_loan_table(analysis=False), folder / "reference.csv")
    analysis = car_loan_table(analysis=True)
    baseline = folder / "cl.json"
    built = _cli(
        *("baseline", "build", "--input", reference, "--model", MODEL),
        *("--prediction", PREDICTION, "--label", LABEL, "--timestamp", TIMESTAMP),
        *("--exclude", "id,y_pred", "--output", baseline),
    )
    assert built.returncode == 0, built.stderr
    return CarLoan(folder, baseline, analysis, write_csv(analysis, folder / "analysis.csv"))


def _replay(case: CarLoan, name: str, table: pa.Table, *flags: str) -> tuple[int, str, bytes]:
    """Replay ``table`` as a CSV file with the baseline alone in 30-day windows: the exit status,
    stderr and the report."""
    source = write_csv(table, case.folder / f"{name}.csv")
    report = case.folder / f"{name}.jsonl"
    done = _cli(
        *("replay", "--baseline", case.baseline, "--window", "30d", "--no-progress"),
        *("--input", source, "--output", report, *flags),
    )
    return done.returncode, done.stderr, report.read_bytes()


@pytest.fixture(scope="module")
def shipped(car_loan: CarLoan) -> tuple[int, str, bytes]:
    """The replay of the analysis file as shipped: exit status, stderr and report."""
    return _replay(car_loan, "shipped", car_loan.analysis)


def _renamed(table: pa.Table, names: dict[str, str]) -> pa.Table:
    return table.rename_columns([names.get(name, name) for name in table.column_names])


def test_the_training_schema_replays_as_the_reserved_names(
    car_loan: CarLoan, shipped: tuple[int, str, bytes]
) -> None:
    """The analysis file as shipped (no model, training column names) gives the report of the
    same rows under the contract's names, with every row in a window of the baseline's model."""
    reserved = _replay(car_loan, "reserved", with_reserved_names(car_loan.analysis, MODEL))
    assert shipped == reserved and shipped[:2] == (0, "")
    windows = [r for r in map(orjson.loads, shipped[2].splitlines()) if r["kind"] == "window"]
    times_ms = car_loan.analysis.column(TIMESTAMP).cast(pa.timestamp("ms")).cast(pa.int64())
    counts = np.unique(times_ms.to_numpy() // WINDOW_MS, return_counts=True)[1]
    assert [w["events"] for w in windows] == counts.tolist() == [373, 595, 553, 589, 633, 257]
    assert {w["model"] for w in windows} == {MODEL}
    assert [w["performance"]["labeled"] for w in windows] == counts.tolist()
    assert {w["prediction"]["missing_rate"] for w in windows} == {0.0}


def test_json_lines_without_the_envelope_replay_as_the_csv(
    car_loan: CarLoan, shipped: tuple[int, str, bytes]
) -> None:
    """The analysis rows exported as flat JSON Lines (epoch-millisecond times) give the report
    of the CSV file."""
    rows = write_json_lines(car_loan.analysis, car_loan.folder / "analysis.jsonl")
    report = car_loan.folder / "flat-json.jsonl"
    done = _cli(
        *("replay", "--baseline", car_loan.baseline, "--window", "30d", "--no-progress"),
        *("--input", rows, "--output", report),
    )
    assert (done.returncode, done.stderr, report.read_bytes()) == shipped


def test_the_baseline_segments_are_monitored(car_loan: CarLoan) -> None:
    """A baseline built with --segments is replayed per value of its segment column: each
    value's windows hold exactly that value's rows."""
    reference = car_loan.folder / "reference.csv"
    baseline = car_loan.folder / "segmented.json"
    built = _cli(
        *("baseline", "build", "--input", reference, "--model", MODEL, "--prediction"),
        *(PREDICTION, "--segments", "size_of_downpayment", "--output", baseline),
    )
    assert built.returncode == 0, built.stderr
    report = car_loan.folder / "segmented.jsonl"
    done = _cli(
        *("replay", "--baseline", baseline, "--window", "30d", "--input", car_loan.analysis_csv),
        *("--output", report, "--no-progress"),
    )
    assert done.returncode == 0, done.stderr
    events: Counter[str] = Counter()
    for record in map(orjson.loads, report.read_bytes().splitlines()):
        if record["kind"] == "window":
            events[record["segment"]] += record["events"]
    downpayment = Counter(car_loan.analysis.column("size_of_downpayment").to_pylist())
    assert events == {
        "": 3_000,
        **{f"size_of_downpayment={value}": n for value, n in downpayment.items()},
    }


def test_flags_name_the_columns_of_the_replayed_file(
    car_loan: CarLoan, shipped: tuple[int, str, bytes]
) -> None:
    """--prediction, --label and --timestamp read columns named otherwise than in training, and
    the report is the one of the file as shipped."""
    names = {PREDICTION: "score", LABEL: "outcome", TIMESTAMP: "when"}
    flags = ("--prediction", "score", "--label", "outcome", "--timestamp", "when")
    renamed = _replay(car_loan, "renamed", _renamed(car_loan.analysis, names), *flags)
    assert renamed == shipped


def test_every_event_rejected_ends_with_the_cause_and_the_fix(car_loan: CarLoan) -> None:
    """A file whose time column the baseline does not know has every row rejected: exit 2 and
    one line naming the reason and the flag that fixes it."""
    status, stderr, _ = _replay(car_loan, "no-time", _renamed(car_loan.analysis, {TIMESTAMP: "t"}))
    assert (status, stderr) == (
        2,
        "driftwarden: error: all 3,000 events were rejected, 3,000 as missing_timestamp (no "
        "event time); name the column holding it with --timestamp COLUMN "
        "(fields.columns.timestamp)\n",
    )


def test_a_config_without_default_model_rejects_rows_without_one_with_exit_2(
    car_loan: CarLoan,
) -> None:
    """With a config (no fields.default_model), rows without a model are all rejected: exit 2
    and one line naming missing_model and its fixes, not "all ok"."""
    config = car_loan.folder / "driftwarden.yaml"
    config.write_text(f"models:\n  - name: {MODEL}\n    baseline: {car_loan.baseline}\n")
    done = _cli(
        *("replay", "--config", config, "--input", car_loan.analysis_csv, "--no-progress"),
        *("--output", car_loan.folder / "configured.jsonl"),
    )
    assert (done.returncode, done.stderr) == (
        2,
        "driftwarden: error: all 3,000 events were rejected, 3,000 as missing_model (no model); "
        "add a model column, or replay with one --baseline (its model is taken) or set "
        "fields.default_model\n",
    )


def test_flags_name_the_columns_with_a_config_too(
    car_loan: CarLoan, shipped: tuple[int, str, bytes]
) -> None:
    """With a config that names the model of rows without one, --prediction, --label and
    --timestamp give the quick look's report of the file as shipped."""
    config = car_loan.folder / "named.yaml"
    config.write_text(
        f"models:\n  - name: {MODEL}\n    baseline: {car_loan.baseline}\n"
        f"windows: {{size: 30d}}\nfields: {{default_model: {MODEL}}}\n"
    )
    report = car_loan.folder / "named.jsonl"
    done = _cli(
        *("replay", "--config", config, "--input", car_loan.analysis_csv, "--no-progress"),
        *("--prediction", PREDICTION, "--label", LABEL, "--output", report),
    )
    assert (done.returncode, done.stderr, report.read_bytes()) == shipped


def test_a_check_raised_by_an_absent_column_ends_with_the_cause_and_the_fix(
    car_loan: CarLoan,
) -> None:
    """A prediction column under another name leaves the prediction missing from every event:
    its missing-rate raise is no drift but an exit 2 naming the columns looked for and the
    flag."""
    renamed = _renamed(car_loan.analysis, {PREDICTION: "score"})
    status, stderr, _ = _replay(car_loan, "no-prediction", renamed)
    assert (status, stderr) == (
        2,
        "driftwarden: error: prediction/missing_rate raised because no event has a prediction "
        "('y_pred_proba' or 'prediction'): name its column with --prediction COLUMN (JSON "
        "events: fields.prediction)\n",
    )


def test_a_feature_absent_from_every_event_is_named_with_its_fix(car_loan: CarLoan) -> None:
    """A feature column the file lacks raises its missing rate: exit 2 naming the feature."""
    status, stderr, _ = _replay(car_loan, "no-car-value", car_loan.analysis.drop(["car_value"]))
    assert (status, stderr) == (
        2,
        "driftwarden: error: car_value/missing_rate raised because no event has car_value: add "
        "the column(s), or build the baseline without them (--exclude car_value)\n",
    )


def test_a_quick_look_takes_model_columns_and_segments_from_its_baselines() -> None:
    """One baseline gives its model to rows without one; columns are taken where all baselines
    agree; segments are the union of theirs."""
    table = car_loan_table(analysis=False, rows=400).drop(["id", "y_pred"])
    first = build_baseline(
        table, model="a", prediction=PREDICTION, label=LABEL, timestamp=TIMESTAMP, replicates=2
    )
    second = build_baseline(
        table.drop(["salary_range"]),
        model="b",
        prediction=PREDICTION,
        label="driver_tenure",
        timestamp=TIMESTAMP,
        segments=("size_of_downpayment",),
        replicates=2,
    )
    assert quick_look_fields({Path("a.json"): first}) == {
        "models": [{"name": "a", "baseline": Path("a.json")}],
        "fields": {
            "columns": {"prediction": PREDICTION, "label": LABEL, "timestamp": TIMESTAMP},
            "default_model": "a",
        },
        "segments": {"fields": []},
    }
    both = quick_look_fields({Path("a.json"): first, Path("b.json"): second})
    assert both["fields"] == {"columns": {"prediction": PREDICTION, "timestamp": TIMESTAMP}}
    assert both["segments"] == {"fields": ["size_of_downpayment"]}
