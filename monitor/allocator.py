"""Memory allocators set for batch work: every ``driftwarden`` command calls
:func:`tune_allocators` once at start.

Every batch allocates and frees the same few megabytes of arrays, through two allocators:

- **glibc's malloc** (numpy's arrays). With its default settings it may give the freed top of
  the heap back to the kernel after a batch and fault the same pages in again on the next one.
  :func:`keep_heap_top` sets a 64 MiB top pad: malloc keeps that much free memory at the top of
  the heap when it trims, and grows the heap by that much more when it must.
- **pyarrow's memory pool** (Parquet pages, Arrow arrays). :func:`use_jemalloc_for_arrow` makes
  jemalloc, which pyarrow also ships, the default pool instead of mimalloc: a replay's peak
  resident set is ~30 MiB lower at the same speed.

``benchmarks/bench_allocator.py`` measures each step against glibc's and pyarrow's defaults
(4M-row replays: the pad alone 1.34x faster with a quarter of the page faults; with jemalloc
too, 1.32x and 315 instead of 345 MiB peak; figures in benchmarks/README.md).

After a checkpoint's save or restore the daemon calls :func:`release_free_memory`: the state's
transient copies (the packed text, the serialised file, the loaded document: several hundred MiB
under load) are freed by then but would stay resident in both allocators' free lists, raising
the resident set by 100 MiB and more after a restore until reused (seen in the 20M soak;
``benchmarks/README.md``).

An operator's own choice wins: with ``MALLOC_TOP_PAD_`` or a ``glibc.malloc.top_pad`` tunable,
the pad is left as set; with ``ARROW_DEFAULT_MEMORY_POOL``, pyarrow's pool is. Other C
libraries (musl, macOS) keep their malloc settings.
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


def tune_allocators(environ: Mapping[str, str] = os.environ) -> tuple[str, ...]:
    """Set both allocators for batch work; the names of the settings made.

    >>> tune_allocators({"MALLOC_TOP_PAD_": "0", "ARROW_DEFAULT_MEMORY_POOL": "mimalloc"})
    ()
    """
    made = []
    if keep_heap_top(environ=environ):
        made.append("glibc heap top pad")
    if use_jemalloc_for_arrow(environ):
        made.append("jemalloc arrow pool")
    return tuple(made)


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


def use_jemalloc_for_arrow(environ: Mapping[str, str] = os.environ) -> bool:
    """Make jemalloc pyarrow's default memory pool; True when it was set.

    False, changing nothing, when ``environ`` names a pool (``ARROW_DEFAULT_MEMORY_POOL``) or
    this pyarrow was built without jemalloc.

    >>> use_jemalloc_for_arrow({"ARROW_DEFAULT_MEMORY_POOL": "system"})
    False
    """
    if "ARROW_DEFAULT_MEMORY_POOL" in environ:
        return False
    import pyarrow as pa  # here, not at module level: `driftwarden --help` needs no pyarrow

    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:
        return False
    pa.set_memory_pool(pool)
    return True


def release_free_memory() -> bool:
    """Return the free memory both allocators hold to the kernel, glibc keeping its top pad;
    True when glibc's malloc released some."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
    if not _is_glibc():
        return False
    trim = ctypes.CDLL(None).malloc_trim
    trim.argtypes = (ctypes.c_size_t,)
    trim.restype = ctypes.c_int
    return bool(trim(TOP_PAD_BYTES))


def _is_glibc() -> bool:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION") is not None
    except (ValueError, OSError):
        return False
