"""`driftwarden report merge`: the union of several processes' report files is one report."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from baselines.values import Baseline
from monitor.errors import ReportError
from monitor.sinks.report_merge import line_key, merge_reports
from tests.support.replay_stream import two_model_report

CLI = [sys.executable, "-m", "monitor.cli"]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory, baseline: Baseline) -> bytes:
    """A replay report of two models, with segments and alerts of several checks per window."""
    return two_model_report(tmp_path_factory.mktemp("merge"), baseline)


def _lines_of(report: bytes, model: str) -> list[bytes]:
    return [line for line in report.splitlines(True) if orjson.loads(line)["model"] == model]


def _write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"".join(lines))
    return path


def test_report_has_alerts_in_check_order_not_text_order(report: bytes) -> None:
    """The fixture's windows list feature alerts before prediction alerts (x before prediction),
    so a merge that sorted alerts by subject text would not give the report back."""
    alerts = [orjson.loads(line) for line in report.splitlines() if b'"kind":"alert"' in line]
    subjects = [(a["window_end"], a["model"], a["segment"], a["subject"]) for a in alerts]
    assert len({model for _, model, _, _ in subjects}) == 2
    assert any(
        first[:3] == second[:3] and (first[3], second[3]) == ("x", "prediction")
        for first, second in itertools.pairwise(subjects)
    )


def test_report_split_by_model_merges_back_to_the_same_bytes(tmp_path: Path, report: bytes) -> None:
    """Each model's lines in a file of their own, merged, give the original report byte for byte."""
    files = [_write(tmp_path / f"{m}.jsonl", _lines_of(report, m)) for m in ("n", "m")]
    summary = merge_reports(files, tmp_path / "merged.jsonl")
    assert (tmp_path / "merged.jsonl").read_bytes() == report
    assert (summary.lines, summary.duplicates, summary.torn) == (len(report.splitlines()), 0, ())


def test_lines_written_by_two_processes_are_kept_once(tmp_path: Path, report: bytes) -> None:
    """A file repeating another file's first 10 lines (a dead owner's lines written again by
    its successor) merges to the original report, the 10 copies dropped."""
    own = _lines_of(report, "m")
    first = _write(tmp_path / "first.jsonl", own[:10] + _lines_of(report, "n"))
    second = _write(tmp_path / "second.jsonl", own)
    summary = merge_reports([first, second], tmp_path / "merged.jsonl")
    assert (tmp_path / "merged.jsonl").read_bytes() == report
    assert summary.duplicates == 10


def test_a_file_writing_its_lines_again_merges_them_once(tmp_path: Path, report: bytes) -> None:
    """A file that wrote a window and its alerts twice (a process that went back to its last
    commit without truncating its file) merges to the original report."""
    own = _lines_of(report, "n")
    again = next(i for i, line in enumerate(own) if b'"kind":"alert"' in line) - 1
    files = [
        _write(tmp_path / "n.jsonl", own + own[again:]),
        _write(tmp_path / "m.jsonl", _lines_of(report, "m")),
    ]
    summary = merge_reports(files, tmp_path / "merged.jsonl")
    assert (tmp_path / "merged.jsonl").read_bytes() == report
    assert summary.duplicates == len(own) - again


def test_a_last_line_cut_short_is_ignored_and_named(tmp_path: Path, report: bytes) -> None:
    """A file whose last line stops in the middle (a process killed while writing) adds its whole
    lines and is named in the summary."""
    own = _lines_of(report, "m")
    cut = _write(tmp_path / "killed.jsonl", [*own[:5], own[5][:40]])
    rest = _write(tmp_path / "rest.jsonl", own[5:] + _lines_of(report, "n"))
    summary = merge_reports([cut, rest], tmp_path / "merged.jsonl")
    assert (tmp_path / "merged.jsonl").read_bytes() == report
    assert summary.torn == (cut,)


def test_two_different_lines_for_one_alert_are_refused(tmp_path: Path, report: bytes) -> None:
    """An alert line that another file holds with another value is refused, naming both files and
    the alert's key, and no output is written."""
    own = _lines_of(report, "n")
    at = next(i for i, line in enumerate(own) if b'"kind":"alert"' in line)
    changed = orjson.loads(own[at])
    changed["value"] += 1.0
    first = _write(tmp_path / "a.jsonl", own)
    second = _write(tmp_path / "b.jsonl", [orjson.dumps(changed) + b"\n"])
    with pytest.raises(ReportError) as refused:
        merge_reports([first, second], tmp_path / "merged.jsonl")
    assert str(refused.value).startswith(f"{first} and {second} hold different lines for ")
    assert f"subject={changed['subject']!r} check={changed['check']!r}" in str(refused.value)
    assert not (tmp_path / "merged.jsonl").exists()


