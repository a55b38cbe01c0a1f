"""Prometheus export: a custom collector built, at every scrape, from the latest closed windows.

:class:`LatestWindows` is a pipeline sink; :class:`DriftCollector` turns what it holds into fresh
metric families each time Prometheus scrapes. Rules the exported series follow:

- **Latest window per key.** Per (model, model_version, segment) only the window with the latest
  end is kept; an older window arriving later does not replace it.
- **Staleness.** A key whose latest window ended more than ``stale_after`` window lengths before
  the newest window end of its model is dropped (its latest window and its held levels), so a
  retired version, a segment value that stopped arriving, or a feature removed from the baseline
  stop being exported. ``forget_model`` drops everything of a model that is no longer configured.
- **Alert levels.** ``driftwarden_alert_level`` is the level a check *holds*: 0 ok, 1 warning,
  2 intervention. ``insufficient_data`` is never exported: a window with too few events leaves the
  held level as it was (as the state machine does), so a quiet hour neither resolves nor raises an
  alert. A check that has not yet had one window with enough data is not exported. A check
  absent from a key's latest window is dropped.
- **Segment cap.** Per (model, segment field), at most ``max_segments`` segment values are
  exported: those with the most events in their latest window (summed over versions; ties by
  segment text). ``field=__other__`` is always exported and does not count. The other values are
  folded into ``field=__other__``: only their alert levels, as the worst level per (subject,
  check) together with ``__other__``'s own; their scores are not exported (statistics of
  different slices cannot be combined from their values). ``driftwarden_segment_values_folded``
  counts them.
"""

from __future__ import annotations

import importlib.metadata
import itertools
import math
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import CollectorRegistry

from monitor.evaluate.levels import Level
from monitor.join.label_join import DELAY_BUCKETS_S, JoinStats
from monitor.window.windower import OTHER, WindowKey

PREFIX = "driftwarden_"
_KEY_LABELS = ("model", "model_version", "segment")

# report field of a subject → (metric suffix, help text)
SUBJECT_STATISTICS: dict[str, tuple[str, str]] = {
    "psi": ("psi", "Population stability index against the baseline"),
    "js": ("js_distance", "Jensen-Shannon distance (base 2) against the baseline"),
    "kl": ("kl_divergence", "Kullback-Leibler divergence of the window from the baseline"),
    "hellinger": ("hellinger_distance", "Hellinger distance against the baseline"),
    "wasserstein": (
        "wasserstein_distance",
        "Wasserstein distance in reference standard deviations",
    ),
    "ks": ("ks_distance", "Kolmogorov-Smirnov distance against the baseline"),
    "chi2_pvalue": ("chi2_p_value", "Chi-squared test p-value against the baseline"),
    "missing_rate": ("missing_ratio", "Share of the window's events missing the value"),
    "out_of_range_rate": ("out_of_range_ratio", "Share of values outside the baseline's range"),
    "unseen_rate": ("unseen_ratio", "Share of categories never seen in the baseline"),
}
LEVEL_VALUES = {Level.OK: 0, Level.WARNING: 1, Level.INTERVENTION: 2}

# label-join count → (family type, metric name after the prefix, help text); one series per model
PER_MODEL_LABEL_FAMILIES: dict[
    str, tuple[type[CounterMetricFamily | GaugeMetricFamily], str, str]
] = {
    "labels": (CounterMetricFamily, "labels", "Label events accepted from the label topics"),
    "joined": (CounterMetricFamily, "labels_joined", "Labels joined to their prediction"),
    "unmatched": (
        CounterMetricFamily,
        "labels_unmatched",
        "Labels given up on: their prediction never came within the horizon or buffer",
    ),
    "late_labels": (
        CounterMetricFamily,
        "labels_late",
        "Joined labels dated in a window that had already closed",
    ),
    "order_violations": (
        CounterMetricFamily,
        "label_order_violations",
        "Labels timestamped before their prediction (ordering or leakage problem)",
    ),
    "pending": (
        GaugeMetricFamily,
        "join_pending_predictions",
        "Predictions waiting for their label (recounted as windows close)",
    ),
}


@dataclass(frozen=True)
class RunningTotals:
    """Counts since start that the collector and /status read (copies, not live counters)."""

    events: Mapping[str, int] = field(default_factory=dict)
    rejected: Mapping[str, int] = field(default_factory=dict)
    late: Mapping[str, int] = field(default_factory=dict)
    windows: int = 0
    labels: JoinStats = field(default_factory=JoinStats)
    late_labels: Mapping[str, int] = field(default_factory=dict)
    cap_overflow: Mapping[str, int] = field(default_factory=dict)


