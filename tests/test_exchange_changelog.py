"""Stage snapshots on a changelog topic of the real broker: written in a commit cycle, chunked
when large, restored as the latest committed one, and refused when its chunks do not match."""

from __future__ import annotations

import hashlib
import os

import orjson
import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaTimeoutError
from kafka.structs import OffsetAndMetadata

from monitor.exchange.changelog import (
    CHUNK_BYTES,
    Changelog,
    RestoreTimeoutError,
    SnapshotDigestError,
)
from monitor.exchange.commit_cycle import CommitCycle
from tests.support.exchange import new_group, read_partition
from tests.support.kafka import create_topic
from tests.support.ports import free_loopback_ports

THREE_MB = os.urandom(3_000_000)


@pytest.fixture
def changelog(kafka_bootstrap: str) -> Changelog:
    """The stage-1 changelog of a fresh group with two tasks."""
    group = new_group(kafka_bootstrap, exchange_partitions=1, tasks=2)
    return Changelog(f"{group}-stage1-changelog")


@pytest.fixture
def cycle(kafka_bootstrap: str, changelog: Changelog) -> CommitCycle:
    return CommitCycle({"bootstrap_servers": kafka_bootstrap}, f"{changelog.topic}-writer")


def _write(cycle: CommitCycle, changelog: Changelog, *snapshots: tuple[str, bytes]) -> None:
    """One committed cycle writing each (key, data) to partition 0."""
    cycle.begin()
    for key, data in snapshots:
        changelog.write(cycle, 0, key, data, cycle=7)
    cycle.commit({}, None)
    changelog.committed()


def _restore(bootstrap: str, changelog: Changelog, key: str = "t0") -> bytes | None:
    return Changelog(changelog.topic).restore({"bootstrap_servers": bootstrap}, 0, key)


def test_a_small_snapshot_round_trips_with_its_manifest(
    kafka_bootstrap: str, changelog: Changelog, cycle: CommitCycle
) -> None:
    """A 10-byte snapshot is one chunk followed by its manifest, and restores byte for byte."""
    _write(cycle, changelog, ("t0", b"0123456789"))
    records = read_partition(kafka_bootstrap, changelog.topic, 0)
    assert [(r.key, r.value) for r in records] == [
        (b"t0/0", b"0123456789"),
        (
            b"t0",
            orjson.dumps(
                {"chunks": 1, "sha256": hashlib.sha256(b"0123456789").hexdigest(), "cycle": 7}
            ),
        ),
    ]
    assert _restore(kafka_bootstrap, changelog) == b"0123456789"
    cycle.close()


def test_a_3_mb_snapshot_is_chunked_and_round_trips(
    kafka_bootstrap: str, changelog: Changelog, cycle: CommitCycle
) -> None:
    """3,000,000 bytes go out as four chunks of at most 900 kB, then the manifest."""
    _write(cycle, changelog, ("t0", THREE_MB))
    records = read_partition(kafka_bootstrap, changelog.topic, 0)
    assert [r.key for r in records] == [b"t0/0", b"t0/1", b"t0/2", b"t0/3", b"t0"]
    assert [len(r.value) for r in records[:4]] == [CHUNK_BYTES] * 3 + [300_000]
    assert _restore(kafka_bootstrap, changelog) == THREE_MB
    cycle.close()


def test_a_later_shorter_snapshot_wins_and_tombstones_the_stale_chunks(
    kafka_bootstrap: str, changelog: Changelog, cycle: CommitCycle
) -> None:
    """After a 4-chunk snapshot, a 1-chunk one restores, and its cycle deletes chunks 1 to 3
    (so compaction keeps no chunk of the old one)."""
    _write(cycle, changelog, ("t0", THREE_MB))
    _write(cycle, changelog, ("t0", b"short"))
    second = read_partition(kafka_bootstrap, changelog.topic, 0)[5:]
    assert [(r.key, r.value is None) for r in second] == [
        (b"t0/0", False),
        (b"t0/1", True),
        (b"t0/2", True),
        (b"t0/3", True),
        (b"t0", False),
    ]
    assert _restore(kafka_bootstrap, changelog) == b"short"
    cycle.close()


