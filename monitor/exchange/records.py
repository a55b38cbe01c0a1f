"""What stage 1 sends stage 2: partials and marks, as deterministic bytes.

A :class:`Partial` is one model's share of the events at the offsets ``[first, end)`` of one
source partition: exact slot counts per (window, version, segment), late counts, and the values
the online detectors are fed with their (time, tie-break). A :class:`Mark` is a source
partition's progress (position, watermark, idle). Both are orjson objects with a ``format``
version; arrays are packed as in checkpoints (:mod:`monitor.packed`), slot vectors dense or
sparse (positions and counts) whichever is shorter, lists in sorted order and keys sorted, so
equal records are equal bytes. :func:`decode` accepts only what :func:`encode` writes and says
which field is wrong (:class:`ExchangeRecordError`). Because counts are integers, the partials
of one window merge exactly (:func:`merge`), whichever processes made them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pyarrow as pa

from monitor.batches import FloatArray, IntArray
from monitor.packed import pack, pack_column, unpack, unpack_column
from monitor.window.windower import WindowCounts, WindowKey

PARTIAL_FORMAT = "driftwarden.partial/1"
MARK_FORMAT = "driftwarden.mark/1"
FEEDS = ("errors", "prediction")
"""Which detectors a run of values feeds: ``prediction`` (scores; tie-break partition × 2⁴⁰ +
offset) or ``errors`` (joined pairs; tie-break the event id)."""


class ExchangeRecordError(ValueError):
    """Bytes that are not a partial or mark of the formats this version reads."""


@dataclass(frozen=True, eq=False)
class WindowPart:
    """The counts one partial adds to one window of its model."""

    start_ms: int
    end_ms: int
    model_version: str
    segment: str
    events: int
    counts: IntArray
    performance: IntArray

    def sort_key(self) -> tuple[int, str, str]:
        return self.start_ms, self.model_version, self.segment


@dataclass(frozen=True, eq=False)
class FeedValues:
    """Detector inputs of one window and version: per value its time, tie-break and each
    stream's value (``score``; or ``error`` and ``abs_error``)."""

    start_ms: int
    model_version: str
    feed: str
    time: IntArray
    tie: pa.Array
    values: Mapping[str, FloatArray]

    def sort_key(self) -> tuple[int, str, str]:
        return self.start_ms, self.model_version, self.feed


@dataclass(frozen=True, eq=False)
class Partial:
    """One model's counts and detector values from offsets ``[first, end)`` of partition
    ``source``; ``config`` is the digest of the settings and baselines that shaped them."""

    config: str
    model: str
    source: int
    first: int
    end: int
    windows: tuple[WindowPart, ...]
    late_events: int = 0
    late_pairs: int = 0
    values: tuple[FeedValues, ...] = ()

    def identity(self) -> tuple[str, int, int, int]:
        """What a re-sent copy shares with the original: model, source partition, offsets."""
        return self.model, self.source, self.first, self.end


@dataclass(frozen=True)
class Mark:
    """Progress of source partition ``source``: its partials cover offsets before ``end``, its
    largest event time is ``watermark_ms`` (None before its first event), and ``idle`` when it
    was read to its end with nothing new."""

    config: str
    source: int
    end: int
    watermark_ms: int | None
    idle: bool


def encode(record: Partial | Mark) -> bytes:
    """The record's bytes: equal records give equal bytes.

    >>> encode(Mark("sha256:c", source=3, end=10, watermark_ms=None, idle=True))
    b'{"config":"sha256:c","end":10,"format":"driftwarden.mark/1","idle":true,"source":3,\
"watermark_ms":null}'
    """
    if isinstance(record, Mark):
        document: dict[str, Any] = {
            "format": MARK_FORMAT,
            "config": record.config,
            "source": record.source,
            "end": record.end,
            "watermark_ms": record.watermark_ms,
            "idle": record.idle,
        }
    else:
        windows = sorted(record.windows, key=WindowPart.sort_key)
        values = sorted(record.values, key=FeedValues.sort_key)
        for listed in (windows, values):
            repeated = _repeated([item.sort_key() for item in listed])
            if repeated is not None:
                raise ValueError(f"a partial lists {repeated} twice; merge them first")
        document = {
            "format": PARTIAL_FORMAT,
            "config": record.config,
            "model": record.model,
            "source": record.source,
            "first": record.first,
            "end": record.end,
            "windows": [_window(w) for w in windows],
            "late": {"events": record.late_events, "pairs": record.late_pairs},
            "values": [_values(v) for v in values],
        }
    return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)


def _repeated(keys: list[tuple[int, str, str]]) -> tuple[int, str, str] | None:
    """The first key of sorted ``keys`` that equals the one before it."""
    return next((b for a, b in itertools.pairwise(keys) if a == b), None)


