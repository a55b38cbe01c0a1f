"""Calendar windows: ISO weeks, months, days of a time zone, and shifted grids."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st

from baselines.values import Baseline
from monitor.batches import RawRecords
from monitor.config import load_settings
from monitor.errors import CheckpointError, ConfigError
from monitor.exchange.local import Windower
from monitor.pipeline import Pipeline
from monitor.sinks.memory import ListSink
from monitor.state.snapshot import restore, snapshot
from monitor.window.grid import CalendarGrid, FixedGrid, WindowGrid
from monitor.window.slot_layout import ModelLayout
from tests.support.builders import make_batch, training
from tests.support.state_stream import report_lines, state_settings

HOUR, MINUTE = 3_600_000, 60_000
BERLIN = "Europe/Berlin"


def _ms(text: str) -> int:
    """Epoch milliseconds of an ISO 8601 time with its offset."""
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def _bounds(grid: WindowGrid, *times: str) -> list[tuple[int, int]]:
    starts, ends = grid.bounds(np.array([_ms(t) for t in times], dtype=np.int64))
    return list(zip(starts.tolist(), ends.tolist(), strict=True))


def test_iso_weeks_start_on_monday_across_a_year_boundary() -> None:
    """Thursday 2020-12-31 and Sunday 2021-01-03 share the week from Monday 2020-12-28; Monday
    2021-01-04 starts the next."""
    grid = CalendarGrid("week")
    assert _bounds(
        grid, "2020-12-31T12:00+00:00", "2021-01-03T23:59:59+00:00", "2021-01-04T00:00+00:00"
    ) == [
        (_ms("2020-12-28T00:00+00:00"), _ms("2021-01-04T00:00+00:00")),
        (_ms("2020-12-28T00:00+00:00"), _ms("2021-01-04T00:00+00:00")),
        (_ms("2021-01-04T00:00+00:00"), _ms("2021-01-11T00:00+00:00")),
    ]


def test_months_are_calendar_months_of_28_to_31_days() -> None:
    """February 2023, February 2024, April 2024 and January 2024 last 28, 29, 30 and 31 days."""
    bounds = _bounds(
        CalendarGrid("month"),
        "2023-02-14T09:00+00:00",
        "2024-02-29T23:59+00:00",
        "2024-04-01T00:00+00:00",
        "2024-01-31T12:00+00:00",
    )
    assert [start for start, _ in bounds] == [
        _ms("2023-02-01T00:00+00:00"),
        _ms("2024-02-01T00:00+00:00"),
        _ms("2024-04-01T00:00+00:00"),
        _ms("2024-01-01T00:00+00:00"),
    ]
    assert [(end - start) // (24 * HOUR) for start, end in bounds] == [28, 29, 30, 31]


def test_berlin_days_last_23_and_25_hours_when_the_clocks_change() -> None:
    """In Europe/Berlin, 2024-03-31 runs from 00:00 CET to 00:00 CEST (23 h) and 2024-10-27 from
    00:00 CEST to 00:00 CET (25 h)."""
    assert _bounds(
        CalendarGrid("day", timezone=BERLIN), "2024-03-31T12:00+02:00", "2024-10-27T12:00+01:00"
    ) == [
        (_ms("2024-03-31T00:00+01:00"), _ms("2024-04-01T00:00+02:00")),
        (_ms("2024-10-27T00:00+02:00"), _ms("2024-10-28T00:00+01:00")),
    ]
    assert _ms("2024-04-01T00:00+02:00") - _ms("2024-03-31T00:00+01:00") == 23 * HOUR
    assert _ms("2024-10-28T00:00+01:00") - _ms("2024-10-27T00:00+02:00") == 25 * HOUR


def test_a_month_in_berlin_starts_at_local_midnight() -> None:
    """A Berlin month holding the spring change runs from 00:00 CET on 1 March to 00:00 CEST on
    1 April: 31 days less an hour."""
    ((start, end),) = _bounds(CalendarGrid("month", timezone=BERLIN), "2024-03-31T12:00+02:00")
    assert (start, end) == (_ms("2024-03-01T00:00+01:00"), _ms("2024-04-01T00:00+02:00"))
    assert end - start == 31 * 24 * HOUR - HOUR


def test_an_offset_shifts_day_windows_to_start_at_that_time_of_day() -> None:
    """With a 6h offset, 05:59 belongs to the day window that started 06:00 the day before; in
    Berlin the windows start at 06:00 local time, summer and winter."""
    utc = FixedGrid(24 * HOUR, offset_ms=6 * HOUR)
    assert _bounds(utc, "2024-07-02T05:59+00:00", "2024-07-02T06:00+00:00") == [
        (_ms("2024-07-01T06:00+00:00"), _ms("2024-07-02T06:00+00:00")),
        (_ms("2024-07-02T06:00+00:00"), _ms("2024-07-03T06:00+00:00")),
    ]
    berlin = CalendarGrid("day", timezone=BERLIN, offset_ms=6 * HOUR)
    assert _bounds(berlin, "2024-07-02T07:00+02:00", "2024-12-02T05:00+01:00") == [
        (_ms("2024-07-02T06:00+02:00"), _ms("2024-07-03T06:00+02:00")),
        (_ms("2024-12-01T06:00+01:00"), _ms("2024-12-02T06:00+01:00")),
    ]


@pytest.mark.parametrize("offset", [0, 2 * HOUR, 2 * HOUR + 30 * MINUTE, 3 * HOUR])
@pytest.mark.parametrize("unit", ["day", "week"])
def test_berlin_windows_tile_time_around_both_clock_changes(unit: str, offset: int) -> None:
    """Every minute of the days around both 2024 clock changes lies in its window, and windows
    follow one another without gap or overlap — also when they start inside the skipped or the
    repeated hour."""
    grid = CalendarGrid(unit, timezone=BERLIN, offset_ms=offset)  # type: ignore[arg-type]
    for day in ("2024-03-29T00:00+00:00", "2024-10-25T00:00+00:00"):
        times = _ms(day) + np.arange(4 * 24 * 60, dtype=np.int64) * MINUTE
        starts, ends = grid.bounds(times)
        assert ((starts <= times) & (times < ends)).all()
        distinct = np.unique(starts)
        following = grid.bounds(distinct)[1]
        assert (following[:-1] == distinct[1:]).all()


def test_a_batch_spanning_decades_finds_the_same_windows_as_one_time_at_a_time() -> None:
    """Times spread over fifty years (looked up one by one, not in a table of the windows
    between them) get the windows each gets alone."""
    grid = CalendarGrid("day", timezone=BERLIN, offset_ms=2 * HOUR + 30 * MINUTE)
    times = [_ms(t) for t in ("1975-10-26T01:10+00:00", "2024-10-27T01:10+00:00")]
    times += [_ms("2024-03-31T01:00+00:00") + i * 30 * MINUTE for i in range(3)]
    together = grid.bounds(np.array(times, dtype=np.int64))
    alone = [grid.bounds(np.array([t], dtype=np.int64)) for t in times]
    assert [a.tolist() for a in together] == [
        [int(pair[0][0]) for pair in alone],
        [int(pair[1][0]) for pair in alone],
    ]


@given(
    times=st.lists(st.integers(-(2**50), 2**50), min_size=1, max_size=50),
    size=st.integers(1, 10**10),
)
def test_the_fixed_grid_without_offset_is_the_epoch_arithmetic(times: list[int], size: int) -> None:
    """Without an offset a fixed window starts at ``t // size * size`` and ends ``size`` later."""
    t = np.array(times, dtype=np.int64)
    starts, ends = FixedGrid(size).bounds(t)
    assert starts.tolist() == (t // size * size).tolist()
    assert ends.tolist() == (t // size * size + size).tolist()


def test_the_watermark_closes_a_month_window_at_its_calendar_end_and_later_events_are_late(
    baseline: Baseline,
) -> None:
    """A Berlin January closes when the watermark passes 00:00 on 1 February local time plus
    the allowed lateness; a January event after that is counted late."""
    windower = Windower(
        {"m": ModelLayout(baseline)},
        grid=CalendarGrid("month", timezone=BERLIN),
        allowed_lateness_ms=HOUR,
    )
    january = [_ms("2024-01-15T12:00+01:00"), _ms("2024-01-31T23:30+01:00")]
    assert windower.add(make_batch(january)) == []
    assert windower.add(make_batch([_ms("2024-02-01T00:30+01:00")])) == []
    (closed,) = windower.add(make_batch([_ms("2024-02-01T01:00+01:00")]))
    assert (closed.start_ms, closed.end_ms, closed.events) == (
        _ms("2024-01-01T00:00+01:00"),
        _ms("2024-02-01T00:00+01:00"),
        2,
    )
    assert windower.add(make_batch([_ms("2024-01-20T00:00+01:00")])) == []
    assert windower.late.by_model == {"m": 1}


MONTHS = {"size": "1mo", "timezone": BERLIN, "allowed_lateness": "1h"}
NOW = _ms("2024-06-01T00:00+00:00")


def _month_stream() -> list[RawRecords]:
    """Events every 40 minutes from 20 February to 10 April 2024 (over the spring clock change),
    x drifting from 15 March, on two partitions, in batches of 300."""
    start, end = _ms("2024-02-20T00:00+01:00"), _ms("2024-04-10T00:00+02:00")
    times = np.arange(start, end, 40 * MINUTE)
    rng = np.random.default_rng(5)
    lines = []
    for i, t in enumerate(times.tolist()):
        x = float(rng.normal(1.5 if t >= _ms("2024-03-15T00:00+01:00") else 0.0, 1))
        event = {
            "event_id": f"e{i}",
            "model": "m",
            "model_version": "v1",
            "timestamp": t,
            "features": {"x": x, "y": float(rng.uniform(0, 10)), "color": "red"},
            "prediction": float(1 / (1 + np.exp(-x))),
            "label": int(rng.random() < 1 / (1 + np.exp(-x))),
            "segments": {"platform": str(rng.choice(["ios", "android"]))},
        }
        lines.append(orjson.dumps(event))
    return [
        RawRecords(
            lines[i : i + 300],
            np.arange(i, min(i + 300, len(lines)), dtype=np.int64) % 2,
            np.arange(i, min(i + 300, len(lines)), dtype=np.int64),
            np.full(len(lines[i : i + 300]), -1, dtype=np.int64),
        )
        for i in range(0, len(lines), 300)
    ]


def _pipeline(baseline: Baseline, **windows: Any) -> tuple[Pipeline, ListSink]:
    sink = ListSink()
    return Pipeline(state_settings(windows={**MONTHS, **windows}), {"m": baseline}, [sink]), sink


def test_a_month_replay_reports_calendar_month_starts_and_ends(baseline: Baseline) -> None:
    """Replayed with Berlin months, the overall windows are February, March (an hour short) and
    April in local time, in the report's UTC form, each with the events of its days."""
    pipeline, sink = _pipeline(baseline)
    for batch in _month_stream():
        pipeline.process_records(batch, NOW)
    pipeline.finish()
    overall = [r for r in sink.reports() if r["kind"] == "window" and not r["segment"]]
    assert [(r["start"], r["end"]) for r in overall] == [
        ("2024-01-31T23:00:00Z", "2024-02-29T23:00:00Z"),
        ("2024-02-29T23:00:00Z", "2024-03-31T22:00:00Z"),
        ("2024-03-31T22:00:00Z", "2024-04-30T22:00:00Z"),
    ]
    # one event every 40 minutes: 10 days of February, March's 31 days less an hour, 9 days
    assert [r["events"] for r in overall] == [360, 1115, 324]


def test_a_replay_split_by_a_snapshot_inside_a_month_gives_the_same_report(
    baseline: Baseline,
) -> None:
    """Stopped in the middle of March, snapshotted, restored into a new pipeline and continued,
    a replay of Berlin months reports exactly what an uninterrupted one does."""
    batches = _month_stream()
    whole, whole_sink = _pipeline(baseline)
    for batch in batches:
        whole.process_records(batch, NOW)
    whole.finish()
    cut = len(batches) // 2
    first, first_sink = _pipeline(baseline)
    for batch in batches[:cut]:
        first.process_records(batch, NOW)
    state = orjson.loads(orjson.dumps(snapshot(first)))
    assert any(w["start_ms"] == _ms("2024-03-01T00:00+01:00") for w in state["open"])
    second, second_sink = _pipeline(baseline)
    restore(second, state)
    for batch in batches[cut:]:
        second.process_records(batch, NOW)
    second.finish()
    assert report_lines(first_sink) + report_lines(second_sink) == report_lines(whole_sink)


def test_a_snapshot_records_the_calendar_grid(baseline: Baseline) -> None:
    """A snapshot of Berlin months records the size as text and the time zone; the offset, at
    its default, is not recorded."""
    pipeline, _ = _pipeline(baseline)
    settings = snapshot(pipeline)["settings"]
    assert (settings["windows.size"], settings["windows.timezone"]) == ("1mo", BERLIN)
    assert "windows.offset" not in settings


@pytest.mark.parametrize(
    ("windows", "expected"),
    [
        (
            {"timezone": "UTC"},
            'windows.timezone="Europe/Berlin", but windows.timezone="UTC" is configured now',
        ),
        ({"offset": "6h"}, "windows.offset=0, but windows.offset=21600000 is configured now"),
        ({"size": "1w"}, 'windows.size="1mo", but windows.size="1w" is configured now'),
    ],
)
def test_a_restore_with_another_grid_is_refused(
    baseline: Baseline, windows: dict[str, str], expected: str
) -> None:
    """A snapshot of Berlin months does not restore into another zone, offset or size."""
    state = orjson.loads(orjson.dumps(snapshot(_pipeline(baseline)[0])))
    with pytest.raises(CheckpointError) as error:
        restore(_pipeline(baseline, **windows)[0], state)
    assert str(error.value) == (
        f"checkpoint was taken with {expected}; set it back or delete the checkpoint to start fresh"
    )


@pytest.mark.parametrize(
    ("windows", "expected"),
    [
        (
            {"size": "1mo", "timezone": "Europe/Atlantis"},
            "config field 'windows.timezone': unknown time zone 'Europe/Atlantis'; write an IANA "
            "name such as Europe/Berlin or UTC",
        ),
        (
            {"size": "1h", "timezone": BERLIN},
            "config field 'windows': windows.timezone applies to windows of whole days, weeks "
            "or months; 1h windows are elapsed time on the UTC grid: remove windows.timezone "
            "(windows.offset shifts them)",
        ),
        (
            {"size": "1d", "offset": "1d"},
            "config field 'windows': windows.offset must be shorter than the shortest window "
            "(1d); write the time of day a window starts, e.g. 6h",
        ),
        (
            {"size": "1mo", "offset": "28d"},
            "config field 'windows': windows.offset must be shorter than the shortest window "
            "(28d); write the time of day a window starts, e.g. 6h",
        ),
        (
            {"size": "1y"},
            "config field 'windows.size': '1y' is not a window size; write a duration such as "
            "30s, 5m, 1h or 1d, or 1w (ISO weeks from Monday) or 1mo (calendar months)",
        ),
    ],
)
def test_a_grid_that_cannot_be_is_a_one_line_config_error(
    windows: dict[str, str], expected: str
) -> None:
    """An unknown zone, a zone on sub-day windows, an offset as long as a window or an unknown
    size unit is refused with one line naming the field and the fix."""
    with pytest.raises(ConfigError) as error:
        load_settings(None, models=[{"name": "m", "baseline": "m.json"}], windows=windows)
    assert str(error.value) == expected


def test_replay_takes_a_calendar_window_size(tmp_path: Path) -> None:
    """``driftwarden replay --window 1w`` reports ISO weeks: 2021-01-01 (a Friday) falls in the
    week from Monday 2020-12-28, 2021-01-05 in the next."""
    pq.write_table(training(300), tmp_path / "t.parquet")
    cli = [sys.executable, "-m", "monitor.cli"]
    build = ["--input", str(tmp_path / "t.parquet"), "--model", "m", "--prediction", "score"]
    subprocess.run(
        [*cli, "baseline", "build", *build, "--output", str(tmp_path / "b.json")],
        check=True,
        capture_output=True,
        timeout=300,
    )
    events = tmp_path / "events.jsonl"
    events.write_bytes(
        b"".join(
            orjson.dumps({"model": "m", "timestamp": t, "prediction": 0.5, "features": {}}) + b"\n"
            for t in ("2021-01-01T10:00:00Z", "2021-01-05T10:00:00Z")
        )
    )
    report = tmp_path / "report.jsonl"
    replay = ["--baseline", str(tmp_path / "b.json"), "--input", str(events)]
    result = subprocess.run(
        [*cli, "replay", *replay, "--window", "1w", "--output", str(report), "--no-progress"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    windows = [orjson.loads(line) for line in report.read_bytes().splitlines()]
    assert [(w["start"], w["end"]) for w in windows if w["kind"] == "window"] == [
        ("2020-12-28T00:00:00Z", "2021-01-04T00:00:00Z"),
        ("2021-01-04T00:00:00Z", "2021-01-11T00:00:00Z"),
    ]
