"""The in-memory sink: every record and reject kept in a list, in the order they came.

The twin of the real sinks for tests and for drivers that hold records back (the guarded
replay stages them until the state that produced them is snapshotted).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from monitor.batches import Reject
from monitor.sinks.base import AlertRecord, Record, WindowRecord


@dataclass
class ListSink:
    """Sink and reject sink keeping what it is given.

    >>> from monitor.sinks.report import read_record
    >>> sink = ListSink()
    >>> sink.write(read_record({"kind": "window", "model": "m", "model_version": "",
    ...     "segment": "", "start": "1970-01-01T00:00:00Z", "end": "1970-01-01T01:00:00Z",
    ...     "events": 3, "features": {}}))
    >>> [w.end_ms for w in sink.windows()], sink.alerts(), sink.reports()[0]["events"]
    ([3600000], [], 3)
    """

    records: list[Record] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)

    def write(self, record: Record) -> None:
        self.records.append(record)

    def reject(self, reject: Reject) -> None:
        self.rejects.append(reject)

    def windows(self) -> list[WindowRecord]:
        """The window records, in order."""
        return [r for r in self.records if isinstance(r, WindowRecord)]

    def alerts(self) -> list[AlertRecord]:
        """The alert records, in order."""
        return [r for r in self.records if isinstance(r, AlertRecord)]

    def reports(self) -> list[Mapping[str, Any]]:
        """The report objects of every record, in order (what a report file would hold)."""
        return [r.report for r in self.records]

    def clear(self) -> None:
        """Forget every record and reject."""
        self.records.clear()
        self.rejects.clear()
