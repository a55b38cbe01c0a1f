"""Static reading of PromQL: which driftwarden families a query reads, and whether it
aggregates a series over the pods that export it.

Used by ``tests/test_dashboard.py`` and ``tests/test_alert_rules.py``: with N replicas each pod
exports its own process series, so a query must sum (or max, …) them over pods to mean the
group (docs/scale-out.md, "One voice per model").
"""

from __future__ import annotations

import re

from monitor.sinks.metric_families import PROCESS_FAMILIES

POD_LABELS = frozenset({"pod", "instance"})
_SERIES = re.compile(r"\bdriftwarden_[a-z0-9_]+\b")
_SUFFIX = re.compile(r"_(total|bucket|sum|count)$")
_AGGREGATION = re.compile(r"\b(?:sum|max|min|avg|count)\s*(?:(by|without)\s*\(([^)]*)\))?\s*$")


def family(series: str) -> str:
    """The family a sample name belongs to (counters and histograms lose their suffix).

    >>> family("driftwarden_events_rejected_total"), family("driftwarden_label_delay_seconds_count")
    ('driftwarden_events_rejected', 'driftwarden_label_delay_seconds')
    """
    return _SUFFIX.sub("", series)


def process_series(expr: str) -> set[str]:
    """The sample names of process families that ``expr`` reads.

    >>> process_series("sum(driftwarden_windows_closed_total) + driftwarden_events_total")
    {'driftwarden_windows_closed_total'}
    """
    return {name for name in _SERIES.findall(expr) if family(name) in PROCESS_FAMILIES}


def _enclosing(expr: str, at: int) -> list[str]:
    """The text before each parenthesis that encloses position ``at``, innermost first."""
    out, depth = [], 0
    for i in range(at - 1, -1, -1):
        if expr[i] == ")":
            depth += 1
        elif expr[i] == "(":
            if depth:
                depth -= 1
            else:
                out.append(expr[:i])
    return out


def _drops_pods(grouping: str | None, labels: set[str]) -> bool:
    """Whether an aggregation grouped ``by`` or ``without`` ``labels`` (or not at all) drops the
    pod and instance labels."""
    if grouping == "by":
        return not labels & POD_LABELS
    return grouping is None or labels >= POD_LABELS


def aggregated_over_pods(expr: str, series: str) -> bool:
    """Whether every reading of ``series`` in ``expr`` sits inside an aggregation that drops the
    pod and instance labels (``sum``, ``max``, ``min``, ``avg`` or ``count``, without grouping,
    ``by`` labels other than those, or ``without`` both; grouping written before the argument).

    >>> aggregated_over_pods("sum by (topic) (lag) + max(lag)", "lag")
    True
    >>> aggregated_over_pods("sum without (instance) (rate(x_total[5m]))", "x_total")
    False
    >>> aggregated_over_pods("rate(x_total[5m])", "x_total")
    False
    """
    for match in re.finditer(rf"\b{re.escape(series)}\b", expr):
        for before in _enclosing(expr, match.start()):
            aggregation = _AGGREGATION.search(before)
            if aggregation is None:
                continue
            grouping, labels = aggregation.groups()
            if _drops_pods(grouping, {label.strip() for label in (labels or "").split(",")}):
                break
        else:
            return False
    return True
