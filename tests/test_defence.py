"""The last line of defence: a message whose decoding raises costs only itself.

Each test injects a decoding failure for one message (``tests/support/faults.py``) and compares
with the same stream without that message: the same report, the same other rejects, plus one
``internal_error`` reject carrying the message's bytes.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pytest
import yaml
from structlog.testing import capture_logs

from baselines.values import Baseline
from monitor.batches import RawRecords
from monitor.config import Settings
from monitor.decode.isolate import INTERNAL_ERROR
from monitor.pipeline import Pipeline
from monitor.runtime.guarded import GuardedPipeline
from monitor.sinks.memory import ListSink
from tests.support import label_stream
from tests.support.faults import fail_counting_of, fail_decoding_of, fault_detail
from tests.support.replay_stream import drifting_events as _events
from tests.support.replay_stream import flat_table as _flat_table
from tests.support.state_stream import BATCH, NOW_MS
from tests.support.state_stream import report_lines as _lines
from tests.support.state_stream import state_lines as _state_events
from tests.support.state_stream import state_settings as _settings

POISON = "poison"


def _kept(sink: ListSink) -> list[tuple[str, str, int, int, bytes]]:
    """(reason, detail, partition, offset, bytes) of each reject the sink received."""
    return [(r.reason, r.detail, r.partition, r.offset, r.raw) for r in sink.rejects]


def _poisoned(lines: list[bytes], at: int) -> list[bytes]:
    """``lines`` with line ``at`` given the poisoned event id (it stays a good event)."""
    event = orjson.loads(lines[at])
    return [*lines[:at], orjson.dumps({**event, "event_id": POISON}), *lines[at + 1 :]]


def _run(
    baseline: Baseline,
    settings: Settings,
    records: Sequence[RawRecords],
    labels: Sequence[RawRecords] = (),
    now_ms: int = NOW_MS,
) -> tuple[Pipeline, ListSink, ListSink]:
    """Feed prediction batches, then label batches, to a fresh pipeline; then finish."""
    report, rejects = ListSink(), ListSink()
    pipeline = Pipeline(settings, {"m": baseline}, [report], [rejects])
    for batch in records:
        pipeline.process_records(batch, now_ms)
    for batch in labels:
        pipeline.process_labels(batch, now_ms)
    pipeline.finish()
    return pipeline, report, rejects


def _batches(
    lines: list[bytes], drop: tuple[int, ...] = (), partition: int | None = None
) -> list[RawRecords]:
    """Batches of ``BATCH`` lines (offset = line number) without the lines ``drop``, on
    ``partition`` or else spread over two partitions."""
    offsets = np.array([i for i in range(len(lines)) if i not in drop], dtype=np.int64)
    values = [lines[i] for i in offsets.tolist()]
    partitions = offsets % 2 if partition is None else np.full(len(offsets), partition)
    return [
        RawRecords(
            values[i : i + BATCH],
            partitions[i : i + BATCH],
            offsets[i : i + BATCH],
            np.full(len(values[i : i + BATCH]), -1, np.int64),
        )
        for i in range(0, len(values), BATCH)
    ]


def _internal_error(line: bytes, offset: int) -> tuple[str, str, int, int, bytes]:
    return (INTERNAL_ERROR, fault_detail(POISON), offset % 2, offset, line)


def test_a_message_whose_decoding_raises_is_the_only_one_lost(
    baseline: Baseline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report is that of the stream without the message; it is one internal_error reject
    with its bytes, counted by reason, and one error logged with the traceback."""
    at = 1_001
    lines = _poisoned(_state_events(), at)
    _, clean_report, clean_rejects = _run(baseline, _settings(), _batches(lines, drop=(at,)))
    fail_decoding_of(POISON, monkeypatch.setattr)
    with capture_logs() as logs:
        pipeline, report, rejects = _run(baseline, _settings(), _batches(lines))
    assert _lines(report) == _lines(clean_report)
    assert [r for r in _kept(rejects) if r[0] != INTERNAL_ERROR] == _kept(clean_rejects)
    assert [r for r in _kept(rejects) if r[0] == INTERNAL_ERROR] == [_internal_error(lines[at], at)]
    assert pipeline.totals.rejected == Counter(r[0] for r in _kept(clean_rejects)) + Counter(
        {INTERNAL_ERROR: 1}
    )
    (error,) = [entry for entry in logs if entry["log_level"] == "error"]
    assert error["messages"] == 1 and error["first"] == fault_detail(POISON)
    assert isinstance(error["exc_info"], Exception)


