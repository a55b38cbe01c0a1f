"""The allocator settings every driftwarden command makes at start (monitor/allocator.py)."""

from __future__ import annotations

import ctypes
import os
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

import monitor.cli
from monitor.allocator import (
    TOP_PAD_BYTES,
    keep_heap_top,
    operator_sets_top_pad,
    release_free_memory,
    tune_allocators,
    use_jemalloc_for_arrow,
)

GLIBC = os.confstr("CS_GNU_LIBC_VERSION") is not None


@pytest.mark.skipif(not GLIBC, reason="the pad is a glibc malloc setting")
def test_glibc_accepts_the_pad() -> None:
    """On glibc, mallopt accepts the 64 MiB top pad."""
    assert TOP_PAD_BYTES == 64 << 20
    assert keep_heap_top(environ={}) is True


@pytest.mark.parametrize(
    "environ",
    [
        {"MALLOC_TOP_PAD_": "0"},
        {"GLIBC_TUNABLES": "glibc.malloc.top_pad=1048576"},
        {"GLIBC_TUNABLES": "glibc.malloc.check=0:glibc.malloc.top_pad=0"},
    ],
)
def test_an_operators_own_pad_is_left_alone(environ: dict[str, str]) -> None:
    """A pad set in the environment, by variable or tunable, wins: nothing is changed."""
    assert operator_sets_top_pad(environ)
    assert keep_heap_top(environ=environ) is False


def test_other_tunables_do_not_count_as_a_pad() -> None:
    """Tunables that only name other malloc settings leave the pad to driftwarden."""
    assert not operator_sets_top_pad({"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=0"})
    assert not operator_sets_top_pad({"GLIBC_TUNABLES": ""})


@pytest.mark.parametrize("pad", [-1, 2**31])
def test_a_pad_outside_what_mallopt_takes_is_refused(pad: int) -> None:
    """Negative pads and pads that do not fit mallopt's int are a ValueError."""
    with pytest.raises(ValueError, match="pad_bytes"):
        keep_heap_top(pad, environ={})


@pytest.fixture
def arrow_pool() -> Iterator[pa.MemoryPool]:
    """Restore pyarrow's default pool after a test changes it."""
    pool = pa.default_memory_pool()
    yield pool
    pa.set_memory_pool(pool)


def test_jemalloc_becomes_pyarrows_pool(arrow_pool: pa.MemoryPool) -> None:
    """Without an operator's choice, pyarrow allocates from jemalloc afterwards."""
    assert use_jemalloc_for_arrow({}) is True
    assert pa.default_memory_pool().backend_name == "jemalloc"
    assert pa.array([1.0, 2.0]).to_numpy().sum() == 3.0


def test_an_operators_arrow_pool_is_left_alone(arrow_pool: pa.MemoryPool) -> None:
    """ARROW_DEFAULT_MEMORY_POOL in the environment wins: the pool stays as it was."""
    before = pa.default_memory_pool().backend_name
    assert use_jemalloc_for_arrow({"ARROW_DEFAULT_MEMORY_POOL": "system"}) is False
    assert pa.default_memory_pool().backend_name == before


@pytest.mark.skipif(not GLIBC, reason="the pad is a glibc malloc setting")
def test_tuning_names_both_settings(arrow_pool: pa.MemoryPool) -> None:
    """On glibc with jemalloc built in, tuning reports the pad and the pool."""
    assert tune_allocators({}) == ("glibc heap top pad", "jemalloc arrow pool")


def test_every_command_tunes_the_allocators_first(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CLI tunes the allocators before it runs the command."""
    calls: list[str] = []
    monkeypatch.setattr(monitor.cli, "tune_allocators", lambda: calls.append("tuned") or ())
    assert monitor.cli.main(["config", "reference"]) == 0
    assert calls == ["tuned"]
    assert capsys.readouterr().out


def _resident_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not GLIBC, reason="malloc_trim is glibc's")
def test_free_memory_inside_the_heap_goes_back_to_the_kernel() -> None:
    """Memory freed between live blocks of glibc's heap stays resident until
    release_free_memory, which returns it."""
    libc = ctypes.CDLL(None)
    libc.malloc.argtypes, libc.malloc.restype = (ctypes.c_size_t,), ctypes.c_void_p
    libc.free.argtypes, libc.free.restype = (ctypes.c_void_p,), None
    size = 100_000  # below the 128 KiB at which malloc maps a block of its own
    blocks = [libc.malloc(size) for _ in range(2_000)]
    for block in blocks:
        ctypes.memset(block, 1, size)
    for block in blocks[::2]:  # 100 MB free, each piece between two live blocks
        libc.free(block)
    try:
        before = _resident_mib()
        assert release_free_memory() is True
        assert before - _resident_mib() > 50
    finally:
        for block in blocks[1::2]:
            libc.free(block)
