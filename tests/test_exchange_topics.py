"""The internal topics of a scaled-out group on the real broker: created when missing, accepted when
they match the config, refused with a one-line fix when they do not."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource, ConfigResourceType
from structlog.testing import capture_logs

from monitor.config import ExchangeConfig
from monitor.errors import InternalTopicError
from monitor.exchange.topics import ensure_topics, internal_topics

HOUR_MS = 3_600_000
EXCHANGE = ExchangeConfig(partitions=3, replication_factor=1, retention=HOUR_MS)


@pytest.fixture
def admin(kafka_bootstrap: str) -> Iterator[KafkaAdminClient]:
    client = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, request_timeout_ms=10_000)
    yield client
    client.close()


@pytest.fixture
def group() -> str:
    return f"scale-{uuid.uuid4().hex[:8]}"


def _ensure(admin: KafkaAdminClient, group: str, exchange: ExchangeConfig, tasks: int) -> list[str]:
    return ensure_topics(admin, group, internal_topics(group, exchange, tasks))


def _make(admin: KafkaAdminClient, name: str, partitions: int, **configs: str) -> None:
    admin.create_topics(
        {name: {"num_partitions": partitions, "replication_factor": 1, "configs": configs}},
        wait_for_metadata=True,
    )


def test_missing_topics_are_created_as_the_config_says(admin: KafkaAdminClient, group: str) -> None:
    """A group without internal topics gets all three, with the partitions, cleanup policy and
    retention of the design."""
    created = _ensure(admin, group, EXCHANGE, tasks=2)
    names = [f"{group}-exchange", f"{group}-stage1-changelog", f"{group}-stage2-changelog"]
    assert created == names
    partitions = {d["name"]: len(d["partitions"]) for d in admin.describe_topics(names)}
    assert partitions == dict(zip(names, [3, 2, 3], strict=True))
    configs = admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, n, ["cleanup.policy"]) for n in names]
    )["topic"]
    assert [configs[n]["cleanup.policy"]["value"] for n in names] == [
        "delete",
        "compact",
        "compact",
    ]
    exchange = admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, names[0], ["retention.ms"])]
    )["topic"][names[0]]
    assert exchange["retention.ms"]["value"] == str(HOUR_MS)


def _topic_configs(admin: KafkaAdminClient, name: str, keys: list[str]) -> dict[str, str]:
    described = admin.describe_configs(
        [ConfigResource(ConfigResourceType.TOPIC, name, keys)], config_filter="all"
    )["topic"][name]
    return {key: described[key]["value"] for key in keys}


def test_changelogs_are_created_with_bounded_segments(admin: KafkaAdminClient, group: str) -> None:
    """Both changelogs roll their active segment after 10 minutes or 64 MiB, so compaction
    bounds what a restore reads; the exchange keeps the broker's segments."""
    _ensure(admin, group, EXCHANGE, tasks=2)
    keys = ["segment.ms", "segment.bytes"]
    assert {
        name: _topic_configs(admin, f"{group}-{name}", keys)
        for name in ("stage1-changelog", "stage2-changelog", "exchange")
    } == {
        "stage1-changelog": {"segment.ms": "600000", "segment.bytes": "67108864"},
        "stage2-changelog": {"segment.ms": "600000", "segment.bytes": "67108864"},
        "exchange": {"segment.ms": "604800000", "segment.bytes": "1073741824"},
    }


def test_a_changelog_rolling_later_is_accepted_with_a_warning_per_setting(
    admin: KafkaAdminClient, group: str
) -> None:
    """A changelog made by hand with the broker's segments (7 days, 1 GiB) only costs restore
    time, so it is taken, and each setting above its bound is logged with the command that
    lowers it."""
    name = f"{group}-stage1-changelog"
    _make(admin, name, 2, **{"cleanup.policy": "compact"})
    with capture_logs() as logs:
        _ensure(admin, group, EXCHANGE, tasks=2)
    warnings = [(e["topic"], e["setting"], e["value"], e["bound"], e["fix"]) for e in logs]
    alter = f"kafka-configs.sh --alter --entity-type topics --entity-name {name} --add-config "
    assert warnings == [
        (name, "segment.ms", 604_800_000, 600_000, alter + "segment.ms=600000"),
        (name, "segment.bytes", 1_073_741_824, 67_108_864, alter + "segment.bytes=67108864"),
    ]


def test_a_changelog_rolling_sooner_is_accepted_silently(
    admin: KafkaAdminClient, group: str
) -> None:
    """Segments tighter than driftwarden's bounds (an operator's tuning) are taken without a
    word."""
    tight = {"cleanup.policy": "compact", "segment.ms": "60000", "segment.bytes": "1048576"}
    _make(admin, f"{group}-stage2-changelog", 3, **tight)
    with capture_logs() as logs:
        _ensure(admin, group, EXCHANGE, tasks=2)
    assert logs == []


def test_existing_topics_that_match_are_accepted(admin: KafkaAdminClient, group: str) -> None:
    """A second start (or a second process) finds the topics as configured and creates nothing."""
    _ensure(admin, group, EXCHANGE, tasks=2)
    assert _ensure(admin, group, EXCHANGE, tasks=2) == []


