"""Windows closing together: check states kept in arrays, and windows of one key stepped in
order when several of them close at once."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
import pytest

from baselines.build import build_baseline
from baselines.values import Baseline
from monitor.batches import RawRecords
from monitor.config import Settings
from monitor.evaluate.check_states import CheckStates
from monitor.evaluate.checks import DRIFT_CHECKS, canary_checks, drift_tiers, window_checks
from monitor.evaluate.levels import CheckState, Level, step
from monitor.evaluate.scoring import score_windows
from monitor.pipeline import Pipeline
from monitor.sinks.base import AlertRecord, Sink
from monitor.sinks.memory import ListSink
from monitor.sinks.report import alert_record, window_record
from monitor.stage_two import StageTwo
from monitor.window.windower import WindowCounts, WindowKey
from tests.support.builders import training
from tests.support.state_stream import HOUR, NOW_MS, report_lines, state_settings

KEY = WindowKey("m", "v1", "")


def test_check_states_come_back_as_they_were_given() -> None:
    """The states a CheckStates is made from are the states it gives back, in their order."""
    states = {
        (KEY, "x", "psi"): CheckState(Level.WARNING, 2, 0),
        (KEY, "x", "missing_rate"): CheckState(Level.OK, 0, 0),
        (WindowKey("m", "v2", "ios"), "y", "ks"): CheckState(Level.INTERVENTION, 3, 3),
    }
    assert CheckStates(states).states() == states


def test_a_check_seen_first_starts_at_ok_without_streaks() -> None:
    """The rows of new checks are added after the known ones, at ok with no streak."""
    table = CheckStates({(KEY, "x", "psi"): CheckState(Level.WARNING, 2, 0)})
    rows = table.rows_of(KEY, (("x", "psi"), ("y", "psi")))
    assert rows.tolist() == [0, 1]
    assert table.states()[(KEY, "y", "psi")] == CheckState(Level.OK, 0, 0)


def test_new_checks_take_the_next_rows_and_come_back_in_that_order() -> None:
    """A new key's checks, then a known key's new check, take the rows after every row before;
    the states come back in row order."""
    table, other = CheckStates(), WindowKey("m", "v2", "")
    assert table.rows_of(KEY, (("x", "psi"), ("y", "psi"))).tolist() == [0, 1]
    assert table.rows_of(other, (("x", "psi"),)).tolist() == [2]
    assert table.rows_of(KEY, (("x", "psi"), ("performance", "accuracy"))).tolist() == [0, 3]
    assert list(table.states()) == [
        (KEY, "x", "psi"),
        (KEY, "y", "psi"),
        (other, "x", "psi"),
        (KEY, "performance", "accuracy"),
    ]


def _lines(hours: int = 6, per_hour: int = 240) -> list[bytes]:
    """In-order events of model m, two versions and two platforms, labelled in odd hours only
    (so windows differ in their checks); x drifts in the third and fourth hours, so levels rise
    and fall back."""
    rng = np.random.default_rng(5)
    times = np.sort(rng.integers(0, hours * HOUR, hours * per_hour)).tolist()
    lines = []
    for i, t in enumerate(times):
        x = float(rng.normal(2.0 if 2 <= t // HOUR < 4 else 0.0, 1))
        event = {
            "event_id": f"e{i}",
            "model": "m",
            "model_version": "v2" if i % 3 == 0 else "v1",
            "timestamp": t,
            "features": {"x": x, "y": float(rng.uniform(0, 10)), "color": "red"},
            "prediction": float(1 / (1 + np.exp(-x))),
            "segments": {"platform": str(rng.choice(["ios", "android"]))},
        }
        if t // HOUR % 2:
            event["label"] = int(rng.random() < 0.5)
        lines.append(orjson.dumps(event))
    return lines


def _run(pipeline: Pipeline, lines: list[bytes], batch: int) -> None:
    for start in range(0, len(lines), batch):
        part = lines[start : start + batch]
        offsets = np.arange(start, start + len(part))
        pipeline.process_records(
            RawRecords(part, np.zeros(len(part), np.int64), offsets, np.full(len(part), -1)),
            now_ms=NOW_MS,
        )
    pipeline.finish()


def _report(baseline: Baseline, lines: list[bytes], batch: int) -> list[bytes]:
    sink = ListSink()
    _run(Pipeline(state_settings(), {"m": baseline}, [sink]), lines, batch)
    return report_lines(sink)


def test_windows_of_one_key_closing_at_once_step_in_order(baseline: Baseline) -> None:
    """Every window closing at the end of the input gives the report of windows closing one
    hour at a time: each key's windows are stepped, and its window-series detectors fed, one
    after the other, whichever checks each window has."""
    lines = _lines()
    hourly = _report(baseline, lines, batch=60)
    assert b'"kind":"alert"' in b"".join(hourly)
    assert _report(baseline, lines, batch=len(lines)) == hourly


class OneAtATime(StageTwo):
    """Stage 2 judging each closed window alone, a check at a time: ``window_checks``, ``step``
    on each check's state and ``window_record`` (its detectors count detections only, as
    without window-series detectors)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.states: dict[tuple[WindowKey, str, str], CheckState] = {}

    @classmethod
    def pipeline(cls, settings: Settings, baselines: dict[str, Baseline], sink: Sink) -> Pipeline:
        """A pipeline whose stage 2 is this one."""
        pipeline = Pipeline(settings, baselines, [sink])
        pipeline.stage2 = cls(settings, baselines, pipeline.layouts, [sink], pipeline.totals)
        return pipeline

    def _close(self, closed: list[WindowCounts]) -> None:
        alerts = self.settings.alerts
        scored = score_windows(
            [(self.layouts[w.key.model], w, None) for w in closed], epsilon=self.settings.epsilon
        )
        for window, scores, versus in zip(closed, scored, self._versus(closed), strict=True):
            key = window.key
            checks = window_checks(
                scores, alerts, self._calibration_of(key), self.critical.get(key.model, frozenset())
            )
            if versus is not None:
                checks.extend(canary_checks(versus, alerts.canary))
            levels, transitions = {}, []
            for check in checks:
                state = self.states.setdefault((key, check.subject, check.check), CheckState())
                moved = step(
                    state, check, consecutive=alerts.consecutive, hysteresis=alerts.hysteresis
                )
                levels[(check.subject, check.check)] = moved.reported
                if moved.after is not moved.before:
                    transitions.append(alert_record(key, check, moved, window.end_ms))
            detectors = {name: {"detections": n} for name, n in sorted(window.detections.items())}
            tiers = drift_tiers(scores, alerts, self._calibration_of(key))
            thresholds = {
                (c.subject, c.check): (
                    c.warning,
                    c.intervention,
                    *(tiers[c.subject] if c.check in DRIFT_CHECKS else ()),
                )
                for c in checks
            }
            record = window_record(scores, levels, detectors, thresholds, versus)
            self.totals.windows += 1
            for sink in self.sinks:
                sink.write(record)
                for transition in transitions:
                    sink.write(transition)


