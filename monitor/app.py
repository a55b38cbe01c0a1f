"""The composition root: every object of a run is built here, for live, replay and demo alike.

The drivers (:mod:`monitor.runtime`) only loop, and never import this module; what they loop
over comes from here:

- :func:`load_baselines` / :func:`load_version_baselines` read and check the configured files;
- :func:`build_pipeline` wires the stages for a set of models (:class:`~monitor.pipeline.Pipeline`);
- :func:`replay_batches` and the ``replay_*`` functions build a guarded pipeline, its sinks and
  its source (a file, a topic, the configured topics) and hand them to the replay loop
  (:func:`monitor.runtime.replay.drive`);
- :func:`build_daemon` builds the daemon's pipeline with its sinks (report file, ``/metrics``
  store, alert log, Alertmanager, dead-letter and alerts topics), its HTTP endpoints and its
  checkpoint store, and the :class:`~monitor.runtime.daemon.Daemon` that loops over them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import pyarrow as pa

from baselines.errors import BaselineError
from baselines.values import Baseline, BuildParameters
from monitor.batches import RawRecords
from monitor.config import Settings
from monitor.errors import ConfigError
from monitor.pipeline import Pipeline
from monitor.runtime.guarded import GuardedPipeline, Polled
from monitor.runtime.replay import DEFAULT_BATCH_SIZE, ReplaySummary, drive
from monitor.sinks.base import RejectSink, Sink
from monitor.sinks.report import ReportWriter
from monitor.sources.files import count_rows, iter_file
from monitor.stage_one import event_schema
from monitor.window.slot_layout import same_bins

if TYPE_CHECKING:  # the live parts are imported by build_daemon only: a replay never loads them
    from kafka import KafkaConsumer
    from prometheus_client import CollectorRegistry

    from monitor.config import KafkaConfig
    from monitor.exchange.local import Windower
    from monitor.exchange.stage_one_tasks import StageOneTasks
    from monitor.exchange.stage_two_partitions import StageTwoPartitions
    from monitor.runtime.daemon import Daemon
    from monitor.runtime.exchange_daemon import ExchangeDaemon
    from monitor.sinks.alertmanager import AlertmanagerSink
    from monitor.sinks.collector import ConsumerLag, OwnedModels, RunningTotals
    from monitor.sinks.kafka_topics import CycleOutbox, SharedProducer
    from monitor.sinks.latest_windows import LatestWindows
    from monitor.sinks.report_file import AppendedReport
    from monitor.sources.kafka import GroupConsumer, PartitionIds
    from monitor.sources.label_pacing import LabelPacing, Paced
    from monitor.stage_one import Totals


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


#: The parts of an event whose column in the training file a baseline records, by the name of
#: their ``driftwarden baseline build`` option.
TRAINED_COLUMNS = ("prediction", "label", "timestamp")


def quick_look_fields(baselines: Mapping[Path, Baseline]) -> dict[str, Any]:
    """The configuration fields a replay of ``baselines`` without a config file takes from them.

    Each baseline judges its model; with one baseline, events without a model are that
    baseline's model (``fields.default_model``). In flat files, the prediction, label and
    timestamp are read from the columns the baselines were built from (where they all name the
    same column; for class probabilities, the ``--prediction-proba`` pattern), before the
    reserved names (``fields.columns``). The segment columns of every
    baseline are monitored (``segments.fields``).
    """
    models = [{"name": baseline.model, "baseline": path} for path, baseline in baselines.items()]
    built = [baseline.source.parameters for baseline in baselines.values()]
    columns = {}
    for part in TRAINED_COLUMNS:
        names = {_trained_column(parameters, part) for parameters in built}
        if len(names) == 1 and (name := names.pop()) is not None:
            columns[part] = name
    fields: dict[str, Any] = {"columns": columns}
    if len(models) == 1:
        fields["default_model"] = models[0]["name"]
    segments = list(dict.fromkeys(name for parameters in built for name in parameters.segments))
    return {"models": models, "fields": fields, "segments": {"fields": segments}}


def _trained_column(parameters: BuildParameters, part: str) -> str | None:
    """The training file's column of ``part``: for a prediction given as one column per class,
    their pattern (``proba_*``)."""
    name: str | None = getattr(parameters, part)
    if part == "prediction" and name is None:
        return parameters.prediction_proba
    return name


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
    reject_sinks: Sequence[RejectSink] = (),
    *,
    hold: frozenset[int] = frozenset(),
) -> GuardedPipeline:
    """A replay's pipeline: guarded, so a message whose processing raises costs only itself."""
    versions = load_version_baselines(settings, baselines)
    return GuardedPipeline(settings, baselines, sinks, reject_sinks, hold=hold, versions=versions)


