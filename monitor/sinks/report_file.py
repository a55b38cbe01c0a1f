"""The daemon's report file: appended to, and truncated back to a checkpoint's length on restore.

A checkpoint records :meth:`AppendedReport.durable_length`; a restart truncates the file to it,
so the lines written after the checkpoint (and read again after it) are written once.
"""

from __future__ import annotations

import os
from pathlib import Path

from monitor.sinks.base import Record
from monitor.sinks.report import ReportWriter


class AppendedReport:
    """A JSON Lines report opened for appending; its length can be made durable and restored."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.writer = ReportWriter(path.open("ab"))

    def write(self, record: Record) -> None:
        self.writer.write(record)

    def durable_length(self) -> int:
        """Flush and fsync; the length everything written so far occupies."""
        stream = self.writer.stream
        stream.flush()
        os.fsync(stream.fileno())
        return stream.tell()

    def truncate(self, length: int) -> None:
        stream = self.writer.stream
        stream.flush()
        os.truncate(self.path, length)
        stream.seek(length)

    def close(self) -> None:
        self.writer.close()
