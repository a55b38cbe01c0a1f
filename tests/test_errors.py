"""driftwarden's one exception hierarchy: every error a user can fix shares one root."""

from __future__ import annotations

import pytest

from baselines.errors import BaselineError, DriftwardenError
from monitor.errors import CheckpointError, ConfigError, InternalTopicError, SourceError


@pytest.mark.parametrize(
    "error", [BaselineError, ConfigError, SourceError, CheckpointError, InternalTopicError]
)
def test_every_user_error_is_a_driftwarden_error(error: type[Exception]) -> None:
    """Each error a user can fix is caught by ``except DriftwardenError`` (what the CLI does)."""
    assert issubclass(error, DriftwardenError)
