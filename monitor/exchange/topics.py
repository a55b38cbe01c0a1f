"""The internal topics of a scaled-out group: what they must be, and making sure they are.

Three topics per consumer group (docs/scale-out.md, "Internal topics"), named after
``kafka.group_id`` so two groups never share one: the exchange (stage 1 → stage 2, keyed by
model) and the two stages' changelogs. :func:`ensure_topics` creates those that are missing and
checks those that exist; one that differs in partition count, ``cleanup.policy``,
``retention.ms`` or replication factor is refused with an :class:`InternalTopicError` naming the
fix. Nothing is ever altered: a partition count decides where state lives, and Kafka cannot
shrink a topic.

The changelogs are created with ``segment.ms`` and ``segment.bytes`` bounded
(:data:`CHANGELOG_SEGMENT_MS`, :data:`CHANGELOG_SEGMENT_BYTES`): compaction never touches a
partition's active segment, so these bound what a restore reads beyond the latest snapshots. An
existing changelog that rolls later is not refused, only logged as a warning with the command
that lowers it: the settings cost restore time, never correctness, and an operator may have
tuned them on purpose.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from kafka.admin import ConfigResource, ConfigResourceType
from kafka.errors import TopicAlreadyExistsError, UnknownTopicOrPartitionError

from monitor.config import ExchangeConfig
from monitor.errors import InternalTopicError

_READY_TIMEOUT_MS = 10_000

CHANGELOG_SEGMENT_MS = 600_000
"""A changelog's active segment rolls after 10 minutes (Kafka's default: 7 days), so a quiet
task's superseded snapshots become compactable within minutes."""
CHANGELOG_SEGMENT_BYTES = 64 * 1024 * 1024
"""…or at 64 MiB (Kafka's default: 1 GiB): a busy changelog's active segment, which a restore
reads whole, costs about 0.6 s at the 9 s per GiB measured here."""

log = structlog.get_logger()


@dataclass(frozen=True)
class InternalTopic:
    """One internal topic as the config wants it.

    ``retention_ms`` is checked only for a ``delete`` topic; ``replication_factor`` None means
    the broker's default, not checked. ``sized_by`` says what sets the partition count, for
    messages: ``exchange.partitions`` or ``source topics``. ``segments`` holds the upper bounds
    of ``segment.ms`` and ``segment.bytes`` it is created with (empty: the broker's).
    """

    name: str
    partitions: int
    cleanup_policy: str
    retention_ms: int | None
    replication_factor: int | None
    sized_by: str
    segments: tuple[tuple[str, int], ...] = ()

    def configs(self) -> dict[str, str]:
        """The topic-level configs it is created with.

        >>> InternalTopic("dw-stage1-changelog", 4, "compact", None, None, "source topics",
        ...               (("segment.ms", 600000),)).configs()
        {'cleanup.policy': 'compact', 'segment.ms': '600000'}
        """
        configs = {"cleanup.policy": self.cleanup_policy}
        if self.retention_ms is not None:
            configs["retention.ms"] = str(self.retention_ms)
        configs.update((key, str(bound)) for key, bound in self.segments)
        return configs


def internal_topics(group_id: str, exchange: ExchangeConfig, tasks: int) -> list[InternalTopic]:
    """The group's internal topics; ``tasks`` is the largest partition count of the source
    (prediction and label) topics.

    >>> [(t.name, t.partitions, t.cleanup_policy)
    ...  for t in internal_topics("dw", ExchangeConfig(partitions=6), tasks=4)]
    [('dw-exchange', 6, 'delete'), ('dw-stage1-changelog', 4, 'compact'), \
('dw-stage2-changelog', 6, 'compact')]
    """
    replicas = exchange.replication_factor
    segments = (("segment.ms", CHANGELOG_SEGMENT_MS), ("segment.bytes", CHANGELOG_SEGMENT_BYTES))
    return [
        InternalTopic(
            f"{group_id}-exchange",
            exchange.partitions,
            "delete",
            exchange.retention,
            replicas,
            "exchange.partitions",
        ),
        InternalTopic(
            f"{group_id}-stage1-changelog",
            tasks,
            "compact",
            None,
            replicas,
            "source topics",
            segments,
        ),
        InternalTopic(
            f"{group_id}-stage2-changelog",
            exchange.partitions,
            "compact",
            None,
            replicas,
            "exchange.partitions",
            segments,
        ),
    ]


def ensure_topics(admin: Any, group_id: str, topics: Sequence[InternalTopic]) -> list[str]:
    """Create the missing ``topics`` and check the existing ones with a ``KafkaAdminClient``;
    the names of those created here (another process may create one at the same time: it is
    then checked like any existing one).

    Raises :class:`InternalTopicError` for the first topic that differs from the config, and
    logs a warning for each segment setting above its bound. Kafka errors (an unreachable
    broker, a missing authorisation) propagate.
    """
    missing = [t for t in topics if t.name not in _existing(admin, [t.name for t in topics])]
    created = _create(admin, missing)
    if created:
        admin.wait_for_topics(created, timeout_ms=_READY_TIMEOUT_MS)
    described = {d["name"]: d for d in admin.describe_topics([t.name for t in topics])}
    configs = admin.describe_configs(
        [
            ConfigResource(
                ConfigResourceType.TOPIC,
                t.name,
                ["cleanup.policy", "retention.ms", *(key for key, _ in t.segments)],
            )
            for t in topics
        ],
        config_filter="all",
    )["topic"]
    for topic in topics:
        _check(topic, described[topic.name], configs[topic.name], group_id)
        _warn_of_late_rolls(topic, configs[topic.name])
    return created


