"""Which exchange partition carries a model: Kafka's default partitioner, the same in every client.

Stage 2 needs every record of a model in one exchange partition, and every process (and any
other client reading the exchange) must agree on which one. Kafka's Java producer puts a keyed
record in ``toPositive(murmur2(key)) % partitions``; kafka-python's ``DefaultPartitioner`` does
the same with the same ``murmur2``, which this module uses rather than a copy of its own.
"""

from __future__ import annotations

from kafka.partitioner import murmur2

_POSITIVE = 0x7FFFFFFF  # Java's Utils.toPositive: drop the sign bit of the 32-bit hash


def partition_of(key: str, partitions: int) -> int:
    """The partition of ``partitions`` that Kafka's default partitioner gives ``key`` (UTF-8).

    Java's ``Utils.murmur2`` test values, and the partitions of 1,000 the Java producer picks:

    >>> [murmur2(k) - 2**32 for k in (b"21", b"foobar", b"a-little-bit-long-string")]
    [-973932308, -790332482, -985981536]
    >>> [partition_of(k, 1000) for k in ("", "a", "ab", "abc", "123456789")]
    [681, 524, 434, 107, 566]
    >>> partition_of("car-loan", 12), partition_of("Ünïcode", 12)
    (10, 5)
    """
    if partitions < 1:
        raise ValueError(f"a topic has at least one partition, not {partitions}")
    hashed: int = murmur2(key.encode("utf-8"))
    return (hashed & _POSITIVE) % partitions
