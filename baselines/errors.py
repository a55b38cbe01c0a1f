"""The one exception of the ``baselines`` package.

::

    Exception
    └── BaselineError   a baseline could not be read, built, saved or loaded

Every ``BaselineError`` is caused by something the user can fix (a path, a column name, an
option, a file edited by hand), and its message is one line that names the problem and the fix,
so the CLI prints it as is, without a traceback.
"""

from __future__ import annotations


class BaselineError(Exception):
    """A user mistake while reading training data or building, saving or loading a baseline."""