def replay_batches(
    settings: Settings,
    baselines: Mapping[str, Baseline],
    batches: Iterable[RawRecords | pa.RecordBatch | Polled],
    output: Sink,
    *,
    total: int | None = None,
    progress: bool = False,
    also: Sequence[Sink] = (),
    hold: frozenset[int] = frozenset(),
    built: Callable[[GuardedPipeline], object] = lambda guarded: None,
) -> ReplaySummary:
    """Feed file or topic batches through a fresh pipeline; close every window at the end.

    A batch is raw messages (a JSON Lines file, a prediction topic), a columnar record batch
    (Parquet, CSV), or one poll of prediction and label topics, fed as the daemon feeds it:
    predictions, then labels. ``output`` and the sinks in ``also`` receive every report record.
    The partitions in ``hold`` hold the watermark back until they deliver, as the daemon's
    assigned partitions do, so a topic read ahead of another does not make its events late. A
    message whose processing raises is rejected as ``internal_error``, the rest replayed as if
    it had not been there (:class:`~monitor.runtime.guarded.GuardedPipeline`), which is given
    to ``built`` before the first batch is read (a source paced by what it has read).
    """

    def build(sinks: Sequence[Sink], rejects: Sequence[RejectSink]) -> GuardedPipeline:
        guarded = build_replay(settings, baselines, [output, *also, *sinks], rejects, hold=hold)
        built(guarded)
        return guarded

    return drive(
        build,
        batches,
        total=total,
        progress=progress,
    )


def replay_file(
    settings: Settings,
    baselines: Mapping[str, Baseline],
    input_path: Path,
    output: Sink,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: bool = False,
    also: Sequence[Sink] = (),
) -> ReplaySummary:
    """Feed every event of ``input_path`` through a fresh pipeline, close all windows at the end."""
    schema = event_schema(settings, baselines)
    return replay_batches(
        settings,
        baselines,
        iter_file(
            input_path,
            batch_size,
            categories=schema.categorical_features,
            features=schema.features,
            envelope=[
                settings.fields.features.split(".")[0],
                settings.fields.segments.split(".")[0],
            ],
            empty_is_missing=settings.decode.csv_empty_is_missing,
        ),
        output,
        total=count_rows(input_path),
        progress=progress,
        also=also,
    )


def replay_to_file(
    settings: Settings,
    baselines: Mapping[str, Baseline],
    input_path: Path,
    output_path: Path,
    **options: Any,
) -> ReplaySummary:
    """Replay into a JSON Lines report file."""
    with closing(ReportWriter.open(output_path)) as writer:
        return replay_file(settings, baselines, input_path, writer, **options)


def replay_topic_to_file(
    settings: Settings,
    baselines: Mapping[str, Baseline],
    topic: str,
    output_path: Path,
    *,
    from_ms: int | None = None,
    to_ms: int | None = None,
    progress: bool = False,
    also: Sequence[Sink] = (),
) -> ReplaySummary:
    """Replay a bounded slice of a Kafka topic into a JSON Lines report file."""
    from monitor.sources.kafka import read_topic

    assert settings.kafka is not None
    with closing(ReportWriter.open(output_path)) as writer:
        batches = read_topic(settings.kafka, topic, from_ms=from_ms, to_ms=to_ms)
        return replay_batches(settings, baselines, batches, writer, progress=progress, also=also)