def test_a_new_owner_learns_the_chunks_to_tombstone_from_its_restore(
    kafka_bootstrap: str, changelog: Changelog, cycle: CommitCycle
) -> None:
    """A process that restored a 4-chunk snapshot written by another deletes its chunks 1 to 3
    when it first writes a shorter one."""
    _write(cycle, changelog, ("t0", THREE_MB))
    successor = Changelog(changelog.topic)
    assert successor.restore({"bootstrap_servers": kafka_bootstrap}, 0, "t0") == THREE_MB
    _write(cycle, successor, ("t0", b"short"))
    tombstoned = [r.key for r in read_partition(kafka_bootstrap, changelog.topic, 0)[5:]]
    assert tombstoned == [b"t0/0", b"t0/1", b"t0/2", b"t0/3", b"t0"]
    cycle.close()


def test_chunks_deleted_already_are_not_deleted_again_by_a_new_owner(
    kafka_bootstrap: str, changelog: Changelog, cycle: CommitCycle
) -> None:
    """Chunks that the predecessor's last snapshot tombstoned do not count as held: the new
    owner's first snapshot of the same size sends its chunk and manifest only."""
    _write(cycle, changelog, ("t0", THREE_MB))
    _write(cycle, changelog, ("t0", b"short"))
    successor = Changelog(changelog.topic)
    successor.restore({"bootstrap_servers": kafka_bootstrap}, 0, "t0")
    _write(cycle, successor, ("t0", b"again"))
    third = read_partition(kafka_bootstrap, changelog.topic, 0)[10:]
    assert [r.key for r in third] == [b"t0/0", b"t0"]
    cycle.close()


def test_an_aborted_cycles_snapshot_is_never_restored(
    kafka_bootstrap: str, changelog: Changelog, cycle: CommitCycle
) -> None:
    """A snapshot written in a cycle that aborted leaves the one committed before it."""
    _write(cycle, changelog, ("t0", b"committed"))
    cycle.begin()
    changelog.write(cycle, 0, "t0", THREE_MB)
    cycle.abort()
    changelog.aborted()
    assert _restore(kafka_bootstrap, changelog) == b"committed"
    cycle.close()


def test_a_snapshot_in_an_open_cycle_is_neither_restored_nor_waited_for(
    kafka_bootstrap: str, changelog: Changelog, cycle: CommitCycle
) -> None:
    """While another process's cycle is still open (a zombie), the restore ends at the last
    stable offset with the snapshot committed before it."""
    _write(cycle, changelog, ("t0", b"committed"))
    cycle.begin()
    changelog.write(cycle, 0, "t0", b"pending")
    cycle.producer.flush()
    assert _restore(kafka_bootstrap, changelog) == b"committed"
    cycle.close()


def test_a_successor_learns_its_offsets_only_once_the_last_cycle_ended(
    kafka_bootstrap: str, changelog: Changelog, cycle: CommitCycle
) -> None:
    """While the previous owner's last cycle is open, a successor's read_committed consumer
    cannot read the committed offsets (KIP-447 waits for the cycle to end); once it commits,
    the offsets and the restored snapshot are both that cycle's. So a stage restores its
    changelog after reading its offsets, never an older snapshot than its offsets."""
    group = changelog.topic.removesuffix("-stage1-changelog")
    source = TopicPartition(create_topic(kafka_bootstrap, "source"), 0)
    _write(cycle, changelog, ("t0", b"old"))
    cycle.begin()
    changelog.write(cycle, 0, "t0", b"new")
    cycle.producer.send_offsets_to_transaction({source: OffsetAndMetadata(7, "", -1)}, group)
    successor = KafkaConsumer(
        bootstrap_servers=kafka_bootstrap,
        group_id=group,
        enable_auto_commit=False,
        isolation_level="read_committed",
    )
    with pytest.raises(KafkaTimeoutError):
        successor.committed(source, timeout_ms=2_000)
    cycle.commit({}, None)
    committed = successor.committed(source, timeout_ms=60_000)
    successor.close()
    assert (committed, _restore(kafka_bootstrap, changelog)) == (7, b"new")
    cycle.close()


