"""Python's cyclic garbage collector, paused while a batch is counted and windows close, and
while stage 2 takes or restores a partition's snapshot.

All make many small containers that reference nothing cyclic (per closing window: a score
tuple and two dicts per subject, a check and a level per check, the report object; per batch:
the window parts of every model), and each 700 of them start a collection of the youngest
generation, every tenth of those the next one, until a full collection walks every object the
daemon holds (open windows, check states, detectors). Reference counting frees these objects
without the collector, so :func:`collector_paused` turns it off for the burst and back on after:
at 100 models a window closes in about a fifth less CPU time and a batch is counted in about a
seventh less (``benchmarks/bench_models.py``). Cycles made meanwhile are collected once it is
back on, between batches. A collector already off (the embedding program's choice) stays off.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """The cyclic garbage collector off inside, as it was outside; also a decorator.

    >>> with collector_paused():
    ...     gc.isenabled()
    False
    >>> gc.isenabled()
    True
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