def replay_topics_to_file(
    settings: Settings,
    baselines: Mapping[str, Baseline],
    output_path: Path,
    *,
    from_ms: int | None = None,
    to_ms: int | None = None,
    progress: bool = False,
    also: Sequence[Sink] = (),
) -> ReplaySummary:
    """Replay the configured prediction and label topics over a time range, as the daemon reads
    them, into a JSON Lines report file.

    Predictions are read from ``from_ms`` to ``to_ms``, labels to ``labels.horizon`` past
    ``to_ms`` so that the range's predictions get theirs. The partitions get the daemon's ids
    and each poll is fed as the daemon feeds it, so the windows are the daemon's.
    """
    from monitor.sources.kafka import PartitionIds, plan_topics, read_slice

    kafka = settings.kafka
    if kafka is None:
        raise ValueError("replaying the configured topics needs a kafka section")
    label_to = None if to_ms is None else to_ms + settings.labels.horizon
    ranges = {topic: (from_ms, to_ms) for topic in kafka.prediction_topics}
    ranges.update({topic: (from_ms, label_to) for topic in kafka.label_topics})
    plan = plan_topics(kafka, ranges)
    ids = PartitionIds([*kafka.prediction_topics, *kafka.label_topics])
    delivering = frozenset(
        ids.id_of(tp.topic, tp.partition) for tp in plan.end if plan.end[tp] > plan.start[tp]
    )
    pacing = _label_pacing(settings, ids)
    replaying: list[GuardedPipeline] = []

    def pace(consumer: KafkaConsumer, lag: Mapping[tuple[str, int], int]) -> None:
        pacing.pace(consumer, lag, replaying[0].pipeline.read_times())

    with closing(ReportWriter.open(output_path)) as writer:
        polls = read_slice(kafka, plan, ids, label_topics=frozenset(kafka.label_topics), pace=pace)
        return replay_batches(
            settings,
            baselines,
            polls,
            writer,
            total=plan.total,
            progress=progress,
            also=also,
            hold=delivering,
            built=replaying.append,
        )


def build_daemon(
    settings: Settings,
    baselines: Mapping[str, Baseline],
    *,
    connect: Callable[[KafkaConfig], GroupConsumer] | None = None,
) -> Daemon:
    """``driftwarden run``: the daemon's pipeline, sinks, endpoints and checkpoint store, and the
    loop over them; ``connect`` makes its consumer-group member (default: the Kafka client)."""
    from monitor.runtime.daemon import Daemon, DaemonParts
    from monitor.runtime.http import MonitorServer, build_info
    from monitor.sources.kafka import connect_group
    from monitor.state.checkpoint import CheckpointStore

    daemon = settings.daemon
    out = _outputs(settings)
    latest, report, sinks, reject_sinks = out.latest, out.report, out.sinks, out.reject_sinks
    ids, producer, alertmanager = out.ids, out.producer, out.alertmanager
    pipeline = build_pipeline(settings, baselines, sinks, reject_sinks)
    lag: dict[tuple[str, int], int] = {}

    def lag_now() -> ConsumerLag:
        return dict(lag)

    pacing = _label_pacing(settings, ids)
    registry = _registry(
        latest,
        pipeline.running_totals,
        baselines,
        lag_now,
        pacing.paced,
        max_segments=daemon.max_segments,
    )
    server = MonitorServer(
        registry,
        latest,
        pipeline.running_totals,
        lag_provider=lag_now,
        pacing_provider=pacing.paced,
        host=daemon.http_host,
        port=daemon.http_port,
        liveness_timeout=daemon.liveness_timeout / 1000,
        build=build_info(pipeline.stage1.decoder.reader),
        owned_models=baselines.keys,  # every configured model, until stage 2 runs apart
    )
    store = CheckpointStore(daemon.checkpoint_path) if daemon.checkpoint_path else None
    parts = DaemonParts(pipeline, ids, server, report, producer, alertmanager, store, lag, pacing)
    return Daemon(settings, parts, connect=connect or connect_group)


class ExchangeStages(NamedTuple):
    """The two stages of a scaled-out process and what they share."""

    tasks: StageOneTasks
    partitions: StageTwoPartitions
    windower: Windower
    totals: Totals


