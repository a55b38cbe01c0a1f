"""The composition root: every object of a run is built here, for live, replay and demo alike.

The drivers (:mod:`monitor.runtime`) only loop; what they loop over comes from here:

- :func:`load_baselines` / :func:`load_version_baselines` read and check the configured files;
- :func:`build_pipeline` wires the stages for a set of models (:class:`~monitor.pipeline.Pipeline`);
- :func:`build_replay` wraps one for a replay (:class:`~monitor.runtime.guarded.GuardedPipeline`);
- :func:`build_live` builds the daemon's pipeline with its sinks (report file, ``/metrics`` store,
  alert log, Alertmanager, dead-letter and alerts topics), its HTTP endpoints and its checkpoint
  store (:class:`LiveParts`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from baselines.errors import BaselineError
from baselines.values import Baseline
from monitor.config import Settings
from monitor.errors import ConfigError
from monitor.pipeline import Pipeline
from monitor.runtime.guarded import GuardedPipeline
from monitor.sinks.base import RejectSink, Sink
from monitor.window.slot_layout import same_bins

if TYPE_CHECKING:  # the live parts are imported by build_live only: a replay never loads them
    from prometheus_client import CollectorRegistry

    from monitor.runtime.http import MonitorServer
    from monitor.sinks.alertmanager import AlertmanagerSink
    from monitor.sinks.collector import ConsumerLag
    from monitor.sinks.kafka_topics import SharedProducer
    from monitor.sinks.latest_windows import LatestWindows
    from monitor.sinks.report_file import AppendedReport
    from monitor.sources.kafka import PartitionIds
    from monitor.state.checkpoint import CheckpointStore


def load_baselines(settings: Settings) -> dict[str, Baseline]:
    """Load and validate every configured model's baseline; the model names must match."""
    out: dict[str, Baseline] = {}
    for model in settings.models:
        try:
            baseline = Baseline.load(model.baseline)
        except BaselineError as exc:
            raise ConfigError(f"model {model.name!r}: {exc}") from None
        if baseline.model != model.name:
            raise ConfigError(
                f"model {model.name!r}: baseline {model.baseline} was built for model "
                f"{baseline.model!r}; point `baseline` at that model's file or rename the model"
            )
        out[model.name] = baseline
    return out


def load_version_baselines(
    settings: Settings, baselines: Mapping[str, Baseline]
) -> dict[str, dict[str, Baseline]]:
    """Load every configured per-version baseline; each must share its model baseline's bins."""
    out: dict[str, dict[str, Baseline]] = {}
    for model in settings.models:
        for version, path in sorted(model.versions.items()):
            where = f"model {model.name!r} version {version!r}"
            try:
                baseline = Baseline.load(path)
            except BaselineError as exc:
                raise ConfigError(f"{where}: {exc}") from None
            if baseline.model != model.name:
                raise ConfigError(
                    f"{where}: baseline {path} was built for model {baseline.model!r}; point "
                    "the version at a baseline of this model"
                )
            if not same_bins(baseline, baselines[model.name]):
                raise ConfigError(
                    f"{where}: baseline {path} does not use the bins of {model.baseline}; "
                    f"rebuild it with `driftwarden baseline build --bins-from {model.baseline}`"
                )
            out.setdefault(model.name, {})[version] = baseline
    return out


def build_pipeline(
    settings: Settings,
    baselines: Mapping[str, Baseline],
    sinks: Sequence[Sink],
    reject_sinks: Sequence[RejectSink] = (),
) -> Pipeline:
    """The stages for ``baselines``, with the configured per-version baselines loaded."""
    versions = load_version_baselines(settings, baselines)
    return Pipeline(settings, baselines, sinks, reject_sinks, versions=versions)


def build_replay(
    settings: Settings,
    baselines: Mapping[str, Baseline],
    sinks: Sequence[Sink],
    *,
    hold: frozenset[int] = frozenset(),
) -> GuardedPipeline:
    """A replay's pipeline: guarded, so a message whose processing raises costs only itself."""
    versions = load_version_baselines(settings, baselines)
    return GuardedPipeline(settings, baselines, sinks, hold=hold, versions=versions)


