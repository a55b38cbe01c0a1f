"""History into Prometheus: what the daemon would have exported, stamped in the past.

A replay writes one report record per closed window. Live, the daemon turns the same records into
series (:class:`~monitor.sinks.collector.DriftCollector`) that Prometheus scrapes every few
seconds. :class:`OpenMetricsHistory` is a pipeline sink that re-enacts that scraping over event
time: it keeps the records, and at the end it feeds them, in window-end order, to a
:class:`~monitor.sinks.latest_windows.LatestWindows` and a ``DriftCollector`` configured as the
daemon's, "scrapes" the collector at every window end and every ``step_s`` seconds in between, and
writes each scrape's samples with that time as their timestamp, in the OpenMetrics text format that
``promtool tsdb create-blocks-from openmetrics FILE DIR`` turns into TSDB blocks. So a key's series
holds its latest window's values until its next window closes, goes stale as ``daemon.stale_after``
says, and folds segments past ``daemon.max_segments`` — as live.

Left out are the families that count the process's own work rather than the past (events,
rejects, late events and windows closed since start, the label join's counters and delays,
consumer lag, build info): a replay's totals say how fast it ran, not what happened then.
``step_s`` must stay below Prometheus' 5-minute lookback for a series to read as continuous
between windows, as a scraped one does, so that dashboards draw lines and alert rules' ``for``
durations can hold; the default is 4 minutes. The file holds one line per series and scrape:
15 an hour per series at the default (docs/runbook.md, "Look at last week in Grafana").
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from prometheus_client.metrics_core import Metric
from prometheus_client.utils import floatToGoString

from monitor.sinks.base import Record, WindowRecord
from monitor.sinks.collector import DriftCollector, RunningTotals
from monitor.sinks.latest_windows import LatestWindows
from monitor.sinks.metric_families import PREFIX

#: Families of the process's own running totals: not part of the history.
PROCESS_FAMILIES = frozenset(
    f"{PREFIX}{name}"
    for name in (
        "events",
        "events_rejected",
        "late_events",
        "windows_closed",
        "consumer_lag_records",
        "labels",
        "labels_joined",
        "labels_unmatched",
        "labels_late",
        "label_order_violations",
        "join_pending_predictions",
        "predictions_unlabeled",
        "label_coverage_ratio",
        "label_delay_seconds",
        "build_info",
    )
)
DEFAULT_STEP_S = 240.0


@dataclass(frozen=True)
class HistoryWritten:
    """What :meth:`OpenMetricsHistory.close` wrote."""

    path: Path
    samples: int
    series: int
    first_s: float | None
    last_s: float | None


def _pairs(ends: list[float]) -> Iterator[tuple[float, float | None]]:
    """Each window end with the next one (None after the last)."""
    yield from zip(ends, [*ends[1:], None], strict=True)


def _scrapes_between(end: float, after: float | None, step_s: float) -> list[float]:
    """The scrape times from ``end`` (included) every ``step_s`` until ``after`` (excluded).

    >>> _scrapes_between(3600.0, 7200.0, 1500.0), _scrapes_between(7200.0, None, 1500.0)
    ([3600.0, 5100.0, 6600.0], [7200.0])
    """
    if after is None:
        return [end]
    count = math.ceil((after - end) / step_s)
    return [end + k * step_s for k in range(count)]


def _labels(labels: Mapping[str, str]) -> str:
    """A sample's label set as OpenMetrics writes it.

    >>> _labels({"b": 'say "hi"', "a": "x"}), _labels({})
    ('{a="x",b="say \\\\"hi\\\\""}', '')
    """
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items())) + "}"


def _escape(text: str) -> str:
    return text.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def _seconds(at: float) -> str:
    """A timestamp in seconds, to the millisecond, without trailing zeros.

    >>> _seconds(1554206400.0), _seconds(1554206400.25)
    ('1554206400', '1554206400.25')
    """
    return f"{at:.3f}".rstrip("0").rstrip(".")


class OpenMetricsHistory:
    """Sink: the daemon's series over the replayed event time, written as OpenMetrics on close."""

    def __init__(
        self,
        path: Path,
        *,
        max_segments: int,
        stale_after: int,
        baseline_digests: Mapping[str, str],
        step_s: float = DEFAULT_STEP_S,
    ) -> None:
        if step_s <= 0:
            raise ValueError(f"step_s must be positive, got {step_s}; use e.g. 240 (seconds)")
        self.path = path
        self.max_segments = max_segments
        self.stale_after = stale_after
        self.baseline_digests = dict(baseline_digests)
        self.step_s = step_s
        self.records: list[Record] = []

    def write(self, record: Record) -> None:
        """Keep a window or alert record."""
        self.records.append(record)

    def close(self) -> HistoryWritten:
        """Scrape the re-enacted collector over event time and write the OpenMetrics file."""
        latest = LatestWindows(stale_after=self.stale_after)
        collector = DriftCollector(
            latest,
            RunningTotals,
            max_segments=self.max_segments,
            baseline_digests=lambda: self.baseline_digests,
        )
        ordered = sorted(self.records, key=_end_s)  # stable: a window's alerts stay after it
        ends = sorted({_end_s(record) for record in ordered})
        # The collector's output changes only when a record arrives (staleness included), so
        # one collection per window end holds for every scrape until the next end.
        families: dict[str, Metric] = {}
        series: dict[str, dict[str, list[tuple[int, str]]]] = {}
        fed = 0
        for i, end in enumerate(ends):
            while fed < len(ordered) and _end_s(ordered[fed]) <= end:
                latest.write(ordered[fed])
                fed += 1
            for family in collector.collect():
                if family.name in PROCESS_FAMILIES:
                    continue
                families.setdefault(family.name, family)
                lines = series.setdefault(family.name, {})
                for sample in family.samples:
                    head = sample.name + _labels(sample.labels)
                    value = floatToGoString(sample.value)  # type: ignore[no-untyped-call]
                    lines.setdefault(head, []).append((i, value))
        scrapes = [_scrapes_between(end, after, self.step_s) for end, after in _pairs(ends)]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        samples = 0
        with self.path.open("w", encoding="utf-8") as out:
            for name, family in families.items():
                out.write(f"# HELP {name} {_escape(family.documentation)}\n")
                out.write(f"# TYPE {name} {family.type}\n")
                for head, values in sorted(series[name].items()):
                    for i, value in values:
                        out.writelines(f"{head} {value} {_seconds(at)}\n" for at in scrapes[i])
                        samples += len(scrapes[i])
            out.write("# EOF\n")
        return HistoryWritten(
            self.path,
            samples,
            sum(len(lines) for lines in series.values()),
            ends[0] if ends else None,
            ends[-1] if ends else None,
        )


def _end_s(record: Record) -> float:
    return (record.end_ms if isinstance(record, WindowRecord) else record.window_end_ms) / 1000
