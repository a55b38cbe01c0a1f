"""Logging, configured once: structlog JSON lines, or a readable console renderer on a TTY.

Noisy events (one per bad message) go through :class:`RateLimitedLog`, which logs at most
``per_minute`` of them and then one summary of how many it suppressed. Warnings and errors of
the Kafka client library (a stdlib ``logging`` logger) are passed into the same log as
``kafka client`` events by :class:`LibraryLogBridge`, rate-limited per message.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from typing import Any

from monitor.errors import error_text


def configure_logging(level: str = "info", *, json: bool | None = None) -> None:
    """Route structlog to stderr as JSON (or console text when stderr is a terminal)."""
    import structlog  # here, not at module level: replays that log nothing never load it

    use_json = not sys.stderr.isatty() if json is None else json
    # ``exc_info`` becomes a traceback text in JSON; the console renderer prints it itself
    renderers: list[Any] = (
        [structlog.processors.format_exc_info, structlog.processors.JSONRenderer()]
        if use_json
        else [structlog.dev.ConsoleRenderer()]
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            *renderers,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
    bridge_library_log("kafka")


def bridge_library_log(name: str, level: int = logging.WARNING) -> None:
    """Send the stdlib logger ``name``'s records at ``level`` and above into the structlog log."""
    library = logging.getLogger(name)
    for handler in [h for h in library.handlers if isinstance(h, LibraryLogBridge)]:
        library.removeHandler(handler)
    library.addHandler(LibraryLogBridge(f"{name} client"))
    library.setLevel(level)
    library.propagate = False


class RateLimitedLog:
    """Log an event at most ``per_minute`` times a minute; count and report the rest.

    >>> clock = iter([0.0, 1.0, 2.0, 61.0]).__next__
    >>> log = RateLimitedLog("event rejected", per_minute=2, clock=clock)
    >>> [log.allow() for _ in range(4)]
    [True, True, False, True]
    >>> log.suppressed_total
    1
    """

    def __init__(
        self, event: str, *, per_minute: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.event = event
        self.per_minute = per_minute
        self.clock = clock
        self.window_start = -60.0
        self.in_window = 0
        self.suppressed = 0
        self.suppressed_total = 0

    def allow(self) -> bool:
        """Whether one more occurrence may be logged now."""
        now = self.clock()
        if now - self.window_start >= 60.0:
            self.window_start, self.in_window = now, 0
        self.in_window += 1
        if self.in_window <= self.per_minute:
            return True
        self.suppressed += 1
        self.suppressed_total += 1
        return False

    def warning(self, **fields: Any) -> None:
        """Log one occurrence unless over the limit, with how many were skipped before it."""
        self.log(logging.WARNING, **fields)

    def log(self, level: int, **fields: Any) -> None:
        """``warning`` at another stdlib level."""
        if not self.allow():
            return
        import structlog

        skipped, self.suppressed = self.suppressed, 0
        structlog.get_logger().log(level, self.event, suppressed_since_last=skipped, **fields)


class LibraryLogBridge(logging.Handler):
    """A stdlib handler that logs each record as the structlog event ``event``, at the record's
    level, with ``logger``, ``message`` and (for an exception) ``error``; each message template
    at most ``per_minute`` times a minute."""

    def __init__(self, event: str, *, per_minute: int = 6) -> None:
        super().__init__()
        self.event = event
        self.per_minute = per_minute
        self.limits: dict[str, RateLimitedLog] = {}

    def emit(self, record: logging.LogRecord) -> None:
        template = str(record.msg)
        limit = self.limits.setdefault(
            template, RateLimitedLog(self.event, per_minute=self.per_minute)
        )
        fields: dict[str, Any] = {"logger": record.name, "message": record.getMessage()}
        if record.exc_info and record.exc_info[1] is not None:
            fields["error"] = error_text(record.exc_info[1])
        limit.log(record.levelno, **fields)
