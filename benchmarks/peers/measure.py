"""Run one worker in its own process and measure it: wall time, CPU time, peak RSS.

Peak RSS and CPU time come from ``os.wait4`` (the rusage of exactly that child, like
``getrusage(RUSAGE_CHILDREN)`` for a single child). While the child runs, a watchdog stops it
when it passes the time limit, or when the machine's available memory falls below a floor (the
machine is shared: a peer that would exhaust it is stopped and reported, not left to the OOM
killer).
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Stop a worker when the machine has less available memory than this.
MEMORY_FLOOR_BYTES = 1_500 * 2**20
POLL_SECONDS = 0.25


@dataclass(frozen=True)
class Measurement:
    """How one worker process went; ``status``: ok, time limit, memory or failed."""

    status: str
    wall_seconds: float
    cpu_seconds: float
    peak_rss_mib: float
    result: Mapping[str, Any] = field(default_factory=dict)
    log: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


def available_memory_bytes() -> int:
    """``MemAvailable`` from /proc/meminfo.

    >>> available_memory_bytes() > 0
    True
    """
    with open("/proc/meminfo", encoding="ascii") as info:
        for line in info:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("/proc/meminfo has no MemAvailable line; run on Linux 3.14 or later")


def measure(
    argv: Sequence[str],
    *,
    result_path: Path,
    log_path: Path,
    env: Mapping[str, str],
    limit_seconds: float,
) -> Measurement:
    """Run ``argv``, enforce the limits, and read the JSON the worker wrote to ``result_path``."""
    result_path.unlink(missing_ok=True)
    with log_path.open("wb") as log:
        started = time.perf_counter()
        child = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, env=dict(env), start_new_session=True
        )
        status, rusage, stopped = _wait(child, started, limit_seconds)
        wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    outcome = stopped or ("ok" if child.returncode == 0 and result_path.exists() else "failed")
    return Measurement(
        status=outcome,
        wall_seconds=wall,
        cpu_seconds=rusage.ru_utime + rusage.ru_stime,
        peak_rss_mib=rusage.ru_maxrss / 1024,
        result=json.loads(result_path.read_text(encoding="utf-8")) if outcome == "ok" else {},
        log=log_path.read_text(encoding="utf-8", errors="replace")[-2000:],
    )


def _wait(
    child: subprocess.Popen[bytes], started: float, limit_seconds: float
) -> tuple[int, resource.struct_rusage, str]:
    """Block until the child exits while a watchdog thread kills its group past a limit."""
    done = threading.Event()
    stopped: list[str] = []

    def watch() -> None:
        while not done.wait(POLL_SECONDS):
            if time.perf_counter() - started > limit_seconds:
                stopped.append("time limit")
            elif available_memory_bytes() < MEMORY_FLOOR_BYTES:
                stopped.append("memory")
            if stopped:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGKILL)
                return

    watchdog = threading.Thread(target=watch, daemon=True)
    watchdog.start()
    _, status, rusage = os.wait4(child.pid, 0)
    done.set()
    watchdog.join()
    return status, rusage, "".join(stopped)
