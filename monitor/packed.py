"""Per-event arrays as compact JSON text: base64 of their little-endian bytes.

A checkpoint holds every buffered value of the open windows and every prediction waiting for
its label: millions of numbers at full load. As JSON lists each number becomes a Python object
on the way out and on the way back, several times the memory of the array itself. Packed, an
array is one string, the base64 of its raw bytes: exact to the bit (NaN, -0.0, subnormals),
equal arrays give equal text, and packing costs two copies of the bytes.

>>> pack(np.array([1.5, np.nan]))
'AAAAAAAA+D8AAAAAAAD4fw=='
>>> unpack(pack(np.array([1.5, np.nan])), np.float64).tolist()
[1.5, nan]
>>> pack_column(pa.array(["é", "ab"]))
{'utf8': 'w6lhYg==', 'lengths': 'AgAAAAAAAAACAAAAAAAAAA=='}
>>> unpack_column(pack_column(pa.array(["é", "ab"]))).to_pylist()
['é', 'ab']
"""

from __future__ import annotations

import base64
import binascii

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

Packed = dict[str, str]
"""An Arrow column: ``{"int64": text}``, or ``{"utf8": text, "lengths": text}`` for strings."""


def pack(values: np.ndarray) -> str:
    """The base64 of a numeric array's little-endian bytes."""
    little = values.astype(values.dtype.newbyteorder("<"), copy=False)
    return base64.b64encode(little.tobytes()).decode("ascii")


def unpack(text: str, dtype: npt.DTypeLike) -> np.ndarray:
    """Back from :func:`pack`: a new writable array of ``dtype``.

    Raises ValueError when ``text`` is not base64 of whole values of that type.
    """
    native = np.dtype(dtype)
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, TypeError) as exc:
        raise ValueError(f"a packed array is not base64 ({exc})") from None
    if len(raw) % native.itemsize:
        raise ValueError(f"a packed array's {len(raw)} bytes are not whole {native} values")
    return np.frombuffer(raw, native.newbyteorder("<")).astype(native)


def pack_column(values: pa.Array) -> Packed:
    """An int64 or string Arrow array (without nulls) as packed text."""
    if values.null_count:
        raise ValueError("a packed column cannot hold nulls")
    if pa.types.is_int64(values.type):
        return {"int64": pack(values.to_numpy(zero_copy_only=False))}
    if not pa.types.is_string(values.type):
        raise ValueError(f"only int64 and string columns are packed, not {values.type}")
    text = values.cast(pa.large_string())
    whole = pc.binary_join(
        pa.LargeListArray.from_arrays([0, len(text)], text), pa.scalar("", pa.large_string())
    )
    lengths = pc.binary_length(text).to_numpy(zero_copy_only=False).astype(np.int64)
    utf8 = base64.b64encode(whole[0].as_buffer()).decode("ascii")
    return {"utf8": utf8, "lengths": pack(lengths)}


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
