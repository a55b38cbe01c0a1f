"""The ``driftwarden`` command: baseline build, replay, report merge, config check, demo.

User mistakes (wrong path, bad YAML, unknown field, bad baseline) end with one line on stderr,
``driftwarden: error: <problem>; <fix>``, and exit status 2 — never a traceback.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from baselines.defaults import DEFAULT_BINS, DEFAULT_TOP_K, DEFAULT_WINDOW_SIZES
from baselines.errors import DriftwardenError
from monitor.allocator import tune_allocators
from monitor.defaults import DEFAULT_HTTP_PORT

if TYPE_CHECKING:
    from collections.abc import Mapping

    from rich.console import Console

    from baselines.values import Baseline
    from monitor.config import Settings
    from monitor.runtime.replay import ReplaySummary
    from monitor.sinks.openmetrics import OpenMetricsHistory

    Commands = argparse._SubParsersAction[argparse.ArgumentParser]

_EPILOG = "Docs: README.md (tour), docs/ (contracts, configuration, runbook)."


class _Version(argparse.Action):
    """``--version``: the version and the JSON reader this install uses, then exit."""

    def __init__(self, option_strings: list[str], dest: str, **_: Any) -> None:
        super().__init__(
            option_strings,
            dest,
            nargs=0,
            help="print the version and which JSON reader is in use (native or python), then exit",
        )

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        import importlib.metadata

        from monitor.decode.readers import json_reader

        try:
            reader = json_reader()
        except DriftwardenError as exc:
            parser.exit(2, f"driftwarden: error: {exc}\n")
        version = importlib.metadata.version("driftwarden")
        print(f"driftwarden {version} (JSON reader: {reader})")
        parser.exit(0)


def _instant(value: str) -> int:
    """Epoch milliseconds of an RFC 3339 instant given on the command line."""
    from datetime import datetime

    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not an RFC 3339 time; write e.g. 2019-04-01T00:00:00Z"
        ) from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{value!r} has no time zone; end it with Z or +hh:mm")
    return int(moment.timestamp() * 1000)


def _duration_s(value: str) -> float:
    """Seconds of a positive duration given on the command line (30s, 1m, …)."""
    from monitor.config import parse_duration_ms

    try:
        milliseconds = parse_duration_ms(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if milliseconds <= 0:
        raise argparse.ArgumentTypeError(f"{value!r} is not positive; write e.g. 1m")
    return milliseconds / 1000


def _assignment(value: str) -> dict[str, Any]:
    """``a.b.c=VALUE`` as the nested mapping ``{"a": {"b": {"c": VALUE}}}`` (VALUE read as YAML).

    >>> _assignment("alerts.drift.warning=0.15")
    {'alerts': {'drift': {'warning': 0.15}}}
    """
    import yaml

    path, equals, text = value.partition("=")
    names = path.strip().split(".")
    if not equals or not all(names):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not FIELD=VALUE; write e.g. alerts.drift.warning=0.15"
        )
    try:
        nested: Any = yaml.safe_load(text)
    except yaml.YAMLError:
        raise argparse.ArgumentTypeError(f"the value of {value!r} is not valid YAML") from None
    for name in reversed(names):
        nested = {name: nested}
    result: dict[str, Any] = nested
    return result


def _csv(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


def _actions(sub: Commands, name: str, help: str) -> Commands:
    """The actions of command ``name`` (``driftwarden NAME ACTION``), chosen in ``NAME_command``."""
    command = sub.add_parser(name, help=help)
    return command.add_subparsers(dest=f"{name}_command", required=True, metavar="ACTION")


def _add_baseline(sub: Commands) -> None:
    actions = _actions(sub, "baseline", "build training baselines")
    build = actions.add_parser(
        "build",
        help="build a baseline file from training data",
        description=(
            "Read training data (Parquet, CSV or JSON Lines, optionally gzipped) and write the "
            "baseline JSON a model's live traffic is compared with. Every column not named by an "
            "option is a feature."
        ),
    )
    build.add_argument("--input", required=True, type=Path, help="training data file")
    build.add_argument("--model", required=True, help="model name as it appears in events")
    build.add_argument("--output", required=True, type=Path, help="baseline JSON to write")
    build.add_argument("--prediction", help="column holding the model's prediction")
    build.add_argument(
        "--prediction-proba",
        metavar="PATTERN",
        help="multiclass: one column of probabilities per class, e.g. 'proba_*' (the * is the"
        " class)",
    )
    build.add_argument("--label", help="column holding the true outcome (enables performance)")
    build.add_argument("--timestamp", help="timestamp column (not a feature)")
    build.add_argument("--exclude", type=_csv, default=(), help="columns to ignore, C1,C2")
    build.add_argument(
        "--categorical", type=_csv, default=(), help="numeric columns to treat as categories"
    )
    build.add_argument(
        "--segments", type=_csv, default=(), help="columns to keep a baseline per value of"
    )
    build.add_argument(
        "--bins",
        type=int,
        default=DEFAULT_BINS,
        help=f"quantile bins per numeric feature (default {DEFAULT_BINS})",
    )
    build.add_argument(
        "--top-k",
        type=int,
        default=DEFAULT_TOP_K,
        help=f"categories kept per feature (default {DEFAULT_TOP_K})",
    )
    build.add_argument(
        "--window-sizes",
        type=lambda v: tuple(int(x) for x in _csv(v)),
        default=DEFAULT_WINDOW_SIZES,
        help="window sizes (events) to calibrate null distributions for (default "
        f"{','.join(map(str, DEFAULT_WINDOW_SIZES))})",
    )
    build.add_argument(
        "--empty-is-value",
        action="store_true",
        help='keep an empty CSV field as the text "" (by default it is missing, as null is)',
    )
    build.add_argument(
        "--bins-from",
        type=Path,
        help="baseline of another version of the model whose bins to reuse, so the two "
        "versions can be compared window by window (canary vs stable)",
    )


def _add_replay(sub: Commands) -> None:
    replay = sub.add_parser(
        "replay",
        help="replay a file of events through the monitor and write the report",
        description=(
            "Replay events (JSON Lines, optionally gzipped, Parquet or CSV; or the prediction and "
            "label topics of --config between --from and --to) through exactly the code path of "
            "the live daemon. Writes one JSON object per closed window and per alert level change, "
            "then prints what is in warning or intervention. Use --config, or for a quick look "
            "--baseline (repeatable) with --window: the baseline's model is taken for events "
            "without one, its segments are monitored, and flat files are read in its training "
            "column names. Exits 2 when every event was rejected or a check was raised only for "
            "a column no event has."
        ),
    )
    source = replay.add_mutually_exclusive_group()
    source.add_argument("--input", type=Path, help="events file")
    source.add_argument(
        "--topic",
        help="one Kafka topic to read, predictions only (a quick look; without --input and "
        "--topic, the prediction and label topics of --config are read)",
    )
    replay.add_argument(
        "--from", dest="from_time", type=_instant, help="topics: first record time, RFC 3339"
    )
    replay.add_argument(
        "--to",
        dest="to_time",
        type=_instant,
        help="topics: stop at this record time (labels: labels.horizon later)",
    )
    replay.add_argument("--output", required=True, type=Path, help="report JSON Lines to write")
    replay.add_argument("--config", type=Path, help="driftwarden.yaml")
    replay.add_argument(
        "--baseline", type=Path, action="append", default=[], help="baseline file (one per model)"
    )
    replay.add_argument(
        "--window",
        default=None,
        help="window size without a config: 1h, 1d, 1w (ISO weeks), 1mo (months); default 1h",
    )
    for part, what in (
        ("prediction", "the model's prediction"),
        ("label", "the true outcome"),
        ("timestamp", "the event time"),
    ):
        replay.add_argument(
            f"--{part}",
            metavar="COLUMN",
            help=f"flat files: the column holding {what}, read before the column named "
            f"{part} (default: the column the baseline was built from)",
        )
    replay.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="events per batch (default 32768; does not change results)",
    )
    replay.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    replay.add_argument(
        "--set",
        type=_assignment,
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="what-if: judge with this configuration field changed (e.g. "
        "alerts.drift.warning=0.15; repeatable); the summary compares the raises with the "
        "configuration as it is",
    )
    replay.add_argument(
        "--overrides",
        type=Path,
        metavar="FILE",
        help="what-if: a YAML file of configuration fields merged over --config (--set wins)",
    )
    replay.add_argument(
        "--openmetrics",
        type=Path,
        metavar="FILE",
        help="also write the series the daemon would have exported, stamped at their event "
        "times, as OpenMetrics text for `promtool tsdb create-blocks-from openmetrics FILE DIR`",
    )
    replay.add_argument(
        "--openmetrics-step",
        type=_duration_s,
        metavar="DURATION",
        help="--openmetrics: a sample every DURATION between window ends, below Prometheus' "
        "5m lookback (default 4m)",
    )


def _add_report(sub: Commands) -> None:
    merge = _actions(sub, "report", "work with report files").add_parser(
        "merge",
        help="the union of several processes' report files",
        description=(
            "Write the union of report files (JSON Lines) that the processes of one group wrote: "
            "every line once, ordered as one process's report (by window end, model, version, "
            "segment, each window's line before its alerts). Exact copies are dropped; two files "
            "holding different lines for the same window or alert are refused."
        ),
    )
    merge.add_argument("files", nargs="+", type=Path, metavar="FILE", help="report files")
    merge.add_argument("--output", required=True, type=Path, help="merged report to write")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="driftwarden",
        description=(
            "Streaming drift monitoring for ML models: event-time windows scored against training "
            "baselines, alert levels warning/intervention, identical in replay and live."
        ),
        epilog=_EPILOG,
    )
    parser.add_argument("--version", action=_Version)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_baseline(sub)
    _add_replay(sub)
    _add_report(sub)
    run = sub.add_parser(
        "run",
        help="the daemon: consume Kafka, window, score, expose /metrics",
        description=(
            "Consume the configured prediction topics in a consumer group, window and score the "
            "events exactly as replay does, serve /metrics /healthz /readyz /status, checkpoint "
            "state with the offsets, and stop cleanly on SIGTERM."
        ),
    )
    run.add_argument("--config", required=True, type=Path, help="driftwarden.yaml")
    run.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    config_actions = _actions(sub, "config", "validate configuration")
    check = config_actions.add_parser(
        "check",
        help="validate a config file and print the effective configuration",
        description=(
            "Validate driftwarden.yaml with environment overrides; print the effective values."
        ),
    )
    check.add_argument("--config", required=True, type=Path, help="driftwarden.yaml")
    config_actions.add_parser(
        "reference",
        help="print the reference of every configuration field (Markdown)",
        description="Print docs/configuration.md: each field, its environment variable, default.",
    )
    demo = sub.add_parser(
        "demo",
        help="run the whole pipeline on a generated stream with known incidents",
        description=(
            "Generate a training set and a 54-hour stream of predictions with six known "
            "incidents and delayed labels, build the baseline, start a local Kafka broker "
            "(deploy/local/kafka.sh; or use $KAFKA_BOOTSTRAP_SERVERS), produce the stream, run "
            "the daemon and print the alert timeline as windows close, then the verdicts; the "
            "daemon keeps serving /metrics until Ctrl-C. Exits 1 if an incident is missed or "
            "the stable stretch raises anything. --replay replays a file instead, no broker."
        ),
    )
    demo.add_argument(
        "--dir", type=Path, default=None, help="where to write the demo files (default: a temp dir)"
    )
    demo.add_argument(
        "--replay",
        action="store_true",
        help="replay the stream from a file (labels inline) instead of running it through Kafka",
    )
    demo.add_argument(
        "--exit", action="store_true", help="exit after the verdicts instead of serving on"
    )
    demo.add_argument(
        "--http-port",
        type=int,
        default=DEFAULT_HTTP_PORT,
        metavar="N",
        help=f"port of /metrics and /status (default {DEFAULT_HTTP_PORT}; 0 picks a free one)",
    )
    demo.add_argument(
        "--keep-broker",
        action="store_true",
        help="leave the local broker running at the end (it is stopped by default)",
    )
    return parser


def _baseline_build(args: argparse.Namespace) -> int:
    from baselines.build import build_baseline_file
    from baselines.values import Baseline, FeatureBaseline

    bins_from = None if args.bins_from is None else Baseline.load(args.bins_from)
    baseline = build_baseline_file(
        args.input,
        args.output,
        model=args.model,
        prediction=args.prediction,
        prediction_proba=args.prediction_proba,
        label=args.label,
        timestamp=args.timestamp,
        exclude=args.exclude,
        categorical=args.categorical,
        segments=args.segments,
        bins=args.bins,
        top_k=args.top_k,
        window_sizes=args.window_sizes,
        bins_from=bins_from,
        progress=sys.stderr.isatty(),
        empty_is_missing=not args.empty_is_value,
    )
    print(
        f"wrote {args.output}: model {baseline.model}, {len(baseline.features)} features, "
        f"{len(baseline.segments)} segments, "
        + (f"{len(baseline.classes)} classes, " if baseline.classes else "")
        + baseline.digest
    )
    subjects: list[tuple[str, FeatureBaseline | None]] = list(baseline.features.items())
    subjects += [
        (f"{feature.name} ({role})", feature)
        for role, feature in (("prediction", baseline.prediction), ("label", baseline.label))
        if feature is not None
    ]
    subjects += list(baseline.probabilities.items())
    stored = [(name, feature) for name, feature in subjects if feature is not None]
    width = max(len(name) for name, _ in stored)
    print("missing rate of each stored column:")
    for name, feature in stored:
        print(f"  {name:<{width}}  {feature.kind:<11}  {feature.missing_rate:7.2%}")
    return 0


def _replay(args: argparse.Namespace) -> int:
    import os

    from monitor.runtime.replay import print_summary, replay_mistake, what_if_table

    if args.openmetrics_step is not None and args.openmetrics is None:
        raise DriftwardenError("--openmetrics-step needs --openmetrics FILE")
    from monitor.app import load_baselines

    overrides = _overrides(args)
    settings = _replay_settings(args, overrides)
    as_configured = None
    if overrides:  # what-if: judge the same input as configured too, reporting nowhere
        original = _replay_settings(args, {})
        as_configured = _replay_once(
            args, original, load_baselines(original), Path(os.devnull), None
        )
    baselines = load_baselines(settings)
    history = _history(args, settings, baselines)
    summary = _replay_once(args, settings, baselines, args.output, history)
    from rich.console import Console

    console = Console()
    print_summary(console, summary)
    if as_configured is not None:
        console.print(what_if_table(as_configured, summary, ", ".join(_assignments(overrides))))
    if history is not None:
        written = history.close()
        console.print(
            f"{written.path}: {written.samples:,} samples of {written.series:,} series; load "
            f"them with: promtool tsdb create-blocks-from openmetrics {written.path} DATA_DIR",
            highlight=False,
        )
    mistake = replay_mistake(summary, settings.fields)
    if mistake is not None:
        raise DriftwardenError(mistake)
    return 0


def _replay_settings(args: argparse.Namespace, overrides: Mapping[str, Any]) -> Settings:
    """The replay's configuration: --config, or a quick look from --baseline and --window, with
    ``overrides`` merged on top."""
    from baselines.values import Baseline
    from monitor.app import TRAINED_COLUMNS, quick_look_fields
    from monitor.config import load_settings, merged

    named = {part: getattr(args, part) for part in TRAINED_COLUMNS if getattr(args, part)}
    columns = {"fields": {"columns": named}} if named else {}
    if args.config is not None:
        if args.baseline or args.window:
            raise DriftwardenError("use either --config or --baseline/--window, not both")
        return load_settings(args.config, **merged(columns, overrides))
    if not args.baseline:
        raise DriftwardenError("replay needs --config FILE, or --baseline FILE [--window 1h]")
    quick = quick_look_fields({path: Baseline.load(path) for path in args.baseline})
    quick = merged(quick, {"windows": {"size": args.window or "1h"}, **columns})
    return load_settings(None, **merged(quick, overrides))


def _replay_once(
    args: argparse.Namespace,
    settings: Settings,
    baselines: Mapping[str, Baseline],
    output: Path,
    history: OpenMetricsHistory | None,
) -> ReplaySummary:
    """Replay the file or topic slice of ``args`` with ``settings`` into the report ``output``."""
    from monitor.app import replay_to_file, replay_topic_to_file, replay_topics_to_file
    from monitor.runtime.replay import DEFAULT_BATCH_SIZE

    progress = not args.no_progress and sys.stderr.isatty()
    also = [] if history is None else [history]
    if args.input is not None:
        batch_size = DEFAULT_BATCH_SIZE if args.batch_size is None else args.batch_size
        return replay_to_file(
            settings,
            baselines,
            args.input,
            output,
            batch_size=batch_size,
            progress=progress,
            also=also,
        )
    if settings.kafka is None:
        raise DriftwardenError(
            "replay needs --input FILE, or --config with a kafka section to read its topics "
            "(all of them, or one with --topic NAME)"
        )
    if args.topic is not None:
        return replay_topic_to_file(
            settings,
            baselines,
            args.topic,
            output,
            from_ms=args.from_time,
            to_ms=args.to_time,
            progress=progress,
            also=also,
        )
    return replay_topics_to_file(
        settings,
        baselines,
        output,
        from_ms=args.from_time,
        to_ms=args.to_time,
        progress=progress,
        also=also,
    )


def _assignments(fields: Mapping[str, Any], prefix: str = "") -> list[str]:
    """Nested configuration fields as ``a.b=value`` lines (the inverse of ``--set``).

    >>> _assignments({"alerts": {"consecutive": 3, "drift": {"warning": 0.15}}})
    ['alerts.consecutive=3', 'alerts.drift.warning=0.15']
    """
    out = []
    for name, value in fields.items():
        if isinstance(value, dict):
            out.extend(_assignments(value, f"{prefix}{name}."))
        else:
            out.append(f"{prefix}{name}={value}")
    return out


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The --overrides file merged with the --set assignments (which win)."""
    import yaml

    from monitor.config import merged

    result: dict[str, Any] = {}
    if args.overrides is not None:
        try:
            document = yaml.safe_load(args.overrides.read_text(encoding="utf-8"))
        except yaml.YAMLError:
            raise DriftwardenError(
                f"--overrides {args.overrides} is not valid YAML; fix the syntax"
            ) from None
        if not isinstance(document, dict):
            raise DriftwardenError(
                f"--overrides {args.overrides} must hold a mapping of configuration fields, "
                "as driftwarden.yaml does"
            )
        result = document
    for assignment in args.set:
        result = merged(result, assignment)
    return result


