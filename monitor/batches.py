"""The batches passed between the stages (source → decode → join → window), and their array types.

Every stage imports this module and the stages before it, never the ones after it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pyarrow as pa

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class RawRecords:
    """Undecoded messages from a source, in arrival order.

    ``values[i]`` is the message body; ``partition[i]``/``offset[i]`` locate it in the source
    (a file is partition 0 with the line number as offset); ``timestamp_ms[i]`` is the
    broker's record timestamp, or -1 when the source has none.
    """

    values: list[bytes]
    partition: IntArray
    offset: IntArray
    timestamp_ms: IntArray

    def slice(self, start: int, stop: int) -> RawRecords:
        """The records at positions ``start`` to ``stop - 1``; these records when that is all.

        >>> records = RawRecords([b"a", b"b"], np.zeros(2, np.int64), np.array([4, 5]),
        ...                      np.full(2, -1))
        >>> records.slice(1, 2).values, records.slice(1, 2).offset.tolist()
        ([b'b'], [5])
        """
        if start == 0 and stop == len(self.values):
            return self
        return RawRecords(
            self.values[start:stop],
            self.partition[start:stop],
            self.offset[start:stop],
            self.timestamp_ms[start:stop],
        )


@dataclass(frozen=True)
class Reject:
    """One message that could not become an event, kept whole for the dead-letter topic.

    ``message`` is the original bytes, or a function that gives them: a flat-file row is
    serialised to JSON only when a dead-letter sink asks for it (``raw``), so a flood of bad
    rows costs a counter each, not a JSON encoding each.

    >>> Reject("invalid_json", "unexpected end", 0, 7, lambda: b"{").raw
    b'{'
    """

    reason: str
    detail: str
    partition: int
    offset: int
    message: bytes | Callable[[], bytes]

    @property
    def raw(self) -> bytes:
        """The original message's bytes."""
        return self.message if isinstance(self.message, bytes) else self.message()


@dataclass(frozen=True)
class EventBatch:
    """Decoded good events, columnar; every array has the same length ``n``.

    - ``event_time_ms``: int64 event time (epoch milliseconds).
    - ``partition`` / ``offset``: where each event came from (for watermarks and checkpoints).
    - ``model`` / ``model_version`` / ``event_id``: pyarrow string arrays (``model_version`` and
      ``event_id`` may hold nulls).
    - ``segments``: segment field → pyarrow string array (null where the event has none).
    - ``numeric``: feature name → float64 numpy array, NaN where missing or not a number.
    - ``categorical``: feature name → pyarrow string array, null where missing.
    - ``prediction`` / ``label``: float64 numpy (numeric) or pyarrow string array, or None
      when no event in the batch carries one.
    """

    event_time_ms: IntArray
    partition: IntArray
    offset: IntArray
    model: pa.Array
    model_version: pa.Array
    event_id: pa.Array
    segments: dict[str, pa.Array] = field(default_factory=dict)
    numeric: dict[str, FloatArray] = field(default_factory=dict)
    categorical: dict[str, pa.Array] = field(default_factory=dict)
    prediction: FloatArray | pa.Array | None = None
    label: FloatArray | pa.Array | None = None

    def __len__(self) -> int:
        return len(self.event_time_ms)


@dataclass(frozen=True)
class DecodeResult:
    """What the decoder made of one batch of raw records: the good events and the rejects."""

    events: EventBatch
    rejects: list[Reject]
