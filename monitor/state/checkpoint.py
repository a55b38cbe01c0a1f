"""A checkpoint file: the pipeline state and the source offsets it covers, replaced atomically.

The file is one JSON object::

    {"state": {…monitor.state.snapshot.snapshot…}, "offsets": {"topic:partition": offset, …},
     "saved_at": "2019-04-02T10:11:12.345Z"}

``save`` writes it to a temporary file in the same folder, flushes and fsyncs that file, renames
it onto the target with ``os.replace`` (atomic on POSIX) and fsyncs the folder so the rename
itself is durable. A crash at any moment therefore leaves the previous checkpoint or the new one,
never a mixture; a temporary file a crash left behind is ignored by ``load`` and removed by the
next ``save``.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from baselines.json_file import JsonFile
from monitor.errors import CheckpointError
from monitor.sinks.report import iso_ms

_FRESH = "delete it to start fresh"
_CHECKPOINT_FILE = JsonFile(
    name="checkpoint",
    error=CheckpointError,
    unreadable_fix="check its permissions",
    not_json=f"is damaged (not JSON: {{problem}}); {_FRESH}",
)


@dataclass(frozen=True)
class Checkpoint:
    """A loaded checkpoint: the pipeline state, the offsets saved with it, and when."""

    state: dict[str, Any]
    offsets: dict[str, int]
    saved_at: str


def offset_key(topic: str, partition: int) -> str:
    """The key of one source partition in a checkpoint's offsets.

    >>> offset_key("predictions", 3)
    'predictions:3'
    """
    return f"{topic}:{partition}"


def parse_offset_key(key: str) -> tuple[str, int]:
    """Invert ``offset_key`` (Kafka topic names cannot hold ``:``).

    >>> parse_offset_key("predictions:3")
    ('predictions', 3)
    """
    topic, colon, partition = key.rpartition(":")
    if not (topic and colon and partition.isdigit()):
        raise ValueError(f"offset key {key!r} is not 'topic:partition'; build it with offset_key")
    return topic, int(partition)


class CheckpointStore:
    """One checkpoint file at ``path``, written atomically and read back whole."""

    def __init__(self, path: Path, *, clock: Callable[[], float] = time.time) -> None:
        self.path = path
        self.clock = clock

    def save(self, state: Mapping[str, Any], offsets: Mapping[str, int]) -> None:
        """Replace the checkpoint with ``state`` and ``offsets`` (keys from ``offset_key``)."""
        for key, offset in offsets.items():
            parse_offset_key(key)
            if isinstance(offset, bool) or not isinstance(offset, int):
                raise ValueError(f"offset of {key} must be an int, got {offset!r}")
        document = {
            "state": state,
            "offsets": {key: offsets[key] for key in sorted(offsets)},
            "saved_at": iso_ms(round(self.clock() * 1000)),
        }
        data = orjson.dumps(document)
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self._remove_leftovers()
            self._replace(data)
            _fsync_folder(folder)
        except OSError as exc:
            raise CheckpointError(
                f"cannot write checkpoint {self.path} ({exc.strerror or exc}); "
                f"check free space and the permissions of {folder}"
            ) from None

    def load(self) -> Checkpoint | None:
        """The saved checkpoint, or None when there is none yet."""
        try:
            document: Any = _CHECKPOINT_FILE.read(self.path)
        except FileNotFoundError:
            return None
        problem = _problem(document)
        if problem:
            raise CheckpointError(
                f"checkpoint {self.path} is not a driftwarden checkpoint ({problem}); {_FRESH}"
            )
        return Checkpoint(document["state"], document["offsets"], document["saved_at"])

    def _replace(self, data: bytes) -> None:
        """Write ``data`` to a temporary file, make it durable, then rename it onto the target."""
        handle, temporary = tempfile.mkstemp(
            dir=self.path.parent, prefix=self._temporary_prefix(), suffix=".tmp"
        )
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def _remove_leftovers(self) -> None:
        """Delete temporary files of earlier saves that a crash interrupted."""
        for leftover in self.path.parent.glob(f"{self._temporary_prefix()}*.tmp"):
            leftover.unlink(missing_ok=True)

    def _temporary_prefix(self) -> str:
        return f".{self.path.name}."


def _fsync_folder(folder: Path) -> None:
    """Make a rename inside ``folder`` durable."""
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


def _problem(document: Any) -> str | None:
    """What makes ``document`` not a checkpoint, or None."""
    if not isinstance(document, dict):
        return "not a JSON object"
    missing = sorted({"state", "offsets", "saved_at"} - set(document))
    if missing:
        return f"no {missing[0]!r} field"
    if not isinstance(document["state"], dict):
        return "'state' is not an object"
    if not isinstance(document["saved_at"], str):
        return "'saved_at' is not text"
    offsets = document["offsets"]
    if not isinstance(offsets, dict):
        return "'offsets' is not an object"
    for key, offset in offsets.items():
        try:
            parse_offset_key(key)
        except ValueError:
            return f"offset key {key!r} is not 'topic:partition'"
        if isinstance(offset, bool) or not isinstance(offset, int):
            return f"offset of {key} is not an integer"
    return None
