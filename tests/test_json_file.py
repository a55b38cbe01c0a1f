"""The shared JSON-file reader: the parsed content, or one line naming file, problem and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from baselines.errors import DriftwardenError
from baselines.json_file import JsonFile


class NotesError(DriftwardenError):
    """The error of the notes file kind used here."""


NOTES = JsonFile(
    name="notes file",
    error=NotesError,
    unreadable_fix="check its permissions",
    not_json="is not JSON ({problem}); write it again",
    missing_fix="check the path",
)


def test_a_json_file_reads_as_its_parsed_content(tmp_path: Path) -> None:
    """A file holding JSON reads as the parsed value."""
    path = tmp_path / "notes.json"
    path.write_bytes(b'{"a": [1, 2.5, null]}')
    assert NOTES.read(path) == {"a": [1, 2.5, None]}


def test_a_missing_file_names_the_path_and_the_fix(tmp_path: Path) -> None:
    """A path without a file raises the kind's error with its missing-file fix."""
    path = tmp_path / "none.json"
    with pytest.raises(NotesError) as caught:
        NOTES.read(path)
    assert str(caught.value) == f"notes file {path} does not exist; check the path"


def test_a_missing_file_is_left_to_the_caller_without_a_fix(tmp_path: Path) -> None:
    """A kind without a missing-file fix lets FileNotFoundError through (no file is no mistake)."""
    optional = JsonFile("state file", NotesError, "check its permissions", "is damaged")
    with pytest.raises(FileNotFoundError):
        optional.read(tmp_path / "none.json")


def test_an_unreadable_path_names_the_reason_and_the_fix(tmp_path: Path) -> None:
    """A path that cannot be read (here a directory) gives the OS reason and the fix."""
    with pytest.raises(NotesError) as caught:
        NOTES.read(tmp_path)
    assert str(caught.value) == (
        f"cannot read notes file {tmp_path} (Is a directory); check its permissions"
    )


def test_bytes_that_are_not_json_complete_the_kinds_sentence(tmp_path: Path) -> None:
    """Bytes that are not JSON give one line: the name, the path, the parser's problem, the fix."""
    path = tmp_path / "notes.json"
    path.write_bytes(b'{"a": ')
    with pytest.raises(NotesError) as caught:
        NOTES.read(path)
    message = str(caught.value)
    assert message.startswith(f"notes file {path} is not JSON (")
    assert message.endswith("); write it again")
    assert "\n" not in message