def decode(data: bytes) -> Partial | Mark:
    """Back from :func:`encode`.

    Raises :class:`ExchangeRecordError` naming the first field that is missing or wrong.

    >>> decode(b'{"format": "driftwarden.partial/9"}')
    Traceback (most recent call last):
    ...
    monitor.exchange.records.ExchangeRecordError: exchange record has format \
'driftwarden.partial/9'; this driftwarden reads driftwarden.partial/1 and driftwarden.mark/1
    """
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ExchangeRecordError(f"exchange record is not JSON ({exc})") from None
    if not isinstance(document, dict):
        raise ExchangeRecordError("exchange record is not a JSON object")
    written = document.get("format")
    if written == MARK_FORMAT:
        return _read_mark(_Fields(document, "mark"))
    if written == PARTIAL_FORMAT:
        return _read_partial(_Fields(document, "partial"))
    raise ExchangeRecordError(
        f"exchange record has format {written!r}; this driftwarden reads {PARTIAL_FORMAT} and "
        f"{MARK_FORMAT}"
    )


def parts_of(windows: Iterable[WindowCounts]) -> tuple[WindowPart, ...]:
    """Windows of one model as the parts a partial carries."""
    return tuple(
        WindowPart(
            w.start_ms,
            w.end_ms,
            w.key.model_version,
            w.key.segment,
            w.events,
            w.counts,
            w.performance,
        )
        for w in windows
    )


def merge(partials: Iterable[Partial]) -> list[WindowCounts]:
    """The windows the partials add up to, in report order (start, then key).

    >>> part = WindowPart(0, 10, "v1", "", 2, np.array([1, 1]), np.zeros(0, np.int64))
    >>> a = Partial("c", "m", source=0, first=0, end=2, windows=(part,))
    >>> b = Partial("c", "m", source=1, first=0, end=5, windows=(part,))
    >>> [(w.key, w.events, w.counts.tolist()) for w in merge([a, b])]
    [(WindowKey(model='m', model_version='v1', segment=''), 4, [2, 2])]
    """
    merged: dict[tuple[int, WindowKey], WindowCounts] = {}
    for partial in partials:
        for part in partial.windows:
            key = WindowKey(partial.model, part.model_version, part.segment)
            window = WindowCounts(
                key, part.start_ms, part.end_ms, part.events, part.counts, part.performance
            )
            found = merged.get((part.start_ms, key))
            merged[(part.start_ms, key)] = window if found is None else found.merge(window)
    return [merged[k] for k in sorted(merged)]


def _window(part: WindowPart) -> dict[str, Any]:
    return {
        "start_ms": part.start_ms,
        "end_ms": part.end_ms,
        "model_version": part.model_version,
        "segment": part.segment,
        "events": part.events,
        "counts": _slots(part.counts),
        "performance": _slots(part.performance),
    }


def _slots(counts: IntArray) -> dict[str, Any]:
    """A slot vector, sparse when fewer than half its slots are used.

    >>> _slots(np.array([0, 0, 0, 5]))
    {'size': 4, 'at': '|i1:Aw==', 'n': '|i1:BQ=='}
    """
    used = np.flatnonzero(counts)
    if 2 * len(used) < len(counts):
        return {"size": len(counts), "at": pack(used), "n": pack(counts[used])}
    return {"size": len(counts), "dense": pack(counts)}


def _values(run: FeedValues) -> dict[str, Any]:
    return {
        "start_ms": run.start_ms,
        "model_version": run.model_version,
        "feed": run.feed,
        "time": pack(run.time),
        "tie": pack_column(run.tie),
        "values": {name: pack(run.values[name]) for name in sorted(run.values)},
    }


