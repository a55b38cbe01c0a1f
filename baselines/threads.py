"""How many threads column-wise numpy work may use: the CPUs this process may run on, capped."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

In = TypeVar("In")
Out = TypeVar("Out")


def available_threads(cap: int) -> int:
    """The CPUs this process may run on (its affinity, not the machine's count), at most ``cap``.

    >>> 1 <= available_threads(4) <= 4, available_threads(1)
    (True, 1)
    """
    return max(1, min(cap, len(os.sched_getaffinity(0))))


def map_columns(work: Callable[[In], Out], items: Iterable[In], cap: int = 4) -> Iterator[Out]:
    """``map(work, items)`` in order, on threads: numpy's sorts and comparisons release the GIL.

    >>> list(map_columns(lambda x: x * x, range(5)))
    [0, 1, 4, 9, 16]
    """
    with ThreadPoolExecutor(available_threads(cap)) as pool:
        yield from pool.map(work, items)
