"""driftwarden's exceptions for problems a user can fix: one hierarchy, rooted here.

Our exception hierarchy::

    DriftwardenError        anything the CLI prints as one line (problem; fix) with exit status 2
    ├── BaselineError       training data or a baseline cannot be read, built, saved or loaded
    ├── ConfigError         the configuration is invalid (field, value, fix)   monitor.errors
    ├── SourceError         an input file or topic cannot be read (path, fix)  monitor.errors
    ├── CheckpointError     saved state cannot be loaded or written (path, fix) monitor.errors
    │   └── ChangelogError  a changelog snapshot cannot be restored   monitor.exchange.changelog
    ├── ReportError         report files cannot be read or merged (file, line)  monitor.errors
    └── InternalTopicError  an internal topic differs from the config (fix)    monitor.errors

The root lives in ``baselines`` because ``baselines`` never imports ``monitor`` while every stage
of ``monitor`` may import ``baselines``; :mod:`monitor.errors` extends the root with the daemon's
errors. Every message is one line that names the problem and the fix, so the CLI prints it as
is, without a traceback. Bad events are not errors: the decoder turns them into counted rejects.
"""

from __future__ import annotations


class DriftwardenError(Exception):
    """Base class of every error a user can act on."""


class BaselineError(DriftwardenError):
    """A user mistake while reading training data or building, saving or loading a baseline."""
