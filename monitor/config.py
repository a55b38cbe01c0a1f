"""The one settings model: a YAML file, every field overridable from the environment.

Precedence (highest first): explicit overrides passed by the CLI, environment variables
``DRIFTWARDEN_<FIELD>`` (nested with ``__``, e.g. ``DRIFTWARDEN_WINDOWS__SIZE=30m``), the YAML
file, the defaults below. ``load_settings`` turns every validation failure into a one-line
:class:`~monitor.errors.ConfigError` that names the field and the fix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from detectors.statistics import DEFAULT_EPSILON
from monitor.defaults import DEFAULT_HTTP_PORT
from monitor.errors import ConfigError
from monitor.window.grid import WindowGrid, calendar_size, check_timezone, window_grid

_UNITS_MS = {"ms": 1, "s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$")


def parse_duration_ms(value: object) -> int:
    """Milliseconds in a duration like ``250ms``, ``90s``, ``5m``, ``1h``, ``1d`` or a number.

    >>> parse_duration_ms("1h"), parse_duration_ms("90s"), parse_duration_ms(250)
    (3600000, 90000, 250)
    """
    if isinstance(value, bool):
        raise ValueError("a duration is a number with a unit such as 30s, 5m, 1h or 1d")
    if isinstance(value, int | float):
        return int(value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(
            f"{value!r} is not a duration; write a number with a unit: 250ms, 30s, 5m, 1h or 1d"
        )
    return int(float(match.group(1)) * _UNITS_MS[match.group(2)])


DurationMs = Annotated[int, BeforeValidator(parse_duration_ms), Field(ge=0)]


def parse_window_size(value: object) -> int | str:
    """A window size: milliseconds of a duration, or a calendar size (``1w``, ``1mo``) as text.

    >>> parse_window_size("1h"), parse_window_size("1mo"), parse_window_size(" 2 w")
    (3600000, '1mo', '2w')
    """
    calendar = calendar_size(value) if isinstance(value, str) else None
    if calendar is not None:
        return calendar
    try:
        return parse_duration_ms(value)
    except ValueError:
        raise ValueError(
            f"{value!r} is not a window size; write a duration such as 30s, 5m, 1h or 1d, or "
            "1w (ISO weeks from Monday) or 1mo (calendar months)"
        ) from None


WindowSize = Annotated[int | str, BeforeValidator(parse_window_size)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelConfig(_Section):
    """One monitored model: its name in the events and where its training baseline lives."""

    name: str = Field(
        min_length=1, description="Model name as it appears in the events' `model` field."
    )
    baseline: Path = Field(description="Baseline JSON built by `driftwarden baseline build`.")
    versions: dict[str, Path] = Field(
        default_factory=dict,
        description="Per-version baselines (built with --bins-from the model's baseline); a "
        "version without its own uses `baseline`.",
    )
    stable_version: str | None = Field(
        default=None,
        description="Version every other version (a canary) is also compared with, window by "
        "window: check canary_psi.",
    )
    critical_features: tuple[str, ...] = Field(
        default=(), description="Features whose going missing escalates to intervention."
    )


class WindowConfig(_Section):
    """Event-time tumbling windows."""

    size: WindowSize = Field(
        default=3_600_000,
        description="Window length, e.g. 1h; 1w for ISO weeks (from Monday), 1mo for calendar "
        "months (Nw, Nmo: N of them, 3mo being quarters). Fixed lengths lie on the Unix epoch's "
        "grid; in a timezone other than UTC, whole days are calendar days.",
    )
    timezone: str = Field(
        default="UTC",
        description="IANA time zone whose calendar day, week and month windows follow, e.g. "
        "Europe/Berlin: a 1d window is 23 or 25 hours on daylight-saving changes.",
    )
    offset: DurationMs = Field(
        default=0,
        description="Shift of every window's start, e.g. 6h: 1d windows from 06:00 (local time "
        "with a timezone); shorter than the shortest window.",
    )
    allowed_lateness: DurationMs = Field(
        default=300_000, description="How far behind the watermark an event may arrive, e.g. 5m."
    )
    max_versions: int = Field(
        default=20,
        ge=1,
        description="Model versions judged on their own, per model: those with a baseline of "
        "their own and the stable version first, then first come; the events of later "
        "versions count under model_version __other__.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, name: str) -> str:
        check_timezone(name)
        return name

    @model_validator(mode="after")
    def _valid_grid(self) -> WindowConfig:
        if isinstance(self.size, int) and self.size <= 0:
            raise ValueError("windows.size must be positive, e.g. 1h")
        self.grid()
        return self

    def grid(self) -> WindowGrid:
        """Where these windows start and end."""
        return window_grid(self.size, self.timezone, self.offset)


class SegmentConfig(_Section):
    """Slices judged on their own (each field separately, plus the overall stream)."""

    fields: tuple[str, ...] = Field(
        default=(), description="Segment fields, e.g. [platform, region]."
    )
    max_values: int = Field(
        default=20,
        ge=1,
        description="Distinct values kept per field; the rest fold into __other__.",
    )


EventPart = Literal[
    "event_id", "model", "model_version", "timestamp", "prediction", "label", "schema_version"
]


class FieldsConfig(_Section):
    """Where each part of an event lives (dotted paths into the JSON object)."""

    event_id: str = Field(default="event_id", description="Event id (joins labels to predictions).")
    model: str = Field(default="model", description="Model name.")
    model_version: str = Field(default="model_version", description="Model version.")
    timestamp: str = Field(
        default="timestamp", description="Event time: RFC 3339 text or epoch milliseconds."
    )
    features: str = Field(default="features", description="Object of feature name → value.")
    prediction: str = Field(
        default="prediction", description="Score, class label, or object of class probabilities."
    )
    label: str = Field(default="label", description="True outcome, when the event carries it.")
    segments: str = Field(default="segments", description="Object of segment field → value.")
    schema_version: str = Field(
        default="schema_version", description="Event schema version (absent means 1)."
    )
    timestamp_fallback: bool = Field(
        default=False, description="Use the Kafka record timestamp when an event has none."
    )
    default_model: str | None = Field(
        default=None, description="Model assumed for events without a model field."
    )
    columns: dict[EventPart, str] = Field(
        default_factory=dict,
        description="Flat files (CSV, Parquet, JSON Lines rows): part → the column read for it "
        "when a file has that column, before the one its path names, e.g. "
        "{prediction: y_pred_proba}; for prediction, a pattern with one * such as proba_* "
        "reads one column per class as class probabilities. A replay with only --baseline "
        "takes the baseline's prediction (or --prediction-proba), label and timestamp columns.",
    )


class DecodeConfig(_Section):
    """How JSON messages are read, and the limits that turn one into a counted reject."""

    max_message_bytes: int = Field(
        default=1_000_000, ge=1, description="Larger messages are rejected as oversize."
    )
    max_future: DurationMs = Field(default=86_400_000, description="Reject events further ahead.")
    max_unknown_features: int = Field(
        default=100,
        ge=1,
        description="Feature names the baselines do not know, counted by name; later ones are "
        "counted together under __other__.",
    )
    threads: int | None = Field(
        default=None,
        ge=1,
        le=1024,
        description="Threads that parse a batch of JSON messages (each takes at least 1,024); "
        "unset: the CPUs this process may run on, at most 4. The Helm chart sets it to the "
        "pod's CPU limit.",
    )
    csv_empty_is_missing: bool = Field(
        default=True,
        description="An empty field of a replayed CSV file is missing, as null is (and as the "
        'baseline build reads it); false keeps an empty text as the value "".',
    )


class TierThresholds(_Section):
    """A warning and an intervention threshold on a value where higher is worse."""

    warning: float = Field(ge=0, description="Value at or above which the check warns.")
    intervention: float = Field(ge=0, description="Value at or above which it intervenes.")

    @model_validator(mode="after")
    def _ordered(self) -> TierThresholds:
        if self.intervention < self.warning:
            raise ValueError("intervention must be at least warning")
        return self


class FalseAlarmRates(_Section):
    """False-alarm rate per window and check for each tier of a calibrated threshold."""

    warning: float = Field(default=0.01, gt=0, lt=1, description="Warnings per stable check.")
    intervention: float = Field(
        default=0.001, gt=0, lt=1, description="Interventions per stable check."
    )


class DriftThresholds(_Section):
    """Distribution drift of features and the prediction."""

    statistic: Literal["psi", "kl", "js", "hellinger", "wasserstein", "ks"] = Field(
        default="psi", description="The statistic that drives levels (all are reported)."
    )
    mode: Literal["both", "fixed", "calibrated"] = Field(
        default="both",
        description="both: raise only beyond the thresholds below (practical) and the baseline's "
        "null at the window's size and false_alarm_rate (statistical; practical only without a "
        "calibration); fixed: the thresholds below alone; calibrated: the null alone.",
    )
    warning: float = Field(default=0.1, ge=0, description="Fixed warning threshold.")
    intervention: float = Field(default=0.25, ge=0, description="Fixed intervention threshold.")
    false_alarm_rate: FalseAlarmRates = FalseAlarmRates()
    correction: Literal["none", "bonferroni", "bh"] = Field(
        default="none", description="Multiple-testing correction across a model's features."
    )

    @model_validator(mode="after")
    def _ordered(self) -> DriftThresholds:
        if self.intervention < self.warning:
            raise ValueError("intervention must be at least warning")
        if self.false_alarm_rate.intervention > self.false_alarm_rate.warning:
            raise ValueError(
                "false_alarm_rate.intervention must be at most false_alarm_rate.warning"
            )
        return self


class MissingThresholds(_Section):
    """Missing-rate excess over the reference's missing rate."""

    warning: float = Field(default=0.05, ge=0, le=1, description="Excess that warns.")
    intervention: float = Field(default=0.2, ge=0, le=1, description="Excess that intervenes.")
    critical: float = Field(
        default=0.01, ge=0, le=1, description="Intervention threshold for critical features."
    )


