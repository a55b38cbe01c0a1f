"""The chart's Grafana dashboard as data: its panels, variables and queries.

Used by ``tests/test_dashboard.py`` (static checks), ``tests/test_alerting_e2e.py`` (every query
against a live Prometheus), ``tests/test_backfill.py`` (every query against backfilled history)
and ``tests/test_multiclass_dashboard.py`` (the multiclass panels' queries, likewise).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

DASHBOARD = Path(__file__).resolve().parents[2] / "helm/driftwarden/files/grafana-dashboard.json"
VARIABLE = re.compile(r"\$(\w+)")
MULTICLASS_FAMILY = re.compile(r"\bdriftwarden_class_")


def load_dashboard() -> dict[str, Any]:
    """The dashboard JSON as shipped in the chart."""
    result: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return result


def panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel that shows data (rows excluded, collapsed rows' panels included)."""
    for panel in dashboard["panels"]:
        if panel["type"] == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def variables(dashboard: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Template variables by name."""
    return {v["name"]: v for v in dashboard["templating"]["list"]}


def fill_in(text: str, values: Mapping[str, str]) -> str:
    """``text`` with every ``$variable`` replaced by its value.

    >>> fill_in('up{model=~"$model"}[$__rate_interval]', {"model": "m", "__rate_interval": "1m"})
    'up{model=~"m"}[1m]'
    """
    return VARIABLE.sub(lambda match: values[match[1]], text)


def multiclass_panel(panel: dict[str, Any]) -> bool:
    """Whether a panel shows multiclass models only (it reads a ``driftwarden_class_*`` family,
    which no other model exports)."""
    return any(MULTICLASS_FAMILY.search(target["expr"]) for target in panel["targets"])


def dashboard_queries(
    values: Mapping[str, str], *, multiclass: bool = False
) -> list[tuple[str, str]]:
    """(panel title, PromQL with the variables filled in) of every target of the panels for
    every model, or (``multiclass``) of the panels for multiclass models only."""
    return [
        (panel["title"], fill_in(target["expr"], values))
        for panel in panels(load_dashboard())
        if multiclass_panel(panel) == multiclass
        for target in panel["targets"]
    ]
