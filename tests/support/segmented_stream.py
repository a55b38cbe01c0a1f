"""The stable three-segment stream of issue 17 and its incident, seeded, and a replay of it.

Ten standard normal features ``f0`` … ``f9`` and a segment ``region`` that is ``a``, ``b`` or
``c`` in 90 / 6 / 4 % of the rows; 3,600 events an hour. The reference and the stream are drawn
from the same distribution, so every raise on the stable stream is a false alarm; the incident
shifts ``f0``'s mean from a given hour on.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from baselines.build import build_baseline
from baselines.values import Baseline
from monitor.config import load_settings
from monitor.pipeline import Pipeline
from monitor.sinks.memory import ListSink

FEATURES = tuple(f"f{i}" for i in range(10))
REGIONS = ("a", "b", "c")
SHARES = (0.90, 0.06, 0.04)
PER_HOUR = 3_600
HOUR_MS = 3_600_000


def rows(n: int, seed: int, *, shift: float = 0.0) -> pa.Table:
    """``n`` rows of the ten features and the region (``f0``'s mean moved by ``shift``)."""
    rng = np.random.default_rng(seed)
    values = rng.normal(0.0, 1.0, (len(FEATURES), n))
    values[0] += shift
    columns: dict[str, Any] = dict(zip(FEATURES, values, strict=True))
    columns["region"] = rng.choice(REGIONS, n, p=SHARES)
    return pa.table(columns)


def reference(rows_: int = 50_000, seed: int = 1) -> Baseline:
    """The baseline of model ``m``: overall and per region, calibrated at the default sizes."""
    return build_baseline(rows(rows_, seed), model="m", segments=("region",))


def stream(
    hours: int, seed: int, *, incident_from: int | None = None, shift: float = 0.0
) -> pa.Table:
    """``hours`` hourly windows of :data:`PER_HOUR` events in replay's flat shape; from the
    hour ``incident_from`` on, ``f0`` is shifted by ``shift``."""
    table = rows(hours * PER_HOUR, seed)
    hour = np.repeat(np.arange(hours), PER_HOUR)
    if incident_from is not None:
        f0 = table.column("f0").to_numpy() + np.where(hour >= incident_from, shift, 0.0)
        table = table.set_column(0, "f0", pa.array(f0))
    times = hour * HOUR_MS + np.tile(np.arange(PER_HOUR) * 1_000, hours)
    return table.append_column("timestamp", pa.array(times)).append_column(
        "model", pa.array(["m"] * len(times))
    )


def replay(
    folder: Path,
    baseline: Baseline,
    table: pa.Table,
    alerts: Mapping[str, Any] | None = None,
    *,
    segments: tuple[str, ...] = ("region",),
) -> list[Mapping[str, Any]]:
    """Every report record of ``table`` (model ``m``) replayed in hourly windows, per
    ``segments``, with the default settings (``alerts`` overriding some), windows and alerts
    in order."""
    path = folder / "m.json"
    baseline.save(path)
    settings = load_settings(
        None,
        models=[{"name": "m", "baseline": path}],
        windows={"size": "1h", "allowed_lateness": "0s"},
        segments={"fields": list(segments)},
        alerts=dict(alerts or {}),
    )
    sink = ListSink()
    pipeline = Pipeline(settings, {"m": baseline}, [sink])
    for offset in range(0, table.num_rows, 100_000):
        pipeline.process_table(table.slice(offset, 100_000), first_offset=offset, now_ms=10**13)
    pipeline.finish()
    return sink.reports()


def raises(records: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The alert records that raise a check (into warning or intervention from ok)."""
    return [r for r in records if r["kind"] == "alert" and r["from"] == "ok"]
