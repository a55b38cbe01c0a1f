"""A progress bar on stderr that appears only when the work takes longer than about a second."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

#: Seconds of work before the bar is drawn; quick builds print nothing.
SHOW_AFTER_SECONDS = 1.0


@contextmanager
def delayed_progress(enabled: bool, *, delay: float = SHOW_AFTER_SECONDS) -> Iterator[Progress]:
    """Yield a ``rich`` progress bar that is drawn on stderr once ``delay`` seconds have passed.

    Disabled (tasks are tracked, nothing is drawn) when ``enabled`` is false or stderr is not a
    terminal. The bar is removed when the block ends.
    """
    shown = enabled and sys.stderr.isatty()
    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
        disable=not shown,
    )
    if not shown:
        yield progress
        return
    lock = threading.Lock()
    started = False
    finished = False

    def start() -> None:
        nonlocal started
        with lock:
            if not finished:
                progress.start()
                started = True

    timer = threading.Timer(delay, start)
    timer.daemon = True
    timer.start()
    try:
        yield progress
    finally:
        timer.cancel()
        with lock:
            finished = True
            if started:
                progress.stop()
