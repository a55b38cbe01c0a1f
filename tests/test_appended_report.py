"""The daemon's report file: appended to, and cut back to a checkpoint's length on restore."""

from __future__ import annotations

from pathlib import Path

from monitor.evaluate.levels import Level
from monitor.sinks.base import AlertRecord, WindowRecord
from monitor.sinks.report_file import AppendedReport
from monitor.window.windower import WindowKey

KEY = WindowKey("m", "", "")
FIRST = WindowRecord(KEY, 0, 0, 0, {}, {}, {"kind": "window", "n": 1})
SECOND = WindowRecord(KEY, 0, 0, 0, {}, {}, {"kind": "window", "n": 2})
THIRD = AlertRecord(KEY, "x", "psi", Level.OK, Level.OK, 0.0, 0.0, 0, {"kind": "alert", "n": 3})


def test_durable_length_is_what_the_written_lines_occupy(tmp_path: Path) -> None:
    """The length after two lines is their bytes, already on disk."""
    path = tmp_path / "report.jsonl"
    report = AppendedReport(path)
    report.write(FIRST)
    report.write(SECOND)
    length = report.durable_length()
    report.close()
    assert path.read_bytes() == b'{"kind":"window","n":1}\n{"kind":"window","n":2}\n'
    assert length == len(path.read_bytes())


def test_a_restart_truncates_what_came_after_the_checkpoint_and_appends_there(
    tmp_path: Path,
) -> None:
    """Lines written after the checkpoint's length are cut off; the next line follows on."""
    path = tmp_path / "report.jsonl"
    before = AppendedReport(path)
    before.write(FIRST)
    checkpointed = before.durable_length()
    before.write(SECOND)
    before.durable_length()  # on disk, as if the process died right after
    after = AppendedReport(path)
    after.truncate(checkpointed)
    after.write(THIRD)
    after.close()
    before.writer.stream.close()
    assert path.read_bytes() == b'{"kind":"window","n":1}\n{"kind":"alert","n":3}\n'


def test_truncate_drops_lines_still_buffered(tmp_path: Path) -> None:
    """Lines written but not yet flushed are dropped too, not written after the cut."""
    path = tmp_path / "report.jsonl"
    report = AppendedReport(path)
    report.write(FIRST)
    checkpointed = report.durable_length()
    report.write(SECOND)
    report.truncate(checkpointed)
    report.write(THIRD)
    report.close()
    assert path.read_bytes() == b'{"kind":"window","n":1}\n{"kind":"alert","n":3}\n'
