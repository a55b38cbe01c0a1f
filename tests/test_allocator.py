"""The heap top pad every driftwarden command sets at start (monitor/allocator.py)."""

from __future__ import annotations

import os

import pytest

import monitor.cli
from monitor.allocator import TOP_PAD_BYTES, keep_heap_top, operator_sets_top_pad

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


def test_every_command_sets_the_pad_first(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The CLI sets the pad before it runs the command."""
    calls: list[str] = []
    monkeypatch.setattr(monitor.cli, "keep_heap_top", lambda: calls.append("pad") or True)
    assert monitor.cli.main(["config", "reference"]) == 0
    assert calls == ["pad"]
    assert capsys.readouterr().out