class PerformanceThresholds(_Section):
    """Relative degradation of a performance metric against the baseline's reference."""

    warning: float = Field(default=0.05, ge=0, description="Relative drop that warns.")
    intervention: float = Field(default=0.10, ge=0, description="Relative drop that intervenes.")
    min_labels: int = Field(
        default=1_000,
        ge=1,
        description="Labeled events a window needs before its performance gets a level.",
    )
    metrics: tuple[str, ...] = Field(
        default=("accuracy", "roc_auc", "mae", "rmse"),
        description="Metrics that get levels (those that do not apply to the task are skipped).",
    )


class AlertConfig(_Section):
    """When a check raises and clears."""

    drift: DriftThresholds = DriftThresholds()
    missing: MissingThresholds = MissingThresholds()
    unseen: TierThresholds = TierThresholds(warning=0.01, intervention=0.05)
    out_of_range: TierThresholds = TierThresholds(warning=0.05, intervention=0.2)
    performance: PerformanceThresholds = PerformanceThresholds()
    canary: TierThresholds = Field(
        default=TierThresholds(warning=0.1, intervention=0.25),
        description="PSI of a version against the stable version in the same window.",
    )
    min_events: int = Field(
        default=100, ge=1, description="Below this a check is insufficient_data."
    )
    consecutive: int = Field(default=2, ge=1, description="Windows above threshold before raising.")
    hysteresis: float = Field(
        default=0.2, ge=0, lt=1, description="Clear only below threshold × (1 − hysteresis)."
    )


