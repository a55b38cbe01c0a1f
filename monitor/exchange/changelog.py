"""A stage's state as snapshots on a compacted changelog topic, written in its commit cycles.

Each snapshot of a key (``t<k>`` for a stage-1 task, ``e<e>`` for a stage-2 exchange partition)
is written inside the caller's transaction (docs/scale-out.md, "Where state lives"): its bytes
cut into chunks of at most :data:`CHUNK_BYTES` under ``key/0 … key/n-1``, then the manifest
under ``key`` — ``{"chunks": n, "sha256": …}`` and the commit cycle number when given — last,
so that a reader that sees the manifest has seen its chunks. Chunk keys of an earlier, longer
snapshot get tombstones, so compaction leaves one snapshot per key. A restore reads the
partition from its beginning to its end with ``read_committed`` (an aborted cycle's snapshot is
never seen), takes the latest manifest, joins its chunks and checks their digest.

Every snapshot has a manifest, however small (one chunk then): one way to write and to read,
and the manifest is never confused with a snapshot's bytes; it costs one record of ~90 bytes.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from typing import Any

import orjson
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from monitor.errors import CheckpointError, error_text
from monitor.exchange.commit_cycle import RecordSender

CHUNK_BYTES = 900_000
"""Largest chunk: below the producer's ``max_request_size`` and the broker's
``message.max.bytes`` (both 1 MiB by default) with room for the key and headers."""
_FETCH_BYTES = 8 * 1024 * 1024  # per fetch of the one partition a restore reads
_POLL_MS = 500


class ChangelogError(CheckpointError):
    """A snapshot in a changelog topic cannot be restored."""


class SnapshotDigestError(ChangelogError):
    """The chunks of a snapshot do not add up to what its manifest says."""


class RestoreTimeoutError(ChangelogError):
    """A changelog partition could not be read to its end in time."""


def chunk_key(key: str, index: int) -> bytes:
    """The record key of chunk ``index`` of ``key``'s snapshot.

    >>> chunk_key("t3", 0)
    b't3/0'
    """
    return f"{key}/{index}".encode()


class Changelog:
    """Snapshots of keys on one changelog ``topic``, and how many chunk keys each may hold.

    The chunk counts written in the open cycle become the known ones at :meth:`committed` and
    are forgotten at :meth:`aborted` (an aborted cycle's chunks are never read, so they need
    no tombstones).
    """

    def __init__(self, topic: str) -> None:
        self.topic = topic
        self.chunks: dict[tuple[int, str], int] = {}
        self.pending: dict[tuple[int, str], int] = {}

    def write(
        self,
        sender: RecordSender,
        partition: int,
        key: str,
        data: bytes,
        *,
        cycle: int | None = None,
    ) -> None:
        """Send ``data`` as the snapshot of ``key`` in changelog ``partition``: its chunks,
        tombstones for chunks of a longer snapshot written before, then its manifest."""
        if "/" in key:
            raise ValueError(f"a changelog key cannot hold '/' (chunk keys do): {key!r}")
        count = -(-len(data) // CHUNK_BYTES)
        view = memoryview(data)
        for index in range(count):
            chunk = bytes(view[index * CHUNK_BYTES : (index + 1) * CHUNK_BYTES])
            sender.send(self.topic, partition, chunk_key(key, index), chunk)
        for index in range(count, self._chunks_held(partition, key)):
            sender.send(self.topic, partition, chunk_key(key, index), None)
        manifest: dict[str, Any] = {"chunks": count, "sha256": hashlib.sha256(data).hexdigest()}
        if cycle is not None:
            manifest["cycle"] = cycle
        sender.send(self.topic, partition, key.encode(), orjson.dumps(manifest))
        self.pending[(partition, key)] = count

    def committed(self) -> None:
        """The cycle that wrote the pending snapshots committed."""
        self.chunks.update(self.pending)
        self.pending.clear()

    def aborted(self) -> None:
        """The cycle that wrote the pending snapshots aborted."""
        self.pending.clear()

    def _chunks_held(self, partition: int, key: str) -> int:
        where = (partition, key)
        return max(self.chunks.get(where, 0), self.pending.get(where, 0))

    def restore(
        self, options: Mapping[str, Any], partition: int, key: str, *, timeout_s: float = 60.0
    ) -> bytes | None:
        """The latest committed snapshot of ``key`` in ``partition``; None without one (never
        written, or a tombstone). ``options`` are kafka-python client options.

        Raises :class:`SnapshotDigestError` when the chunks do not match the manifest, and
        :class:`RestoreTimeoutError` naming the broker when the partition's end is not reached
        within ``timeout_s``.
        """
        return self.restore_all(options, {partition: key}, timeout_s=timeout_s)[partition]

    def restore_all(
        self, options: Mapping[str, Any], keys: Mapping[int, str], *, timeout_s: float = 60.0
    ) -> dict[int, bytes | None]:
        """:meth:`restore` of each ``{partition: key}``, the partitions read together by one
        consumer (a process taking over many tasks waits for one round of requests, not one per
        task)."""
        if not keys:
            return {}
        latest = self._read_to_end(options, keys, timeout_s)
        return {p: self._snapshot(p, key, latest[p]) for p, key in sorted(keys.items())}

    def _snapshot(
        self, partition: int, key: str, latest: dict[bytes, bytes | None]
    ) -> bytes | None:
        """The snapshot of ``key`` from the latest values of its keys in ``partition``."""
        manifest = latest.pop(key.encode(), None)
        held = [int(k.rpartition(b"/")[2]) + 1 for k, v in latest.items() if v is not None]
        self.chunks[(partition, key)] = max(held, default=0)
        if manifest is None:
            return None
        count, digest = self._manifest(partition, key, manifest)
        self.chunks[(partition, key)] = max(count, *held, 0)
        parts = [latest.get(chunk_key(key, index)) for index in range(count)]
        missing = [index for index, part in enumerate(parts) if part is None]
        data = b"".join(part for part in parts if part is not None)
        found = hashlib.sha256(data).hexdigest()
        if missing or found != digest:
            problem = f"chunk {missing[0]} is missing" if missing else f"its chunks hash to {found}"
            raise SnapshotDigestError(
                f"{self._where(partition, key)}: the manifest names {count} chunks with sha256 "
                f"{digest}, but {problem}; the snapshot cannot be trusted: write a tombstone "
                f"for key {key!r} to start what it holds afresh"
            )
        return data

    def _read_to_end(
        self, options: Mapping[str, Any], keys: Mapping[int, str], timeout_s: float
    ) -> dict[int, dict[bytes, bytes | None]]:
        """Per partition, the latest value of its key and of the key's chunk keys
        (``key/<digits>``), committed ones only, read from the beginning to the end offset."""
        tps = {TopicPartition(self.topic, p): key for p, key in keys.items()}
        wanted = {tp: (key.encode(), chunk_key(key, 0)[:-1]) for tp, key in tps.items()}

        def ours(tp: TopicPartition, record_key: bytes | None) -> bool:
            if record_key is None:
                return False
            exact, prefix = wanted[tp]
            chunk = record_key.startswith(prefix) and record_key[len(prefix) :].isdigit()
            return record_key == exact or chunk

        deadline = time.monotonic() + timeout_s
        bound_ms = max(1, int(timeout_s * 1000))
        latest: dict[int, dict[bytes, bytes | None]] = {p: {} for p in keys}
        first = min(keys)
        consumer = None
        try:
            consumer = KafkaConsumer(
                **options,
                group_id=None,
                enable_auto_commit=False,
                isolation_level="read_committed",
                max_partition_fetch_bytes=_FETCH_BYTES,
                bootstrap_timeout_ms=bound_ms,
            )
            consumer.assign(list(tps))
            consumer.seek_to_beginning(*tps)
            ends = consumer.end_offsets(list(tps), timeout_ms=bound_ms)
            behind = [tp for tp in tps if consumer.position(tp, timeout_ms=bound_ms) < ends[tp]]
            while behind:
                if time.monotonic() > deadline:
                    tp = behind[0]
                    where = f"at {consumer.position(tp)} of {ends[tp]}"
                    raise self._late(options, tp.partition, tps[tp], timeout_s, where)
                for tp, records in consumer.poll(timeout_ms=_POLL_MS).items():
                    values = latest[tp.partition]
                    for record in records:
                        if ours(tp, record.key):
                            values[record.key] = record.value
                behind = [
                    tp for tp in behind if consumer.position(tp, timeout_ms=bound_ms) < ends[tp]
                ]
            return latest
        except KafkaError as exc:
            raise self._late(options, first, keys[first], timeout_s, error_text(exc)) from None
        finally:
            if consumer is not None:
                consumer.close()

    def _late(
        self, options: Mapping[str, Any], partition: int, key: str, timeout_s: float, problem: str
    ) -> RestoreTimeoutError:
        servers = options.get("bootstrap_servers")
        broker = ",".join(servers) if isinstance(servers, list | tuple) else str(servers)
        return RestoreTimeoutError(
            f"{self._where(partition, key)}: not read to its end within {timeout_s:g} s from "
            f"broker {broker} ({problem}); check that the broker is up and reachable"
        )

    def _manifest(self, partition: int, key: str, value: bytes) -> tuple[int, str]:
        try:
            manifest = orjson.loads(value)
            count, digest = manifest["chunks"], manifest["sha256"]
        except (orjson.JSONDecodeError, TypeError, KeyError):
            count, digest = None, None
        if not isinstance(count, int) or count < 0 or not isinstance(digest, str):
            raise SnapshotDigestError(
                f"{self._where(partition, key)}: the value of key {key!r} is not a snapshot "
                "manifest; write a tombstone for it to start what it holds afresh"
            )
        return count, digest

    def _where(self, partition: int, key: str) -> str:
        return f"changelog {self.topic}[{partition}] key {key!r}"
