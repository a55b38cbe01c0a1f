"""Allocator figures of a ``driftwarden run`` process every 2 s, for the soak's RSS diagnosis.

Use: ``RSS_PROBE_OUT=/tmp/probe.jsonl PYTHONPATH=benchmarks/rss_probe .venv/bin/python
benchmarks/soak.py …``: every Python process started with that ``PYTHONPATH`` imports this
module; in those whose command line has ``run`` a thread appends one JSON line per sample to
``RSS_PROBE_OUT``: VmRSS, glibc's ``mallinfo2`` (KiB: ``arena`` obtained, ``uord`` in use,
``ford`` free, ``hblkhd`` mmapped), Python's allocated blocks (``sys.getallocatedblocks``), the
pyarrow pool's bytes, and the resident KiB of the mappings from ``/proc/self/smaps``: ``heap``
(glibc's main arena), ``thread_heap`` (64 MiB-aligned anonymous mappings: glibc's per-thread
arenas), ``other_anon`` (the rest of the anonymous memory: Python's object arenas, mmapped
arrays, jemalloc) and ``file``. With ``RSS_PROBE_TRACE`` set, tracemalloc runs (25 frames) and
a snapshot's top 8 tracebacks go to ``RSS_PROBE_OUT.trace`` whenever the blocks exceed 1.35×
their least count after the first 10 s (at most every 15 s). Not imported by anything else.
"""

import ctypes
import json
import os
import sys
import threading
import time

OUT = os.environ.get("RSS_PROBE_OUT")
TRACE = bool(os.environ.get("RSS_PROBE_TRACE"))


class MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena",
            "ordblks",
            "smblks",
            "hblks",
            "hblkhd",
            "usmblks",
            "fsmblks",
            "uordblks",
            "fordblks",
            "keepcost",
        )
    ]


def smaps() -> dict[str, int]:
    """Resident KiB by kind of mapping."""
    kib = {"heap_kib": 0, "thread_heap_kib": 0, "other_anon_kib": 0, "file_kib": 0}
    mapping: tuple[int, str, int] | None = None
    with open("/proc/self/smaps") as f:
        for line in f:
            parts = line.split()
            if "-" in parts[0] and len(parts) >= 5 and ":" in parts[3]:
                low, high = (int(x, 16) for x in parts[0].split("-"))
                mapping = (high - low, parts[5] if len(parts) > 5 else "", low)
            elif parts[0] == "Rss:" and mapping is not None:
                size, name, low = mapping
                if name == "[heap]":
                    kind = "heap_kib"
                elif name.startswith("/"):
                    kind = "file_kib"
                elif name == "" and size <= 64 << 20 and low % (64 << 20) == 0:
                    kind = "thread_heap_kib"
                elif name == "":
                    kind = "other_anon_kib"
                else:
                    continue
                kib[kind] += int(parts[1])
    return kib


def vm_rss_kib() -> int:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))


def dump_trace(row: dict) -> None:
    import tracemalloc

    snap = tracemalloc.take_snapshot()
    with open(OUT + ".trace", "a") as out:
        out.write(f"=== t={row['t']} blocks={row['blocks']}\n")
        for stat in snap.statistics("traceback")[:8]:
            out.write(f"{stat.count} blocks {stat.size >> 10} KiB\n")
            for line in stat.traceback.format()[-24:]:
                out.write("   " + line + "\n")


def sample_forever() -> None:
    mallinfo2 = ctypes.CDLL(None).mallinfo2
    mallinfo2.restype = MallInfo2
    started = time.monotonic()
    least_blocks, last_dump = 10**9, -100.0
    with open(OUT, "a") as out:
        while True:
            m = mallinfo2()
            row = {
                "t": round(time.monotonic() - started, 1),
                "rss_kib": vm_rss_kib(),
                "arena": m.arena >> 10,
                "hblkhd": m.hblkhd >> 10,
                "uord": m.uordblks >> 10,
                "ford": m.fordblks >> 10,
                "blocks": sys.getallocatedblocks(),
                "threads": threading.active_count(),
                **smaps(),
            }
            pa = sys.modules.get("pyarrow")
            if pa is not None and hasattr(pa, "total_allocated_bytes"):  # once imported whole
                row["arrow_kib"] = pa.total_allocated_bytes() >> 10
            out.write(json.dumps(row) + "\n")
            out.flush()
            if row["t"] > 10:
                least_blocks = min(least_blocks, row["blocks"])
            if TRACE and row["blocks"] > 1.35 * least_blocks and row["t"] - last_dump > 15:
                last_dump = row["t"]
                dump_trace(row)
            time.sleep(2)


def start() -> None:
    time.sleep(1)  # sys.argv is complete only once the interpreter has started the module
    if "run" in sys.argv:
        if TRACE:
            import tracemalloc

            tracemalloc.start(25)
        sample_forever()


if OUT:
    threading.Thread(target=start, daemon=True, name="rss-probe").start()