class DetectorConfig(_Section):
    """One online detector: a registry name and its constructor parameters."""

    name: str = Field(description="adwin, kswin, page_hinkley(_np), ddm(_np), eddm, hddm_a, …")
    params: dict[str, Any] = Field(
        default_factory=dict, description="Constructor parameters, river's names."
    )


class ErrorDetectorConfig(DetectorConfig):
    """A concept-drift detector on the joined label stream."""

    stream: Literal["error", "abs_error"] = Field(
        description="error: 1 when the predicted class is wrong, else 0 (classification only); "
        "abs_error: |prediction − label| (score − 0/1 label for classification)."
    )


class DetectorsConfig(_Section):
    """Online detectors on the prediction score stream, per-window statistic series and the
    joined error stream."""

    prediction: tuple[DetectorConfig, ...] = Field(
        default=(DetectorConfig(name="page_hinkley_np"),),
        description="Run on every event's numeric prediction, per model and version.",
    )
    window_series: tuple[DetectorConfig, ...] = Field(
        default=(
            DetectorConfig(name="page_hinkley_np", params={"min_instances": 5, "threshold": 1.0}),
        ),
        description="Run on the per-window drift statistic of the prediction.",
    )
    errors: tuple[ErrorDetectorConfig, ...] = Field(
        default=(
            ErrorDetectorConfig(name="ddm_np", stream="error"),
            ErrorDetectorConfig(name="hddm_a", stream="error"),
            ErrorDetectorConfig(name="adwin", stream="abs_error"),
            ErrorDetectorConfig(name="page_hinkley_np", stream="abs_error"),
        ),
        description="Run on the errors of joined prediction/label pairs, per model and version, "
        "window by window in label-time order; reported as <stream>_<name>. eddm and hddm_w "
        "are available but not default: on a stable stream of 50,000 labels they fired 42 and "
        "25 times.",
    )


