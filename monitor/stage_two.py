"""Stage 2: closed windows scored, checked, stepped through their alert levels, and written out.

:class:`StageTwo` takes the windows stage 2's open windows close
(:class:`~monitor.exchange.open_windows.OpenWindows`), feeds each overall window's values to the
online detectors, scores every window closing together at once, compares canary versions with
the stable one, steps every check's level, and hands the sinks each window's record followed by
the alerts it caused, in window order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from baselines.values import PREDICTION_NAME, PREDICTION_SUBJECT, Baseline
from detectors.online import DriftDetector, make_detector
from detectors.thresholds import NullSummary
from monitor.config import Settings
from monitor.errors import ConfigError
from monitor.evaluate.calibrations import StackedCalibrations
from monitor.evaluate.check_states import CheckStates
from monitor.evaluate.checks import Versus, drift_statistic
from monitor.evaluate.closing import CheckGroup, check_groups, step_groups
from monitor.evaluate.detector_feed import DetectorFeed
from monitor.evaluate.levels import LEVELS, CheckInput, CheckState, Level, Step, Steps
from monitor.evaluate.scoring import (
    FlatReferences,
    ModelColumns,
    compare_windows,
    score_window_columns,
)
from monitor.gc_pause import collector_paused
from monitor.sinks.base import AlertRecord, JsonReport, Sink, WindowRecord
from monitor.sinks.report import alert_record, firings, performance_report, versus_report
from monitor.sinks.window_lines import SubjectLines, window_line
from monitor.stage_one import Totals
from monitor.window.slot_layout import ModelLayout
from monitor.window.windower import WindowCounts, WindowKey


class StageTwo:
    """Score, check and write the closed windows of a set of models."""

    def __init__(
        self,
        settings: Settings,
        baselines: Mapping[str, Baseline],
        layouts: Mapping[str, ModelLayout],
        sinks: Sequence[Sink],
        totals: Totals,
        versions: Mapping[str, Mapping[str, Baseline]] | None = None,
    ) -> None:
        _check_calibration(settings, baselines)
        self.settings = settings
        self.versions = {} if versions is None else versions
        self.stable = {m.name: m.stable_version for m in settings.models if m.stable_version}
        self.sinks = list(sinks)
        self.totals = totals
        self.layouts = layouts
        self.layout_models = {id(layout): name for name, layout in layouts.items()}
        self.references: FlatReferences = {}
        self.score_detectors = DetectorFeed(
            tuple(("score", d.name, dict(d.params)) for d in settings.detectors.prediction),
            prefixed=False,
        )
        self.error_detectors = DetectorFeed(
            tuple((d.stream, d.name, d.params) for d in settings.detectors.errors), prefixed=True
        )
        self.critical = {m.name: frozenset(m.critical_features) for m in settings.models}
        self.calibration = {(name, ""): _calibration(b) for name, b in baselines.items()}
        for name, by_version in self.versions.items():
            for version, b in by_version.items():
                self.calibration[(name, version)] = _calibration(b)
        self.stacked = StackedCalibrations(self.calibration.values())
        self.levels = CheckStates()
        self.subject_lines = SubjectLines()
        self.series: dict[tuple[WindowKey, str], DriftDetector] = {}

    def raised(self) -> list[tuple[str, str, str, str, str, str]]:
        """Checks now in warning or intervention, sorted: (model, version, segment, subject,
        check, level)."""
        return sorted(
            (key.model, key.model_version, key.segment, subject, check, state.level.value)
            for (key, subject, check), state in self.check_states.items()
            if state.level in (Level.WARNING, Level.INTERVENTION)
        )

    @collector_paused()
    def emit(self, closed: list[WindowCounts]) -> None:
        """Feed, score, check and write the windows closed together (in report order)."""
        for window in closed:
            if not window.key.segment:
                self._feed_detectors(window)
        if closed:
            self._close(closed)

    def _close(self, closed: list[WindowCounts]) -> None:
        """Score, check and step the windows closing together, all at once, and hand the sinks
        each window's record followed by the alerts it caused, in window order."""
        scored = score_window_columns(
            [
                (
                    self.layouts[w.key.model],
                    w,
                    self.versions.get(w.key.model, {}).get(w.key.model_version),
                )
                for w in closed
            ],
            epsilon=self.settings.epsilon,
            references=self.references,
        )
        versus = self._versus(closed)
        alerts_config = self.settings.alerts
        groups = check_groups(
            scored,
            versus,
            alerts_config,
            lambda i: self._calibration_of(closed[i].key),
            lambda layout: self.critical.get(self.layout_models[id(layout)], frozenset()),
            self.stacked,
        )
        stepped = step_groups(
            groups,
            [w.key for w in closed],
            self.levels,
            consecutive=alerts_config.consecutive,
            hysteresis=alerts_config.hysteresis,
        )
        scored_at = {i: (m, row) for m in scored.models for row, i in enumerate(m.members)}
        # in window order: a key's window-series detectors see its windows as they close
        detectors = [self._detectors(w, *scored_at[i]) for i, w in enumerate(closed)]
        out: dict[int, tuple[WindowRecord, list[AlertRecord]]] = {}
        for group, steps in zip(groups, stepped, strict=True):
            parts, levels = self.subject_lines.lines(
                group, steps.reported, group.warning, group.intervention
            )
            transitions = self._transitions(closed, group, steps)
            performance = [c for c, (position, _) in enumerate(group.checks) if position < 0]
            for r, (i, part, by_check) in enumerate(zip(group.members, parts, levels, strict=True)):
                window = closed[i]
                tail: dict[str, Any] = {}
                if scored.performance[i]:
                    tail["performance"] = performance_report(
                        scored.performance[i],
                        scored.reference_performance[i],
                        {group.checks[c][1]: LEVELS[steps.reported[r, c]] for c in performance},
                        {
                            group.checks[c][1]: (
                                group.warning[r, c].item(),
                                group.intervention[r, c].item(),
                            )
                            for c in performance
                        },
                    )
                compared = versus[i]
                if compared is not None:
                    tail["versus"] = versus_report(compared)
                tail["detectors"] = detectors[i]
                record = WindowRecord(
                    window.key,
                    window.start_ms,
                    window.end_ms,
                    window.events,
                    by_check,
                    firings(detectors[i]),
                    JsonReport(window_line(window, part, tail)),
                )
                out[i] = (record, transitions.get(r, []))
        for i in range(len(closed)):
            record, alerts = out[i]
            self.totals.windows += 1
            for sink in self.sinks:
                sink.write(record)
                for alert in alerts:
                    sink.write(alert)

    def _transitions(
        self, closed: list[WindowCounts], group: CheckGroup, steps: Steps
    ) -> dict[int, list[AlertRecord]]:
        """The alert records of the level changes of ``group``'s windows, by row."""
        out: dict[int, list[AlertRecord]] = {}
        at = np.nonzero(steps.after != steps.before)
        which = group.model.model_of[group.rows[at[0]]].tolist()
        for r, c, k, *values in zip(
            *(part.tolist() for part in at),
            which,
            *(part[at].tolist() for part in (steps.reported, steps.before, steps.after)),
            steps.threshold[at].tolist(),
            *(part[at].tolist() for part in (group.value, group.warning, group.intervention)),
            group.sufficient[at].tolist(),
            strict=True,
        ):
            reported, before, after, threshold, value, warning, intervention, sufficient = values
            window = closed[group.members[r]]
            subject, check = group.names(k)[c]
            moved = Step(LEVELS[reported], LEVELS[before], LEVELS[after], threshold)
            inputs = CheckInput(subject, check, value, warning, intervention, sufficient)
            out.setdefault(r, []).append(alert_record(window.key, inputs, moved, window.end_ms))
        return out

    def _calibration_of(self, key: WindowKey) -> dict[str, dict[str, list[NullSummary]]]:
        """The null summaries a window's drift thresholds are calibrated from (its version's
        baseline, else its model's)."""
        calibration = self.calibration.get((key.model, key.model_version))
        return calibration or self.calibration[(key.model, "")]

    @property
    def check_states(self) -> dict[tuple[WindowKey, str, str], CheckState]:
        """The alert state of every check ever stepped, by (window key, subject, check)."""
        return self.levels.states()

    @check_states.setter
    def check_states(self, states: Mapping[tuple[WindowKey, str, str], CheckState]) -> None:
        self.levels = CheckStates(states)

    def _versus(self, closed: list[WindowCounts]) -> list[Versus | None]:
        """Per window, a canary window's drift against the stable version's window of the
        same time and segment (``None`` for the stable version and without one)."""
        stable = {
            (w.key.model, w.key.segment, w.start_ms): w
            for w in closed
            if w.key.model_version == self.stable.get(w.key.model)
        }
        against = [stable.get((w.key.model, w.key.segment, w.start_ms)) for w in closed]
        pairs = [
            (self.layouts[w.key.model], w, s)
            for w, s in zip(closed, against, strict=True)
            if s is not None and s is not w
        ]
        compared = iter(compare_windows(pairs, epsilon=self.settings.epsilon))
        min_events = self.settings.alerts.min_events
        return [
            None
            if s is None or s is w
            else Versus(s.key.model_version, next(compared), min(w.events, s.events) >= min_events)
            for w, s in zip(closed, against, strict=True)
        ]

    def _feed_detectors(self, window: WindowCounts) -> None:
        """Feed an overall window's prediction scores and pair errors to the online detectors."""
        model, version = window.key.model, window.key.model_version
        for feed in (self.score_detectors, self.error_detectors):
            window.detections.update(feed.detections(model, version, window.values))

    def _detectors(self, window: WindowCounts, model: ModelColumns, row: int) -> dict[str, Any]:
        """Per-event detections of the window, and the window-series detectors' verdicts (the
        window is ``row`` of its model's scores)."""
        out: dict[str, Any] = {
            name: {"detections": n} for name, n in sorted(window.detections.items())
        }
        position = model.layouts[0].position(PREDICTION_SUBJECT)
        if position is None:
            return out
        prediction = model.subjects[position]
        if prediction.events[row] < self.settings.alerts.min_events:
            return out
        statistic = self.settings.alerts.drift.statistic
        value = prediction.statistics[drift_statistic(prediction, statistic)][row].item()
        for spec in self.settings.detectors.window_series:
            name = f"{PREDICTION_NAME}_{statistic}_{spec.name}"
            detector = self.series.get((window.key, name))
            if detector is None:
                detector = self.series[(window.key, name)] = make_detector(spec.name, **spec.params)
            detector.update(value)
            out[name] = {"drift": detector.drift_detected}
        return out


def _calibration(baseline: Baseline) -> dict[str, dict[str, list[NullSummary]]]:
    """The baseline's null summaries by statistic and subject (prediction under __prediction__)."""
    return baseline.null_summaries()


def _check_calibration(settings: Settings, baselines: Mapping[str, Baseline]) -> None:
    """Calibrated thresholds only hold for the smoothing the baseline was calibrated with; a
    baseline without a calibration (an old file) has practical thresholds only, said once."""
    if settings.alerts.drift.mode == "fixed":
        return
    for name, baseline in baselines.items():
        calibration = baseline.calibration
        if calibration is None:
            import structlog  # only now: a replay that logs nothing never loads it

            structlog.get_logger().warning(
                "baseline has no null calibration: its drift checks use the practical "
                "thresholds only; rebuild it with driftwarden baseline build to calibrate",
                model=name,
                mode=settings.alerts.drift.mode,
            )
        elif calibration.epsilon != settings.epsilon:
            raise ConfigError(
                f"model {name!r}: epsilon is {settings.epsilon} but its baseline was calibrated "
                f"with {calibration.epsilon}; set epsilon: {calibration.epsilon} or rebuild the "
                "baseline with the same epsilon"
            )
