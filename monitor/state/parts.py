"""The pieces every snapshot is made of, as JSON data and back: window keys, open windows,
check levels, window-series detectors and counters.

The one-process checkpoint (:mod:`monitor.state.snapshot`) and the stage-2 changelog snapshot
(:mod:`monitor.exchange.stage_two_state`) write them alike, sorted by key so that equal states
give equal bytes.

>>> key_state(WindowKey("m", "v2", "country=DE"))
{'model': 'm', 'model_version': 'v2', 'segment': 'country=DE'}
>>> read_key(key_state(WindowKey("m", "", "")))
WindowKey(model='m', model_version='', segment='')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from detectors.online import DriftDetector, detector_from_state
from monitor.evaluate.levels import CheckState, Level
from monitor.window.slot_layout import ModelLayout
from monitor.window.windower import WindowCounts, WindowKey

CheckKey = tuple[WindowKey, str, str]
SeriesKey = tuple[WindowKey, str]


def key_state(key: WindowKey) -> dict[str, str]:
    """A window key as JSON data."""
    return {"model": key.model, "model_version": key.model_version, "segment": key.segment}


def read_key(entry: Mapping[str, Any]) -> WindowKey:
    """The window key of an entry written with :func:`key_state`'s fields."""
    return WindowKey(str(entry["model"]), str(entry["model_version"]), str(entry["segment"]))


def window_state(window: WindowCounts) -> dict[str, Any]:
    """An open window's counts as JSON data."""
    return {
        **key_state(window.key),
        "start_ms": window.start_ms,
        "end_ms": window.end_ms,
        "events": window.events,
        "counts": window.counts.tolist(),
        "performance": window.performance.tolist(),
        "detections": sorted_counts(window.detections),
    }


def windows_state(windows: Iterable[WindowCounts]) -> list[dict[str, Any]]:
    """Open windows as JSON data, in report order (start, then key)."""
    return [window_state(w) for w in sorted(windows, key=lambda w: (w.key, w.start_ms))]


def read_window(entry: Mapping[str, Any], layout: ModelLayout) -> WindowCounts:
    """An open window written by :func:`window_state`; raises ValueError when its counts do not
    have ``layout``'s (its baseline's) slot counts."""
    counts = np.asarray(entry["counts"], dtype=np.int64)
    performance = np.asarray(entry["performance"], dtype=np.int64)
    if counts.shape != (layout.size,) or performance.shape != (layout.performance_size,):
        raise ValueError(
            f"an open window of model {entry['model']} does not have the baseline's slot counts"
        )
    return WindowCounts(
        read_key(entry),
        int(entry["start_ms"]),
        int(entry["end_ms"]),
        int(entry["events"]),
        counts,
        performance,
        {str(name): int(n) for name, n in entry["detections"].items()},
    )


def checks_state(states: Mapping[CheckKey, CheckState]) -> list[dict[str, Any]]:
    """Every check's level and streaks as JSON data, sorted by (key, subject, check)."""
    return [
        {
            **key_state(key),
            "subject": subject,
            "check": check,
            "level": s.level.value,
            "above_warning": s.above_warning,
            "above_intervention": s.above_intervention,
        }
        for (key, subject, check), s in sorted(states.items(), key=_by_key)
    ]


def read_checks(entries: Iterable[Mapping[str, Any]]) -> dict[CheckKey, CheckState]:
    """The check states written by :func:`checks_state`."""
    return {
        (read_key(e), e["subject"], e["check"]): CheckState(
            Level(e["level"]), int(e["above_warning"]), int(e["above_intervention"])
        )
        for e in entries
    }


def series_state(series: Mapping[SeriesKey, DriftDetector]) -> list[dict[str, Any]]:
    """The window-series detectors as JSON data, sorted by (key, name)."""
    return [
        {**key_state(key), "name": name, "detector": d.state()}
        for (key, name), d in sorted(series.items(), key=_by_key)
    ]


def read_series(entries: Iterable[Mapping[str, Any]]) -> dict[SeriesKey, DriftDetector]:
    """The window-series detectors written by :func:`series_state`."""
    return {(read_key(e), e["name"]): detector_from_state(e["detector"]) for e in entries}


def sorted_counts(counts: Mapping[str, int]) -> dict[str, int]:
    """Counters by name, in name order, as plain ints.

    >>> sorted_counts({"b": 2, "a": 1})
    {'a': 1, 'b': 2}
    """
    return {name: int(counts[name]) for name in sorted(counts)}


def _by_key(item: tuple[Any, Any]) -> Any:
    return item[0]
