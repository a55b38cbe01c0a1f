"""Per-event arrays packed as base64 text for checkpoints: exact, deterministic, checked."""

from __future__ import annotations

import numpy as np
import orjson
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.packed import pack, pack_column, unpack, unpack_column


@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64)))
def test_floats_round_trip_to_the_bit(values: list[float]) -> None:
    """Any float64 array, NaN, infinities, -0.0 and subnormals included, comes back bit for bit."""
    array = np.array(values, dtype=np.float64)
    back = unpack(orjson.loads(orjson.dumps(pack(array))), np.float64)
    assert back.dtype == np.float64
    assert back.view(np.uint64).tolist() == array.view(np.uint64).tolist()


def test_a_nan_payload_survives() -> None:
    """A NaN with a payload (not the canonical one) keeps its bits."""
    odd = np.array([0x7FF8_0000_0000_0123], dtype=np.uint64).view(np.float64)
    assert unpack(pack(odd), np.float64).view(np.uint64).tolist() == [0x7FF8_0000_0000_0123]


@given(st.lists(st.integers(-(2**63), 2**63 - 1)))
def test_int64_round_trips(values: list[int]) -> None:
    """Any int64 array comes back equal."""
    assert unpack(pack(np.array(values, dtype=np.int64)), np.int64).tolist() == values


def test_packing_is_little_endian_whatever_the_arrays_byte_order() -> None:
    """A big-endian array packs to the same text as the native one: equal values, equal text."""
    native = np.array([1.0, -2.0])
    assert pack(native.astype(">f8")) == pack(native) == "<f8:AAAAAAAA8D8AAAAAAAAAwA=="


@pytest.mark.parametrize(
    ("values", "stored"),
    [
        ([], "<i8"),
        ([0, 1, 2], "|i1"),
        ([-128, 127], "|i1"),
        ([128], "<i2"),
        ([-32769], "<i4"),
        ([2**31 - 1], "<i4"),
        ([2**31], "<i8"),
        ([-(2**63)], "<i8"),
    ],
)
def test_integers_are_stored_in_the_narrowest_width_and_read_back_as_int64(
    values: list[int], stored: str
) -> None:
    """int64 values are stored in the fewest bytes holding them all, and come back as int64."""
    text = pack(np.array(values, dtype=np.int64))
    assert text.split(":")[0] == stored
    back = unpack(text, np.int64)
    assert back.dtype == np.int64
    assert back.tolist() == values


def test_equal_arrays_pack_to_equal_text() -> None:
    """Packing the same values twice, from differently built arrays, gives the same text."""
    values = np.array([0.5, np.nan, -0.0])
    assert pack(values) == pack(np.concatenate([values[:1], values[1:]])) == pack(values.copy())


def test_unpacked_arrays_are_writable() -> None:
    """An unpacked array is a fresh array the caller may change."""
    back = unpack(pack(np.array([1.0, 2.0])), np.float64)
    back[0] = 7.0
    assert back.tolist() == [7.0, 2.0]


@given(st.lists(st.text()))
def test_text_columns_round_trip(values: list[str]) -> None:
    """Any strings (empty, non-ASCII, astral) come back equal, as an Arrow string array."""
    packed = orjson.loads(orjson.dumps(pack_column(pa.array(values, pa.string()))))
    back = unpack_column(packed)
    assert back.type == pa.string()
    assert back.to_pylist() == values


def test_a_sliced_text_column_packs_only_its_own_strings() -> None:
    """A slice of a longer array packs to the same text as a fresh array of its values."""
    sliced = pa.array(["x", "yy", "zzz"]).slice(1)
    assert pack_column(sliced) == pack_column(pa.array(["yy", "zzz"]))


def test_int64_columns_round_trip_as_arrow_int64() -> None:
    """An int64 Arrow column comes back with its type and values."""
    back = unpack_column(pack_column(pa.array([5, -1, 2**40], pa.int64())))
    assert back.type == pa.int64()
    assert back.to_pylist() == [5, -1, 2**40]


def test_a_column_with_nulls_is_refused() -> None:
    """A null has no packed form: packing such a column is refused."""
    with pytest.raises(ValueError, match="cannot hold nulls"):
        pack_column(pa.array(["a", None]))


def test_a_column_of_another_type_is_refused() -> None:
    """Only int64 and string columns are packed."""
    with pytest.raises(ValueError, match="only int64 and string columns are packed, not double"):
        pack_column(pa.array([1.5]))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<i8:not base64!", "a packed array is not base64"),
        ("<i8:AAAA", "a packed array's 3 bytes are not whole int64 values"),
        ("AAAA", "a packed array of type 'AAAA' cannot be read as int64"),
        ("<f8:AAAAAAAAAAA=", "a packed array of type '<f8' cannot be read as int64"),
        (7, "a packed array of type '' cannot be read as int64"),
    ],
)
def test_damaged_array_text_is_refused_with_a_reason(text: str, message: str) -> None:
    """Text that is not a packed array of values the wanted type holds raises ValueError."""
    with pytest.raises(ValueError, match=message):
        unpack(text, np.int64)


@pytest.mark.parametrize(
    ("packed", "message"),
    [
        ({"float": "AAAA"}, r"a packed column has fields \['float'\]"),
        (
            {"utf8": pack(np.frombuffer(b"ab", np.uint8)), "lengths": pack(np.array([1, 2]))},
            "lengths do not add up to its bytes",
        ),
        (
            {"utf8": pack(np.frombuffer(b"ab", np.uint8)), "lengths": pack(np.array([3, -1]))},
            "lengths do not add up to its bytes",
        ),
        (
            {"utf8": pack(np.frombuffer(b"\xff", np.uint8)), "lengths": pack(np.array([1]))},
            "Invalid UTF8 sequence",
        ),
    ],
)
def test_damaged_columns_are_refused_with_a_reason(packed: dict[str, str], message: str) -> None:
    """A packed column with other fields, inconsistent lengths or bad UTF-8 raises ValueError."""
    with pytest.raises(ValueError, match=message):
        unpack_column(packed)
