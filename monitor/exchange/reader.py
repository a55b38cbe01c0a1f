"""Stage 2's input: the exchange records of a poll, decoded, in partition and offset order.

A record that is not a partial or mark this version reads, or one made under another
configuration (its ``config`` digest differs from stage 2's own), can only come from a process
of another version or with other settings: it is counted by reason in :attr:`rejected`, logged
(rate-limited) and skipped, never raised (docs/scale-out.md, "Records").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from monitor.exchange.records import ExchangeRecordError, Mark, Partial, decode
from monitor.logs import RateLimitedLog

MALFORMED = "malformed"
OTHER_CONFIG = "other_config"


@dataclass(frozen=True, eq=False)
class Received:
    """One exchange record and where it was read: ``partition`` and ``offset`` of the exchange
    (what stage 2's ``replay_from`` and committed offsets are made of)."""

    partition: int
    offset: int
    record: Partial | Mark


class ExchangeReader:
    """Decodes exchange records for a stage 2 whose configuration digest is ``config``."""

    def __init__(self, config: str) -> None:
        self.config = config
        self.rejected: Counter[str] = Counter()
        self.log = RateLimitedLog("exchange record rejected", per_minute=10)

    def read(self, polled: Mapping[Any, Sequence[Any]]) -> list[Received]:
        """The partials and marks of a poll result ({TopicPartition: [ConsumerRecord]}),
        ordered by exchange partition then offset; the others counted and skipped."""
        received = []
        for tp in sorted(polled, key=lambda tp: (tp.topic, tp.partition)):
            for message in polled[tp]:  # a partition's records come in offset order
                record = self._decode(tp.partition, message.offset, message.value)
                if record is not None:
                    received.append(Received(tp.partition, message.offset, record))
        return received

    def _decode(self, partition: int, offset: int, value: bytes | None) -> Partial | Mark | None:
        try:
            record = decode(value or b"")
        except ExchangeRecordError as exc:
            self._reject(MALFORMED, partition, offset, str(exc))
            return None
        if record.config != self.config:
            detail = f"made with config {record.config}, this stage 2 runs {self.config}"
            self._reject(OTHER_CONFIG, partition, offset, detail)
            return None
        return record

    def _reject(self, reason: str, partition: int, offset: int, detail: str) -> None:
        self.rejected[reason] += 1
        self.log.warning(reason=reason, partition=partition, offset=offset, detail=detail)
