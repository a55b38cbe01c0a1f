"""Keep the freed top of the C heap mapped between batches (glibc malloc's ``M_TOP_PAD``).

Every batch allocates and frees the same few megabytes of arrays. With glibc's default
settings malloc may give the freed top of the heap back to the kernel after a batch and fault
the same pages in again on the next one. ``benchmarks/bench_allocator.py`` replays 4M rows in
fresh processes with and without the pad: without it, 158,000-273,000 minor page faults per
replay instead of ~32,000, and 1.23x the time (medians of six pairs, benchmarks/README.md). A top
pad makes malloc keep that much free memory at the top of the heap when it trims, and grow the
heap by that much more when it must, so a batch's arrays reuse the pages of the one before.

The CLI calls :func:`keep_heap_top` once at start. An operator's own setting wins: with
``MALLOC_TOP_PAD_`` or a ``glibc.malloc.top_pad`` tunable in the environment nothing is changed.
Other C libraries (musl, macOS) are left alone.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Mapping

#: Free heap kept mapped at the top: several batches' worth of arrays (a 32k-row batch of 20
#: features holds ~6 MiB), small next to the daemon's ~300 MiB resident set.
TOP_PAD_BYTES = 64 << 20
#: glibc's mallopt parameter number for the top pad (malloc.h).
_M_TOP_PAD = -2


def keep_heap_top(pad_bytes: int = TOP_PAD_BYTES, environ: Mapping[str, str] = os.environ) -> bool:
    """Set glibc's heap top pad to ``pad_bytes``; True when it was set.

    False, changing nothing, when the C library is not glibc or when ``environ`` already sets the
    pad (``MALLOC_TOP_PAD_``, or ``glibc.malloc.top_pad`` in ``GLIBC_TUNABLES``).

    >>> keep_heap_top(environ={"MALLOC_TOP_PAD_": "0"})
    False
    """
    if not 0 <= pad_bytes < 2**31:
        raise ValueError(f"pad_bytes must be in [0, 2 GiB), got {pad_bytes}")
    if operator_sets_top_pad(environ) or not _is_glibc():
        return False
    mallopt = ctypes.CDLL(None).mallopt
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_TOP_PAD, pad_bytes))


def operator_sets_top_pad(environ: Mapping[str, str]) -> bool:
    """Whether the environment gives glibc its own top pad.

    >>> operator_sets_top_pad({"GLIBC_TUNABLES": "glibc.malloc.top_pad=0:glibc.malloc.check=0"})
    True
    >>> operator_sets_top_pad({"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=0"})
    False
    """
    tunables = environ.get("GLIBC_TUNABLES", "")
    named = (item.partition("=")[0].strip() for item in tunables.split(":"))
    return "MALLOC_TOP_PAD_" in environ or "glibc.malloc.top_pad" in named


def _is_glibc() -> bool:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION") is not None
    except (ValueError, OSError):
        return False