def test_every_message_of_a_batch_raising_leaves_the_others_untouched(
    baseline: Baseline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two failing messages in one batch and one in another: each is isolated alone."""
    poisoned = (200, 333, 1_500)
    lines = _state_events()
    for at in poisoned:
        lines = _poisoned(lines, at)
    _, clean_report, _ = _run(baseline, _settings(), _batches(lines, drop=poisoned))
    fail_decoding_of(POISON, monkeypatch.setattr)
    _, report, rejects = _run(baseline, _settings(), _batches(lines))
    assert _lines(report) == _lines(clean_report)
    failed = [r for r in _kept(rejects) if r[0] == INTERNAL_ERROR]
    assert failed == [_internal_error(lines[at], at) for at in poisoned]


def test_a_flat_file_row_whose_decoding_raises_is_the_only_one_lost(
    baseline: Baseline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parquet and CSV rows take the same defence: the row is rejected as JSON, the rest counted."""
    events = _events(1_500, shift_from_hour=3)
    at = 700
    events[at] = {**events[at], "event_id": POISON}
    table = _flat_table(events)
    clean = pa.concat_tables([table.slice(0, at), table.slice(at + 1)])

    def replay(rows: pa.Table) -> tuple[list[bytes], ListSink]:
        report, rejects = ListSink(), ListSink()
        pipeline = Pipeline(_settings(), {"m": baseline}, [report], [rejects])
        for start in range(0, rows.num_rows, 97):
            pipeline.process_table(rows.slice(start, 97), first_offset=start, now_ms=NOW_MS)
        pipeline.finish()
        return _lines(report), rejects

    clean_lines, _ = replay(clean)
    fail_decoding_of(POISON, monkeypatch.setattr)
    lines, rejects = replay(table)
    assert lines == clean_lines
    ((reason, detail, partition, offset, raw),) = _kept(rejects)
    assert (reason, detail, partition, offset) == (INTERNAL_ERROR, fault_detail(POISON), 0, at)
    assert orjson.loads(raw)["event_id"] == POISON


def test_a_label_whose_decoding_raises_is_the_only_one_lost(
    baseline: Baseline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A label event that cannot be decoded leaves the other labels' joins and report as they
    are without it."""
    predictions, labels = label_stream.labelled_stream(n=2_000, hours=4)
    at = 900
    labels[at] = {**labels[at], "event_id": POISON}
    settings = label_stream.label_settings()
    records = [label_stream.object_records(predictions, label_stream.PREDICTIONS)]
    lines = [orjson.dumps(label) for label in labels]
    now_ms = label_stream.NOW_MS
    without = _batches(lines, drop=(at,), partition=label_stream.LABELS)
    clean, clean_report, _ = _run(baseline, settings, records, without, now_ms)
    fail_decoding_of(POISON, monkeypatch.setattr)
    every = _batches(lines, partition=label_stream.LABELS)
    pipeline, report, rejects = _run(baseline, settings, records, every, now_ms)
    assert _lines(report) == _lines(clean_report)
    assert pipeline.stage1.join.stats == clean.stage1.join.stats
    assert [r[:2] for r in _kept(rejects)] == [(INTERNAL_ERROR, fault_detail(POISON))]


@pytest.mark.parametrize(
    ("fault", "detail"),
    [
        ((), fault_detail(POISON)),
        (("--after-decoding",), f"InjectedFault: counting {POISON} fails on purpose"),
    ],
    ids=["decoding", "counting"],
)
def test_replay_of_a_file_skips_only_the_message_whose_processing_raises(
    tmp_path: Path, baseline: Baseline, fault: tuple[str, ...], detail: str
) -> None:
    """``driftwarden replay`` with a message whose decoding, or counting past decoding, raises
    exits 0 with the report of the file without it, and counts one internal_error."""
    baseline.save(tmp_path / "m.json")
    config = tmp_path / "driftwarden.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "models": [{"name": "m", "baseline": "m.json"}],
                "windows": {"size": "1h", "allowed_lateness": "0s"},
                "segments": {"fields": ["platform"]},
                "alerts": {"min_events": 50, "performance": {"min_labels": 50}},
            }
        )
    )
    lines = _poisoned([orjson.dumps(e) for e in _events(1_500, shift_from_hour=3)], 600)
    poisoned, clean = tmp_path / "poisoned.jsonl", tmp_path / "clean.jsonl"
    poisoned.write_bytes(b"\n".join(lines) + b"\n")
    clean.write_bytes(b"\n".join(lines[:600] + lines[601:]) + b"\n")

    def replay(source: Path, *launcher: str) -> tuple[subprocess.CompletedProcess[str], bytes]:
        output = tmp_path / f"{source.stem}-report.jsonl"
        arguments = ["replay", "--config", str(config), "--input", str(source)]
        done = subprocess.run(
            [sys.executable, "-m", *launcher, *arguments, "--output", str(output)],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        return done, output.read_bytes()

    _, clean_report = replay(clean, "monitor.cli")
    done, report = replay(poisoned, "tests.support.faults", *fault, POISON)
    assert report == clean_report
    assert "1 rejected (1 internal_error)" in done.stdout
    logged = done.stdout + done.stderr  # replay leaves structlog's default: the console
    assert detail in logged and "Traceback" in logged


@pytest.mark.parametrize("interval_s", [0.0, 3600.0], ids=["snapshot-every-batch", "one-snapshot"])
def test_a_message_whose_counting_raises_in_a_replay_is_the_only_one_lost(
    baseline: Baseline, monkeypatch: pytest.MonkeyPatch, interval_s: float
) -> None:
    """Past decoding the state already counted the message when the failure comes: a replay
    goes back to its last snapshot, finds the message in halves, rejects it as internal_error
    and writes the report of the stream without it."""
    poisoned = (333, 1_501)
    lines = _state_events()
    for at in poisoned:
        lines = _poisoned(lines, at)
    _, clean_report, clean_rejects = _run(baseline, _settings(), _batches(lines, drop=poisoned))
    fail_counting_of(POISON, monkeypatch.setattr)
    report, rejects = ListSink(), ListSink()
    guarded = GuardedPipeline(
        _settings(), {"m": baseline}, [report], [rejects], interval_s=interval_s
    )
    for batch in _batches(lines):
        guarded.feed(batch, 0, NOW_MS)
    guarded.finish()
    assert _lines(report) == _lines(clean_report)
    assert [r for r in _kept(rejects) if r[0] != INTERNAL_ERROR] == _kept(clean_rejects)
    failed = [(r[0], r[3], r[4]) for r in _kept(rejects) if r[0] == INTERNAL_ERROR]
    assert failed == [(INTERNAL_ERROR, at, lines[at]) for at in poisoned]
    assert guarded.pipeline.totals.rejected[INTERNAL_ERROR] == 2