def _history(
    args: argparse.Namespace, settings: Settings, baselines: Mapping[str, Baseline]
) -> OpenMetricsHistory | None:
    """The --openmetrics sink, configured as the daemon's collector is, or None."""
    if args.openmetrics is None:
        return None
    from monitor.sinks.openmetrics import DEFAULT_STEP_S, OpenMetricsHistory

    return OpenMetricsHistory(
        args.openmetrics,
        max_segments=settings.daemon.max_segments,
        stale_after=settings.daemon.stale_after,
        baseline_digests={name: b.digest for name, b in baselines.items()},
        step_s=DEFAULT_STEP_S if args.openmetrics_step is None else args.openmetrics_step,
    )


def _report(args: argparse.Namespace) -> int:
    from monitor.sinks.report_merge import merge_reports

    summary = merge_reports(args.files, args.output)
    print(
        f"wrote {args.output}: {summary.lines:,} lines from {len(args.files)} files, "
        f"{summary.duplicates:,} copies dropped"
    )
    for path in summary.torn:
        print(f"ignored the last line of {path}: cut short (the process was killed while writing)")
    return 0


def _run(args: argparse.Namespace) -> int:
    from monitor.app import build_daemon, build_exchange_daemon, load_baselines
    from monitor.config import load_settings
    from monitor.logs import configure_logging

    configure_logging(args.log_level)
    settings = load_settings(args.config)
    if settings.exchange.enabled:
        return build_exchange_daemon(settings, load_baselines(settings)).run()
    return build_daemon(settings, load_baselines(settings)).run()