ConsumerLag = Mapping[tuple[str, int], int]
"""Records behind the end of each (topic, partition)."""


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


def epoch_seconds(text: str) -> float:
    """Epoch seconds of an RFC 3339 instant of the report.

    >>> epoch_seconds("2019-04-02T12:00:00Z"), epoch_seconds("1970-01-01T00:00:00.250Z")
    (1554206400.0, 0.25)
    """
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def window_levels(record: Mapping[str, Any]) -> dict[tuple[str, str], Level]:
    """(subject, check) → level of a window report, subjects named as in alert reports.

    >>> window_levels({"features": {"x": {"levels": {"psi": "warning"}}},
    ...                "prediction": {"levels": {"psi": "ok"}}})
    {('x', 'psi'): <Level.WARNING: 'warning'>, ('prediction', 'psi'): <Level.OK: 'ok'>}
    """
    subjects: list[tuple[str, Mapping[str, Any]]] = list(record.get("features", {}).items())
    subjects += [(name, record[name]) for name in ("prediction", "performance") if name in record]
    return {
        (subject, check): Level(level)
        for subject, part in subjects
        for check, level in part.get("levels", {}).items()
    }


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

    def write(self, record: Mapping[str, Any]) -> None:
        """Take one report object (``window`` or ``alert``); other kinds are ignored."""
        kind = record.get("kind")
        if kind not in ("window", "alert"):
            return
        key = WindowKey(record["model"], record["model_version"], record["segment"])
        with self._lock:
            if kind == "window":
                self._window(key, record)
            else:
                self._alert(key, record)

    def forget_model(self, model: str) -> None:
        """Drop every series of a model that is no longer monitored."""
        with self._lock:
            self._latest = {k: v for k, v in self._latest.items() if k.model != model}
            self._newest_end.pop(model, None)
            for counter in (self._transitions, self._detections):
                for item in [item for item in counter if item[0] == model]:
                    del counter[item]

    def snapshot(self) -> Snapshot:
        """The current latest windows, sorted by key, and copies of the counters."""
        with self._lock:
            return Snapshot(
                tuple(self._latest[k] for k in sorted(self._latest)),
                dict(self._transitions),
                dict(self._detections),
            )

    def _window(self, key: WindowKey, record: Mapping[str, Any]) -> None:
        self._count_detections(key.model, record.get("detectors", {}))
        end_s = epoch_seconds(record["end"])
        previous = self._latest.get(key)
        if previous is not None and end_s < previous.end_s:
            return
        held = previous.levels if previous is not None else {}
        levels: dict[tuple[str, str], HeldLevel] = {}
        for check, level in window_levels(record).items():
            before = held.get(check)
            if before is not None and level in (Level.INSUFFICIENT_DATA, before.level):
                levels[check] = before
            elif level is not Level.INSUFFICIENT_DATA:
                levels[check] = HeldLevel(level)
        self._latest[key] = LatestWindow(key, record, epoch_seconds(record["start"]), end_s, levels)
        newest = self._newest_end[key.model] = max(self._newest_end.get(key.model, end_s), end_s)
        self._latest = {
            k: v
            for k, v in self._latest.items()
            if k.model != key.model or newest - v.end_s <= self.stale_after * (v.end_s - v.start_s)
        }

    def _alert(self, key: WindowKey, record: Mapping[str, Any]) -> None:
        self._transitions[(key.model, record["to"])] += 1
        latest = self._latest.get(key)
        if latest is not None:
            levels = dict(latest.levels)
            levels[(record["subject"], record["check"])] = HeldLevel(
                Level(record["to"]), record["window_end"]
            )
            self._latest[key] = LatestWindow(
                key, latest.record, latest.start_s, latest.end_s, levels
            )

    def _count_detections(self, model: str, detectors: Mapping[str, Mapping[str, Any]]) -> None:
        for name, verdict in detectors.items():
            fired = int(verdict.get("detections", 0)) + int(bool(verdict.get("drift", False)))
            if fired:
                self._detections[(model, name)] += fired


def segment_field(segment: str) -> str:
    """The segment field of a canonical segment (``""`` for the overall stream).

    >>> segment_field("platform=ios"), segment_field("")
    ('platform', '')
    """
    return segment.split("=", 1)[0] if segment else ""