class _Fields:
    """Typed reads of a decoded JSON object; a wrong field raises an error naming its path."""

    def __init__(self, document: Any, where: str) -> None:
        if not isinstance(document, dict):
            raise ExchangeRecordError(f"exchange record: {where} is not an object")
        self.document = document
        self.where = where

    def _get(self, name: str) -> Any:
        if name not in self.document:
            raise ExchangeRecordError(f"exchange record: {self.where} has no field {name!r}")
        return self.document[name]

    def _wrong(self, name: str, expected: str) -> ExchangeRecordError:
        return ExchangeRecordError(f"exchange record: {self.where}.{name} is not {expected}")

    def integer(self, name: str, *, minimum: int | None = 0) -> int:
        value = self._get(name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._wrong(name, "an integer")
        if minimum is not None and value < minimum:
            raise self._wrong(name, f"at least {minimum}")
        return value

    def optional_integer(self, name: str) -> int | None:
        return None if self._get(name) is None else self.integer(name, minimum=None)

    def text(self, name: str) -> str:
        value = self._get(name)
        if not isinstance(value, str):
            raise self._wrong(name, "text")
        return value

    def flag(self, name: str) -> bool:
        value = self._get(name)
        if not isinstance(value, bool):
            raise self._wrong(name, "true or false")
        return value

    def each(self, name: str) -> list[_Fields]:
        value = self._get(name)
        if not isinstance(value, list):
            raise self._wrong(name, "a list")
        return [_Fields(item, f"{self.where}.{name}[{i}]") for i, item in enumerate(value)]

    def object(self, name: str) -> _Fields:
        return _Fields(self._get(name), f"{self.where}.{name}")

    def names(self) -> list[str]:
        return sorted(self.document)

    def array(self, name: str, dtype: type[np.generic]) -> Any:  # an int64 or float64 array
        text = self._get(name)
        try:
            return unpack(text, dtype)
        except ValueError as exc:
            raise ExchangeRecordError(f"exchange record: {self.where}.{name}: {exc}") from None

    def column(self, name: str) -> pa.Array:
        packed = self._get(name)
        if not isinstance(packed, dict):
            raise self._wrong(name, "a packed column")
        try:
            return unpack_column(packed)
        except ValueError as exc:
            raise ExchangeRecordError(f"exchange record: {self.where}.{name}: {exc}") from None


def _read_mark(fields: _Fields) -> Mark:
    return Mark(
        fields.text("config"),
        fields.integer("source"),
        fields.integer("end"),
        fields.optional_integer("watermark_ms"),
        fields.flag("idle"),
    )


def _read_partial(fields: _Fields) -> Partial:
    first, end = fields.integer("first"), fields.integer("end")
    if end < first:
        raise ExchangeRecordError(f"exchange record: partial covers offsets {first} to {end}")
    late = fields.object("late")
    windows = [_read_window(w) for w in fields.each("windows")]
    values = [_read_values(v) for v in fields.each("values")]
    for name, listed in (("windows", windows), ("values", values)):
        keys = [item.sort_key() for item in listed]
        if keys != sorted(keys) or _repeated(keys) is not None:
            raise ExchangeRecordError(
                f"exchange record: partial.{name} are not in order or repeat one"
            )
    return Partial(
        fields.text("config"),
        fields.text("model"),
        fields.integer("source"),
        first,
        end,
        tuple(windows),
        late.integer("events"),
        late.integer("pairs"),
        tuple(values),
    )


def _read_window(fields: _Fields) -> WindowPart:
    start, end = fields.integer("start_ms", minimum=None), fields.integer("end_ms", minimum=None)
    if end <= start:
        raise ExchangeRecordError(f"exchange record: {fields.where} ends before it starts")
    return WindowPart(
        start,
        end,
        fields.text("model_version"),
        fields.text("segment"),
        fields.integer("events"),
        _read_slots(fields.object("counts")),
        _read_slots(fields.object("performance")),
    )


def _read_slots(fields: _Fields) -> IntArray:
    size = fields.integer("size")
    if fields.names() == ["dense", "size"]:
        counts: IntArray = fields.array("dense", np.int64)
        if len(counts) != size:
            raise ExchangeRecordError(
                f"exchange record: {fields.where} holds {len(counts)} slots, not {size}"
            )
    elif fields.names() == ["at", "n", "size"]:
        at, n = fields.array("at", np.int64), fields.array("n", np.int64)
        if len(at) != len(n) or (len(at) and (at[0] < 0 or at[-1] >= size)):
            raise ExchangeRecordError(
                f"exchange record: {fields.where} has slot positions outside its {size} slots"
            )
        if (np.diff(at) <= 0).any():
            raise ExchangeRecordError(
                f"exchange record: {fields.where} has slot positions out of order"
            )
        counts = np.zeros(size, dtype=np.int64)
        counts[at] = n
    else:
        raise ExchangeRecordError(
            f"exchange record: {fields.where} has fields {fields.names()}, not a slot vector"
        )
    if (counts < 0).any():
        raise ExchangeRecordError(f"exchange record: {fields.where} has a negative count")
    return counts


def _read_values(fields: _Fields) -> FeedValues:
    feed = fields.text("feed")
    if feed not in FEEDS:
        raise ExchangeRecordError(
            f"exchange record: {fields.where}.feed is {feed!r}, not one of {', '.join(FEEDS)}"
        )
    time, tie = fields.array("time", np.int64), fields.column("tie")
    streams = fields.object("values")
    values = {name: streams.array(name, np.float64) for name in streams.names()}
    if any(len(column) != len(time) for column in (tie, *values.values())):
        raise ExchangeRecordError(
            f"exchange record: {fields.where} has columns of different lengths"
        )
    return FeedValues(
        fields.integer("start_ms", minimum=None),
        fields.text("model_version"),
        feed,
        time,
        tie,
        values,
    )