def test_a_topic_made_by_hand_with_broker_defaults_is_accepted(
    admin: KafkaAdminClient, group: str
) -> None:
    """An exchange an operator created without configs matches the defaults (delete, 7 days):
    values the broker reports as defaults are checked like explicit ones."""
    _make(admin, f"{group}-exchange", 12)
    assert _ensure(admin, group, ExchangeConfig(), tasks=1) == [
        f"{group}-stage1-changelog",
        f"{group}-stage2-changelog",
    ]


def test_an_exchange_with_another_partition_count_is_refused(
    admin: KafkaAdminClient, group: str
) -> None:
    """The exchange's partition count decides who owns a model, so a different one is refused,
    naming both ways out."""
    _ensure(admin, group, EXCHANGE, tasks=2)
    with pytest.raises(InternalTopicError) as refused:
        _ensure(admin, group, EXCHANGE.model_copy(update={"partitions": 4}), tasks=2)
    assert str(refused.value) == (
        f"internal topic '{group}-exchange' has 3 partitions, but exchange.partitions is 4; "
        f"set exchange.partitions: 3, or delete the topic while every driftwarden of group "
        f"'{group}' is stopped"
    )


@pytest.mark.parametrize(
    ("tasks", "fix"),
    [
        (
            5,
            "add partitions with kafka-topics.sh --alter --topic {group}-stage1-changelog "
            "--partitions 5",
        ),
        (1, "delete the topic while every driftwarden of group '{group}' is stopped"),
    ],
)
def test_a_stage1_changelog_of_another_width_is_refused_with_the_fix_that_fits(
    admin: KafkaAdminClient, group: str, tasks: int, fix: str
) -> None:
    """Grown source topics need as many changelog partitions, which can be added (records name
    their partition, so none move); a changelog wider than the tasks holds other topics' state
    and can only be deleted with the group stopped."""
    _ensure(admin, group, EXCHANGE, tasks=2)
    with pytest.raises(InternalTopicError) as refused:
        _ensure(admin, group, EXCHANGE, tasks=tasks)
    assert str(refused.value) == (
        f"internal topic '{group}-stage1-changelog' has 2 partitions, but the source topics "
        f"have {tasks}; " + fix.format(group=group)
    )


def test_a_changelog_that_is_not_compacted_is_refused(admin: KafkaAdminClient, group: str) -> None:
    """A changelog under the delete policy would lose the last snapshot of a quiet task."""
    _make(admin, f"{group}-stage1-changelog", 2, **{"cleanup.policy": "delete"})
    with pytest.raises(InternalTopicError) as refused:
        _ensure(admin, group, EXCHANGE, tasks=2)
    assert str(refused.value) == (
        f"internal topic '{group}-stage1-changelog' has cleanup.policy=delete, but it needs "
        f"compact; set it with kafka-configs.sh --alter --entity-type topics --entity-name "
        f"{group}-stage1-changelog --add-config cleanup.policy=compact"
    )


def test_an_exchange_with_another_retention_is_refused(admin: KafkaAdminClient, group: str) -> None:
    """The exchange's retention must be the configured one: both the config and the topic can
    be changed to agree."""
    _ensure(admin, group, EXCHANGE, tasks=2)
    with pytest.raises(InternalTopicError) as refused:
        _ensure(admin, group, EXCHANGE.model_copy(update={"retention": 2 * HOUR_MS}), tasks=2)
    assert str(refused.value) == (
        f"internal topic '{group}-exchange' has retention.ms=3600000, but exchange.retention is "
        f"7200000 ms; set exchange.retention: 3600000ms, or kafka-configs.sh --alter "
        f"--entity-type topics --entity-name {group}-exchange --add-config retention.ms=7200000"
    )


def test_another_replication_factor_is_refused(admin: KafkaAdminClient, group: str) -> None:
    """Topics with fewer replicas than configured are refused (the one broker here has 1)."""
    _ensure(admin, group, EXCHANGE, tasks=2)
    with pytest.raises(InternalTopicError) as refused:
        _ensure(admin, group, EXCHANGE.model_copy(update={"replication_factor": 3}), tasks=2)
    assert str(refused.value) == (
        f"internal topic '{group}-exchange' has replication factor 1, but "
        "exchange.replication_factor is 3; set exchange.replication_factor: 1, or reassign its "
        "replicas with kafka-reassign-partitions.sh"
    )


def test_an_unset_replication_factor_is_not_checked(admin: KafkaAdminClient, group: str) -> None:
    """Without exchange.replication_factor the broker's default is used and any count is taken."""
    _ensure(admin, group, EXCHANGE, tasks=2)
    unset = EXCHANGE.model_copy(update={"replication_factor": None})
    assert _ensure(admin, group, unset, tasks=2) == []


def test_a_topic_that_cannot_be_created_is_refused_with_the_command(
    admin: KafkaAdminClient, group: str
) -> None:
    """When the broker refuses to create a topic (here: more replicas than brokers), the message
    gives its reason and the command to create it by hand."""
    with pytest.raises(InternalTopicError) as refused:
        _ensure(admin, group, EXCHANGE.model_copy(update={"replication_factor": 3}), tasks=2)
    message = str(refused.value)
    assert message.startswith(f"cannot create internal topic '{group}-exchange' (")
    assert message.endswith(
        f"); create it yourself with kafka-topics.sh --create --topic {group}-exchange "
        "--partitions 3 --replication-factor 3 --config cleanup.policy=delete "
        "--config retention.ms=3600000"
    )