def exchange_stages(
    settings: Settings,
    baselines: Mapping[str, Baseline],
    sinks: Sequence[Sink],
    muted: Collection[Sink],
    reject_sinks: Sequence[RejectSink] = (),
    versions: Mapping[str, Mapping[str, Baseline]] | None = None,
) -> ExchangeStages:
    """Both stages of one scaled-out process, empty: stage 1 per task (dead-lettering to
    ``reject_sinks``), stage 2 per exchange partition writing to ``sinks`` (all but ``muted``
    while a partition replays)."""
    from functools import partial

    from monitor.exchange.open_windows import OpenWindows
    from monitor.exchange.partitioned_windows import PartitionedWindows
    from monitor.exchange.stage_one_tasks import StageOneTasks
    from monitor.exchange.stage_two_partitions import StageTwoPartitions
    from monitor.pipeline import windows_for
    from monitor.stage_one import StageOne, Totals
    from monitor.stage_two import StageTwo

    windower = windows_for(settings, baselines)
    totals = Totals()
    tasks = StageOneTasks(
        partial(
            StageOne,
            settings,
            baselines,
            windower.caps,
            windower.counters,
            totals,
            lambda: None,
            reject_sinks,
            join_labels=True,
        ),
        windower.counters,
    )
    windows = PartitionedWindows(
        partial(
            OpenWindows,
            windower.grid,
            settings.windows.allowed_lateness,
            score_streams=windower.windows.score_values.streams,
            error_streams=windower.windows.error_values.streams,
        )
    )
    layouts = windower.caps.layouts
    partitions = StageTwoPartitions(
        windows,
        lambda out: StageTwo(settings, baselines, layouts, out, totals, versions),
        sinks,
        muted,
        layouts=layouts,
        partitions=settings.exchange.partitions,
        config=_config_digest(settings, baselines),
    )
    return ExchangeStages(tasks, partitions, windower, totals)


def build_exchange_daemon(settings: Settings, baselines: Mapping[str, Baseline]) -> ExchangeDaemon:
    """``driftwarden run`` with ``exchange.enabled``: both stages of this process (stage 1 per
    task, stage 2 per exchange partition), their sinks and endpoints, and the loop."""
    from monitor.decode.readers import json_reader
    from monitor.join.label_join import JoinStats
    from monitor.runtime.exchange_daemon import ExchangeDaemon, ExchangeParts
    from monitor.runtime.http import MonitorServer, build_info
    from monitor.sinks.collector import RunningTotals

    daemon = settings.daemon
    versions = load_version_baselines(settings, baselines)
    out = _outputs(settings)
    assert out.outboxes is not None  # exchange.enabled
    latest, sinks, muted, reject_sinks = out.latest, out.sinks, out.muted, out.reject_sinks
    stages = exchange_stages(settings, baselines, sinks, muted, reject_sinks, versions)
    tasks, partitions, windower, totals = stages
    windows = partitions.windows

    def running_totals() -> RunningTotals:
        events, late, late_labels = Counter[str](), Counter[str](), Counter[str]()
        # read from the HTTP thread while the loop assigns and drops: copies of the dicts' values
        # (a model's events are its stage 2's: counted once, whichever process read them)
        for open_windows in list(windows.partitions.values()):
            events.update(open_windows.events.by_model)
            late.update(open_windows.late.by_model)
            late_labels.update(open_windows.late_labels.by_model)
        joins = [stage.join.stats for stage in list(tasks.tasks.values())]
        return RunningTotals(
            dict(events),
            dict(totals.rejected),
            dict(late),
            totals.windows,
            JoinStats.total(joins),
            dict(late_labels),
            tasks.cap_overflow(windower.caps.capped),
        )

    lag: dict[tuple[str, int], int] = {}

    def lag_now() -> ConsumerLag:
        return dict(lag)

    pacing = _label_pacing(settings, out.ids)
    registry = _registry(
        latest,
        running_totals,
        baselines,
        lag_now,
        pacing.paced,
        max_segments=daemon.max_segments,
        owned_models=partitions.owned_models,
    )
    server = MonitorServer(
        registry,
        latest,
        running_totals,
        lag_provider=lag_now,
        pacing_provider=pacing.paced,
        host=daemon.http_host,
        port=daemon.http_port,
        liveness_timeout=daemon.liveness_timeout / 1000,
        build=build_info(json_reader()),
        owned_models=partitions.owned_models,
        owned_exchange_partitions=partitions.owned_partitions,
    )
    parts = ExchangeParts(
        partitions.config,
        tasks,
        partitions,
        out.ids,
        server,
        out.report,
        out.outboxes,
        out.alertmanager,
        lag,
        pacing,
    )
    return ExchangeDaemon(settings, parts)


def _label_pacing(settings: Settings, ids: PartitionIds) -> LabelPacing:
    """What holds a daemon's label partitions back to their predictions' pace."""
    from monitor.sources.label_pacing import LabelPacing

    assert settings.kafka is not None
    return LabelPacing(ids, settings.kafka.label_topics, settings.labels.read_ahead)


