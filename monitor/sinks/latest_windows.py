"""The metrics store: per key the latest closed window, the levels its checks hold, and counters.

:class:`LatestWindows` is a pipeline sink; at each scrape the collector
(:mod:`monitor.sinks.collector`) reads a :class:`Snapshot` of it. Rules it keeps:

- **Latest window per key.** Per (model, model_version, segment) only the window with the latest
  end is kept; an older window arriving later does not replace it.
- **Staleness.** A key whose latest window ended more than ``stale_after`` window lengths before
  the newest window end of its model is dropped (its latest window and its held levels), so a
  retired version, a segment value that stopped arriving, or a feature removed from the baseline
  stop being exported. ``forget_model`` drops everything of a model that is no longer configured.
- **Held levels.** A check holds the level of its last window with enough data:
  ``insufficient_data`` leaves the held level as it was (as the state machine does), so a quiet
  hour neither resolves nor raises an alert. A check that has not yet had one window with enough
  data holds nothing. A check absent from a key's latest window is dropped.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from monitor.evaluate.levels import Level
from monitor.sinks.base import AlertRecord, JsonReport, Record, WindowRecord, report_json
from monitor.state.parts import key_state, read_key
from monitor.window.windower import WindowKey


@dataclass(frozen=True)
class HeldLevel:
    """The level a check holds and the end of the window that moved it there, when seen."""

    level: Level
    since: str | None = None


@dataclass(frozen=True)
class LatestWindow:
    """One key's latest closed window report and the levels its checks hold."""

    key: WindowKey
    record: Mapping[str, Any]
    start_s: float
    end_s: float
    levels: Mapping[tuple[str, str], HeldLevel]


@dataclass(frozen=True)
class Snapshot:
    """A consistent copy of :class:`LatestWindows` for one scrape."""

    windows: tuple[LatestWindow, ...]
    transitions: Mapping[tuple[str, str], int]
    detections: Mapping[tuple[str, str], int]


class LatestWindows:
    """Sink keeping each key's latest window, the levels its checks hold, and event counters.

    Thread-safe: the pipeline writes from its loop while scrapes read :meth:`snapshot`.
    """

    def __init__(self, *, stale_after: int = 1) -> None:
        if stale_after < 0:
            raise ValueError(
                f"stale_after must be a number of windows ≥ 0, got {stale_after}; use 0 to "
                "export only the newest window of each model"
            )
        self.stale_after = stale_after
        self._lock = threading.Lock()
        self._latest: dict[WindowKey, LatestWindow] = {}
        self._newest_end: dict[str, float] = {}
        self._transitions: Counter[tuple[str, str]] = Counter()
        self._detections: Counter[tuple[str, str]] = Counter()

    def write(self, record: Record) -> None:
        """Take one window or alert record."""
        with self._lock:
            if isinstance(record, WindowRecord):
                self._window(record)
            else:
                self._alert(record)

    def forget_model(self, model: str) -> None:
        """Drop every series of a model that is no longer monitored."""
        with self._lock:
            self._latest = {k: v for k, v in self._latest.items() if k.model != model}
            self._newest_end.pop(model, None)
            for counter in (self._transitions, self._detections):
                for item in [item for item in counter if item[0] == model]:
                    del counter[item]

    state_name = "latest_windows"

    def models_state(self, models: Collection[str]) -> dict[str, Any]:
        """The latest windows, held levels and counters of ``models``, as JSON data."""
        wanted = set(models)
        with self._lock:
            windows = [
                {
                    **key_state(key),
                    "record": report_json(w.record).decode(),
                    "start_s": w.start_s,
                    "end_s": w.end_s,
                    "levels": [
                        [subject, check, held.level.value, held.since]
                        for (subject, check), held in sorted(w.levels.items())
                    ],
                }
                for key, w in sorted(self._latest.items())
                if key.model in wanted
            ]
            counters = {
                name: [[*item, n] for item, n in sorted(counter.items()) if item[0] in wanted]
                for name, counter in (
                    ("transitions", self._transitions),
                    ("detections", self._detections),
                )
            }
            newest = {m: end for m, end in sorted(self._newest_end.items()) if m in wanted}
        return {"windows": windows, "newest_end": newest, **counters}

    def restore_models(self, state: Any) -> None:
        """Take back what :meth:`models_state` gave."""
        windows = [
            LatestWindow(
                read_key(w),
                JsonReport(str(w["record"]).encode()),
                float(w["start_s"]),
                float(w["end_s"]),
                {
                    (str(subject), str(check)): HeldLevel(Level(level), since)
                    for subject, check, level, since in w["levels"]
                },
            )
            for w in state["windows"]
        ]
        with self._lock:
            for window in windows:
                self._latest[window.key] = window
            for model, end in state["newest_end"].items():
                self._newest_end[str(model)] = float(end)
            for name, counter in (
                ("transitions", self._transitions),
                ("detections", self._detections),
            ):
                for model, what, n in state[name]:
                    counter[(str(model), str(what))] = int(n)

    def forget_models(self, models: Collection[str]) -> None:
        """Drop every series of ``models`` (another process exports them now)."""
        for model in models:
            self.forget_model(model)

    def snapshot(self) -> Snapshot:
        """The current latest windows, sorted by key, and copies of the counters."""
        with self._lock:
            return Snapshot(
                tuple(self._latest[k] for k in sorted(self._latest)),
                dict(self._transitions),
                dict(self._detections),
            )

    def _window(self, window: WindowRecord) -> None:
        key = window.key
        for name, fired in window.firings.items():
            self._detections[(key.model, name)] += fired
        end_s = window.end_ms / 1000
        previous = self._latest.get(key)
        if previous is not None and end_s < previous.end_s:
            return
        held = previous.levels if previous is not None else {}
        levels: dict[tuple[str, str], HeldLevel] = {}
        for check, level in window.levels.items():
            before = held.get(check)
            if before is not None and level in (Level.INSUFFICIENT_DATA, before.level):
                levels[check] = before
            elif level is not Level.INSUFFICIENT_DATA:
                levels[check] = HeldLevel(level)
        self._latest[key] = LatestWindow(key, window.report, window.start_ms / 1000, end_s, levels)
        newest = self._newest_end[key.model] = max(self._newest_end.get(key.model, end_s), end_s)
        self._latest = {
            k: v
            for k, v in self._latest.items()
            if k.model != key.model or newest - v.end_s <= self.stale_after * (v.end_s - v.start_s)
        }

    def _alert(self, alert: AlertRecord) -> None:
        key = alert.key
        self._transitions[(key.model, alert.after.value)] += 1
        latest = self._latest.get(key)
        if latest is not None:
            levels = dict(latest.levels)
            levels[(alert.subject, alert.check)] = HeldLevel(
                alert.after, alert.report["window_end"]
            )
            self._latest[key] = LatestWindow(
                key, latest.record, latest.start_s, latest.end_s, levels
            )
