"""The Grafana dashboard, read statically: identity, variables, required panels, known metrics.

The end-to-end test (tests/test_alerting_e2e.py) runs every panel's query against a live
Prometheus; these checks need no processes.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from monitor.sinks.collector import DriftCollector, RunningTotals
from monitor.sinks.latest_windows import LatestWindows
from tests.support.dashboard import load_dashboard, panels, variables
from tests.support.promql import aggregated_over_pods, process_series

DATASOURCE = "${datasource}"
METRIC_NAME = re.compile(r"\bdriftwarden_[a-z0-9_]+\b")
# title → what the panel must show (the list)
REQUIRED_PANELS = {
    "Drift per feature (PSI)": "driftwarden_feature_psi",
    "Feature PSI and thresholds": "driftwarden_check_threshold",
    "Prediction drift": "driftwarden_prediction_psi",
    "Performance vs baseline": "driftwarden_performance_reference",
    "Missing rate": "driftwarden_feature_missing_ratio",
    "Unseen categories": "driftwarden_feature_unseen_ratio",
    "Out-of-range values": "driftwarden_feature_out_of_range_ratio",
    "Alert levels": "driftwarden_alert_level",
    "Event rate": "driftwarden_events_total",
    "Rejected messages": "driftwarden_events_rejected_total",
    "Late events": "driftwarden_late_events_total",
    "Consumer lag": "driftwarden_consumer_lag_records",
}


def exported_metric_names() -> set[str]:
    """Every sample name the daemon's collector can expose (counters with ``_total``)."""
    collector = DriftCollector(LatestWindows(), RunningTotals, max_segments=1, version="test")
    return {
        family.name + ("_total" if family.type == "counter" else "")
        for family in collector.describe()
    }


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    """The parsed dashboard."""
    return load_dashboard()


def test_dashboard_has_a_fixed_uid(dashboard: dict[str, Any]) -> None:
    """The uid is fixed, so links and provisioning survive re-imports."""
    assert dashboard["uid"] == "driftwarden"


def test_datasource_is_a_prometheus_variable(dashboard: dict[str, Any]) -> None:
    """A ``datasource`` variable lets each Grafana pick its own Prometheus."""
    datasource = variables(dashboard)["datasource"]
    assert (datasource["type"], datasource["query"]) == ("datasource", "prometheus")


@pytest.mark.parametrize("name", ["model", "version", "segment"])
def test_model_version_and_segment_are_multi_value_query_variables(
    dashboard: dict[str, Any], name: str
) -> None:
    """Each key variable is a Prometheus query with an "All" that also matches empty labels."""
    variable = variables(dashboard)[name]
    assert variable["type"] == "query"
    assert variable["datasource"]["uid"] == DATASOURCE
    assert variable["multi"] and variable["includeAll"] and variable["allValue"] == ".*"


def test_variables_chain_model_then_version_then_segment(dashboard: dict[str, Any]) -> None:
    """Version choices depend on the model, segment choices on both."""
    by_name = variables(dashboard)
    assert "$model" in by_name["version"]["definition"]
    assert {"$model", "$version"} <= set(re.findall(r"\$\w+", by_name["segment"]["definition"]))


@pytest.mark.parametrize(("title", "metric"), sorted(REQUIRED_PANELS.items()))
def test_required_panel_is_present_and_queries_its_metric(
    dashboard: dict[str, Any], title: str, metric: str
) -> None:
    """Every panel the issue asks for exists and queries the metric it is about."""
    by_title = {panel["title"]: panel for panel in panels(dashboard)}
    assert title in by_title
    assert any(metric in target["expr"] for target in by_title[title]["targets"])


def test_drift_per_feature_is_a_heatmap_with_one_row_per_feature(
    dashboard: dict[str, Any],
) -> None:
    """The drift overview is a heatmap whose rows are features."""
    (panel,) = [p for p in panels(dashboard) if p["title"] == "Drift per feature (PSI)"]
    assert panel["type"] == "heatmap"
    assert [t["legendFormat"] for t in panel["targets"]] == ["{{feature}} ({{model}})"]


@pytest.mark.parametrize("title", ["Feature PSI and thresholds", "Prediction drift"])
def test_psi_panels_draw_warning_and_intervention_threshold_lines(
    dashboard: dict[str, Any], title: str
) -> None:
    """PSI panels add one line per threshold level of the psi check, drawn dashed."""
    (panel,) = [p for p in panels(dashboard) if p["title"] == title]
    (threshold,) = [t for t in panel["targets"] if "driftwarden_check_threshold" in t["expr"]]
    assert 'check="psi"' in threshold["expr"] and "by (level)" in threshold["expr"]
    dashed = [
        o
        for o in panel["fieldConfig"]["overrides"]
        if o["matcher"] == {"id": "byFrameRefID", "options": threshold["refId"]}
    ]
    assert dashed and dashed[0]["properties"][0]["value"]["fill"] == "dash"


def test_every_panel_and_target_uses_the_datasource_variable(dashboard: dict[str, Any]) -> None:
    """No panel or query is bound to one Grafana's datasource uid."""
    bound = [
        panel["title"]
        for panel in panels(dashboard)
        if panel["datasource"]["uid"] != DATASOURCE
        or any(target["datasource"]["uid"] != DATASOURCE for target in panel["targets"])
    ]
    assert bound == []


def test_every_metric_the_dashboard_uses_is_exported_by_the_daemon(
    dashboard: dict[str, Any],
) -> None:
    """Panels and variables only name metrics the collector (monitor/sinks/collector.py) exposes."""
    queries = [t["expr"] for p in panels(dashboard) for t in p["targets"]]
    queries += [v["definition"] for v in variables(dashboard).values() if v["type"] == "query"]
    used = {name for query in queries for name in METRIC_NAME.findall(query)}
    assert used and used - exported_metric_names() == set()


def test_per_window_panels_filter_by_model_version_and_segment(dashboard: dict[str, Any]) -> None:
    """Queries of per-window series apply all three key variables."""
    per_window = (
        "driftwarden_feature_",
        "driftwarden_prediction_",
        "driftwarden_performance",
        "driftwarden_class_",
    )
    unfiltered = [
        target["expr"]
        for panel in panels(dashboard)
        for target in panel["targets"]
        if any(prefix in target["expr"] for prefix in per_window)
        and not all(
            f'{label}=~"${var}"' in target["expr"]
            for label, var in (
                ("model", "model"),
                ("model_version", "version"),
                ("segment", "segment"),
            )
        )
    ]
    assert unfiltered == []


def test_panel_ids_are_unique(dashboard: dict[str, Any]) -> None:
    """Grafana addresses panels by id (links, embedding), so no two share one."""
    ids = [panel["id"] for panel in dashboard["panels"]] + [
        p["id"] for row in dashboard["panels"] for p in row.get("panels", [])
    ]
    assert len(ids) == len(set(ids))


def test_queries_of_process_series_aggregate_them_over_pods(dashboard: dict[str, Any]) -> None:
    """Every panel query reading a process series (each pod exports its own) sums or maxes it
    over pods, so N replicas show the group's totals; variables only list label values."""
    queries = [t["expr"] for p in panels(dashboard) for t in p["targets"]]
    read = [(query, name) for query in queries for name in sorted(process_series(query))]
    assert {name for _, name in read} >= {
        "driftwarden_events_rejected_total",
        "driftwarden_consumer_lag_records",
    }
    assert [(q, name) for q, name in read if not aggregated_over_pods(q, name)] == []
