"""Level transitions in the daemon's log: one warning line per alert record."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog

log = structlog.get_logger()


class AlertLog:
    """Sink that logs every level transition."""

    def write(self, record: Mapping[str, Any]) -> None:
        if record["kind"] == "alert":
            log.warning("alert level changed", **{k: v for k, v in record.items() if k != "kind"})