def test_one_alert_at_two_places_among_its_windows_alerts_is_refused(
    tmp_path: Path, report: bytes
) -> None:
    """Two files listing a window's first two alerts in opposite orders are refused: the union
    would have no single order."""
    own = _lines_of(report, "n")
    at = next(i for i, line in enumerate(own) if b'"kind":"alert"' in line)
    assert b'"kind":"alert"' in own[at + 1]
    first = _write(tmp_path / "a.jsonl", own[: at + 2])
    second = _write(tmp_path / "b.jsonl", [own[at - 1], own[at + 1], own[at]])
    with pytest.raises(ReportError) as refused:
        merge_reports([first, second], tmp_path / "merged.jsonl")
    assert str(refused.value).startswith(f"{first} and {second} hold the line at other places")


def test_empty_files_merge_to_an_empty_report(tmp_path: Path) -> None:
    """Report files of processes that closed no window merge to an empty file."""
    files = [_write(tmp_path / f"{i}.jsonl", []) for i in range(3)]
    summary = merge_reports(files, tmp_path / "merged.jsonl")
    assert (tmp_path / "merged.jsonl").read_bytes() == b""
    assert summary.lines == 0


def test_an_empty_file_adds_nothing(tmp_path: Path, report: bytes) -> None:
    """An empty file merged with a whole report gives that report."""
    files = [_write(tmp_path / "empty.jsonl", []), _write(tmp_path / "all.jsonl", [report])]
    merge_reports(files, tmp_path / "merged.jsonl")
    assert (tmp_path / "merged.jsonl").read_bytes() == report


def test_window_ends_are_ordered_as_instants_not_as_text() -> None:
    """A window ending at 01:00:00.500 comes after one ending at 01:00:00 (as text it sorts
    before: '.' < 'Z')."""
    window = {"kind": "window", "model": "m", "model_version": "", "segment": ""}
    later = line_key({**window, "end": "1970-01-01T01:00:00.500Z"})
    earlier = line_key({**window, "end": "1970-01-01T01:00:00Z"})
    assert (earlier.window_end_ms, later.window_end_ms) == (3_600_000, 3_600_500)
    assert earlier < later


def test_a_window_line_comes_before_its_alerts() -> None:
    """Of one window key, the window line sorts before its alerts."""
    head = {"model": "m", "model_version": "v1", "segment": ""}
    alert = {
        **head,
        "kind": "alert",
        "subject": "a",
        "check": "psi",
        "window_end": "2019-04-02T12:00:00Z",
    }
    window = {**head, "kind": "window", "end": "2019-04-02T12:00:00Z"}
    assert line_key(window) < line_key(alert)


def _merge_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    command = [*CLI, "report", "merge", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def _one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("driftwarden: error: "), result.stderr
    assert all(fragment in lines[0] for fragment in fragments), lines[0]


def test_cli_names_a_missing_file_in_one_line(tmp_path: Path) -> None:
    """A report file that does not exist ends with one line naming it, exit status 2."""
    missing = tmp_path / "nope.jsonl"
    _one_line_error(_merge_cli(missing, "--output", tmp_path / "out.jsonl"), str(missing))


def test_cli_names_a_line_that_is_not_json(tmp_path: Path) -> None:
    """A line that is not JSON is named by file and line number, exit status 2."""
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"kind": "window"}\nnot json\n')
    result = _merge_cli(bad, "--output", tmp_path / "out.jsonl")
    _one_line_error(result, f"{bad} line 1 is not a driftwarden report line")
    bad.write_bytes(b"not json\n")
    _one_line_error(
        _merge_cli(bad, "--output", tmp_path / "out.jsonl"), f"{bad} line 1 is not JSON"
    )


def test_cli_writes_the_union_and_says_what_it_dropped(tmp_path: Path, report: bytes) -> None:
    """The command writes the merged report and prints the lines written and the copies dropped."""
    files = [_write(tmp_path / "a.jsonl", [report]), _write(tmp_path / "b.jsonl", [report])]
    result = _merge_cli(*files, "--output", tmp_path / "out.jsonl")
    assert result.returncode == 0, result.stderr
    lines = len(report.splitlines())
    assert result.stdout == (
        f"wrote {tmp_path / 'out.jsonl'}: {lines:,} lines from 2 files, {lines:,} copies dropped\n"
    )
    assert (tmp_path / "out.jsonl").read_bytes() == report
