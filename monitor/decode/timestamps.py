"""Event times: RFC 3339 text and epoch numbers to epoch milliseconds, vectorised.

Accepted text: ``YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`` with ``T``/``t``/space between
date and time, ``Z``/``z`` for UTC and 1 to 9 fractional digits (truncated to milliseconds).
Seconds run 00-59 (no leap second). Event times outside ``[MIN_EVENT_TIME_MS,
MAX_EVENT_TIME_MS)`` (years 1970 to 2200) are invalid.

The text parser gathers the first bytes of every text of an arrow string array into a numpy
matrix (one row per text) and checks and reads the columns: no Python loop per value.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from monitor.batches import BoolArray, IntArray

#: 1970-01-01T00:00:00Z, the earliest accepted event time.
MIN_EVENT_TIME_MS = 0
#: 2201-01-01T00:00:00Z, the first instant after the latest accepted year (2200).
MAX_EVENT_TIME_MS = 7_289_654_400_000

_MAX_FRACTION_DIGITS = 9
#: Longest accepted text: 19 fixed characters, "." and 9 digits, "+hh:mm".
_LONGEST = 19 + 1 + _MAX_FRACTION_DIGITS + 6
#: Layout of the first 19 characters: digits where ``d``, these exact bytes elsewhere (the
#: separator at position 10 may also be ``t`` or a space).
_LAYOUT = np.frombuffer(b"dddd-dd-ddTdd:dd:dd", dtype=np.uint8)
_LOWEST = np.where(ord("d") == _LAYOUT, ord("0"), _LAYOUT).astype(np.uint8)
_HIGHEST = np.where(ord("d") == _LAYOUT, ord("9"), _LAYOUT).astype(np.uint8)
_DIGIT_WEIGHTS = np.array([100, 10, 1])


def days_from_civil(year: IntArray, month: IntArray, day: IntArray) -> IntArray:
    """Days since 1970-01-01 of proleptic Gregorian dates (H. Hinnant's algorithm).

    Examples
    --------
    >>> days_from_civil(np.array([1970, 2000, 1969]), np.array([1, 3, 12]), np.array([1, 1, 31]))
    array([    0, 11017,    -1])
    """
    shifted = year - (month <= 2)
    era = np.floor_divide(shifted, 400)
    year_of_era = shifted - era * 400
    day_of_year = (153 * np.where(month > 2, month - 3, month + 9) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    days: IntArray = era * 146_097 + day_of_era - 719_468
    return days


def days_in_month(year: IntArray, month: IntArray) -> IntArray:
    """Number of days of each (year, month); 0 for a month outside 1-12.

    Examples
    --------
    >>> days_in_month(np.array([2019, 2020, 1900, 2000, 2019]), np.array([2, 2, 2, 2, 13]))
    array([28, 29, 28, 29,  0])
    """
    lengths = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 0], dtype=np.int64)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    result: IntArray = lengths[np.clip(month, 0, 13)] + ((month == 2) & leap)
    return result


def parse_rfc3339(strings: pa.Array) -> tuple[IntArray, BoolArray]:
    """Epoch milliseconds of RFC 3339 texts, and which texts parsed (nulls do not).

    Rows that do not parse hold 0. The range check is :func:`in_event_time_range`'s job.

    Examples
    --------
    >>> texts = ["2019-04-02T10:11:12.345Z", "2019-04-02 12:11:12+02:00",
    ...          "1970-01-01T00:00:00.9999z", "2019-02-29T00:00:00Z", None]
    >>> ms, ok = parse_rfc3339(pa.array(texts))
    >>> ms.tolist(), ok.tolist()
    ([1554199872345, 1554199872000, 999, 0, 0], [True, True, True, False, False])
    """
    chars, lengths = _character_matrix(strings)
    digit = chars - np.uint8(ord("0"))  # wraps below "0", so `digit <= 9` tests for a digit
    is_digit = digit <= 9

    def number(first: int, count: int) -> IntArray:
        result = digit[:, first].astype(np.int64)
        for k in range(first + 1, first + count):
            result = result * 10 + digit[:, k]
        return result

    year, month, day = number(0, 4), number(5, 2), number(8, 2)
    hour, minute, second = number(11, 2), number(14, 2), number(17, 2)
    separator = chars[:, 10]
    fixed = (chars[:, :19] >= _LOWEST) & (chars[:, :19] <= _HIGHEST)
    fixed[:, 10] = (separator == ord("T")) | (separator == ord("t")) | (separator == ord(" "))
    ok = fixed.all(axis=1) & (lengths >= 20)
    ok &= (month >= 1) & (day >= 1) & (day <= days_in_month(year, month))
    ok &= (hour <= 23) & (minute <= 59) & (second <= 59)

    fraction_digits = _leading_digit_count(is_digit[:, 20:])
    has_fraction = chars[:, 19] == ord(".")
    ok &= ~has_fraction | ((fraction_digits >= 1) & (fraction_digits <= _MAX_FRACTION_DIGITS))
    weights = np.where(np.arange(3) < fraction_digits[:, None], _DIGIT_WEIGHTS, 0)
    fraction_ms = np.where(has_fraction, (digit[:, 20:23] * weights).sum(axis=1), 0)
    zone_at = np.where(has_fraction, 20 + fraction_digits, 19)
    row_starts = np.arange(len(chars)) * chars.shape[1]
    zone_starts = row_starts + np.minimum(zone_at, _LONGEST - 5)
    zone = np.column_stack([chars.ravel()[zone_starts + k] for k in range(6)])
    offset_minutes, ok_zone = _zone(zone, lengths - zone_at)
    ok &= ok_zone & strings.is_valid().to_numpy(zero_copy_only=False)

    seconds = ((days_from_civil(year, month, day) * 24 + hour) * 60 + minute) * 60 + second
    ms = seconds * 1000 + fraction_ms - offset_minutes * 60_000
    result: IntArray = np.where(ok, ms, 0)
    return result, ok


def in_event_time_range(ms: IntArray) -> BoolArray:
    """Whether epoch milliseconds fall in the accepted years 1970-2200.

    >>> in_event_time_range(np.array([-1, 0, MAX_EVENT_TIME_MS - 1, MAX_EVENT_TIME_MS])).tolist()
    [False, True, True, False]
    """
    inside: BoolArray = (ms >= MIN_EVENT_TIME_MS) & (ms < MAX_EVENT_TIME_MS)
    return inside


def _character_matrix(strings: pa.Array) -> tuple[npt.NDArray[np.uint8], IntArray]:
    """The first ``_LONGEST + 1`` bytes of every text as rows of a matrix, and byte lengths.

    Bytes past a text's end are zero (or belong to the next text; callers check lengths).
    """
    if not pa.types.is_large_string(strings.type):
        strings = strings.cast(pa.large_string())
    _, offsets_buffer, data_buffer = strings.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)
    offsets = offsets[strings.offset : strings.offset + len(strings) + 1]
    data = (
        np.frombuffer(data_buffer, dtype=np.uint8)
        if data_buffer is not None
        else np.zeros(0, dtype=np.uint8)
    )
    padded = np.concatenate([data, np.zeros(_LONGEST + 1, dtype=np.uint8)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, _LONGEST + 1)
    chars: npt.NDArray[np.uint8] = windows[offsets[:-1]]
    lengths: IntArray = offsets[1:] - offsets[:-1]
    return chars, lengths


def _leading_digit_count(is_digit: BoolArray) -> IntArray:
    """Per row, how many flags are True before the first False (all columns when none is).

    A count may run past the end of a text into the next one; the zone check, which needs the
    text to end right after the zone, rejects such rows.
    """
    count: IntArray = np.where(is_digit.all(axis=1), is_digit.shape[1], np.argmin(is_digit, axis=1))
    return count


def _zone(zone: npt.NDArray[np.uint8], remaining: IntArray) -> tuple[IntArray, BoolArray]:
    """Offset from UTC in minutes of a ``Z`` or ``±hh:mm`` that ends the text."""
    marker = zone[:, 0]
    utc = ((marker == ord("Z")) | (marker == ord("z"))) & (remaining == 1)
    digit = (zone - np.uint8(ord("0"))).astype(np.int64)
    hours = digit[:, 1] * 10 + digit[:, 2]
    minutes = digit[:, 4] * 10 + digit[:, 5]
    numeric = ((marker == ord("+")) | (marker == ord("-"))) & (remaining == 6)
    numeric &= ((digit[:, [1, 2, 4, 5]] >= 0) & (digit[:, [1, 2, 4, 5]] <= 9)).all(axis=1)
    numeric &= zone[:, 3] == ord(":")
    numeric &= (hours <= 23) & (minutes <= 59)
    sign = np.where(marker == ord("-"), -1, 1)
    offset: IntArray = np.where(numeric, sign * (hours * 60 + minutes), 0)
    return offset, utc | numeric