def kept_segments(events: Mapping[tuple[str, str], int], max_segments: int) -> set[tuple[str, str]]:
    """Which (model, segment) keys to export: per (model, field), the ``max_segments`` segments
    with the most events (ties by segment text); the overall stream and ``__other__`` always.

    >>> counts = {("m", ""): 20, ("m", "p=a"): 5, ("m", "p=b"): 9, ("m", "p=c"): 5,
    ...           ("m", "p=__other__"): 1}
    >>> sorted(kept_segments(counts, 2))
    [('m', ''), ('m', 'p=__other__'), ('m', 'p=a'), ('m', 'p=b')]
    """
    groups: dict[tuple[str, str], list[tuple[int, str]]] = {}
    kept: set[tuple[str, str]] = set()
    for (model, segment), n in events.items():
        name = segment_field(segment)
        if not segment or segment == f"{name}={OTHER}":
            kept.add((model, segment))
        else:
            groups.setdefault((model, name), []).append((-n, segment))
    for (model, _), ranked in groups.items():
        kept.update((model, segment) for _, segment in sorted(ranked)[:max_segments])
    return kept


def _number(value: Any) -> float:
    """A report number as a sample value (the report writes NaN as null)."""
    return math.nan if value is None else float(value)


class _Families:
    """One fresh set of metric families; empty ones describe the collector."""

    def __init__(self) -> None:
        self.subjects: dict[tuple[str, str], GaugeMetricFamily] = {}
        for subject, labels in (
            ("feature", [*_KEY_LABELS, "feature"]),
            ("prediction", list(_KEY_LABELS)),
            ("label", list(_KEY_LABELS)),
        ):
            for stat, (suffix, text) in SUBJECT_STATISTICS.items():
                self.subjects[(subject, stat)] = GaugeMetricFamily(
                    f"{PREFIX}{subject}_{suffix}",
                    f"{text} ({subject}, latest closed window)",
                    labels=labels,
                )
        key = list(_KEY_LABELS)
        self.performance = GaugeMetricFamily(
            f"{PREFIX}performance",
            "Model performance metric on the latest window's labeled events",
            labels=[*key, "metric"],
        )
        self.performance_reference = GaugeMetricFamily(
            f"{PREFIX}performance_reference",
            "Model performance metric in the baseline",
            labels=[*key, "metric"],
        )
        self.labeled = GaugeMetricFamily(
            f"{PREFIX}window_labeled_events",
            "Events with both a prediction and a label in the latest window",
            labels=key,
        )
        self.alert_level = GaugeMetricFamily(
            f"{PREFIX}alert_level",
            "Level a check holds: 0 ok, 1 warning, 2 intervention",
            labels=[*key, "subject", "check"],
        )
        self.canary_psi = GaugeMetricFamily(
            f"{PREFIX}canary_psi",
            "PSI of a version against the stable version in the same window (canary vs stable)",
            labels=[*key, "subject", "stable_version"],
        )
        self.threshold = GaugeMetricFamily(
            f"{PREFIX}check_threshold",
            "Threshold a check was compared with in the latest window, per level",
            labels=[*key, "subject", "check", "level"],
        )
        self.window_events = GaugeMetricFamily(
            f"{PREFIX}window_events", "Events counted into the latest window", labels=key
        )
        self.folded = GaugeMetricFamily(
            f"{PREFIX}segment_values_folded",
            "Segment values past the export cap, folded into field=__other__",
            labels=["model", "field"],
        )
        self.last_end = GaugeMetricFamily(
            f"{PREFIX}last_window_end_timestamp_seconds",
            "End of the latest closed window",
            labels=["model", "model_version"],
        )
        self.events = CounterMetricFamily(f"{PREFIX}events", "Events accepted", labels=["model"])
        self.rejected = CounterMetricFamily(
            f"{PREFIX}events_rejected", "Messages rejected by the decoder", labels=["reason"]
        )
        self.late = CounterMetricFamily(
            f"{PREFIX}late_events",
            "Events dropped for arriving after their window closed",
            labels=["model"],
        )
        self.windows = CounterMetricFamily(f"{PREFIX}windows_closed", "Windows closed and scored")
        self.cap_overflow = CounterMetricFamily(
            f"{PREFIX}cap_overflow",
            "Events past a state cap, counted under __other__ instead (cap: model_versions, "
            "segment_values, unknown_features)",
            labels=["cap"],
        )
        self.detections = CounterMetricFamily(
            f"{PREFIX}drift_detections",
            "Online drift detector firings",
            labels=["model", "detector"],
        )
        self.transitions = CounterMetricFamily(
            f"{PREFIX}alert_transitions", "Alert level changes by new level", labels=["model", "to"]
        )
        self.lag = GaugeMetricFamily(
            f"{PREFIX}consumer_lag_records",
            "Records between the consumer position and the end of the partition",
            labels=["topic", "partition"],
        )
        self.per_model: dict[str, CounterMetricFamily | GaugeMetricFamily] = {
            source: kind(f"{PREFIX}{name}", text, labels=["model"])
            for source, (kind, name, text) in PER_MODEL_LABEL_FAMILIES.items()
        }
        self.unlabeled = CounterMetricFamily(
            f"{PREFIX}predictions_unlabeled",
            "Predictions that left the join buffer without a label, by reason "
            "(horizon: waited longer than labels.horizon; capacity: buffer full)",
            labels=["model", "reason"],
        )
        self.coverage = GaugeMetricFamily(
            f"{PREFIX}label_coverage_ratio",
            "Share of the predictions that left the join buffer with a label, since start",
            labels=["model"],
        )
        self.delay = HistogramMetricFamily(
            f"{PREFIX}label_delay_seconds",
            "Label time minus prediction time of joined pairs",
            labels=["model"],
        )
        self.baseline_info = GaugeMetricFamily(
            f"{PREFIX}baseline_info", "Digest of the loaded baseline", labels=["model", "digest"]
        )
        self.build_info = GaugeMetricFamily(
            f"{PREFIX}build_info", "Running driftwarden version", labels=["version"]
        )

    def all(self) -> Iterator[Metric]:
        yield from self.subjects.values()
        yield from (self.performance, self.performance_reference, self.labeled)
        yield from (self.alert_level, self.threshold, self.canary_psi, self.window_events)
        yield from (self.folded, self.last_end)
        yield from (self.events, self.rejected, self.late, self.windows, self.cap_overflow)
        yield from (self.detections, self.transitions, self.lag)
        yield from self.per_model.values()
        yield from (self.unlabeled, self.coverage, self.delay)
        yield from (self.baseline_info, self.build_info)