def test_two_keys_in_one_partition_do_not_mix(
    kafka_bootstrap: str, changelog: Changelog, cycle: CommitCycle
) -> None:
    """Snapshots of two keys sharing a partition, chunked and interleaved across cycles, each
    restore as their own latest."""
    _write(cycle, changelog, ("t0", THREE_MB), ("t1", b"one"))
    _write(cycle, changelog, ("t1", THREE_MB[::-1]))
    assert _restore(kafka_bootstrap, changelog, "t0") == THREE_MB
    assert _restore(kafka_bootstrap, changelog, "t1") == THREE_MB[::-1]
    cycle.close()


def test_the_snapshots_of_several_partitions_restore_together(
    kafka_bootstrap: str, changelog: Changelog, cycle: CommitCycle
) -> None:
    """One read of both tasks' partitions gives each task its own latest snapshot (a chunked
    one too), and None for a task that has none."""
    cycle.begin()
    changelog.write(cycle, 0, "t0", THREE_MB)
    changelog.write(cycle, 1, "t1", b"one")
    cycle.commit({}, None)
    changelog.committed()
    _write(cycle, changelog, ("t0", b"zero"))
    restored = Changelog(changelog.topic).restore_all(
        {"bootstrap_servers": kafka_bootstrap}, {0: "t0", 1: "t1"}
    )
    assert restored == {0: b"zero", 1: b"one"}
    nothing = Changelog(changelog.topic).restore_all(
        {"bootstrap_servers": kafka_bootstrap}, {0: "t9", 1: "t8"}
    )
    assert nothing == {0: None, 1: None}
    cycle.close()


def test_no_snapshot_or_a_tombstone_restores_nothing(
    kafka_bootstrap: str, changelog: Changelog, cycle: CommitCycle
) -> None:
    """A key never written, and a key whose manifest was deleted, restore as None."""
    assert _restore(kafka_bootstrap, changelog) is None
    _write(cycle, changelog, ("t0", b"data"))
    cycle.begin()
    cycle.send(changelog.topic, 0, b"t0", None)
    cycle.commit({}, None)
    assert _restore(kafka_bootstrap, changelog) is None
    cycle.close()


def test_chunks_that_do_not_match_their_manifest_are_refused(
    kafka_bootstrap: str, changelog: Changelog, cycle: CommitCycle
) -> None:
    """A chunk overwritten outside a snapshot's cycle makes the digest differ: the restore
    names the topic, partition and key instead of returning mixed bytes."""
    _write(cycle, changelog, ("t0", THREE_MB))
    cycle.begin()
    cycle.send(changelog.topic, 0, b"t0/2", b"x" * CHUNK_BYTES)
    cycle.commit({}, None)
    with pytest.raises(SnapshotDigestError) as refused:
        _restore(kafka_bootstrap, changelog)
    assert str(refused.value).startswith(
        f"changelog {changelog.topic}[0] key 't0': the manifest names 4 chunks with sha256 "
        f"{hashlib.sha256(THREE_MB).hexdigest()}, but its chunks hash to "
    )
    cycle.close()


def test_an_unreachable_broker_is_named_when_the_restore_gives_up() -> None:
    """With no broker at the address, the restore fails within its bound and names it."""
    (port,) = free_loopback_ports(1)
    changelog = Changelog("dw-stage1-changelog")
    with pytest.raises(RestoreTimeoutError) as refused:
        changelog.restore({"bootstrap_servers": f"127.0.0.1:{port}"}, 3, "t3", timeout_s=1)
    message = str(refused.value)
    assert message.startswith(
        "changelog dw-stage1-changelog[3] key 't3': not read to its end within 1 s from broker "
        f"127.0.0.1:{port} ("
    )
    assert message.endswith("); check that the broker is up and reachable")
