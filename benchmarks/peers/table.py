"""Markdown tables and target verdicts from the raw figures run.py collects (peers.json).

``render(document)`` gives the whole RESULTS.md text: the targets with their verdicts, one table
per current-set size, the scaling table, the detector table, and the conditions of the run.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from typing import Any

from common import FEATURES, SHIFTS

Run = Mapping[str, Any]
DRIFT_HEADER = (
    "| tool | workload | status | work s | rows/s | process s | CPU s | peak RSS MiB "
    "| time × driftwarden | RSS × driftwarden | shifted flagged | false alarms "
    "| where the time goes |"
)
DETECTOR_HEADER = (
    "| detector | implementation | status | work s | values/s | process s | peak RSS MiB "
    "| speed × river | detections | same indices as river |"
)
#: Allowed spread of the time per row between the two current sets for "linear".
LINEAR_TOLERANCE = 0.20


def number(value: float | None, digits: int = 2) -> str:
    """A figure with thousands separators, or a dash when there is none.

    >>> number(1234.567), number(None), number(3.0, 0)
    ('1,234.57', '-', '3')
    """
    return "-" if value is None else f"{value:,.{digits}f}"


def ratio(value: float | None) -> str:
    """A ratio as ``×12.3`` (``×0.45`` below 1), or a dash.

    >>> ratio(12.34), ratio(0.456), ratio(None)
    ('×12.3', '×0.46', '-')
    """
    if value is None:
        return "-"
    return f"×{value:.1f}" if value >= 1 else f"×{value:.2f}"


def kept(runs: Iterable[Run], **labels: Any) -> Run | None:
    """The run matching ``labels`` (for driftwarden, the kept one of its attempts)."""
    for run in runs:
        if all(run.get(k) == v for k, v in labels.items()) and run.get("kept", True):
            return run
    return None


def median_work(runs: Iterable[Run], **labels: Any) -> float:
    """Median work seconds of driftwarden's finished attempts matching ``labels``."""
    return float(
        statistics.median(
            r["work_seconds"]
            for r in runs
            if r["tool"] == "driftwarden"
            and finished(r)
            and all(r.get(k) == v for k, v in labels.items())
        )
    )


def finished(run: Run | None) -> bool:
    return run is not None and run["status"] == "ok"


class DriftTotal:
    """Driftwarden's build + replay for one current set, as one run-like record."""

    def __init__(self, build: Run, replay: Run) -> None:
        self.build = build
        self.replay = replay

    @property
    def work_seconds(self) -> float:
        return float(self.build["work_seconds"] + self.replay["work_seconds"])

    @property
    def peak_rss_mib(self) -> float:
        return float(max(self.build["peak_rss_mib"], self.replay["peak_rss_mib"]))

    def as_run(self, rows: int) -> dict[str, Any]:
        return {
            "tool": "**driftwarden**",
            "workload": "**build + replay**",
            "rows": rows,
            "status": "ok",
            "work_seconds": self.work_seconds,
            "wall_seconds": self.build["wall_seconds"] + self.replay["wall_seconds"],
            "cpu_seconds": self.build["cpu_seconds"] + self.replay["cpu_seconds"],
            "peak_rss_mib": self.peak_rss_mib,
            "scores": self.replay.get("scores"),
        }


def driftwarden_total(runs: list[Run], rows: int) -> DriftTotal | None:
    build = kept(runs, tool="driftwarden", workload="build")
    replay = kept(runs, tool="driftwarden", workload="replay", rows=rows)
    if build is None or replay is None or not (finished(build) and finished(replay)):
        return None
    return DriftTotal(build, replay)


def flagged(scores: Mapping[str, Any] | None) -> tuple[str, str]:
    """How many shifted features a tool flags, and which unshifted ones it flags."""
    if not scores:
        return "-", "-"
    hits = [name for name in SHIFTS if scores.get(name, {}).get("drift")]
    alarms = [n for n in FEATURES if n not in SHIFTS and scores.get(n, {}).get("drift")]
    return f"{len(hits)}/{len(SHIFTS)}", ", ".join(alarms) if alarms else "0"


def phases_text(run: Run) -> str:
    phases = run.get("phases") or {}
    return ", ".join(f"{k} {v:.2f}" for k, v in phases.items() if k != "import")


