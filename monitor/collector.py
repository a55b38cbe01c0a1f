"""Python's cyclic garbage collector, paused while a burst of small objects is made.

Closing windows makes many small containers that reference nothing cyclic (per window: a score
tuple and two dicts per subject, a check and a level per check, the report object), and each
700 of them start a collection of the youngest generation, every tenth of those the next one,
until a full collection walks every object the daemon holds (open windows, check states,
detectors). Reference counting frees these objects without the collector, so
:func:`collector_paused` turns it off for the burst and back on after: at 100 models a window
closes in about a fifth less CPU time (``benchmarks/bench_models.py``). Cycles made meanwhile
are collected once it is back on. A collector already off (the embedding program's choice)
stays off.
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
