"""The sink contract: typed records, each with its report object built once.

The pipeline hands every sink, in order, one :class:`WindowRecord` per closed window followed by
one :class:`AlertRecord` per level transition that window caused (built by
:mod:`monitor.sinks.report`). A record holds the values sinks compute with — the window key,
integer epoch milliseconds, :class:`~monitor.evaluate.levels.Level` members — beside ``report``,
the JSON object the report file holds for it. So no sink parses the pipeline's own output back:
the report writer serialises ``report``, the metrics store keeps ``levels`` by ``end_ms``,
Alertmanager and the alerts topic take an alert's levels and its ``report``. Records are shared
by every sink: none may change one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeAlias

from monitor.batches import Reject
from monitor.evaluate.levels import Level
from monitor.window.windower import WindowKey


@dataclass(frozen=True, slots=True)
class WindowRecord:
    """One closed window: its key, bounds, events, levels and detector firings, and its report."""

    key: WindowKey
    start_ms: int
    end_ms: int
    events: int
    levels: Mapping[tuple[str, str], Level]
    """(subject, check) → the window's level, subjects named as in alert records."""
    firings: Mapping[str, int]
    """Detector → its firings in the window: per-event detections, plus one for a drift verdict
    (detectors that did not fire are left out)."""
    report: Mapping[str, Any]
    """The report object (``"kind": "window"``), in the report's field order."""


@dataclass(frozen=True, slots=True)
class AlertRecord:
    """One level transition of a check at the end of a window, and its report object."""

    key: WindowKey
    subject: str
    """The check's subject as reported: a feature, ``prediction`` or ``performance``."""
    check: str
    before: Level
    after: Level
    value: float
    threshold: float
    window_end_ms: int
    report: Mapping[str, Any]
    """The report object (``"kind": "alert"``), in the report's field order."""


Record: TypeAlias = WindowRecord | AlertRecord
"""What the pipeline emits."""


class Sink(Protocol):
    """Where records go (report file, metrics store, Alertmanager, alerts topic, a list)."""

    def write(self, record: Record) -> None: ...


class RejectSink(Protocol):
    """Where rejected messages go besides the counters and the log (the dead-letter topic)."""

    def reject(self, reject: Reject) -> None: ...
