"""The Prometheus collector: at every scrape, fresh metric families from the metrics store.

:class:`DriftCollector` reads a :class:`~monitor.sinks.latest_windows.Snapshot` of the
:class:`~monitor.sinks.latest_windows.LatestWindows` store (which keeps the latest window per key
and drops stale ones) and the process's running totals, and fills the families of
:mod:`monitor.sinks.metric_families`. Rules the exported series follow:

- **Alert levels.** ``driftwarden_alert_level`` is the level a check *holds* (0 ok, 1 warning,
  2 intervention: :attr:`Level.rank <monitor.evaluate.levels.Level.rank>`); ``insufficient_data``
  is never exported, and a check that holds no level yet is not exported.
- **Segment cap.** Per (model, segment field), at most ``max_segments`` segment values are
  exported: those with the most events in their latest window (summed over versions; ties by
  segment text). ``field=__other__`` is always exported and does not count. The other values are
  folded into ``field=__other__``: only their alert levels, as the worst level per (subject,
  check) together with ``__other__``'s own; their scores are not exported (statistics of
  different slices cannot be combined from their values). ``driftwarden_segment_values_folded``
  counts them.
- **One voice per model.** Given ``owned_models`` (the models this process's stage 2 owns, read
  at every scrape), the families about a model
  (:func:`~monitor.sinks.metric_families.is_model_family`) keep only the series of owned models;
  the process families are exported whole. Without it every model is owned.
"""

from __future__ import annotations

import importlib.metadata
import itertools
import math
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import CollectorRegistry

from baselines.values import class_subject
from monitor.join.label_join import DELAY_BUCKETS_S, JoinStats
from monitor.sinks.latest_windows import LatestWindow, LatestWindows
from monitor.sinks.metric_families import SUBJECT_STATISTICS, MetricFamilies, is_model_family
from monitor.window.caps import OTHER
from monitor.window.windower import WindowKey

if TYPE_CHECKING:
    from monitor.sources.label_pacing import Paced


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

OwnedModels = Callable[[], Collection[str]]
"""The models this process's stage 2 owns, now."""


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


def _no_digests() -> Mapping[str, str]:
    return {}


class DriftCollector:
    """Prometheus ``Collector`` of driftwarden's metrics; see the module docstring for the rules.

    ``totals_provider`` returns the current :class:`RunningTotals`; ``baseline_digests`` the
    loaded baseline digest per model; ``lag_provider`` the consumer lag and ``pacing_provider``
    the label partitions held back, when there is a consumer; ``owned_models`` the models whose
    series this process exports (default: every model). Pass ``registry`` to register the
    collector on it.
    """

    def __init__(
        self,
        latest: LatestWindows,
        totals_provider: Callable[[], RunningTotals],
        *,
        max_segments: int,
        baseline_digests: Callable[[], Mapping[str, str]] = _no_digests,
        lag_provider: Callable[[], ConsumerLag] | None = None,
        pacing_provider: Callable[[], Paced] | None = None,
        owned_models: OwnedModels | None = None,
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
        self.pacing_provider = pacing_provider
        self.owned_models = owned_models
        self.version = version or importlib.metadata.version("driftwarden")
        if registry is not None:
            registry.register(self)

    def describe(self) -> Iterator[Metric]:
        """Every family this collector yields, without samples (for the registry's name check)."""
        return MetricFamilies().all()

    def collect(self) -> Iterator[Metric]:
        """Fresh metric families from the latest windows and the current totals."""
        families = MetricFamilies()
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
        if self.pacing_provider is not None:
            paced = self.pacing_provider()
            for topic, partition in sorted(paced.partitions):
                held = (topic, partition) in paced.held
                families.held_back.add_metric([topic, str(partition)], int(held))
        for model, digest in sorted(self.baseline_digests().items()):
            families.baseline_info.add_metric([model, digest], 1)
        families.build_info.add_metric([self.version], 1)
        if self.owned_models is None:
            return families.all()
        return _owned(families.all(), frozenset(self.owned_models()))

    def _windows(self, families: MetricFamilies, windows: Sequence[LatestWindow]) -> None:
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
                folded_levels[at] = max(folded_levels.get(at, 0), held.level.rank)
        for (key, subject, check), value in sorted(folded_levels.items()):
            families.alert_level.add_metric([*key, subject, check], value)
        for (model, name), values in sorted(folded.items()):
            families.folded.add_metric([model, name], len(values))
        for (model, version), end in sorted(last_end.items()):
            families.last_end.add_metric([model, version], end)


def _owned(families: Iterator[Metric], owned: frozenset[str]) -> Iterator[Metric]:
    """``families`` with the series of models not in ``owned`` left out of the model families."""
    for family in families:
        if is_model_family(family.name):
            family.samples = [s for s in family.samples if s.labels["model"] in owned]
        yield family


def _export_labels(families: MetricFamilies, totals: RunningTotals) -> None:
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


#: The kinds of a drift check's thresholds besides the ones it was compared with (``applied``).
_KINDS = ("practical", "statistical")


def _export_window(families: MetricFamilies, window: LatestWindow) -> None:
    """The per-window gauges of one exported key."""
    key, record = list(window.key), window.record
    families.window_events.add_metric(key, record["events"])
    subjects = [("feature", [name], part) for name, part in record["features"].items()]
    classes = record.get("classes", {})
    subjects += [("class", [name], part) for name, part in classes.items()]
    subjects += [(s, [], record[s]) for s in ("prediction", "label") if s in record]
    for subject, extra, part in subjects:
        for stat in SUBJECT_STATISTICS:
            if stat in part:
                families.subjects[(subject, stat)].add_metric([*key, *extra], _number(part[stat]))
    thresholds = [(n, record["features"][n]) for n in record["features"]]
    thresholds += [(class_subject(n), part) for n, part in classes.items()]
    thresholds += [(s, record[s]) for s in ("prediction", "performance") if s in record]
    for subject, part in thresholds:
        for check, tiers in part.get("thresholds", {}).items():
            for kind, pair in (("applied", tiers), *((k, tiers[k]) for k in _KINDS if k in tiers)):
                for level in ("warning", "intervention"):
                    if pair[level] is not None:
                        families.threshold.add_metric(
                            [*key, subject, check, level, kind], pair[level]
                        )
    versus = record.get("versus")
    if versus is not None:
        compared = [*versus["features"].items()]
        compared += [(class_subject(c), part) for c, part in versus.get("classes", {}).items()]
        if "prediction" in versus:
            compared.append(("prediction", versus["prediction"]))
        for subject, part in compared:
            families.canary_psi.add_metric(
                [*key, subject, versus["model_version"]], _number(part["psi"])
            )
    performance = record.get("performance")
    if performance is not None:
        families.labeled.add_metric(key, performance["labeled"])
        for part, overall, per_class in (
            ("metrics", families.performance, families.class_performance),
            ("reference", families.performance_reference, families.class_performance_reference),
        ):
            for metric, value in performance[part].items():
                name, _, of_class = metric.partition("[")
                if of_class:
                    per_class.add_metric([*key, name, of_class[:-1]], _number(value))
                else:
                    overall.add_metric([*key, metric], _number(value))
