"""Per-event arrays as compact JSON text: the base64 of their little-endian bytes.

A checkpoint holds every buffered value of the open windows and every prediction waiting for
its label: millions of numbers at full load. As JSON lists each number becomes a Python object
on the way out and on the way back, several times the memory of the array itself. Packed, an
array is one string, ``<numpy type>:<base64 of the bytes>``: exact to the bit (NaN, -0.0,
subnormals), equal arrays give equal text, and packing costs a few copies of the bytes.
Integers are stored in the narrowest of 1, 2, 4 or 8 bytes that holds all of them (codes and
lengths are small), and widened back on reading.

>>> pack(np.array([1.5, np.nan]))
'<f8:AAAAAAAA+D8AAAAAAAD4fw=='
>>> unpack(pack(np.array([1.5, np.nan])), np.float64).tolist()
[1.5, nan]
>>> pack(np.array([3, -1, 300]))
'<i2:AwD//ywB'
>>> pack_column(pa.array(["é", "ab"]))
{'utf8': '|u1:w6lhYg==', 'lengths': '|i1:AgI='}
>>> unpack_column(pack_column(pa.array(["é", "ab"]))).to_pylist()
['é', 'ab']
"""

from __future__ import annotations

import base64
import binascii

import numpy as np
import numpy.typing as npt
import pyarrow as pa

Packed = dict[str, str]
"""An Arrow column: ``{"int64": text}``, or ``{"utf8": text, "lengths": text}`` for strings."""


_STORED = {t.str: t for t in map(np.dtype, ("<i1", "<i2", "<i4", "<i8", "<u1", "<f8"))}
"""The types a packed array may be stored as, by their text code."""


def pack(values: np.ndarray) -> str:
    """``<type>:<base64>`` of a numeric array's little-endian bytes (integers narrowed)."""
    stored = _narrowest(values)
    little = values.astype(stored, copy=False)
    return f"{stored.str}:{base64.b64encode(little.tobytes()).decode('ascii')}"


def unpack(text: str, dtype: npt.DTypeLike) -> np.ndarray:
    """Back from :func:`pack`: a new writable array of ``dtype``.

    Raises ValueError when ``text`` is not a packed array whose values ``dtype`` holds.
    """
    native = np.dtype(dtype)
    code, _, body = text.partition(":") if isinstance(text, str) else ("", "", "")
    stored = _STORED.get(code)
    if stored is None or not np.can_cast(stored, native):
        raise ValueError(f"a packed array of type {code!r} cannot be read as {native}")
    try:
        raw = base64.b64decode(body, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"a packed array is not base64 ({exc})") from None
    if len(raw) % stored.itemsize:
        raise ValueError(f"a packed array's {len(raw)} bytes are not whole {stored} values")
    return np.frombuffer(raw, stored).astype(native)


def _narrowest(values: np.ndarray) -> np.dtype[np.generic]:
    """The little-endian type to store ``values`` in: for integers, the narrowest that holds
    them all."""
    if values.dtype.kind != "i" or not len(values):
        return values.dtype.newbyteorder("<")
    low, high = int(values.min()), int(values.max())
    for width in ("<i1", "<i2", "<i4"):
        limits = np.iinfo(width)
        if limits.min <= low and high <= limits.max:
            return np.dtype(width)
    return np.dtype("<i8")


def pack_column(values: pa.Array) -> Packed:
    """An int64 or string Arrow array (without nulls) as packed text."""
    if values.null_count:
        raise ValueError("a packed column cannot hold nulls")
    if pa.types.is_int64(values.type):
        return {"int64": pack(values.to_numpy(zero_copy_only=False))}
    if not pa.types.is_string(values.type):
        raise ValueError(f"only int64 and string columns are packed, not {values.type}")
    _, offset_buffer, data_buffer = values.buffers()
    ends = np.frombuffer(offset_buffer, np.int32)[values.offset : values.offset + len(values) + 1]
    data = np.frombuffer(data_buffer or b"", np.uint8)[ends[0] : ends[-1]]
    return {"utf8": pack(data), "lengths": pack(np.diff(ends).astype(np.int64))}


def unpack_column(packed: Packed) -> pa.Array:
    """Back from :func:`pack_column`.

    Raises ValueError when ``packed`` does not hold a column :func:`pack_column` wrote.
    """
    if set(packed) == {"int64"}:
        return pa.array(unpack(packed["int64"], np.int64))
    if set(packed) != {"utf8", "lengths"}:
        raise ValueError(f"a packed column has fields {sorted(packed)}")
    lengths = unpack(packed["lengths"], np.int64)
    data = unpack(packed["utf8"], np.uint8)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    if (lengths < 0).any() or offsets[-1] != len(data):
        raise ValueError("a packed text column's lengths do not add up to its bytes")
    text = pa.LargeStringArray.from_buffers(len(lengths), pa.py_buffer(offsets), pa.py_buffer(data))
    text.validate(full=True)
    return text.cast(pa.string())
