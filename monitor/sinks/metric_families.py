"""The metric catalogue: every family driftwarden exports, its name, type, labels, help text
and scope.

:class:`MetricFamilies` is one fresh, empty set of them; the collector
(:mod:`monitor.sinks.collector`) fills one at every scrape, and the empty set describes the
collector to the registry.

**Scope.** A family is about a *model* (its windows, checks, levels, events: every family with a
``model`` label but those below) or about the *process* (:data:`PROCESS_FAMILIES`). With several
replicas a model's families are exported only by the process whose stage 2 owns the model (one
voice per model), so the rules need no aggregation for them; each process exports its own
process families, and the rules and dashboards sum them over pods (docs/scale-out.md).
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

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

# performance families: (metric name after the prefix, help text, labels after "metric")
PERFORMANCE_FAMILIES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("performance", "Model performance metric on the latest window's labeled events", ()),
    ("performance_reference", "Model performance metric in the baseline", ()),
    (
        "class_performance",
        "Performance metric of one class on the latest window's labeled events (multiclass)",
        ("class",),
    ),
    (
        "class_performance_reference",
        "Performance metric of one class in the baseline (multiclass)",
        ("class",),
    ),
)

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


PROCESS_FAMILIES = frozenset(
    PREFIX + name
    for name in (
        "events_rejected",
        "windows_closed",
        "cap_overflow",
        "consumer_lag_records",
        "label_partition_held_back",
        *(name for _, name, _ in PER_MODEL_LABEL_FAMILIES.values()),
        "predictions_unlabeled",
        "label_coverage_ratio",
        "label_delay_seconds",
        "baseline_info",
        "build_info",
    )
)
"""Families about the process: its decoder's rejects, the windows its stage 2 closed, its caps,
its partitions' lag and label pacing, its label join (a source partition's, stage 1), the
baselines it loaded and its build. Each process exports its own (label-join families per model:
of this process's partitions). Every other family is about a model."""


def is_model_family(name: str) -> bool:
    """Whether the family ``name`` (without ``_total``) is about a model, not the process.

    >>> is_model_family("driftwarden_alert_level"), is_model_family("driftwarden_events_rejected")
    (True, False)
    """
    return name not in PROCESS_FAMILIES


class MetricFamilies:
    """One fresh set of metric families; empty ones describe the collector."""

    def __init__(self) -> None:
        self.subjects: dict[tuple[str, str], GaugeMetricFamily] = {}
        for subject, labels, name in (
            ("feature", [*_KEY_LABELS, "feature"], "feature"),
            ("prediction", list(_KEY_LABELS), "prediction"),
            ("class", [*_KEY_LABELS, "class"], "class probability"),
            ("label", list(_KEY_LABELS), "label"),
        ):
            for stat, (suffix, text) in SUBJECT_STATISTICS.items():
                self.subjects[(subject, stat)] = GaugeMetricFamily(
                    f"{PREFIX}{subject}_{suffix}",
                    f"{text} ({name}, latest closed window)",
                    labels=labels,
                )
        key = list(_KEY_LABELS)
        (
            self.performance,
            self.performance_reference,
            self.class_performance,
            self.class_performance_reference,
        ) = (
            GaugeMetricFamily(f"{PREFIX}{name}", text, labels=[*key, "metric", *extra])
            for name, text, extra in PERFORMANCE_FAMILIES
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
            "Threshold of a check in the latest window, per level and kind: applied (the one "
            "it was compared with), practical or statistical (drift checks)",
            labels=[*key, "subject", "check", "level", "kind"],
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
        self.held_back = GaugeMetricFamily(
            f"{PREFIX}label_partition_held_back",
            "1 while a label partition is paused, read further than labels.read_ahead (event "
            "time) past the prediction partition of its number, which has records left; else 0",
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
        yield from (self.class_performance, self.class_performance_reference)
        yield from (self.alert_level, self.threshold, self.canary_psi, self.window_events)
        yield from (self.folded, self.last_end)
        yield from (self.events, self.rejected, self.late, self.windows, self.cap_overflow)
        yield from (self.detections, self.transitions, self.lag, self.held_back)
        yield from self.per_model.values()
        yield from (self.unlabeled, self.coverage, self.delay)
        yield from (self.baseline_info, self.build_info)