@dataclass
class _Outputs:
    """Where a daemon's results go: the sinks of closed windows (``muted`` while a rebuilt
    exchange partition replays what was written already) and of rejects."""

    latest: LatestWindows
    report: AppendedReport | None
    sinks: list[Any]
    muted: list[Any]
    ids: PartitionIds
    producer: SharedProducer | None
    outboxes: tuple[CycleOutbox, CycleOutbox] | None
    """Of a scaled-out process: what stage 1 (dead letters) and stage 2 (alert transitions)
    send in their next commit cycle."""
    reject_sinks: list[RejectSink]
    alertmanager: AlertmanagerSink | None


def _outputs(settings: Settings) -> _Outputs:
    """The daemon's sinks: latest windows (/metrics), alert log, report file, dead letters and
    alerts topics, Alertmanager, as configured."""
    from monitor.sinks.alert_log import AlertLog
    from monitor.sinks.kafka_topics import (
        AlertsTopic,
        CycleAlertsTopic,
        CycleOutbox,
        DeadLetters,
        SharedProducer,
    )
    from monitor.sinks.latest_windows import LatestWindows
    from monitor.sinks.report_file import AppendedReport
    from monitor.sources.kafka import PartitionIds

    kafka, daemon = settings.kafka, settings.daemon
    if kafka is None:
        raise ConfigError("driftwarden run needs a kafka section in the config")
    latest = LatestWindows(stale_after=daemon.stale_after)
    report = AppendedReport(daemon.report_path) if daemon.report_path else None
    muted: list[Any] = [AlertLog(), *([report] if report is not None else [])]
    ids = PartitionIds([*kafka.prediction_topics, *kafka.label_topics])
    producer, outboxes = None, None
    reject_sinks: list[RejectSink] = []
    if settings.exchange.enabled:  # sent inside the stages' commit cycles: exactly once
        outboxes = (CycleOutbox(), CycleOutbox())
        if kafka.dead_letter_topic:
            reject_sinks.append(DeadLetters(outboxes[0], kafka.dead_letter_topic, ids))
        if kafka.alerts_topic:
            muted.append(CycleAlertsTopic(outboxes[1], kafka.alerts_topic))
    elif kafka.dead_letter_topic or kafka.alerts_topic:
        producer = SharedProducer()
        if kafka.dead_letter_topic:
            reject_sinks.append(DeadLetters(producer, kafka.dead_letter_topic, ids))
        if kafka.alerts_topic:
            muted.append(AlertsTopic(producer, kafka.alerts_topic))
    alertmanager = _alertmanager(settings)
    sinks = [latest, *muted, *([alertmanager] if alertmanager is not None else [])]
    return _Outputs(
        latest, report, sinks, muted, ids, producer, outboxes, reject_sinks, alertmanager
    )


def _config_digest(settings: Settings, baselines: Mapping[str, Baseline]) -> str:
    """What every process of a group must share for their partials to add up: the settings
    that shape counts and scores, the source topics (partials name their partitions) and the
    baselines."""
    import hashlib

    import orjson

    shaping = settings.model_dump(mode="json", exclude={"daemon", "kafka", "alertmanager"})
    kafka = settings.kafka
    topics = [] if kafka is None else [kafka.prediction_topics, kafka.label_topics]
    digests = {model: b.digest for model, b in sorted(baselines.items())}
    data = orjson.dumps([shaping, topics, digests], option=orjson.OPT_SORT_KEYS)
    return f"sha256:{hashlib.sha256(data).hexdigest()}"


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
    totals: Callable[[], RunningTotals],
    baselines: Mapping[str, Baseline],
    lag: Callable[[], ConsumerLag],
    pacing: Callable[[], Paced],
    *,
    max_segments: int,
    owned_models: OwnedModels | None = None,
) -> CollectorRegistry:
    """A registry whose one collector builds the drift series at every scrape (of
    ``owned_models`` only, when given)."""
    from prometheus_client import CollectorRegistry

    from monitor.sinks.collector import DriftCollector

    registry = CollectorRegistry()
    DriftCollector(
        latest,
        totals,
        max_segments=max_segments,
        baseline_digests=lambda: {m: b.digest for m, b in baselines.items()},
        lag_provider=lag,
        pacing_provider=pacing,
        owned_models=owned_models,
        registry=registry,
    )
    return registry
