"""Event times: RFC 3339 text to epoch milliseconds, vectorised and strict."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.decode.timestamps import (
    MAX_EVENT_TIME_MS,
    days_from_civil,
    in_event_time_range,
    parse_rfc3339,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_one(text: str) -> int | None:
    ms, ok = parse_rfc3339(pa.array([text]))
    return int(ms[0]) if ok[0] else None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2019-04-02T10:11:12.345Z", 1_554_199_872_345),
        ("2019-04-02T10:11:12Z", 1_554_199_872_000),
        ("2019-04-02t10:11:12z", 1_554_199_872_000),
        ("2019-04-02 10:11:12Z", 1_554_199_872_000),
        ("2019-04-02T12:11:12+02:00", 1_554_199_872_000),
        ("2019-04-02T05:41:12.5-04:30", 1_554_199_872_500),
        ("2019-04-02T10:11:12.3456789Z", 1_554_199_872_345),
        ("2019-04-02T10:11:12.999999999Z", 1_554_199_872_999),
        ("2019-04-02T10:11:12.0Z", 1_554_199_872_000),
        ("1970-01-01T00:00:00Z", 0),
        ("2000-02-29T23:59:59.999+00:00", 951_868_799_999),
    ],
)
def test_valid_text_gives_exact_milliseconds(text: str, expected: int) -> None:
    """Fractions are truncated to milliseconds and offsets are subtracted to reach UTC."""
    assert parse_one(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "2019-04-02T10:11:12",  # no zone
        "2019-04-02",
        "2019-13-02T10:11:12Z",
        "2019-00-02T10:11:12Z",
        "2019-04-31T10:11:12Z",
        "2019-02-29T10:11:12Z",
        "2019-04-02T24:00:00Z",
        "2019-04-02T10:60:00Z",
        "2019-04-02T10:11:60Z",
        "2019-04-02T10:11:12.Z",
        "2019-04-02T10:11:12.1234567890Z",
        "2019-04-02T10:11:12+0200",
        "2019-04-02T10:11:12+02:0",
        "2019-04-02T10:11:12+24:00",
        "2019-04-02T10:11:12Zx",
        "2019-04-02X10:11:12Z",
        " 2019-04-02T10:11:12Z",
        "2019-4-02T10:11:12Z",
        "２019-04-02T10:11:12Z",
        "1554199872345",
        "",
    ],
)
def test_malformed_text_does_not_parse(text: str) -> None:
    """Anything but the RFC 3339 date-time layout is refused, including impossible dates."""
    assert parse_one(text) is None


def test_null_does_not_parse() -> None:
    """A null text is reported as not parsed."""
    assert parse_rfc3339(pa.array([None], pa.string()))[1].tolist() == [False]


def test_sliced_and_large_string_arrays_parse() -> None:
    """Arrays that are slices of larger ones, or large_string, read the right characters."""
    texts = pa.array(["junk", "1970-01-01T00:00:01Z", "1970-01-01T00:00:02Z"])
    assert parse_rfc3339(texts.slice(1))[0].tolist() == [1000, 2000]
    assert parse_rfc3339(texts.cast(pa.large_string()).slice(2))[0].tolist() == [2000]


def test_a_text_cannot_borrow_characters_from_the_next() -> None:
    """A text cut short is refused even when the following text would complete it."""
    texts = pa.array(["2019-04-02T10:11:12.1", "23Z"])
    assert parse_rfc3339(texts)[1].tolist() == [False, False]


moments = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(2199, 12, 30), timezones=st.just(UTC)
)
offsets = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59)


@given(moments, offsets, st.integers(min_value=0, max_value=9), st.sampled_from("Tt "))
def test_parse_matches_python_datetime(
    moment: datetime, offset: int, digits: int, separator: str
) -> None:
    """Any instant written with any offset and 0-9 fractional digits parses to its epoch ms."""
    zone = timezone(timedelta(minutes=offset))
    local = moment.astimezone(zone)
    fraction = f"{local.microsecond:06d}000"[:digits]
    written = local.strftime(f"%Y-%m-%d{separator}%H:%M:%S")
    written += (f".{fraction}" if digits else "") + (
        "Z" if offset == 0 else local.strftime("%z")[:3] + ":" + local.strftime("%z")[3:]
    )
    truncated = moment.replace(microsecond=int(fraction.ljust(6, "0")[:3]) * 1000)
    assert parse_one(written) == (truncated - EPOCH) // timedelta(milliseconds=1)


@given(st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)))
def test_days_from_civil_matches_ordinal_days(day: date) -> None:
    """Days since 1970-01-01 agree with Python's proleptic Gregorian ordinals."""
    expected = day.toordinal() - date(1970, 1, 1).toordinal()
    result = days_from_civil(np.array([day.year]), np.array([day.month]), np.array([day.day]))
    assert result.tolist() == [expected]


def test_event_time_range_covers_1970_to_2200() -> None:
    """The accepted range runs from the epoch to the last millisecond of 2200."""
    last = datetime(2200, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)
    assert (last - EPOCH) // timedelta(milliseconds=1) == MAX_EVENT_TIME_MS - 1
    assert in_event_time_range(np.array([-1, 0, MAX_EVENT_TIME_MS])).tolist() == [
        False,
        True,
        False,
    ]
