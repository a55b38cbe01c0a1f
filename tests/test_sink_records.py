"""The sink contract: each closed window and level transition becomes one typed record, built
once, whose typed values are those of its report object."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from baselines.values import Baseline
from monitor.config import load_settings
from monitor.pipeline import Pipeline
from monitor.sinks.memory import ListSink
from monitor.sinks.report import read_record
from tests.support.builders import training

HOUR = 3_600_000
PER_HOUR = 600
#: Hourly windows per platform, alerts after one window, two prediction detectors.
SECTIONS: dict[str, Any] = {
    "windows": {"size": "1h", "allowed_lateness": "0s"},
    "segments": {"fields": ["platform"]},
    "alerts": {"min_events": 50, "consecutive": 1, "performance": {"min_labels": 50}},
    "detectors": {"prediction": [{"name": "page_hinkley_np"}, {"name": "adwin"}]},
}


@pytest.fixture(scope="module")
def sinks(tmp_path_factory: pytest.TempPathFactory, baseline: Baseline) -> tuple[ListSink, ...]:
    """Two sinks of one pipeline fed six hours of model m, x and its prediction shifted from
    hour 3 on."""
    path = tmp_path_factory.mktemp("records") / "m.json"
    baseline.save(path)
    settings = load_settings(None, models=[{"name": "m", "baseline": path}], **SECTIONS)
    events = training(6 * PER_HOUR, seed=5)
    events = events.rename_columns(["x", "y", "color", "platform", "prediction", "label"])
    times = np.arange(6 * PER_HOUR) * (HOUR // PER_HOUR)
    x = events.column("x").to_numpy() + np.where(times >= 3 * HOUR, 2.0, 0.0)
    events = events.set_column(0, "x", pa.array(x))
    events = events.set_column(4, "prediction", pa.array(1 / (1 + np.exp(-x))))
    events = events.append_column("timestamp", pa.array(times))
    events = events.append_column("model", pa.array(["m"] * len(times)))
    first, second = ListSink(), ListSink()
    pipeline = Pipeline(settings, {"m": baseline}, [first, second])
    pipeline.process_table(events, first_offset=0, now_ms=10**13)
    pipeline.finish()
    return first, second


def test_every_record_reads_back_from_its_report_object_as_itself(
    sinks: tuple[ListSink, ...],
) -> None:
    """Reading a record's report object back gives the record: its typed values are the report's."""
    emitted = sinks[0]
    assert len(emitted.windows()) == 18 and emitted.alerts()
    assert any(w.firings for w in emitted.windows())
    assert [read_record(record.report) for record in emitted.records] == emitted.records


def test_a_window_record_names_its_subjects_as_alert_records_do(
    sinks: tuple[ListSink, ...],
) -> None:
    """Window levels name the prediction and the performance as alert records do."""
    emitted = sinks[0]
    subjects = {subject for w in emitted.windows() for subject, _ in w.levels}
    assert subjects == {"x", "y", "color", "prediction", "performance"}
    assert {a.subject for a in emitted.alerts()} <= subjects


def test_every_sink_receives_the_same_records_in_the_same_order(
    sinks: tuple[ListSink, ...],
) -> None:
    """The pipeline builds each record once and hands that one object to every sink."""
    first, second = sinks
    assert len(first.records) == len(second.records)
    assert all(a is b for a, b in zip(first.records, second.records, strict=True))


def test_a_report_object_without_a_field_is_refused_naming_it() -> None:
    """Reading back a window object without its end fails with a message naming the field."""
    window = {"kind": "window", "model": "m", "model_version": "", "segment": ""}
    with pytest.raises(
        ValueError, match=r"^not a report object of driftwarden: it has no field 'end'$"
    ):
        read_record({**window, "start": "2019-04-02T12:00:00Z", "events": 1, "features": {}})
