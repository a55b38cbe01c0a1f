"""Errors the daemon raises for problems a user can fix; each message names the problem and the fix.

Hierarchy::

    DriftwardenError          anything the CLI reports as a one-line error and exit code
    ├── ConfigError           the configuration is invalid (field, value, fix)
    ├── SourceError           an input file or topic cannot be read (path, fix)
    └── CheckpointError       saved state cannot be loaded or written (path, fix)

Bad events are not errors: the decoder turns them into counted rejects and carries on.
"""

from __future__ import annotations


class DriftwardenError(Exception):
    """Base class of every error a user can act on."""


class ConfigError(DriftwardenError):
    """The configuration is invalid."""


class SourceError(DriftwardenError):
    """An input source (file, topic) cannot be read."""


class CheckpointError(DriftwardenError):
    """A checkpoint cannot be loaded or written."""


def error_text(exc: BaseException) -> str:
    """An exception as one line that names its class once (kafka-python's errors name it already).

    >>> class KafkaTimeoutError(Exception):
    ...     def __str__(self) -> str:
    ...         return "KafkaTimeoutError: flush"
    >>> error_text(KafkaTimeoutError()), error_text(OSError("refused"))
    ('KafkaTimeoutError: flush', 'OSError: refused')
    """
    text = str(exc)
    name = type(exc).__name__
    return text if name in text else f"{name}: {text}"