class LabelsConfig(_Section):
    """Joining delayed labels (from kafka.label_topics) to their predictions by event id."""

    horizon: DurationMs = Field(
        default=7 * 86_400_000,
        description="How long (event time) a prediction waits for its label, and a label for "
        "its prediction.",
    )
    max_pending: int = Field(
        default=1_000_000,
        ge=1,
        description="Predictions waiting for a label, all models; the oldest give way first.",
    )
    max_orphans: int = Field(
        default=100_000,
        ge=1,
        description="Labels that came before their prediction, kept until it arrives.",
    )
    read_ahead: DurationMs = Field(
        default=600_000,
        description="How far (event time) a label partition may be read past the prediction "
        "partition of its number while that one has records left to read; further, it is "
        "paused until the predictions catch up (a backlog's labels then wait for their "
        "predictions in Kafka, not in the max_orphans buffer).",
    )


class KafkaConfig(_Section):
    """The Kafka cluster, topics and client security (passed through to kafka-python)."""

    bootstrap_servers: tuple[str, ...] = Field(
        default=("127.0.0.1:9092",), min_length=1, description="host:port of one or more brokers."
    )
    group_id: str = Field(default="driftwarden", description="Consumer group of the daemon.")
    client_id: str = Field(default="driftwarden", description="Client id shown to the brokers.")
    group_instance_id: str | None = Field(
        default=None,
        description=(
            "Static membership id (e.g. the StatefulSet pod name): a restarted daemon takes its "
            "partitions back at once instead of after session_timeout."
        ),
    )
    session_timeout: DurationMs = Field(
        default=45_000, description="Without heartbeats this long, a member leaves the group."
    )
    prediction_topics: tuple[str, ...] = Field(
        default=("predictions",), min_length=1, description="Topics of prediction events."
    )
    label_topics: tuple[str, ...] = Field(
        default=(),
        description="Topics of label events ({event_id, model, timestamp, label}), joined to "
        "predictions per the labels section. With several daemons in a group, key predictions "
        "and labels by event id on topics with equal partition counts.",
    )
    alerts_topic: str | None = Field(default=None, description="Level transitions as JSON.")
    dead_letter_topic: str | None = Field(
        default=None, description="Rejected messages, original bytes, reason in a header."
    )
    max_poll_records: int = Field(default=5_000, ge=1, description="Records per poll at most.")
    poll_timeout: DurationMs = Field(default=1_000, description="Longest wait of one poll.")
    max_partition_fetch_bytes: int = Field(
        default=1_048_576,
        ge=1_024,
        description="Bytes one fetch returns per partition at most (Kafka's default 1 MiB caps a "
        "poll of 1 kB events near 1,000 records per partition; raise it with max_poll_records).",
    )
    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="How to reach the brokers."
    )
    ssl_cafile: Path | None = Field(default=None, description="CA bundle (SSL, SASL_SSL).")
    ssl_certfile: Path | None = Field(default=None, description="Client certificate (mTLS).")
    ssl_keyfile: Path | None = Field(default=None, description="Client key (mTLS).")
    ssl_password: SecretStr | None = Field(default=None, description="Password of the key.")
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        default=None, description="SASL mechanism (SASL_PLAINTEXT, SASL_SSL)."
    )
    sasl_username: str | None = Field(default=None, description="SASL user name.")
    sasl_password: SecretStr | None = Field(
        default=None, description="SASL password; prefer sasl_password_file or the environment."
    )
    sasl_password_file: Path | None = Field(
        default=None, description="File holding the SASL password (e.g. a mounted Secret)."
    )

    @model_validator(mode="after")
    def _sasl_complete(self) -> KafkaConfig:
        if self.security_protocol.startswith("SASL") and not (
            self.sasl_mechanism and self.sasl_username
        ):
            raise ValueError(
                f"security_protocol {self.security_protocol} needs sasl_mechanism and sasl_username"
            )
        if self.sasl_password is not None and self.sasl_password_file is not None:
            raise ValueError("set sasl_password or sasl_password_file, not both")
        return self

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for kafka-python clients; secrets read from files here."""
        options: dict[str, Any] = {
            "bootstrap_servers": list(self.bootstrap_servers),
            "client_id": self.client_id,
            "security_protocol": self.security_protocol,
        }
        for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile"):
            value = getattr(self, name)
            if value is not None:
                options[name] = str(value)
        if self.ssl_password is not None:
            options["ssl_password"] = self.ssl_password.get_secret_value()
        if self.sasl_mechanism is not None:
            options["sasl_mechanism"] = self.sasl_mechanism
            options["sasl_plain_username"] = self.sasl_username
            options["sasl_plain_password"] = self._sasl_password()
        return options

    def _sasl_password(self) -> str | None:
        if self.sasl_password_file is not None:
            try:
                return self.sasl_password_file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(
                    f"kafka.sasl_password_file {self.sasl_password_file}: {exc.strerror}; "
                    "mount the secret there or set kafka.sasl_password"
                ) from None
        return self.sasl_password.get_secret_value() if self.sasl_password else None


class AlertmanagerConfig(_Section):
    """Level transitions posted to Alertmanager's v2 API (for teams without Prometheus rules)."""

    url: str | None = Field(
        default=None, description="Alertmanager base URL, e.g. http://alertmanager:9093; none: off."
    )
    resend_interval: DurationMs = Field(
        default=60_000, description="Re-post firing alerts this often; endsAt is 4× this ahead."
    )
    timeout: DurationMs = Field(default=5_000, description="Longest wait of one POST.")
    runbook_base: str = Field(
        default="docs/runbook.md", description="Where docs/runbook.md is served; #anchors appended."
    )
    generator_url: str | None = Field(
        default=None, description="Link back to this daemon in every alert, e.g. its /status URL."
    )