def _no_digests() -> Mapping[str, str]:
    return {}


class DriftCollector:
    """Prometheus ``Collector`` of driftwarden's metrics; see the module docstring for the rules.

    ``totals_provider`` returns the current :class:`RunningTotals`; ``baseline_digests`` the
    loaded baseline digest per model; ``lag_provider`` the consumer lag, when there is a consumer.
    Pass ``registry`` to register the collector on it.
    """

    def __init__(
        self,
        latest: LatestWindows,
        totals_provider: Callable[[], RunningTotals],
        *,
        max_segments: int,
        baseline_digests: Callable[[], Mapping[str, str]] = _no_digests,
        lag_provider: Callable[[], ConsumerLag] | None = None,
        version: str | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        if max_segments < 1:
            raise ValueError(
                f"max_segments must be at least 1, got {max_segments}; "
                "raise it to export that many segment values per field"
            )
        self.latest = latest
        self.totals_provider = totals_provider
        self.max_segments = max_segments
        self.baseline_digests = baseline_digests
        self.lag_provider = lag_provider
        self.version = version or importlib.metadata.version("driftwarden")
        if registry is not None:
            registry.register(self)

    def describe(self) -> Iterator[Metric]:
        """Every family this collector yields, without samples (for the registry's name check)."""
        return _Families().all()

    def collect(self) -> Iterator[Metric]:
        """Fresh metric families from the latest windows and the current totals."""
        families = _Families()
        snapshot = self.latest.snapshot()
        self._windows(families, snapshot.windows)
        for (model, detector), n in sorted(snapshot.detections.items()):
            families.detections.add_metric([model, detector], n)
        for (model, to), n in sorted(snapshot.transitions.items()):
            families.transitions.add_metric([model, to], n)
        totals = self.totals_provider()
        for model, n in sorted(totals.events.items()):
            families.events.add_metric([model], n)
        for reason, n in sorted(totals.rejected.items()):
            families.rejected.add_metric([reason], n)
        for model, n in sorted(totals.late.items()):
            families.late.add_metric([model], n)
        families.windows.add_metric([], totals.windows)
        for cap, n in sorted(totals.cap_overflow.items()):
            families.cap_overflow.add_metric([cap], n)
        _export_labels(families, totals)
        if self.lag_provider is not None:
            for (topic, partition), lag in sorted(self.lag_provider().items()):
                families.lag.add_metric([topic, str(partition)], lag)
        for model, digest in sorted(self.baseline_digests().items()):
            families.baseline_info.add_metric([model, digest], 1)
        families.build_info.add_metric([self.version], 1)
        return families.all()

    def _windows(self, families: _Families, windows: Sequence[LatestWindow]) -> None:
        events: Counter[tuple[str, str]] = Counter()
        for window in windows:
            events[(window.key.model, window.key.segment)] += int(window.record["events"])
        kept = kept_segments(events, self.max_segments)
        folded_levels: dict[tuple[WindowKey, str, str], int] = {}
        folded: dict[tuple[str, str], set[str]] = {}
        last_end: dict[tuple[str, str], float] = {}
        for window in windows:
            key = window.key
            model_version = (key.model, key.model_version)
            last_end[model_version] = max(last_end.get(model_version, window.end_s), window.end_s)
            if (key.model, key.segment) in kept:
                _export_window(families, window)
                target = key
            else:
                folded.setdefault((key.model, segment_field(key.segment)), set()).add(key.segment)
                target = key._replace(segment=f"{segment_field(key.segment)}={OTHER}")
            for (subject, check), held in window.levels.items():
                at = (target, subject, check)
                folded_levels[at] = max(folded_levels.get(at, 0), LEVEL_VALUES[held.level])
        for (key, subject, check), value in sorted(folded_levels.items()):
            families.alert_level.add_metric([*key, subject, check], value)
        for (model, name), values in sorted(folded.items()):
            families.folded.add_metric([model, name], len(values))
        for (model, version), end in sorted(last_end.items()):
            families.last_end.add_metric([model, version], end)


def _export_labels(families: _Families, totals: RunningTotals) -> None:
    """The label join's counters, coverage and delay histogram."""
    stats = totals.labels
    models = sorted(
        {*stats.labels, *stats.joined, *stats.pending, *(m for m, _ in stats.unlabeled)}
    )
    counts = {
        "labels": stats.labels,
        "joined": stats.joined,
        "unmatched": stats.unmatched,
        "late_labels": totals.late_labels,
        "order_violations": stats.order_violations,
        "pending": stats.pending,
    }
    for source, family in families.per_model.items():
        for model in models:  # zeros too, so rate() and ratios work from the first scrape
            family.add_metric([model], counts[source].get(model, 0))
    gone: Counter[str] = Counter()
    for (model, reason), n in sorted(stats.unlabeled.items()):
        families.unlabeled.add_metric([model, reason], n)
        gone[model] += n
    for model, joined in sorted(stats.joined.items()):
        families.coverage.add_metric([model], joined / max(1, joined + gone[model]))
    bounds = [*(str(float(b)) for b in DELAY_BUCKETS_S), "+Inf"]
    for model, buckets in sorted(stats.delay_counts.items()):
        cumulative: list[tuple[str, float]] = list(
            zip(bounds, itertools.accumulate(buckets), strict=True)
        )
        families.delay.add_metric(
            [model],
            cumulative,
            sum_value=stats.delay_sum_s.get(model, 0.0),
        )


def _export_window(families: _Families, window: LatestWindow) -> None:
    """The per-window gauges of one exported key."""
    key, record = list(window.key), window.record
    families.window_events.add_metric(key, record["events"])
    subjects = [("feature", [name], part) for name, part in record["features"].items()]
    subjects += [(s, [], record[s]) for s in ("prediction", "label") if s in record]
    for subject, extra, part in subjects:
        for stat in SUBJECT_STATISTICS:
            if stat in part:
                families.subjects[(subject, stat)].add_metric([*key, *extra], _number(part[stat]))
    thresholds = [(n, record["features"][n]) for n in record["features"]]
    thresholds += [(s, record[s]) for s in ("prediction", "performance") if s in record]
    for subject, part in thresholds:
        for check, tiers in part.get("thresholds", {}).items():
            for level in ("warning", "intervention"):
                families.threshold.add_metric([*key, subject, check, level], tiers[level])
    versus = record.get("versus")
    if versus is not None:
        compared = [*versus["features"].items()]
        if "prediction" in versus:
            compared.append(("prediction", versus["prediction"]))
        for subject, part in compared:
            families.canary_psi.add_metric(
                [*key, subject, versus["model_version"]], _number(part["psi"])
            )
    performance = record.get("performance")
    if performance is not None:
        families.labeled.add_metric(key, performance["labeled"])
        for metric, value in performance["metrics"].items():
            families.performance.add_metric([*key, metric], _number(value))
        for metric, value in performance["reference"].items():
            families.performance_reference.add_metric([*key, metric], _number(value))
