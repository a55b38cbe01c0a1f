"""One stage's commit cycle: what it produced and the offsets it consumed, all or nothing.

A :class:`CommitCycle` drives a transactional ``KafkaProducer`` (docs/scale-out.md, "Commit
order"): :meth:`~CommitCycle.begin`, any number of :meth:`~CommitCycle.send`, then
:meth:`~CommitCycle.commit` with the consumed offsets and the consumer's group metadata
(``send_offsets_to_transaction`` then ``commit_transaction``, KIP-447 fencing by group
generation), or :meth:`~CommitCycle.abort`. Every failure surfaces as one exception,
:class:`CycleFailed`, whose ``cause`` tells the caller how to rewind:

- ``fenced``: another producer with this ``transactional_id`` (another process with the same
  ``group_instance_id``) started; this cycle object stays fenced, and the process must stop
  the stage rather than fence the other one back. The broker answers the same when a cycle
  stayed open longer than the producer's ``transaction_timeout_ms`` (60 s) and it aborted the
  transaction: a cycle is begun, sent and committed in one step of the caller for that reason.
- ``timeout``: the broker did not answer within the bound; the producer is replaced at the next
  :meth:`~CommitCycle.begin`, and whether the last commit landed is known only from Kafka
  (committed offsets, changelog), so the caller rewinds from there.
- ``commit failed``: the transaction was aborted (a send or the offset commit was refused); the
  caller may rewind to the state it committed last.

kafka-python 3.0.12's ``commit_transaction``, ``abort_transaction`` and
``send_offsets_to_transaction`` wait without a bound (Java's wait ``max.block.ms``); this class
runs the same steps through the producer's transaction manager and waits at most ``timeout_ms``.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from typing import Any, Literal, Protocol, TypeVar

from kafka import KafkaProducer
from kafka.errors import (
    FencedInstanceIdError,
    KafkaError,
    KafkaTimeoutError,
    ProducerFencedError,
)

from monitor.errors import error_text

Cause = Literal["fenced", "timeout", "commit failed"]
_FENCING = (ProducerFencedError, FencedInstanceIdError)
_BUMP_POLL_S = 0.05
T = TypeVar("T")


class RecordSender(Protocol):
    """Where a cycle's records go: a :class:`CommitCycle` (or a test's recording twin)."""

    def send(self, topic: str, partition: int, key: bytes | None, value: bytes | None) -> None: ...


class CycleFailed(Exception):
    """A commit cycle that did not commit; ``cause`` says why (``fenced``, ``timeout`` or
    ``commit failed``), the chained exception is kafka-python's."""

    def __init__(self, cause: Cause, detail: str) -> None:
        super().__init__(f"commit cycle {cause}: {detail}")
        self.cause: Cause = cause


def transactional_id(group_id: str, stage: Literal[1, 2], group_instance_id: str) -> str:
    """The ``transactional_id`` of a process's producer for one stage.

    >>> transactional_id("driftwarden", 1, "pod-0")
    'driftwarden-stage1-pod-0'
    """
    return f"{group_id}-stage{stage}-{group_instance_id}"


