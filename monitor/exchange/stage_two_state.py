"""One exchange partition's stage 2 as a snapshot: what the stage-2 changelog holds.

A snapshot is everything of partition ``e`` that shapes what its models will report, taken at a
poll boundary and written in the same transaction as the exchange offset it covers (the
stage-2 commit cycle, docs/scale-out.md "Where state lives"), except what its open windows
hold: those are rebuilt from the exchange records from ``replay_from`` on, read again
(:meth:`~monitor.exchange.partitioned_windows.PartitionedWindows.refill`), so a snapshot stays
small however many events the open windows hold::

    {"format": "driftwarden.stage2/1",
     "config": "sha256:…",            the group's configuration digest (partials carry it too)
     "offset": next exchange offset,  what the state covers
     "replay_from": first offset of a partial in a window still open (null: none is open),
     "windows": event and late counts, each source partition's last mark and the windows
                closed (OpenWindows.state),
     "ledger": [[model, source partition, offsets counted through], …],
     "duplicates": {model: copies skipped},
     "stage": {"checks": levels and streaks, "series": window-series detectors,
               "score_detectors": …, "error_detectors": …},
     "outputs": {sink name: what a sink holds of the partition's models}}

The outputs are the metrics store's latest windows and counters and Alertmanager's firing
alerts, so the process that takes the partition over exports and pages as the previous owner
did, without reading the partition's history again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from monitor.errors import CheckpointError
from monitor.exchange.ledger import PartialLedger
from monitor.exchange.open_windows import OpenWindows
from monitor.stage_two import StageTwo
from monitor.state.parts import checks_state, read_checks, read_series, series_state

PARTITION_FORMAT = "driftwarden.stage2/1"


class StaleSnapshotError(CheckpointError):
    """A stage-2 snapshot made under another configuration: its state means nothing now."""


def partition_snapshot(
    config: str,
    offset: int,
    replay_from: int | None,
    windows: OpenWindows,
    ledger: PartialLedger,
    duplicates: Mapping[str, int],
    stage: StageTwo,
    outputs: Mapping[str, Any],
) -> bytes:
    """The snapshot of one exchange partition covering the records before ``offset``."""
    return orjson.dumps(
        {
            "format": PARTITION_FORMAT,
            "config": config,
            "offset": offset,
            "replay_from": replay_from,
            "windows": windows.state(),
            "ledger": ledger.state(),
            "duplicates": {m: int(n) for m, n in sorted(duplicates.items())},
            "stage": {
                "checks": checks_state(stage.check_states),
                "series": series_state(stage.series),
                "score_detectors": stage.score_detectors.state(),
                "error_detectors": stage.error_detectors.state(),
            },
            "outputs": dict(outputs),
        },
        option=orjson.OPT_SORT_KEYS,
    )


def read_snapshot(data: bytes, config: str, where: str) -> dict[str, Any]:
    """The state in ``data``, checked to be a stage-2 snapshot of configuration ``config``.

    Raises :class:`StaleSnapshotError` for another configuration's and
    :class:`~monitor.errors.CheckpointError` for anything else than a stage-2 snapshot.
    """
    try:
        state = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise CheckpointError(f"{where} is not JSON ({exc})") from None
    written = state.get("format") if isinstance(state, dict) else None
    if written != PARTITION_FORMAT:
        raise CheckpointError(
            f"{where} has format {written!r}, but this driftwarden reads {PARTITION_FORMAT!r}"
        )
    if state.get("config") != config:
        raise StaleSnapshotError(
            f"{where} was made with config {state.get('config')}, this process runs {config}"
        )
    return dict(state)


def restore_partition(state: Mapping[str, Any], windows: OpenWindows, stage: StageTwo) -> None:
    """Put a snapshot's counters, marks, levels and detectors into a fresh partition's
    ``windows`` and ``stage`` (its ledger and open windows are the caller's: they are rebuilt
    first). Raises :class:`~monitor.errors.CheckpointError` for a malformed state."""
    try:
        saved = state["stage"]
        checks = read_checks(saved["checks"])
        series = read_series(saved["series"])
        score_detectors = stage.score_detectors.restored(saved["score_detectors"])
        error_detectors = stage.error_detectors.restored(saved["error_detectors"])
        windows.restore(state["windows"])
    except (KeyError, TypeError, ValueError) as exc:
        reason = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise CheckpointError(f"stage-2 snapshot cannot be restored ({reason})") from None
    stage.check_states = checks
    stage.series = series
    stage.score_detectors, stage.error_detectors = score_detectors, error_detectors
