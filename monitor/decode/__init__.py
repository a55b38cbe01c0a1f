"""Where a message becomes numbers: raw JSON messages and flat-file rows to columnar events.

Reading order: :mod:`~monitor.decode.config` (what to read, where, within which limits),
:mod:`~monitor.decode.decoder` (the :class:`EventDecoder`), :mod:`~monitor.decode.readers`
(the native JSON reader where it was built, else Python's), :mod:`~monitor.decode.fast` /
:mod:`~monitor.decode.slow` / :mod:`~monitor.decode.table` (three readers of a batch into
:mod:`~monitor.decode.columns`), :mod:`~monitor.decode.values` (what each part's values mean),
:mod:`~monitor.decode.rules` (the rules that reject, in judging order),
:mod:`~monitor.decode.timestamps` (RFC 3339 and epoch times) and
:mod:`~monitor.decode.isolate` (the pipeline's last line of defence: when decoding a batch raises,
the messages that raise become ``internal_error`` rejects and the rest decode as without them).

The reject reasons are named once, in :mod:`~monitor.decode.reasons`.
"""

from monitor.decode.config import DecodeLimits, EventSchema, FieldMapping
from monitor.decode.decoder import EventDecoder

__all__ = ["DecodeLimits", "EventDecoder", "EventSchema", "FieldMapping"]
