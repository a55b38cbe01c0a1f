"""The replay report (JSON Lines): one ``window`` object per closed window, one ``alert`` object per
level transition. Field order is fixed and floats are printed by orjson's shortest round-trip
form, so the same input gives the same bytes.

:func:`alert_record` builds the pipeline's alert records (:mod:`monitor.sinks.base`) with their
report objects; its window records are written from arrays by :mod:`monitor.sinks.window_lines`,
and :func:`window_record`, one window at a time from its scores, is their reference (the tests
compare the two). :func:`read_record` reads a report object back into its record (the report
file as input, e.g. for tests and tools).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from baselines.values import PREDICTION_NAME, PREDICTION_SUBJECT
from monitor.evaluate.checks import PERFORMANCE, Versus
from monitor.evaluate.levels import CheckInput, Level, Step
from monitor.evaluate.scoring import SubjectScores, WindowScores
from monitor.sinks.base import AlertRecord, Record, WindowRecord, report_json
from monitor.window.slot_layout import CLASS_PREFIX
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


def epoch_seconds(text: str) -> float:
    """Epoch seconds of an RFC 3339 instant of the report.

    >>> epoch_seconds("2019-04-02T12:00:00Z"), epoch_seconds("1970-01-01T00:00:00.250Z")
    (1554206400.0, 0.25)
    """
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _epoch_ms(text: str) -> int:
    """Epoch milliseconds of an instant :func:`iso_ms` wrote (exact: it has whole milliseconds).

    >>> _epoch_ms(iso_ms(1554199872345)), _epoch_ms(iso_ms(-1))
    (1554199872345, -1)
    """
    return round(epoch_seconds(text) * 1000)


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


Thresholds = Mapping[tuple[str, str], tuple[float, ...]]
"""(subject, check) → (warning, intervention) threshold the check was compared with, followed
for a drift check by its practical and statistical (warning, intervention) (``DriftTiers``)."""


def _subject(
    scores: SubjectScores,
    levels: Mapping[str, Level],
    thresholds: Mapping[str, tuple[float, ...]],
) -> dict[str, Any]:
    """A subject's scores, and its levels and thresholds when it has checks (the label has none)."""
    record: dict[str, Any] = {"events": scores.events, **scores.statistics, **scores.rates}
    if levels:
        # str() of a Level (a StrEnum) is its value, without the enum property's per-call cost
        record["levels"] = {check: str(level) for check, level in levels.items()}
        record["level"] = str(worst(levels.values()))
        record["thresholds"] = _thresholds(thresholds)
    return record


