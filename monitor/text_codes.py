"""Integer codes for a text column: the distinct values once, then numpy works on the codes."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from monitor.types import IntArray


def text_codes(values: pa.Array | pa.ChunkedArray) -> tuple[IntArray, list[str]]:
    """Each value's code (-1 for null) and the distinct values, in order of first appearance.

    A column holding one value throughout (one model, one version: the usual batch) is found by
    one comparison pass instead of hashing every row.

    >>> codes, names = text_codes(pa.array(["b", "a", "b"]))
    >>> codes.tolist(), names
    ([0, 1, 0], ['b', 'a'])
    >>> codes, names = text_codes(pa.array(["m", "m"]))
    >>> codes.tolist(), names
    ([0, 0], ['m'])
    >>> codes, names = text_codes(pa.array(["m", None, "n"]))
    >>> codes.tolist(), names
    ([0, -1, 1], ['m', 'n'])
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if len(values) and not values.null_count and pc.all(pc.equal(values, values[0])).as_py():
        return np.zeros(len(values), dtype=np.int64), [values[0].as_py()]
    encoded = pc.dictionary_encode(values)
    return (
        encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64),
        encoded.dictionary.to_pylist(),
    )