def drift_row(run: Run, rows: int, total: DriftTotal | None) -> str:
    ok = run["status"] == "ok"
    work = run.get("work_seconds") if ok else None
    status = "ok" if ok else f"**stopped: {run['status']}**"
    hits, alarms = flagged(run.get("scores") if ok else None)
    time_ratio = work / total.work_seconds if total and work else None
    rss_ratio = run["peak_rss_mib"] / total.peak_rss_mib if total and ok else None
    return (
        f"| {run['tool']} | {run['workload']} | {status} | {number(work)} "
        f"| {number(rows / work if work else None, 0)} | {number(run['wall_seconds'])} "
        f"| {number(run['cpu_seconds'])} | {number(run['peak_rss_mib'], 0)} "
        f"| {ratio(time_ratio)} | {ratio(rss_ratio)} | {hits} | {alarms} | {phases_text(run)} |"
    )


def drift_table(document: Mapping[str, Any], rows: int) -> list[str]:
    runs = document["runs"]
    reference = document["sizes"]["reference_rows"]
    total = driftwarden_total(runs, rows)
    lines = [
        f"### Per-feature drift scores: {rows:,} current rows vs {reference:,} reference rows",
        "",
        DRIFT_HEADER,
        _separator(DRIFT_HEADER),
    ]
    build = kept(runs, tool="driftwarden", workload="build")
    replay = kept(runs, tool="driftwarden", workload="replay", rows=rows)
    if build is not None:
        workload = f"baseline build ({reference:,} reference rows)"
        lines.append(drift_row({**build, "scores": None, "workload": workload}, reference, None))
    if replay is not None:
        lines.append(drift_row({**replay, "workload": "replay, one window"}, rows, None))
    if total is not None:
        lines.append(drift_row(total.as_run(rows), rows, total))
    for run in runs:
        if run["tool"] not in ("driftwarden", "river") and run.get("rows") == rows:
            lines.append(drift_row(run, rows, total))
    return lines


def _separator(header: str) -> str:
    return "|" + "---|" * (header.count("|") - 1)


def scaling_table(document: Mapping[str, Any]) -> list[str]:
    small, large = document["sizes"]["current_rows"]
    runs = document["runs"]
    header = (
        f"| tool | workload | work s at {small:,} | work s at {large:,} | µs/row at {small:,} "
        f"| µs/row at {large:,} | per-row ratio | linear (±{LINEAR_TOLERANCE:.0%}) |"
    )
    lines = [
        f"### Scaling from {small:,} to {large:,} current rows",
        "",
        header,
        _separator(header),
    ]
    pairs: list[tuple[str, str, float | None, float | None]] = []
    for workload in ("replay",):
        a = kept(runs, tool="driftwarden", workload=workload, rows=small)
        b = kept(runs, tool="driftwarden", workload=workload, rows=large)
        pairs.append(("driftwarden", workload, _work(a), _work(b)))
    totals = [driftwarden_total(runs, n) for n in (small, large)]
    small_total, large_total = (t.work_seconds if t else None for t in totals)
    pairs.append(("driftwarden", "build + replay", small_total, large_total))
    seen: list[tuple[str, str]] = []
    for run in runs:
        key = (run["tool"], run["workload"])
        if run["tool"] not in ("driftwarden", "river") and "rows" in run and key not in seen:
            seen.append(key)
            a = kept(runs, tool=key[0], workload=key[1], rows=small)
            b = kept(runs, tool=key[0], workload=key[1], rows=large)
            pairs.append((key[0], key[1], _work(a), _work(b)))
    for tool, workload, a_s, b_s in pairs:
        per_row = [s / n * 1e6 if s else None for s, n in ((a_s, small), (b_s, large))]
        spread = per_row[1] / per_row[0] if per_row[0] and per_row[1] else None
        linear = "-" if spread is None else ("yes" if abs(spread - 1) <= LINEAR_TOLERANCE else "no")
        lines.append(
            f"| {tool} | {workload} | {number(a_s)} | {number(b_s) if b_s else 'did not finish'} "
            f"| {number(per_row[0], 3)} | {number(per_row[1], 3)} | {number(spread)} | {linear} |"
        )
    return lines


BATCH_CLOCK_HEADER = (
    "| current rows | attempt | replay s | pipeline s | median ms per batch | reader wait s "
    "| first-batch wait s | outside the batches s |"
)