class ExchangeConfig(_Section):
    """Internal topics of a scaled-out group: the exchange and the stage changelogs."""

    enabled: bool = Field(
        default=False,
        description="Run the two stages apart through Kafka (needed for more than one replica); "
        "needs kafka.group_instance_id. Off: one process joins them in memory.",
    )
    partitions: int = Field(
        default=12,
        ge=1,
        description="Partitions of the exchange topic: the most processes that share the models' "
        "scoring. Fixed once the topic exists (a different count is refused).",
    )
    replication_factor: int | None = Field(
        default=None,
        ge=1,
        description="Replicas of every internal topic (3 in production); unset: the broker's "
        "default.replication.factor, not checked.",
    )
    retention: DurationMs = Field(
        default=7 * 86_400_000,
        gt=0,
        description="How long the exchange keeps partials: longer than a window stays open "
        "(size + allowed lateness + the longest stall of a partition), as a process taking an "
        "exchange partition over reads its open windows' partials again.",
    )


class DaemonConfig(_Section):
    """The live daemon (`driftwarden run`): endpoints, checkpoints and its own report file."""

    http_host: str = Field(default="0.0.0.0", description="Address of the HTTP endpoints.")
    http_port: int = Field(
        default=DEFAULT_HTTP_PORT, ge=0, le=65535, description="/metrics, /healthz, …"
    )
    liveness_timeout: DurationMs = Field(
        default=60_000, description="/healthz fails when the main loop is stuck this long."
    )
    checkpoint_path: Path | None = Field(
        default=None, description="State + offsets file (a persistent volume); none: no restore."
    )
    checkpoint_interval: DurationMs = Field(default=30_000, description="Between checkpoints.")
    idle_timeout: DurationMs = Field(
        default=30_000,
        description="A partition read to its end this long stops holding the watermark back.",
    )
    report_path: Path | None = Field(
        default=None, description="Also append window/alert objects to this JSON Lines file."
    )
    max_segments: int = Field(
        default=20, ge=1, description="Segment values per field exported as metric labels."
    )
    stale_after: int = Field(
        default=1, ge=0, description="Windows after which a silent key's series disappear."
    )