def _config(args: argparse.Namespace) -> int:
    if args.config_command == "reference":
        from monitor.config_reference import render_reference

        print(render_reference(), end="")
        return 0
    from monitor.config import load_settings

    settings = load_settings(args.config)
    import orjson

    print(orjson.dumps(settings.model_dump(mode="json"), option=orjson.OPT_INDENT_2).decode())
    return 0


def _demo(args: argparse.Namespace) -> int:
    from rich.console import Console

    console = Console(width=max(120, Console().width))
    if args.dir is not None:
        return _demo_in(args, args.dir, console)
    with tempfile.TemporaryDirectory(prefix="driftwarden-demo-") as folder:
        return _demo_in(args, Path(folder), console)


def _demo_in(args: argparse.Namespace, folder: Path, console: Console) -> int:
    if args.replay:
        from monitor.demo.scenario import run_replay_demo

        return 0 if run_replay_demo(folder, console) else 1
    from monitor.demo.live import run_kafka_demo

    return run_kafka_demo(
        folder,
        console,
        http_port=args.http_port,
        stay=not args.exit,
        keep_broker=args.keep_broker,
    )


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``driftwarden`` console script."""
    args = _parser().parse_args(argv)
    tune_allocators()
    handlers = {
        "baseline": _baseline_build,
        "replay": _replay,
        "report": _report,
        "config": _config,
        "run": _run,
        "demo": _demo,
    }
    try:
        return handlers[args.command](args)
    except DriftwardenError as exc:
        print(f"driftwarden: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(
            f"driftwarden: error: {where}{exc.strerror or exc}; check that the path exists and "
            "that you may read or write it",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