def batch_clock_table(document: Mapping[str, Any]) -> list[str]:
    """Every driftwarden replay attempt split by its batch clock, and what follows for scaling.

    Pipeline seconds are the batches' work; reader wait is time spent waiting for the next batch
    (mostly the first); outside the batches is the rest (settings, baseline, final scoring and
    report). The kept (fastest) attempt of each size is in bold.
    """
    runs = [
        r
        for r in document["runs"]
        if r["tool"] == "driftwarden" and r["workload"] == "replay" and finished(r)
    ]
    clocked = [r for r in runs if "batch_clock" in r]
    if not clocked:
        return []
    lines = [
        "### Driftwarden replay attempts, by batch clock",
        "",
        BATCH_CLOCK_HEADER,
        _separator(BATCH_CLOCK_HEADER),
    ]
    for run in sorted(clocked, key=lambda r: (r["rows"], r["attempt"])):
        clock = run["batch_clock"]
        outside = run["work_seconds"] - clock["batch_work_seconds"] - clock["reader_wait_seconds"]
        mark = "**" if run.get("kept") else ""
        lines.append(
            f"| {run['rows']:,} | {mark}{run['attempt']}{mark} | {run['work_seconds']:.3f} "
            f"| {clock['batch_work_seconds']:.3f} | {clock['batch_work_median_ms']:.2f} "
            f"| {clock['reader_wait_seconds']:.3f} | {clock['first_batch_wait_seconds']:.3f} "
            f"| {outside:.3f} |"
        )
    small, large = document["sizes"]["current_rows"]
    by_size = {n: [r for r in clocked if r["rows"] == n] for n in (small, large)}
    if not (by_size[small] and by_size[large]):
        return lines
    outside = {
        n: statistics.median(r["work_seconds"] - r["batch_clock"]["batch_work_seconds"] for r in rs)
        for n, rs in by_size.items()
    }
    pipeline = {
        n: [r["batch_clock"]["batch_work_seconds"] / n for r in rs] for n, rs in by_size.items()
    }
    return [
        *lines,
        "",
        f"- Replay time not spent in the pipeline's batches (reader waits and outside the "
        f"batches; replay − pipeline s, median of attempts): "
        f"{outside[small]:.3f} s at {small:,} rows, {outside[large]:.3f} s at {large:,}.",
        f"- Pipeline time per row, {large:,} / {small:,}: "
        f"{min(pipeline[large]) / min(pipeline[small]):.2f} on the fastest attempts, "
        f"{statistics.median(pipeline[large]) / statistics.median(pipeline[small]):.2f} on the "
        "medians.",
    ]


def _work(run: Run | None) -> float | None:
    return float(run["work_seconds"]) if finished(run) and run is not None else None


def detector_table(document: Mapping[str, Any]) -> list[str]:
    runs = [r for r in document["runs"] if "detector" in r]
    values = document["sizes"]["detector_values"]
    lines = [f"### Online detectors over {values:,} values", "", DETECTOR_HEADER]
    lines.append(_separator(DETECTOR_HEADER))
    for run in runs:
        river = kept(runs, tool="river", detector=run["detector"])
        ok = finished(run)
        speed = (
            river["work_seconds"] / run["work_seconds"]
            if ok and finished(river) and river is not None
            else None
        )
        same = run.get("same_indices_as_river")
        lines.append(
            f"| {run['detector']} | {run['tool']} `{run['implementation']}` "
            f"| {run['status']} | {number(run.get('work_seconds'))} "
            f"| {number(values / run['work_seconds'] if ok else None, 0)} "
            f"| {number(run['wall_seconds'])} | {number(run['peak_rss_mib'], 0)} "
            f"| {ratio(speed)} | {run.get('detections', '-')} "
            f"| {'-' if same is None else ('yes' if same else '**no**')} |"
        )
    return lines