class CommitCycle:
    """A transactional producer used one cycle at a time.

    ``options`` are kafka-python client options (``KafkaConfig.client_options()``); the
    producer is created and ``init_transactions`` run (which fences an older producer with the
    same id and ends its open transaction) at the first :meth:`begin`.
    """

    def __init__(
        self, options: Mapping[str, Any], transactional_id: str, *, timeout_ms: int = 30_000
    ) -> None:
        self.options = dict(options)
        self.transactional_id = transactional_id
        self.timeout_ms = timeout_ms
        self.producer: Any = None
        self.fenced: CycleFailed | None = None
        self.open = False
        self.futures: list[Any] = []

    def begin(self) -> None:
        """Open a transaction (connecting first if need be)."""
        if self.open:
            raise RuntimeError("begin() while a cycle is open: commit() or abort() it first")
        self._guarded("begin", self._begin)
        self.open = True

    def send(self, topic: str, partition: int, key: bytes | None, value: bytes | None) -> None:
        """Add one record (``value`` None: a tombstone) to the open transaction."""
        self.send_message(topic, {"value": value, "key": key, "partition": partition})

    def send_message(self, topic: str, message: Mapping[str, Any]) -> None:
        """Add one message, given as ``KafkaProducer.send`` keywords (``value``, ``key``,
        ``headers``, ``partition``; without one, the producer's partitioner picks it), to the
        open transaction."""
        if not self.open:
            raise RuntimeError("send() outside a cycle: call begin() first")
        where = f"{topic}[{message['partition']}]" if "partition" in message else topic
        self.futures.append(
            self._guarded(f"send to {where}", lambda: self.producer.send(topic, **message))
        )

    def commit(self, offsets: Mapping[Any, Any], group_metadata: Any) -> None:
        """Commit the records sent and ``offsets`` ({TopicPartition: OffsetAndMetadata}) of the
        consumer whose ``group_metadata()`` is given; nothing of the cycle is visible when this
        raises :class:`CycleFailed`."""
        if not self.open:
            raise RuntimeError("commit() outside a cycle: call begin() first")
        self._guarded("commit", lambda: self._commit(offsets, group_metadata))
        self.open = False
        self.futures.clear()

    def abort(self) -> None:
        """Drop the open transaction: none of its records is ever read (``read_committed``)."""
        if self.fenced is not None:
            raise self.fenced
        if self.open:
            self._recover()

    def close(self) -> None:
        """Abort an open transaction (else readers wait for the broker to time it out), then
        close the producer."""
        if self.open:
            self._recover()
        self._drop_producer()

    def _begin(self) -> None:
        if self.producer is None:
            self.producer = KafkaProducer(
                **self.options,
                transactional_id=self.transactional_id,
                acks="all",
                max_block_ms=self.timeout_ms,
            )
            self.producer.init_transactions()
        self.producer.begin_transaction()

    def _commit(self, offsets: Mapping[Any, Any], group_metadata: Any) -> None:
        self.producer.flush(timeout=self.timeout_ms / 1000)
        failed = next((f.exception for f in self.futures if f.failed()), None)
        if failed is not None:
            raise failed
        if offsets:
            self._finish(
                "send_offsets_to_transaction",
                lambda manager: manager.send_offsets_to_transaction(dict(offsets), group_metadata),
            )
        self._finish("commit_transaction", lambda manager: manager.begin_commit())

    def _finish(self, step: str, start: Callable[[Any], Any]) -> None:
        """Run one step of the transaction manager, waiting at most ``timeout_ms``."""
        result = start(self.producer._transaction_manager)
        self.producer._sender.wakeup()
        if not result.wait(timeout_ms=self.timeout_ms):
            raise KafkaTimeoutError(f"{step} took longer than {self.timeout_ms} ms")

    def _guarded(self, step: str, run: Callable[[], T]) -> T:
        """``run()``; a Kafka error aborts the cycle and is raised as :class:`CycleFailed`."""
        if self.fenced is not None:
            raise self.fenced
        try:
            return run()
        except KafkaError as exc:
            failed = CycleFailed(self._cause(exc), f"{step}: {error_text(exc)}")
            if failed.cause == "fenced":
                self.fenced = failed
            self._recover()
            raise failed from exc

    def _cause(self, exc: KafkaError) -> Cause:
        """fenced, timeout or commit failed, from the error or the producer's recorded one
        (kafka-python raises a plain KafkaError naming it once the producer is fenced)."""
        seen = [exc, *exc.args, self._recorded_error()]
        if any(isinstance(e, _FENCING) or e in _FENCING for e in seen):
            return "fenced"
        if isinstance(exc, KafkaTimeoutError):
            return "timeout"
        return "commit failed"

    def _recorded_error(self) -> object:
        """The producer's recorded error, once an epoch bump under way has ended (at most
        ``timeout_ms``). A send refused with ``InvalidProducerEpochError`` starts a bump, which
        ends fenced when another producer took the id, or ready again when the broker had only
        timed the transaction out (then nothing is fenced: the cycle just did not commit)."""
        manager = getattr(self.producer, "_transaction_manager", None)
        if manager is None:
            return None
        deadline = time.monotonic() + self.timeout_ms / 1000
        while manager.is_bumping_epoch() and time.monotonic() < deadline:
            time.sleep(_BUMP_POLL_S)
        return manager.last_error

    def _recover(self) -> None:
        """Abort what is open; a producer that cannot abort (fenced, timed out, fatal) is
        replaced at the next begin()."""
        self.open = False
        self.futures.clear()
        if self.producer is None:
            return
        if self.fenced is None:
            try:
                self._finish("abort_transaction", lambda manager: manager.begin_abort())
                return
            except KafkaError:
                pass
        self._drop_producer()

    def _drop_producer(self) -> None:
        if self.producer is not None:
            with contextlib.suppress(KafkaError):
                self.producer.close(timeout=0)
            self.producer = None