def _thresholds(by_check: Mapping[str, tuple[float, ...]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for check, tiers in by_check.items():
        out[check] = {"warning": tiers[0], "intervention": tiers[1]}
        for kind, at in (("practical", 2), ("statistical", 4)):
            if len(tiers) > at:
                warning, intervention = (_number(v) for v in tiers[at : at + 2])
                out[check][kind] = {"warning": warning, "intervention": intervention}
    return out


def _number(value: float) -> float | None:
    """``value``, or ``None`` (JSON null) for NaN: a threshold that does not exist."""
    return None if math.isnan(value) else value


def window_record(
    scores: WindowScores,
    levels: Mapping[tuple[str, str], Level],
    detectors: Mapping[str, Any],
    thresholds: Thresholds,
    versus: Versus | None = None,
) -> WindowRecord:
    """The record of one closed window (levels and thresholds keyed by (subject, check)): the
    reference of the lines :mod:`monitor.sinks.window_lines` writes."""
    window = scores.window
    by_subject: dict[str, dict[str, Level]] = {}
    for (subject, check), level in levels.items():
        by_subject.setdefault(subject, {})[check] = level
    limits: dict[str, dict[str, tuple[float, ...]]] = {}
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
    }
    record["features"], classes = _features_and_classes(
        scores.features,
        lambda name, s: _subject(s, by_subject.get(name, {}), limits.get(name, {})),
    )
    if classes:
        record["classes"] = classes
    if scores.prediction is not None:
        record["prediction"] = _subject(
            scores.prediction,
            by_subject.get(PREDICTION_SUBJECT, {}),
            limits.get(PREDICTION_SUBJECT, {}),
        )
    if scores.label is not None:
        record["label"] = _subject(scores.label, {}, {})
    if scores.performance:
        record["performance"] = performance_report(
            scores.performance,
            scores.reference_performance,
            by_subject.get(PERFORMANCE, {}),
            limits.get(PERFORMANCE, {}),
        )
    if versus is not None:
        record["versus"] = versus_report(versus)
    record["detectors"] = dict(detectors)
    named = [(name, name) for name in scores.features]  # (subject, as alert records name it)
    if scores.prediction is not None:
        named.append((PREDICTION_SUBJECT, PREDICTION_NAME))
    if scores.performance:
        named.append((PERFORMANCE, PERFORMANCE))
    return WindowRecord(
        window.key,
        window.start_ms,
        window.end_ms,
        window.events,
        {
            (reported, check): level
            for subject, reported in named
            for check, level in by_subject.get(subject, {}).items()
        },
        firings(detectors),
        record,
    )


def performance_report(
    performance: Mapping[str, float],
    reference: Mapping[str, float],
    levels: Mapping[str, Level],
    thresholds: Mapping[str, tuple[float, ...]],
) -> dict[str, Any]:
    """The ``performance`` part of a window's report object."""
    return {
        "labeled": int(performance.get("n", 0)),
        "metrics": {k: v for k, v in performance.items() if k != "n"},
        "reference": {k: v for k, v in reference.items() if k != "n"},
        "levels": {check: level.value for check, level in levels.items()},
        "level": worst(levels.values()).value,
        "thresholds": _thresholds(thresholds),
    }


def versus_report(versus: Versus) -> dict[str, Any]:
    """The ``versus`` part of a canary window's report object."""
    compared = dict(versus.subjects)
    prediction = compared.pop(PREDICTION_SUBJECT, None)
    features, classes = _features_and_classes(compared, lambda _, s: _statistics(s))
    out: dict[str, Any] = {"model_version": versus.stable_version, "features": features}
    if classes:
        out["classes"] = classes
    if prediction is not None:
        out["prediction"] = _statistics(prediction)
    return out


def _features_and_classes(
    subjects: Mapping[str, SubjectScores], render: Callable[[str, SubjectScores], Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The rendered subjects split into features by name and a multiclass model's class
    probabilities (``prediction[<class>]``) by class."""
    features: dict[str, Any] = {}
    classes: dict[str, Any] = {}
    for name, scores in subjects.items():
        if name.startswith(CLASS_PREFIX):
            classes[name[len(CLASS_PREFIX) : -1]] = render(name, scores)
        else:
            features[name] = render(name, scores)
    return features, classes


def _statistics(scores: SubjectScores) -> dict[str, Any]:
    return {"events": scores.events, **scores.statistics}


def alert_record(key: WindowKey, check: CheckInput, step: Step, window_end_ms: int) -> AlertRecord:
    """The record of one level transition."""
    subject = PREDICTION_NAME if check.subject == PREDICTION_SUBJECT else check.subject
    report = {
        "kind": "alert",
        "model": key.model,
        "model_version": key.model_version,
        "segment": key.segment,
        "subject": subject,
        "check": check.check,
        "from": step.before.value,
        "to": step.after.value,
        "value": check.value,
        "threshold": step.threshold,
        "window_end": iso_ms(window_end_ms),
    }
    return AlertRecord(
        key,
        subject,
        check.check,
        step.before,
        step.after,
        check.value,
        step.threshold,
        window_end_ms,
        report,
    )


def firings(detectors: Mapping[str, Mapping[str, Any]]) -> dict[str, int]:
    """Per detector of a window report, its detections plus one for a drift verdict; detectors
    that did not fire are left out.

    >>> firings({"adwin": {"detections": 2, "drift": True}, "kswin": {"drift": False}})
    {'adwin': 3}
    """
    fired = {
        name: int(verdict.get("detections", 0)) + int(bool(verdict.get("drift", False)))
        for name, verdict in detectors.items()
    }
    return {name: n for name, n in fired.items() if n}


def read_record(report: Mapping[str, Any]) -> Record:
    """The record of a report object (a line of the report file, parsed).

    >>> alert = read_record({"kind": "alert", "model": "m", "model_version": "v1",
    ...     "segment": "", "subject": "x", "check": "psi", "from": "ok", "to": "warning",
    ...     "value": 0.3, "threshold": 0.1, "window_end": "2019-04-02T12:00:00Z"})
    >>> alert.after, alert.window_end_ms
    (<Level.WARNING: 'warning'>, 1554206400000)
    >>> read_record({"kind": "alert", "model": "m"})
    Traceback (most recent call last):
    ValueError: not a report object of driftwarden: it has no field 'model_version'
    """
    try:
        return _read_record(report)
    except KeyError as missing:
        raise ValueError(f"not a report object of driftwarden: it has no field {missing}") from None
    except ValueError as error:
        raise ValueError(f"not a report object of driftwarden: {error}") from None


def _read_record(report: Mapping[str, Any]) -> Record:
    key = WindowKey(report["model"], report["model_version"], report["segment"])
    if report["kind"] == "alert":
        return AlertRecord(
            key,
            report["subject"],
            report["check"],
            Level(report["from"]),
            Level(report["to"]),
            report["value"],
            report["threshold"],
            _epoch_ms(report["window_end"]),
            report,
        )
    subjects: list[tuple[str, Mapping[str, Any]]] = list(report["features"].items())
    subjects += [(name, report[name]) for name in ("prediction", "performance") if name in report]
    return WindowRecord(
        key,
        _epoch_ms(report["start"]),
        _epoch_ms(report["end"]),
        report["events"],
        {
            (subject, check): Level(level)
            for subject, part in subjects
            for check, level in part.get("levels", {}).items()
        },
        firings(report.get("detectors", {})),
        report,
    )


class ReportWriter:
    """Sink appending report objects as JSON Lines to a file (or any binary stream)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self.stream = stream

    @classmethod
    def open(cls, path: Path) -> ReportWriter:
        return cls(path.open("wb"))

    def write(self, record: Record) -> None:
        self.stream.write(report_json(record.report) + b"\n")

    def close(self) -> None:
        self.stream.close()
