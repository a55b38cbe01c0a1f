"""The live daemon with calendar-month windows on the real broker: kill -9 inside a month."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import orjson
import yaml

from baselines.values import Baseline
from tests.support.daemon import EVENTS, kill_once_report_passes
from tests.support.daemon import daemon_config as _config
from tests.support.daemon import run_to_end as _run_to_end
from tests.support.kafka import append as _append
from tests.support.kafka import produce as _produce
from tests.support.replay_stream import drifting_events

HOUR = 3_600_000


def _ms(text: str) -> int:
    """Epoch milliseconds of an ISO 8601 time with its offset."""
    return int(datetime.fromisoformat(text).timestamp() * 1000)


FIRST = _ms("2024-01-15T00:00+01:00")
STRETCH = 90 * 24 // 8  # the stream's 8 hours become 90 days, over the spring clock change


def _month_messages() -> list[bytes]:
    """The daemon tests' stream (``x`` shifted from its third of eight parts), its times spread
    over 15 January to 14 April 2024."""
    events = drifting_events(EVENTS, hours=8, shift_from_hour=3)
    for event in events:
        event["timestamp"] = FIRST + int(str(event["timestamp"])) * STRETCH
    return [orjson.dumps(e) for e in events]


def _month_config(
    tmp_path: Path, baseline: Baseline, bootstrap: str, topic: str, run: str
) -> tuple[Path, int]:
    """The daemon tests' config with Berlin calendar months, checkpointing only when stopped."""
    config, port = _config(tmp_path, baseline, bootstrap, topic, run)
    _rewrite(config, "windows", size="1mo", timezone="Europe/Berlin", allowed_lateness="0s")
    _rewrite(config, "daemon", checkpoint_interval="1h")
    return config, port


def _rewrite(config: Path, section: str, **fields: str) -> None:
    """Set ``fields`` of one section of the config file."""
    document = yaml.safe_load(config.read_text())
    document[section].update(fields)
    config.write_text(yaml.safe_dump(document))


def test_kill_minus_nine_inside_a_month_window_gives_the_uninterrupted_report(
    tmp_path: Path, baseline: Baseline, kafka_bootstrap: str
) -> None:
    """A daemon with Berlin month windows, checkpointed in the middle of February, killed with
    SIGKILL after writing report lines past that checkpoint, then restarted, writes the report
    of an uninterrupted run: its months in local time, nothing lost or counted twice."""
    messages = _month_messages()
    whole_topic = _produce(kafka_bootstrap, messages)
    config, port = _month_config(tmp_path, baseline, kafka_bootstrap, whole_topic, "whole")
    _run_to_end(config, port)
    uninterrupted = (tmp_path / "whole" / "report.jsonl").read_bytes()
    overall = [
        (w["start"], w["end"], w["events"])
        for w in map(orjson.loads, uninterrupted.splitlines())
        if w["kind"] == "window" and not w["segment"]
    ]
    assert [(start, end) for start, end, _ in overall] == [  # April is still open
        ("2023-12-31T23:00:00Z", "2024-01-31T23:00:00Z"),
        ("2024-01-31T23:00:00Z", "2024-02-29T23:00:00Z"),
        ("2024-02-29T23:00:00Z", "2024-03-31T22:00:00Z"),
    ]
    april = _ms("2024-04-01T00:00+02:00")
    assert sum(events for _, _, events in overall) == sum(
        orjson.loads(m)["timestamp"] < april for m in messages
    )

    half = len(messages) // 2  # mid-February in event time
    name = _produce(kafka_bootstrap, messages[:half])
    config, port = _month_config(tmp_path, baseline, kafka_bootstrap, name, "killed")
    _run_to_end(config, port, expected=half)
    folder = tmp_path / "killed"
    checkpoint = orjson.loads((folder / "checkpoint.json").read_bytes())["state"]
    assert {w["start_ms"] for w in checkpoint["pipeline"]["open"]} == {
        _ms("2024-02-01T00:00+01:00")
    }
    saved = checkpoint["report_bytes"]
    _append(kafka_bootstrap, name, messages[half:])
    kill_once_report_passes(config, folder / "report.jsonl", saved)
    _rewrite(config, "daemon", checkpoint_interval="100ms")
    _run_to_end(config, port)
    assert (folder / "report.jsonl").read_bytes() == uninterrupted
