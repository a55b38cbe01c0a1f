"""The dashboard's multiclass panels answer from a multiclass model's history.

The 4-class stream of tests/test_multiclass.py is replayed into OpenMetrics, turned into TSDB
blocks by promtool and served by a real Prometheus; every target of the panels that show
multiclass models only must return series at the last window's end.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import orjson
import pytest

from baselines.build import build_baseline
from monitor.app import replay_file
from monitor.config import load_settings
from monitor.sinks.memory import ListSink
from monitor.sinks.openmetrics import OpenMetricsHistory
from tests.support.dashboard import dashboard_queries
from tests.support.ports import free_loopback_ports
from tests.support.prometheus import install_binaries, query, start_prometheus
from tests.test_multiclass import (
    CLASSES,
    HOUR_MS,
    PER_HOUR,
    START_MS,
    four_class_table,
    stream_hours,
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, float]]:
    """A Prometheus serving the stream's history, and the last window's end (epoch s)."""
    folder = tmp_path_factory.mktemp("multiclass-dashboard")
    table, _, _ = four_class_table(6_000, seed=1)
    baseline = build_baseline(table, model="m", label="y", prediction_proba="proba_*")
    baseline.save(folder / "m.json")
    lines = [
        orjson.dumps(
            {
                "model": "m",
                "model_version": "v1",
                "timestamp": START_MS + hour * HOUR_MS + i * 2_000,
                "features": {"x": float(x[i])},
                "prediction": dict(zip(CLASSES, probabilities[i].tolist(), strict=True)),
                "label": CLASSES[truth[i]],
            }
        )
        for hour, (x, truth, probabilities) in enumerate(stream_hours())
        for i in range(PER_HOUR)
    ]
    (folder / "events.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    settings = load_settings(
        None,
        models=[{"name": "m", "baseline": folder / "m.json"}],
        windows={"size": "1h", "allowed_lateness": "0s"},
    )
    history = OpenMetricsHistory(
        folder / "history.om",
        max_segments=settings.daemon.max_segments,
        stale_after=settings.daemon.stale_after,
        baseline_digests={"m": baseline.digest},
        step_s=600.0,
    )
    replay_file(settings, {"m": baseline}, folder / "events.jsonl", ListSink(), also=[history])
    written = history.close()
    assert written.last_s is not None
    binaries = install_binaries()
    data = folder / "prometheus" / "data"
    blocks = ["tsdb", "create-blocks-from", "openmetrics", str(written.path), str(data)]
    subprocess.run(
        [str(binaries / "promtool"), *blocks],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (port,) = free_loopback_ports(1)
    prometheus = start_prometheus(
        binaries, folder / "prometheus", "global: {}\n", port, "--storage.tsdb.retention.time=100y"
    )
    try:
        yield prometheus.url, written.last_s
    finally:
        prometheus.stop()


def test_every_multiclass_panel_answers(served: tuple[str, float]) -> None:
    """Recall per class and class probability drift return series for the multiclass model."""
    url, at = served
    variables = {"model": "m", "version": ".*", "segment": ".*", "__rate_interval": "5m"}
    queries = dashboard_queries(variables, multiclass=True)
    assert len(queries) == 4
    assert [(title, expr) for title, expr in queries if not query(url, expr, at)] == []
