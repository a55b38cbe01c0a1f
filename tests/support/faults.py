"""A failure injected for exactly one message: the seam of the defence's tests.

:func:`fail_decoding_of` makes :class:`~monitor.decode.EventDecoder` raise :class:`InjectedFault`
whenever a batch it decodes holds the message of one event id (a JSON message whose text holds
that id as a string, or a flat-file row with that ``event_id``), as a defect of the decoder
would. :func:`fail_counting_of` makes stage 1's
:class:`~monitor.window.source_counters.SourceCounters` raise *after* it counted a batch holding
that event (its windows counted, nothing handed to stage 2 yet): a defect past decoding that
leaves the state half-updated. ``python -m tests.support.faults
[--after-decoding] EVENT_ID ARGS…`` runs ``driftwarden ARGS…`` so, which puts the fault into a
real process.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from monitor.batches import DecodeResult, EventBatch, RawRecords
from monitor.cli import main
from monitor.decode import EventDecoder
from monitor.window.source_counters import SourceCounters


class InjectedFault(RuntimeError):
    """The failure a test injects."""


def fault_detail(event_id: str) -> str:
    """The ``internal_error`` detail the injected failure gives."""
    return f"{InjectedFault.__name__}: {_message(event_id)}"


def _message(event_id: str) -> str:
    return f"decoding {event_id} fails on purpose"


def fail_decoding_of(event_id: str, patch: Callable[[Any, str, Any], None] = setattr) -> None:
    """Make every decode of a batch holding ``event_id``'s message raise (``patch`` replaces
    the decoder's methods: pytest's ``monkeypatch.setattr`` undoes it after the test)."""
    text = orjson.dumps(event_id)
    decode_records = EventDecoder.decode_records
    decode_table = EventDecoder.decode_table

    def records(self: EventDecoder, records: RawRecords, now_ms: int) -> DecodeResult:
        if any(text in value for value in records.values):
            raise InjectedFault(_message(event_id))
        return decode_records(self, records, now_ms)

    def table(self: EventDecoder, rows: pa.Table | pa.RecordBatch, **options: Any) -> DecodeResult:
        if pc.any(pc.equal(rows.column("event_id"), event_id)).as_py():
            raise InjectedFault(_message(event_id))
        return decode_table(self, rows, **options)

    patch(EventDecoder, "decode_records", records)
    patch(EventDecoder, "decode_table", table)


def fail_counting_of(event_id: str, patch: Callable[[Any, str, Any], None] = setattr) -> None:
    """Make stage 1 raise after counting a batch that holds ``event_id``'s event."""
    add = SourceCounters.add

    def counting(self: SourceCounters, batch: EventBatch, pairs: Any = None) -> None:
        add(self, batch, pairs)
        if pc.any(pc.equal(batch.event_id, event_id)).as_py():
            raise InjectedFault(f"counting {event_id} fails on purpose")

    patch(SourceCounters, "add", counting)


if __name__ == "__main__":
    arguments = sys.argv[1:]
    inject = fail_decoding_of
    if arguments[0] == "--after-decoding":
        inject, arguments = fail_counting_of, arguments[1:]
    poisoned, *arguments = arguments
    inject(poisoned)
    sys.exit(main(arguments))
