"""The daemon's errors for problems a user can fix, and how any exception reads in one line.

They extend :class:`~baselines.errors.DriftwardenError`; the whole hierarchy is drawn in
:mod:`baselines.errors`.
"""

from __future__ import annotations

from baselines.errors import DriftwardenError


class ConfigError(DriftwardenError):
    """The configuration is invalid."""


class SourceError(DriftwardenError):
    """An input source (file, topic) cannot be read."""


class CheckpointError(DriftwardenError):
    """A checkpoint cannot be loaded or written."""


class ReportError(DriftwardenError):
    """Report files cannot be read or merged (a line not of a report, files that disagree)."""


class InternalTopicError(DriftwardenError):
    """An internal topic of a scaled-out group exists with other settings than the config's."""


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