def _alerts(**drift: Any) -> dict[str, Any]:
    return {"min_events": 50, "performance": {"min_labels": 50}, "drift": drift}


CONFIGS = {
    "fixed": {},
    "calibrated, Benjamini-Hochberg": {"alerts": _alerts(mode="calibrated", correction="bh")},
    "KS, Bonferroni": {
        "alerts": _alerts(mode="calibrated", correction="bonferroni", statistic="ks")
    },
    "canary, critical feature": {
        "models": [
            {"name": "m", "baseline": "m.json", "stable_version": "v1", "critical_features": ["x"]}
        ]
    },
}


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_windows_judged_together_equal_each_window_judged_alone(
    baseline: Baseline, config: dict[str, Any]
) -> None:
    """Checks, levels, alerts and report lines of windows judged as arrays are those of each
    window judged alone, check by check: the same records and the same bytes."""
    settings: Settings = state_settings(
        detectors={"prediction": [{"name": "page_hinkley_np"}], "window_series": []}, **config
    )
    together, alone = ListSink(), ListSink()
    lines = _lines()
    _run(Pipeline(settings, {"m": baseline}, [together]), lines, batch=60)
    _run(OneAtATime.pipeline(settings, {"m": baseline}, alone), lines, batch=60)
    assert any(isinstance(r, AlertRecord) for r in alone.records)
    assert report_lines(together) == report_lines(alone)
    assert together.records == alone.records


def test_a_percent_sign_in_a_feature_name_survives_the_templates() -> None:
    """Lines whose template has a ``%`` in a name, and numbers and levels the same in every
    window (written into the template once), are those of each window judged alone."""
    table = training()
    table = table.rename_columns(["x%d" if name == "x" else name for name in table.column_names])
    named = build_baseline(table, model="m", prediction="score", segments=("platform",))
    settings = state_settings(detectors={"prediction": [], "window_series": []})
    together, alone = ListSink(), ListSink()
    lines = [line.replace(b'"x":', b'"x%d":') for line in _lines()]
    _run(Pipeline(settings, {"m": named}, [together]), lines, batch=60)
    _run(OneAtATime.pipeline(settings, {"m": named}, alone), lines, batch=60)
    assert b'"x%d":{"events"' in report_lines(together)[0]
    assert report_lines(together) == report_lines(alone)
