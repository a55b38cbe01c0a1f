"""The replay report (JSON Lines): one ``window`` object per closed window, one ``alert`` object per
level transition. Field order is fixed and floats are printed by orjson's shortest round-trip
form, so the same input gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson

from baselines.values import PREDICTION_SUBJECT
from monitor.evaluate.checks import PERFORMANCE, Versus
from monitor.evaluate.levels import CheckInput, Level, Step
from monitor.evaluate.scoring import SubjectScores, WindowScores
from monitor.window.windower import WindowKey


def iso_ms(epoch_ms: int) -> str:
    """RFC 3339 UTC text of an epoch-millisecond instant.

    >>> iso_ms(1554199872345), iso_ms(0)
    ('2019-04-02T10:11:12.345Z', '1970-01-01T00:00:00Z')
    """
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    millis = epoch_ms % 1000
    return f"{text}.{millis:03d}Z" if millis else f"{text}Z"


def worst(levels: Iterable[Level]) -> Level:
    """The most severe of some levels; insufficient_data only when nothing else is known.

    >>> worst([Level.OK, Level.WARNING]).value, worst([Level.INSUFFICIENT_DATA]).value
    ('warning', 'insufficient_data')
    """
    present = tuple(levels)
    for level in _BY_SEVERITY:
        if level in present:
            return level
    return Level.INSUFFICIENT_DATA


_BY_SEVERITY = (Level.INTERVENTION, Level.WARNING, Level.OK)


Thresholds = Mapping[tuple[str, str], tuple[float, float]]
"""(subject, check) → (warning, intervention) threshold the check was compared with."""


def _subject(
    scores: SubjectScores,
    levels: Mapping[str, Level],
    thresholds: Mapping[str, tuple[float, float]],
) -> dict[str, Any]:
    """A subject's scores, and its levels and thresholds when it has checks (the label has none)."""
    record: dict[str, Any] = {"events": scores.events, **scores.statistics, **scores.rates}
    if levels:
        # str() of a Level (a StrEnum) is its value, without the enum property's per-call cost
        record["levels"] = {check: str(level) for check, level in levels.items()}
        record["level"] = str(worst(levels.values()))
        record["thresholds"] = _thresholds(thresholds)
    return record


def _thresholds(by_check: Mapping[str, tuple[float, float]]) -> dict[str, dict[str, float]]:
    return {
        check: {"warning": warning, "intervention": intervention}
        for check, (warning, intervention) in by_check.items()
    }


def window_record(
    scores: WindowScores,
    levels: Mapping[tuple[str, str], Level],
    detectors: Mapping[str, Any],
    thresholds: Thresholds,
    versus: Versus | None = None,
) -> dict[str, Any]:
    """The report object of one closed window (levels and thresholds keyed by (subject, check))."""
    window = scores.window
    by_subject: dict[str, dict[str, Level]] = {}
    for (subject, check), level in levels.items():
        by_subject.setdefault(subject, {})[check] = level
    limits: dict[str, dict[str, tuple[float, float]]] = {}
    for (subject, check), pair in thresholds.items():
        limits.setdefault(subject, {})[check] = pair
    record: dict[str, Any] = {
        "kind": "window",
        "model": window.key.model,
        "model_version": window.key.model_version,
        "segment": window.key.segment,
        "start": iso_ms(window.start_ms),
        "end": iso_ms(window.end_ms),
        "events": window.events,
        "features": {
            name: _subject(s, by_subject.get(name, {}), limits.get(name, {}))
            for name, s in scores.features.items()
        },
    }
    if scores.prediction is not None:
        record["prediction"] = _subject(
            scores.prediction,
            by_subject.get(PREDICTION_SUBJECT, {}),
            limits.get(PREDICTION_SUBJECT, {}),
        )
    if scores.label is not None:
        record["label"] = _subject(scores.label, {}, {})
    if scores.performance:
        perf_levels = by_subject.get(PERFORMANCE, {})
        record["performance"] = {
            "labeled": int(scores.performance.get("n", 0)),
            "metrics": {k: v for k, v in scores.performance.items() if k != "n"},
            "reference": {k: v for k, v in scores.reference_performance.items() if k != "n"},
            "levels": {check: level.value for check, level in perf_levels.items()},
            "level": worst(perf_levels.values()).value,
            "thresholds": _thresholds(limits.get(PERFORMANCE, {})),
        }
    if versus is not None:
        compared = dict(versus.subjects)
        prediction = compared.pop(PREDICTION_SUBJECT, None)
        record["versus"] = {
            "model_version": versus.stable_version,
            "features": {name: _statistics(s) for name, s in compared.items()},
        }
        if prediction is not None:
            record["versus"]["prediction"] = _statistics(prediction)
    record["detectors"] = dict(detectors)
    return record


def _statistics(scores: SubjectScores) -> dict[str, Any]:
    return {"events": scores.events, **scores.statistics}


def alert_record(
    key: WindowKey, check: CheckInput, step: Step, window_end_ms: int
) -> dict[str, Any]:
    """The report object of one level transition."""
    return {
        "kind": "alert",
        "model": key.model,
        "model_version": key.model_version,
        "segment": key.segment,
        "subject": "prediction" if check.subject == PREDICTION_SUBJECT else check.subject,
        "check": check.check,
        "from": step.before.value,
        "to": step.after.value,
        "value": check.value,
        "threshold": step.threshold,
        "window_end": iso_ms(window_end_ms),
    }


class ReportWriter:
    """Appends report objects as JSON Lines to a file (or any binary stream)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream

    @classmethod
    def open(cls, path: Path) -> ReportWriter:
        return cls(path.open("wb"))

    def write(self, record: Mapping[str, Any]) -> None:
        self.stream.write(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))

    def close(self) -> None:
        self.stream.close()
