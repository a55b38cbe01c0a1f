"""A live loop that SIGTERM or SIGINT stops after its current step."""

from __future__ import annotations

import signal
from types import FrameType

import structlog

log = structlog.get_logger()


class SignalledLoop:
    """Base of the daemons' loops: ``stopping`` turns true on SIGTERM or SIGINT (once
    :meth:`listen_for_signals` ran); the loop checks it between steps."""

    stopping = False

    def stop(self, signum: int = 0, frame: FrameType | None = None) -> None:
        """Ask the loop to stop after its current step (signal handler)."""
        del frame
        log.info("stopping", signal=signum)
        self.stopping = True

    def listen_for_signals(self) -> None:
        """Make SIGTERM and SIGINT call :meth:`stop` (from the main thread)."""
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
