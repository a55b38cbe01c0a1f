"""Level transitions in the daemon's log: one warning line per alert record."""

from __future__ import annotations

import structlog

from monitor.sinks.base import AlertRecord, Record

log = structlog.get_logger()


class AlertLog:
    """Sink that logs every level transition."""

    def write(self, record: Record) -> None:
        if isinstance(record, AlertRecord):
            log.warning(
                "alert level changed", **{k: v for k, v in record.report.items() if k != "kind"}
            )