def targets(document: Mapping[str, Any]) -> list[str]:
    """The issue's targets, each with its measured figure and MET / MISSED."""
    runs = document["runs"]
    small, large = document["sizes"]["current_rows"]
    total = driftwarden_total(runs, small)
    lines = []
    for tool, workload, wanted in (
        ("Evidently", 'DataDriftPreset(method="psi")', 25.0),
        ("whylogs", "profile both + drift report", 20.0),
    ):
        peer = kept(runs, tool=tool, workload=workload, rows=small)
        if total is None or not finished(peer) or peer is None:
            lines.append(f"- driftwarden ≥ {wanted:.0f}× faster than {tool}: not measured")
            continue
        speed = peer["work_seconds"] / total.work_seconds
        median_speed = peer["work_seconds"] / (
            median_work(runs, workload="build") + median_work(runs, workload="replay", rows=small)
        )
        replay_speed = peer["work_seconds"] / total.replay["work_seconds"]
        memory = peer["peak_rss_mib"] / total.peak_rss_mib
        met = speed >= wanted and memory > 1
        lines.append(
            f"- driftwarden (build + replay) ≥ {wanted:.0f}× faster than {tool} {workload} on "
            f"{small:,} rows, with lower peak memory: {speed:.1f}× faster ({median_speed:.1f}× "
            f"on the median attempts; replay alone, the cost per evaluation once the baseline "
            f"exists: {replay_speed:.1f}×), peak RSS "
            f"{total.peak_rss_mib:,.0f} vs {peer['peak_rss_mib']:,.0f} MiB — "
            f"**{'MET' if met else 'MISSED'}**"
        )
    a = _work(kept(runs, tool="driftwarden", workload="replay", rows=small))
    b = _work(kept(runs, tool="driftwarden", workload="replay", rows=large))
    if a and b:
        spread = (b / large) / (a / small)
        median_spread = (median_work(runs, workload="replay", rows=large) / large) / (
            median_work(runs, workload="replay", rows=small) / small
        )
        met = abs(spread - 1) <= LINEAR_TOLERANCE
        lines.append(
            f"- cost linear in rows from {small:,} to {large:,} (replay time per row within "
            f"±{LINEAR_TOLERANCE:.0%}): {spread:.2f}× the per-row time on the fastest attempts "
            f"({median_spread:.2f}× on the median attempts) — **{'MET' if met else 'MISSED'}**"
        )
    detectors = [r for r in runs if "detector" in r]
    for run in detectors:
        if not str(run["implementation"]).endswith("_np"):
            continue
        river = kept(detectors, tool="river", detector=run["detector"])
        if not (finished(run) and finished(river)) or river is None:
            lines.append(f"- `{run['implementation']}` ≥ 10× river: not measured")
            continue
        speed = river["work_seconds"] / run["work_seconds"]
        same = bool(run.get("same_indices_as_river"))
        lines.append(
            f"- numpy `{run['implementation']}` ≥ 10× river with identical detection indices: "
            f"{speed:.1f}×, indices {'identical' if same else 'DIFFERENT'} — "
            f"**{'MET' if speed >= 10 and same else 'MISSED'}**"
        )
    return lines


def conditions(document: Mapping[str, Any]) -> list[str]:
    m = document["machine"]
    peers = ", ".join(f"{k} {v}" for k, v in document["versions"]["peers"].items())
    ours = ", ".join(f"{k} {v}" for k, v in document["versions"]["driftwarden_venv"].items())
    return [
        f"- Run {document['started']}{' (quick)' if document['quick'] else ''}: {m['cpus']} "
        f"CPUs, {m['memory_gib']} GiB, Python {m['python']}, {m['platform']}; load average "
        f"{m['load_average_at_start'][0]:.2f} at start, {m['load_average_at_end'][0]:.2f} at end "
        "(the machine was shared: timings are noisy).",
        f"- Peers' venv: {peers}. Driftwarden's .venv: {ours}.",
        f"- Time limit per run: {document['limit_seconds']:.0f} s.",
    ]


def render(document: Mapping[str, Any]) -> str:
    """The whole RESULTS.md text."""
    small, large = document["sizes"]["current_rows"]
    runs = document["runs"]
    lines = ["## Driftwarden vs Evidently, whylogs, NannyML and river", ""]
    lines += ["### Targets", "", *targets(document), ""]
    if any(r.get("rows") for r in runs):
        for rows in (small, large):
            lines += [*drift_table(document, rows), ""]
        lines += [*scaling_table(document), ""]
        clock = batch_clock_table(document)
        lines += [*clock, ""] if clock else []
    if any("detector" in r for r in runs):
        lines += [*detector_table(document), ""]
    lines += ["### Conditions", "", *conditions(document), ""]
    return "\n".join(lines)
