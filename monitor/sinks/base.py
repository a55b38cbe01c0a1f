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

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeAlias, runtime_checkable

import orjson

from monitor.batches import Reject
from monitor.evaluate.levels import Level
from monitor.window.windower import WindowKey


class JsonReport(Mapping[str, Any]):
    """A report object kept as the JSON text the report file holds, parsed only when a sink
    reads a field of it (the pipeline writes window lines directly; few sinks read them)."""

    __slots__ = ("_parsed", "json")

    def __init__(self, json: bytes) -> None:
        self.json = json
        self._parsed: dict[str, Any] | None = None

    def _object(self) -> dict[str, Any]:
        if self._parsed is None:
            self._parsed = orjson.loads(self.json)
        return self._parsed

    def __getitem__(self, name: str) -> Any:
        return self._object()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._object())

    def __len__(self) -> int:
        return len(self._object())


def report_json(report: Mapping[str, Any]) -> bytes:
    """The JSON text of a report object, as the report file holds it (without the newline).

    >>> report_json({"kind": "alert", "value": 0.5}), report_json(JsonReport(b'{"a":1}'))
    (b'{"kind":"alert","value":0.5}', b'{"a":1}')
    """
    return report.json if isinstance(report, JsonReport) else orjson.dumps(report)


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
    """The report object (``"kind": "window"``), in the report's field order (from the
    pipeline, a :class:`JsonReport`)."""


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


@runtime_checkable
class ModelScopedSink(Protocol):
    """A sink holding something per model that a process must drop when another process takes
    the model over (scale-out's stage 2)."""

    def forget_models(self, models: Collection[str]) -> None:
        """Drop everything of ``models`` (another process speaks for them now), saying
        nothing."""


@runtime_checkable
class ModelStateSink(ModelScopedSink, Protocol):
    """A sink whose state per model moves with the model to the process that takes it over:
    the metrics store, Alertmanager's firing alerts."""

    state_name: str
    """The sink's name in a stage-2 snapshot."""

    def models_state(self, models: Collection[str]) -> Any:
        """What it holds of ``models``, as JSON data."""

    def restore_models(self, state: Any) -> None:
        """Take back what :meth:`models_state` gave, for the models it named."""


class RejectSink(Protocol):
    """Where rejected messages go besides the counters and the log (the dead-letter topic)."""

    def reject(self, reject: Reject) -> None: ...
