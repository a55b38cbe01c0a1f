"""Partials and marks, stage 1 → stage 2: exact round trips, deterministic bytes, clear refusals,
and partials of one window split by source partition that add up to the unsplit window."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from baselines.values import Baseline
from monitor.batches import EventBatch
from monitor.exchange.local import Windower
from monitor.exchange.records import (
    ExchangeRecordError,
    FeedValues,
    Mark,
    Partial,
    WindowPart,
    decode,
    encode,
    merge,
    parts_of,
)
from monitor.window.slot_layout import ModelLayout
from monitor.window.windower import WindowCounts
from tests.support.builders import make_batch

HOUR = 3_600_000
NO_PERFORMANCE = np.zeros(0, np.int64)

texts = st.text(max_size=8)
counts = st.lists(st.one_of(st.just(0), st.integers(0, 2**40)), min_size=0, max_size=40).map(
    lambda c: np.array(c, dtype=np.int64)
)


@st.composite
def window_parts(draw: st.DrawFn) -> WindowPart:
    start = draw(st.integers(-(2**40), 2**41))
    return WindowPart(
        start,
        start + draw(st.integers(1, 2**31)),
        draw(texts),
        draw(texts),
        draw(st.integers(0, 2**40)),
        draw(counts),
        draw(counts),
    )


@st.composite
def feed_values(draw: st.DrawFn) -> FeedValues:
    n = draw(st.integers(0, 12))
    floats = st.floats(allow_nan=True, allow_infinity=False)
    column = st.lists(floats, min_size=n, max_size=n).map(lambda v: np.array(v, np.float64))
    if draw(st.booleans()):
        feed, names = "prediction", ["score"]
        tie = pa.array(draw(st.lists(st.integers(0, 2**62), min_size=n, max_size=n)), pa.int64())
    else:
        feed, names = "errors", ["abs_error", "error"]
        tie = pa.array(draw(st.lists(texts, min_size=n, max_size=n)), pa.string())
    return FeedValues(
        draw(st.integers(0, 2**41)),
        draw(texts),
        feed,
        np.array(draw(st.lists(st.integers(0, 2**41), min_size=n, max_size=n)), np.int64),
        tie,
        {name: draw(column) for name in names},
    )


@st.composite
def partials(draw: st.DrawFn) -> Partial:
    first = draw(st.integers(0, 2**50))
    return Partial(
        draw(texts),
        draw(texts),
        draw(st.integers(0, 10**7)),
        first,
        first + draw(st.integers(0, 10**6)),
        tuple(draw(st.lists(window_parts(), max_size=4, unique_by=WindowPart.sort_key))),
        draw(st.integers(0, 2**40)),
        draw(st.integers(0, 2**40)),
        tuple(draw(st.lists(feed_values(), max_size=3, unique_by=FeedValues.sort_key))),
    )


marks = st.builds(
    Mark,
    texts,
    st.integers(0, 10**7),
    st.integers(0, 2**60),
    st.one_of(st.none(), st.integers(-(2**62), 2**62)),
    st.booleans(),
)


def _plain(record: Partial | Mark) -> Any:
    """A record as comparable plain data, in its encoded (sorted) order."""
    if isinstance(record, Mark):
        return record
    windows = sorted(record.windows, key=WindowPart.sort_key)
    values = sorted(record.values, key=FeedValues.sort_key)
    return (
        record.config,
        record.identity(),
        record.late_events,
        record.late_pairs,
        [
            (w.sort_key(), w.end_ms, w.events, w.counts.tolist(), w.performance.tolist())
            for w in windows
        ],
        [
            (
                v.sort_key(),
                v.time.tolist(),
                v.tie.to_pylist(),
                {k: v.values[k].tobytes() for k in sorted(v.values)},  # NaN compares by its bits
            )
            for v in values
        ],
    )


@given(partials())
def test_a_partial_decodes_to_what_was_encoded(partial: Partial) -> None:
    """Every field of a partial survives encoding, numbers exactly (NaN and all)."""
    assert _plain(decode(encode(partial))) == _plain(partial)


@given(marks)
def test_a_mark_decodes_to_what_was_encoded(mark: Mark) -> None:
    """Every field of a mark survives encoding."""
    assert decode(encode(mark)) == mark


@given(partials(), st.randoms(use_true_random=False))
def test_the_bytes_do_not_depend_on_the_order_parts_were_listed_in(
    partial: Partial, random: Any
) -> None:
    """Two partials with the same windows and values listed in other orders are the same bytes."""
    windows, values = list(partial.windows), list(partial.values)
    random.shuffle(windows)
    random.shuffle(values)
    shuffled = replace(partial, windows=tuple(windows), values=tuple(values))
    assert encode(shuffled) == encode(partial)


@given(partials())
def test_decoded_bytes_encode_to_the_same_bytes(partial: Partial) -> None:
    """What a stage 2 decodes it would encode to the very bytes it read (one canonical form)."""
    data = encode(partial)
    assert encode(decode(data)) == data


def test_a_slot_vector_with_few_counts_is_sent_sparse() -> None:
    """A part whose window used 3 of 2,000 slots costs a few bytes, not 2,000 numbers."""
    used = np.zeros(2_000, np.int64)
    used[[7, 900, 1999]] = [1, 300, 70_000]
    part = WindowPart(0, HOUR, "v1", "", 3, used, NO_PERFORMANCE)
    data = encode(Partial("c", "m", 0, 0, 3, (part,)))
    assert len(data) < 400
    assert decode(data).windows[0].counts.tolist() == used.tolist()  # type: ignore[union-attr]


def _partial_document(**changes: Any) -> bytes:
    part = WindowPart(0, HOUR, "v1", "", 2, np.array([1, 0, 1, 1]), NO_PERFORMANCE)
    values = FeedValues(
        0, "v1", "prediction", np.array([5, 6]), pa.array([1, 2]), {"score": np.array([0.5, 1.0])}
    )
    document = orjson.loads(encode(Partial("c", "m", 3, 10, 12, (part,), values=(values,))))
    for path, value in changes.items():
        *parents, last = path.split("__")
        target = document
        for name in parents:
            target = target[int(name)] if name.isdigit() else target[name]
        if value is _DELETE:
            del target[last]
        else:
            target[last] = value
    return orjson.dumps(document)


_DELETE = object()


def _part_document() -> Any:
    return orjson.loads(_partial_document())["windows"][0]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            b"{not json",
            "exchange record is not JSON (unexpected character, expected a string key: line 1 "
            "column 2 (char 1))",
        ),
        (b"[1, 2]", "exchange record is not a JSON object"),
        (
            b'{"format": "driftwarden.mark/2"}',
            "exchange record has format 'driftwarden.mark/2'; this driftwarden reads "
            "driftwarden.partial/1 and driftwarden.mark/1",
        ),
        (_partial_document(first=_DELETE), "exchange record: partial has no field 'first'"),
        (_partial_document(source=True), "exchange record: partial.source is not an integer"),
        (_partial_document(end=-1), "exchange record: partial.end is not at least 0"),
        (_partial_document(end=9), "exchange record: partial covers offsets 10 to 9"),
        (
            _partial_document(windows__0__end_ms=0),
            "exchange record: partial.windows[0] ends before it starts",
        ),
        (
            _partial_document(windows__0__counts={"size": 3, "dense": "|i1:AQABAQ=="}),
            "exchange record: partial.windows[0].counts holds 4 slots, not 3",
        ),
        (
            _partial_document(windows__0__counts={"size": 2, "at": "|i1:BQ==", "n": "|i1:AQ=="}),
            "exchange record: partial.windows[0].counts has slot positions outside its 2 slots",
        ),
        (
            _partial_document(windows__0__counts={"size": 9, "at": "|i1:BQE=", "n": "|i1:AQE="}),
            "exchange record: partial.windows[0].counts has slot positions out of order",
        ),
        (
            _partial_document(windows__0__counts={"size": 1, "dense": "|i1:/w=="}),
            "exchange record: partial.windows[0].counts has a negative count",
        ),
        (
            _partial_document(windows__0__counts={"size": 1}),
            "exchange record: partial.windows[0].counts has fields ['size'], not a slot vector",
        ),
        (
            _partial_document(windows__0__counts={"size": 1, "dense": "<f8:AAAAAAAA+D8="}),
            "exchange record: partial.windows[0].counts.dense: a packed array of type '<f8' "
            "cannot be read as int64",
        ),
        (
            _partial_document(values__0__feed="labels"),
            "exchange record: partial.values[0].feed is 'labels', not one of errors, prediction",
        ),
        (
            _partial_document(values__0__time="|i1:BQ=="),
            "exchange record: partial.values[0] has columns of different lengths",
        ),
        (
            _partial_document(windows=[_part_document(), _part_document()]),
            "exchange record: partial.windows are not in order or repeat one",
        ),
        (
            _partial_document(late={"events": 1}),
            "exchange record: partial.late has no field 'pairs'",
        ),
    ],
)
def test_bytes_that_are_not_a_record_are_refused_naming_the_field(
    data: bytes, message: str
) -> None:
    """A record from another version or a damaged one is refused with the field that is wrong."""
    with pytest.raises(ExchangeRecordError) as refused:
        decode(data)
    assert str(refused.value) == message


def _windower(baseline: Baseline) -> Windower:
    return Windower(
        {"m": ModelLayout(baseline)},
        size_ms=HOUR,
        allowed_lateness_ms=10 * HOUR,
        segment_fields=("platform",),
    )


def _closed(windower: Windower, batches: list[EventBatch]) -> list[WindowCounts]:
    return [w for batch in batches for w in windower.add(batch)] + windower.flush()


@settings(max_examples=15)
@given(st.lists(st.lists(st.integers(0, 4 * HOUR - 1), min_size=1, max_size=80), max_size=4))
def test_partials_split_by_source_partition_merge_into_the_unsplit_windows(
    baseline: Baseline, times_by_source: list[list[int]]
) -> None:
    """The windows one windower of every source partition closes are exactly the merge of the
    partials that windowers of each source partition send, through their bytes: same keys,
    events, counts and performance."""
    batches = [
        make_batch(times, partition=[source] * len(times), seed=source)
        for source, times in enumerate(times_by_source)
    ]
    unsplit = _closed(_windower(baseline), batches)
    sent = [_sent(baseline, source, batch) for source, batch in enumerate(batches)]
    merged = merge(sent)
    assert [_window(w) for w in merged] == [_window(w) for w in unsplit]


def _sent(baseline: Baseline, source: int, batch: EventBatch) -> Partial:
    """What stage 2 reads of the partial one source partition's own windower sends."""
    windows = _closed(_windower(baseline), [batch])
    received = decode(encode(Partial("c", "m", source, 0, len(batch), parts_of(windows))))
    assert isinstance(received, Partial)
    return received


def _window(window: WindowCounts) -> Any:
    return (
        window.key,
        window.start_ms,
        window.end_ms,
        window.events,
        window.counts.tolist(),
        window.performance.tolist(),
    )


def test_a_partial_that_lists_one_window_twice_cannot_be_encoded() -> None:
    """Stage 1 merges a window's counts before sending: two parts of one window are a defect."""
    part = WindowPart(0, HOUR, "v1", "", 1, np.array([1]), NO_PERFORMANCE)
    with pytest.raises(ValueError, match=r"a partial lists \(0, 'v1', ''\) twice; merge them"):
        encode(Partial("c", "m", 0, 0, 2, (part, part)))