def _existing(admin: Any, names: list[str]) -> set[str]:
    return {
        d["name"]
        for d in admin.describe_topics(names)
        if d["error_code"] != UnknownTopicOrPartitionError.errno
    }


def _create(admin: Any, topics: list[InternalTopic]) -> list[str]:
    """Create ``topics``; the names created (one created meanwhile by another process is not)."""
    if not topics:
        return []
    answer = admin.create_topics(
        {
            t.name: {
                "num_partitions": t.partitions,
                "replication_factor": t.replication_factor or -1,
                "configs": t.configs(),
            }
            for t in topics
        },
        timeout_ms=_READY_TIMEOUT_MS,
        raise_errors=False,
    )
    created = []
    for result in answer["topics"]:
        code = result["error_code"]
        if code == 0:
            created.append(result["name"])
        elif code != TopicAlreadyExistsError.errno:
            raise InternalTopicError(
                f"cannot create internal topic {result['name']!r} "
                f"({result['error_message'] or f'error code {code}'}); create it yourself with "
                f"{_create_command(next(t for t in topics if t.name == result['name']))}"
            )
    return created


def _check(
    topic: InternalTopic, described: dict[str, Any], configs: dict[str, Any], group_id: str
) -> None:
    name = topic.name
    partitions = len(described["partitions"])
    if partitions != topic.partitions:
        raise InternalTopicError(
            f"internal topic {name!r} has {partitions} partitions, but "
            + _partition_need(topic)
            + "; "
            + _partition_fix(topic, partitions, group_id)
        )
    policy, wanted_policy = configs["cleanup.policy"]["value"], topic.cleanup_policy
    if policy != wanted_policy:
        raise InternalTopicError(
            f"internal topic {name!r} has cleanup.policy={policy}, but it needs {wanted_policy}; "
            f"set it with {_alter_command(name, 'cleanup.policy', wanted_policy)}"
        )
    retention = int(configs["retention.ms"]["value"])
    if topic.retention_ms is not None and retention != topic.retention_ms:
        raise InternalTopicError(
            f"internal topic {name!r} has retention.ms={retention}, but exchange.retention is "
            f"{topic.retention_ms} ms; set exchange.retention: {retention}ms, or "
            f"{_alter_command(name, 'retention.ms', str(topic.retention_ms))}"
        )
    replicas = {len(p["replica_nodes"]) for p in described["partitions"]}
    wanted = topic.replication_factor
    if wanted is not None and replicas != {wanted}:
        found = "/".join(str(n) for n in sorted(replicas))
        raise InternalTopicError(
            f"internal topic {name!r} has replication factor {found}, but "
            f"exchange.replication_factor is {wanted}; set exchange.replication_factor: {found}, "
            "or reassign its replicas with kafka-reassign-partitions.sh"
        )


def _warn_of_late_rolls(topic: InternalTopic, configs: dict[str, Any]) -> None:
    for key, bound in topic.segments:
        value = int(configs[key]["value"])
        if value > bound:
            log.warning(
                "internal topic rolls its segments late: a restore reads its active segment whole",
                topic=topic.name,
                setting=key,
                value=value,
                bound=bound,
                fix=_alter_command(topic.name, key, str(bound)),
            )


def _partition_need(topic: InternalTopic) -> str:
    if topic.sized_by == "exchange.partitions":
        return f"exchange.partitions is {topic.partitions}"
    return f"the source topics have {topic.partitions}"


def _partition_fix(topic: InternalTopic, found: int, group_id: str) -> str:
    stopped = f"delete the topic while every driftwarden of group {group_id!r} is stopped"
    if topic.cleanup_policy == "compact" and found < topic.partitions:
        return (
            f"add partitions with kafka-topics.sh --alter --topic {topic.name} "
            f"--partitions {topic.partitions}"
        )
    if topic.sized_by == "exchange.partitions":
        return f"set exchange.partitions: {found}, or {stopped}"
    return stopped


def _alter_command(name: str, key: str, value: str) -> str:
    return (
        f"kafka-configs.sh --alter --entity-type topics --entity-name {name} "
        f"--add-config {key}={value}"
    )


def _create_command(topic: InternalTopic) -> str:
    configs = " ".join(f"--config {k}={v}" for k, v in topic.configs().items())
    size = f"--partitions {topic.partitions}"
    if topic.replication_factor is not None:
        size += f" --replication-factor {topic.replication_factor}"
    return f"kafka-topics.sh --create --topic {topic.name} {size} {configs}"
