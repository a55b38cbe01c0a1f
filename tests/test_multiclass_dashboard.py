"""The dashboard's multiclass panels answer from a multiclass model's history.

The 4-class stream of tests/test_multiclass.py is replayed into OpenMetrics, turned into TSDB
blocks by promtool and served by a real Prometheus; every target of the panels that show
multiclass models only must return series at the last window's end.
"""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest

from baselines.build import build_baseline
from monitor.app import replay_file
from monitor.config import load_settings
from monitor.sinks.memory import ListSink
from monitor.sinks.openmetrics import OpenMetricsHistory
from tests.support.dashboard import dashboard_queries
from tests.support.prometheus import query, serve_openmetrics
from tests.test_multiclass import four_class_table, stream_events


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, float]]:
    """A Prometheus serving the stream's history, and the last window's end (epoch s)."""
    folder = tmp_path_factory.mktemp("multiclass-dashboard")
    table, _, _ = four_class_table(6_000, seed=1)
    baseline = build_baseline(table, model="m", label="y", prediction_proba="proba_*")
    baseline.save(folder / "m.json")
    lines = [orjson.dumps(event) for event in stream_events(model_version="v1")]
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
    prometheus = serve_openmetrics(written.path, folder)
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