@dataclass
class LiveParts:
    """What ``driftwarden run`` loops over, besides its consumer."""

    pipeline: Pipeline
    ids: PartitionIds
    latest: LatestWindows
    server: MonitorServer
    report: AppendedReport | None
    producer: SharedProducer | None
    alertmanager: AlertmanagerSink | None
    store: CheckpointStore | None


def build_live(
    settings: Settings, baselines: Mapping[str, Baseline], lag: Callable[[], ConsumerLag]
) -> LiveParts:
    """The daemon's pipeline, sinks, endpoints and checkpoint store (``settings.kafka`` set);
    ``lag`` gives the consumer lag that ``/metrics`` and ``/status`` show."""
    from monitor.runtime.http import MonitorServer, build_info
    from monitor.sinks.alert_log import AlertLog
    from monitor.sinks.kafka_topics import AlertsTopic, DeadLetters, SharedProducer
    from monitor.sinks.latest_windows import LatestWindows
    from monitor.sinks.report_file import AppendedReport
    from monitor.sources.kafka import PartitionIds
    from monitor.state.checkpoint import CheckpointStore

    kafka, daemon = settings.kafka, settings.daemon
    assert kafka is not None
    latest = LatestWindows(stale_after=daemon.stale_after)
    report = AppendedReport(daemon.report_path) if daemon.report_path else None
    sinks: list[Any] = [latest, AlertLog(), *([report] if report is not None else [])]
    ids = PartitionIds([*kafka.prediction_topics, *kafka.label_topics])
    producer = SharedProducer() if kafka.dead_letter_topic or kafka.alerts_topic else None
    reject_sinks: list[RejectSink] = []
    if producer is not None and kafka.dead_letter_topic:
        reject_sinks.append(DeadLetters(producer, kafka.dead_letter_topic, ids))
    if producer is not None and kafka.alerts_topic:
        sinks.append(AlertsTopic(producer, kafka.alerts_topic))
    alertmanager = _alertmanager(settings)
    if alertmanager is not None:
        sinks.append(alertmanager)
    pipeline = build_pipeline(settings, baselines, sinks, reject_sinks)
    registry = _registry(latest, pipeline, baselines, lag, max_segments=daemon.max_segments)
    server = MonitorServer(
        registry,
        latest,
        pipeline.running_totals,
        lag_provider=lag,
        host=daemon.http_host,
        port=daemon.http_port,
        liveness_timeout=daemon.liveness_timeout / 1000,
        build=build_info(pipeline.decoder.reader),
    )
    store = CheckpointStore(daemon.checkpoint_path) if daemon.checkpoint_path else None
    return LiveParts(pipeline, ids, latest, server, report, producer, alertmanager, store)


def _alertmanager(settings: Settings) -> AlertmanagerSink | None:
    am = settings.alertmanager
    if not am.url:
        return None
    from monitor.sinks.alertmanager import AlertmanagerSink

    return AlertmanagerSink(
        am.url,
        resend_interval_s=am.resend_interval / 1000,
        timeout_s=am.timeout / 1000,
        runbook_base=am.runbook_base,
        generator_url=am.generator_url,
    )


def _registry(
    latest: LatestWindows,
    pipeline: Pipeline,
    baselines: Mapping[str, Baseline],
    lag: Callable[[], ConsumerLag],
    *,
    max_segments: int,
) -> CollectorRegistry:
    """A registry whose one collector builds the drift series at every scrape."""
    from prometheus_client import CollectorRegistry

    from monitor.sinks.collector import DriftCollector

    registry = CollectorRegistry()
    DriftCollector(
        latest,
        pipeline.running_totals,
        max_segments=max_segments,
        baseline_digests=lambda: {m: b.digest for m, b in baselines.items()},
        lag_provider=lag,
        registry=registry,
    )
    return registry