class Settings(BaseSettings):
    """Everything driftwarden reads at start. See docs/configuration.md for every field."""

    model_config = SettingsConfigDict(
        env_prefix="DRIFTWARDEN_", env_nested_delimiter="__", extra="forbid", frozen=True
    )

    models: tuple[ModelConfig, ...] = Field(min_length=1)
    windows: WindowConfig = WindowConfig()
    segments: SegmentConfig = SegmentConfig()
    fields: FieldsConfig = FieldsConfig()
    decode: DecodeConfig = DecodeConfig()
    alerts: AlertConfig = AlertConfig()
    detectors: DetectorsConfig = DetectorsConfig()
    labels: LabelsConfig = LabelsConfig()
    epsilon: float = Field(
        default=DEFAULT_EPSILON, gt=0, lt=0.1, description="Smoothing for empty bins."
    )
    daemon: DaemonConfig = DaemonConfig()
    alertmanager: AlertmanagerConfig = AlertmanagerConfig()
    exchange: ExchangeConfig = ExchangeConfig()
    kafka: KafkaConfig | None = Field(
        default=None, description="Kafka source and outputs (needed by run and replay --topic)."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        yaml_file = settings_cls.model_config.get("yaml_file")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if yaml_file:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=yaml_file))
        return tuple(sources)

    @model_validator(mode="after")
    def _unique_models(self) -> Settings:
        names = [m.name for m in self.models]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"model {duplicates[0]!r} is listed twice; keep one entry per model")
        return self

    @model_validator(mode="after")
    def _exchange_needs_an_instance_id(self) -> Settings:
        if self.exchange.enabled and (self.kafka is None or not self.kafka.group_instance_id):
            raise ValueError(
                "exchange.enabled needs kafka.group_instance_id (unique per replica, e.g. the "
                "pod name): it names the stages' transactional producers"
            )
        return self


def _one_line(error: ValidationError) -> str:
    # an unknown field usually explains the rest (a misspelt section leaves its real one unset)
    first = min(error.errors(), key=lambda e: e["type"] != "extra_forbidden")
    where = ".".join(str(part) for part in first["loc"]) or "(top level)"
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        return (
            f"config field {where!r} is unknown; remove it or check its spelling in "
            "docs/configuration.md"
        )
    if first["type"] == "too_short" and where == "models":
        return "config field 'models' is empty; list at least one model with its name and baseline"
    if first["type"] == "missing":
        return f"config field {where!r} is required; add it (see docs/configuration.md)"
    return f"config field {where!r}: {message}"


def merged(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``overrides`` merged in: mappings field by field, anything else replaced.

    >>> merged({"alerts": {"consecutive": 2, "drift": {"warning": 0.1}}},
    ...        {"alerts": {"drift": {"warning": 0.15}}})
    {'alerts': {'consecutive': 2, 'drift': {'warning': 0.15}}}
    """
    result = dict(base)
    for name, value in overrides.items():
        inner = result.get(name)
        if isinstance(inner, Mapping) and isinstance(value, Mapping):
            result[name] = merged(inner, value)
        else:
            result[name] = value
    return result


def load_settings(path: Path | None, **overrides: Any) -> Settings:
    """Read and validate the configuration; raise ConfigError with one line on any mistake."""
    if path is not None:
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist; pass an existing YAML file")
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise ConfigError(
                f"config file {path} is not valid YAML{where}; fix the syntax"
            ) from exc
        if document is not None and not isinstance(document, dict):
            raise ConfigError(f"config file {path} must hold a mapping of fields at the top level")
    base = Settings.model_config
    bound = type("BoundSettings", (Settings,), {"model_config": {**base, "yaml_file": path}})
    try:
        settings: Settings = bound(**overrides)
    except ValidationError as exc:
        raise ConfigError(_one_line(exc)) from None
    if path is not None:
        settings = _resolve_paths(settings, path.parent)
    return settings


def _resolve_paths(settings: Settings, base: Path) -> Settings:
    """Make baseline paths in the file relative to the file's own folder."""
    models = tuple(
        model.model_copy(
            update={
                "baseline": base / model.baseline,
                "versions": {v: base / p for v, p in model.versions.items()},
            }
        )
        for model in settings.models
    )
    daemon = settings.daemon
    paths = {
        name: base / value
        for name in ("checkpoint_path", "report_path")
        if (value := getattr(daemon, name)) is not None
    }
    return settings.model_copy(update={"models": models, "daemon": daemon.model_copy(update=paths)})
