"""File replay: the report contract, determinism and the end-of-input flush."""

from __future__ import annotations

import dataclasses
import gzip
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from baselines.values import Baseline
from monitor.app import replay_to_file
from monitor.config import FieldsConfig
from monitor.runtime.replay import ReplaySummary, replay_mistake
from tests.support.replay_stream import drifting_events as _events
from tests.support.replay_stream import flat_table as _flat_table
from tests.support.replay_stream import replay_settings as _settings
from tests.support.replay_stream import write_jsonl as _write_jsonl


def _replay(tmp_path: Path, baseline: Baseline, source: Path, batch_size: int) -> bytes:
    out = tmp_path / f"report-{batch_size}-{source.suffix}.jsonl"
    replay_to_file(
        _settings(tmp_path, baseline), {"m": baseline}, source, out, batch_size=batch_size
    )
    return out.read_bytes()


def test_report_is_byte_identical_for_any_batch_size(tmp_path: Path, baseline: Baseline) -> None:
    """Batches of 1, 97 and 10,000 events give the same report bytes."""
    source = _write_jsonl(tmp_path / "events.jsonl", _events(1_500, shift_from_hour=3))
    reports = {size: _replay(tmp_path, baseline, source, size) for size in (1, 97, 10_000)}
    assert reports[1] == reports[97] == reports[10_000]
    assert reports[1].count(b'"kind":"window"') > 0


def test_gzip_and_parquet_give_the_same_report(tmp_path: Path, baseline: Baseline) -> None:
    """The same events as JSON Lines, gzipped JSON Lines and Parquet give the same report."""
    events = _events(1_000)
    plain = _write_jsonl(tmp_path / "events.jsonl", events)
    zipped = tmp_path / "events.jsonl.gz"
    zipped.write_bytes(gzip.compress(plain.read_bytes()))
    parquet = tmp_path / "events.parquet"
    pq.write_table(_flat_table(events), parquet)
    reference = _replay(tmp_path, baseline, plain, 500)
    assert _replay(tmp_path, baseline, zipped, 500) == reference
    assert _replay(tmp_path, baseline, parquet, 500) == reference


def test_parquet_categories_read_as_dictionaries_count_like_json(
    tmp_path: Path, baseline: Baseline
) -> None:
    """A dictionary-encoded category column with nulls and unseen values counts like JSON."""
    events = _events(800)
    colors = ["red", None, "purple", "blue", ""]
    for i, event in enumerate(events):
        event["features"]["color"] = colors[i % len(colors)]  # type: ignore[index]
    plain = _write_jsonl(tmp_path / "events.jsonl", events)
    parquet = tmp_path / "events.parquet"
    pq.write_table(_flat_table(events), parquet, use_dictionary=True)
    assert _replay(tmp_path, baseline, parquet, 300) == _replay(tmp_path, baseline, plain, 300)


def test_every_window_closes_at_end_of_input(tmp_path: Path, baseline: Baseline) -> None:
    """Six hours of events give six overall windows, the last one closed by the flush."""
    source = _write_jsonl(tmp_path / "events.jsonl", _events(600))
    records = [orjson.loads(line) for line in _replay(tmp_path, baseline, source, 100).splitlines()]
    overall = [r for r in records if r["kind"] == "window" and r["segment"] == ""]
    assert [r["start"] for r in overall] == [f"1970-01-01T0{h}:00:00Z" for h in range(6)]
    assert sum(r["events"] for r in overall) == 600


def test_window_record_follows_the_contract(tmp_path: Path, baseline: Baseline) -> None:
    """A window object carries every documented field with per-feature statistics and levels."""
    source = _write_jsonl(tmp_path / "events.jsonl", _events(600, hours=1))
    first = orjson.loads(_replay(tmp_path, baseline, source, 100).splitlines()[0])
    assert list(first) == [
        "kind",
        "model",
        "model_version",
        "segment",
        "start",
        "end",
        "events",
        "features",
        "prediction",
        "label",
        "performance",
        "detectors",
    ]
    x = first["features"]["x"]
    assert {"psi", "kl", "js", "hellinger", "wasserstein", "ks", "chi2_pvalue"} <= set(x)
    assert {"missing_rate", "out_of_range_rate", "level", "levels"} <= set(x)
    assert "unseen_rate" in first["features"]["color"]
    assert first["performance"]["labeled"] == 600


def test_shift_raises_an_alert_transition(tmp_path: Path, baseline: Baseline) -> None:
    """A two-sigma shift of x from hour 3 raises an intervention on x after two windows."""
    source = _write_jsonl(tmp_path / "events.jsonl", _events(3_000, shift_from_hour=3))
    records = [
        orjson.loads(line) for line in _replay(tmp_path, baseline, source, 1000).splitlines()
    ]
    raised = [
        (r["segment"], r["subject"], r["check"], r["to"], r["window_end"])
        for r in records
        if r["kind"] == "alert" and r["subject"] == "x" and r["check"] == "psi"
    ]
    assert ("", "x", "psi", "intervention", "1970-01-01T05:00:00Z") in raised
    assert all(end >= "1970-01-01T05:00:00Z" for *_, end in raised)


def test_report_missing_output_folder_is_an_error(tmp_path: Path, baseline: Baseline) -> None:
    """Writing into a folder that does not exist fails before reading any input."""
    source = _write_jsonl(tmp_path / "events.jsonl", _events(10))
    with pytest.raises(OSError):
        replay_to_file(
            _settings(tmp_path, baseline), {"m": baseline}, source, tmp_path / "no" / "r.jsonl"
        )


def test_all_rejected_for_a_reason_without_its_own_fix_quotes_the_first_detail() -> None:
    """Every event rejected, mostly for a reason without a fix of its own: the mistake names the
    most frequent reason with its first reject's detail; a replay with events has no mistake."""
    detail = "timestamp: expected RFC 3339 text or epoch milliseconds in 1970-2200"
    summary = ReplaySummary(
        events={},
        rejected={"invalid_timestamp": 4, "wrong_type": 1},
        late={},
        windows=0,
        transitions=0,
        raised=[],
        seconds=0.0,
        first_rejects={"invalid_timestamp": detail, "wrong_type": "x: expected a number"},
    )
    assert replay_mistake(summary, FieldsConfig()) == (
        f"all 5 events were rejected, 4 as invalid_timestamp ({detail}); see docs/contracts.md"
    )
    assert replay_mistake(dataclasses.replace(summary, events={"m": 1}), FieldsConfig()) is None
