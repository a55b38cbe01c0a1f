"""Markdown tables and target verdicts from the raw figures run.py collects (peers.json).

``render(document)`` gives the whole RESULTS.md text: the targets with their verdicts, one table
per current-set size, the scaling table, the detector table, and the conditions of the run.
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from attempts import per_attempt_totals, spread
from common import FEATURES, SHIFTS

Run = Mapping[str, Any]
DRIFT_HEADER = (
    "| tool | workload | attempts done | work s: median (min–max) | rows/s (median) "
    "| process s: median (min–max) | CPU s (median) | peak RSS MiB: median (min–max) "
    "| time × driftwarden (medians) | RSS × driftwarden (medians) | shifted flagged "
    "| false alarms | where the time goes (medians) |"
)
DETECTOR_HEADER = (
    "| detector | implementation | attempts done | work s: median (min–max) | values/s (median) "
    "| process s: median (min–max) | peak RSS MiB: median (min–max) | speed × river (medians) "
    "| detections | same indices as river |"
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


@dataclass(frozen=True)
class Side:
    """One side of a comparison: every attempt's figures, by attempt number.

    Only finished attempts have figures; ``stopped`` names how the others ended. A side with a
    stopped attempt has no median (the median of the attempts that happened to finish would
    flatter it).
    """

    tool: str
    workload: str
    rows: int | None
    work: Mapping[int, float]
    process: Mapping[int, float]
    cpu: Mapping[int, float]
    rss: Mapping[int, float]
    stopped: tuple[str, ...] = ()
    scores: Mapping[str, Any] | None = None
    phases: Mapping[str, float] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return bool(self.work) and not self.stopped

    def median(self, figure: str) -> float | None:
        values = getattr(self, figure)
        return float(statistics.median(values.values())) if self.complete else None

    def cell(self, figure: str, digits: int = 2) -> str:
        """``median (min–max)`` of a figure, or how the side stopped."""
        if not self.complete:
            return f"**stopped: {', '.join(self.stopped)}**" if self.stopped else "-"
        summary = spread(list(getattr(self, figure).values()))
        low, high = number(summary["min"], digits), number(summary["max"], digits)
        return f"{number(summary['median'], digits)} ({low}–{high})"


def finished(run: Run) -> bool:
    return bool(run["status"] == "ok")


def matching(runs: Iterable[Run], **labels: Any) -> list[Run]:
    return [r for r in runs if all(r.get(k) == v for k, v in labels.items())]


def process_side(runs: Iterable[Run], tool: str, workload: str, rows: int | None) -> Side:
    """A side measured as one process per attempt (a peer, or one driftwarden step)."""
    found = matching(runs, tool=tool, workload=workload, rows=rows)
    if rows is None:
        found = matching(runs, tool=tool, workload=workload)
    done = [r for r in found if finished(r)]
    per = {name: {r["attempt"]: float(r[key]) for r in done} for name, key in FIGURES}
    phase_names = {name for r in done for name in r.get("phases", {})} - {"import"}
    return Side(
        tool,
        workload,
        rows,
        **per,
        stopped=tuple(r["status"] for r in found if not finished(r)),
        scores=done[0].get("scores") if done else None,
        phases={
            name: statistics.median(r["phases"][name] for r in done) for name in sorted(phase_names)
        },
    )


#: A Side's per-attempt figures and the run-record key each comes from.
FIGURES = (
    ("work", "work_seconds"),
    ("process", "wall_seconds"),
    ("cpu", "cpu_seconds"),
    ("rss", "peak_rss_mib"),
)


def driftwarden_total(runs: Iterable[Run], rows: int) -> Side:
    """Driftwarden's build + replay: each attempt's build and replay summed (peak RSS: the larger
    of the two), so every total is one that really happened."""
    build = process_side(runs, "driftwarden", "build", rows)
    replay = process_side(runs, "driftwarden", "replay", rows)
    steps = (build, replay)
    rss = per_attempt_totals([build.rss, replay.rss])
    return Side(
        "**driftwarden**",
        "**build + replay**",
        rows,
        work=per_attempt_totals([s.work for s in steps]),
        process=per_attempt_totals([s.process for s in steps]),
        cpu=per_attempt_totals([s.cpu for s in steps]),
        rss={a: max(build.rss[a], replay.rss[a]) for a in rss},
        stopped=build.stopped + replay.stopped,
        scores=replay.scores,
    )


def flagged(scores: Mapping[str, Any] | None) -> tuple[str, str]:
    """How many shifted features a tool flags, and which unshifted ones it flags."""
    if not scores:
        return "-", "-"
    hits = [name for name in SHIFTS if scores.get(name, {}).get("drift")]
    alarms = [n for n in FEATURES if n not in SHIFTS and scores.get(n, {}).get("drift")]
    return f"{len(hits)}/{len(SHIFTS)}", ", ".join(alarms) if alarms else "0"


def medians_ratio(side: Side, reference: Side, figure: str) -> float | None:
    """``side``'s median over ``reference``'s median of one figure, when both are complete."""
    a, b = side.median(figure), reference.median(figure)
    return a / b if a is not None and b else None


def drift_row(side: Side, rows: int, total: Side | None, label: str | None = None) -> str:
    work = side.median("work")
    hits, alarms = flagged(side.scores)
    time_ratio = medians_ratio(side, total, "work") if total else None
    rss_ratio = medians_ratio(side, total, "rss") if total else None
    phases = ", ".join(f"{k} {v:.2f}" for k, v in side.phases.items())
    return (
        f"| {side.tool} | {label or side.workload} | {len(side.work)}/"
        f"{len(side.work) + len(side.stopped)} | {side.cell('work')} "
        f"| {number(rows / work if work else None, 0)} | {side.cell('process')} "
        f"| {number(side.median('cpu'))} | {side.cell('rss', 0)} "
        f"| {ratio(time_ratio)} | {ratio(rss_ratio)} | {hits} | {alarms} | {phases} |"
    )


def peer_workloads(runs: Iterable[Run], rows: int) -> list[tuple[str, str]]:
    """(tool, workload) of every peer measured on ``rows`` current rows, in order of first run."""
    seen: list[tuple[str, str]] = []
    for run in runs:
        key = (run["tool"], run["workload"])
        if run["tool"] != "driftwarden" and run.get("rows") == rows and key not in seen:
            seen.append(key)
    return seen


def drift_table(document: Mapping[str, Any], rows: int) -> list[str]:
    runs = [r for r in document["runs"] if "detector" not in r]
    reference = document["sizes"]["reference_rows"]
    total = driftwarden_total(runs, rows)
    lines = [
        f"### Per-feature drift scores: {rows:,} current rows vs {reference:,} reference rows",
        "",
        DRIFT_HEADER,
        _separator(DRIFT_HEADER),
        drift_row(
            process_side(runs, "driftwarden", "build", rows),
            reference,
            None,
            f"baseline build ({reference:,} reference rows)",
        ),
        drift_row(process_side(runs, "driftwarden", "replay", rows), rows, None, "replay"),
        drift_row(total, rows, total),
    ]
    for tool, workload in peer_workloads(runs, rows):
        lines.append(drift_row(process_side(runs, tool, workload, rows), rows, total))
    return lines


def _separator(header: str) -> str:
    return "|" + "---|" * (header.count("|") - 1)


def scaling_table(document: Mapping[str, Any]) -> list[str]:
    small, large = document["sizes"]["current_rows"]
    runs = [r for r in document["runs"] if "detector" not in r]
    header = (
        f"| tool | workload | median work s at {small:,} | median work s at {large:,} "
        f"| µs/row at {small:,} | µs/row at {large:,} | per-row ratio "
        f"| linear (±{LINEAR_TOLERANCE:.0%}) |"
    )
    lines = [
        f"### Scaling from {small:,} to {large:,} current rows (medians)",
        "",
        header,
        _separator(header),
    ]
    pairs = [
        tuple(process_side(runs, "driftwarden", "replay", n) for n in (small, large)),
        tuple(driftwarden_total(runs, n) for n in (small, large)),
    ]
    for tool, workload in peer_workloads(runs, small):
        pairs.append(tuple(process_side(runs, tool, workload, n) for n in (small, large)))
    for a, b in pairs:
        a_s, b_s = a.median("work"), b.median("work")
        per_row = [s / n * 1e6 if s else None for s, n in ((a_s, small), (b_s, large))]
        change = per_row[1] / per_row[0] if per_row[0] and per_row[1] else None
        linear = "-" if change is None else ("yes" if abs(change - 1) <= LINEAR_TOLERANCE else "no")
        at_large = b.cell("work") if b.work or b.stopped else "not run"
        lines.append(
            f"| {a.tool} | {a.workload} | {a.cell('work')} | {at_large} "
            f"| {number(per_row[0], 3)} | {number(per_row[1], 3)} | {number(change)} | {linear} |"
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
    report).
    """
    clocked = [
        r
        for r in matching(document["runs"], tool="driftwarden", workload="replay")
        if finished(r) and "batch_clock" in r
    ]
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
        lines.append(
            f"| {run['rows']:,} | {run['attempt']} | {run['work_seconds']:.3f} "
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
        n: statistics.median(r["batch_clock"]["batch_work_seconds"] / n for r in rs)
        for n, rs in by_size.items()
    }
    return [
        *lines,
        "",
        f"- Replay time not spent in the pipeline's batches (reader waits and outside the "
        f"batches; replay − pipeline s, median of attempts): "
        f"{outside[small]:.3f} s at {small:,} rows, {outside[large]:.3f} s at {large:,}.",
        f"- Pipeline time per row, {large:,} / {small:,}, on the medians: "
        f"{pipeline[large] / pipeline[small]:.2f}.",
    ]


def detector_sides(document: Mapping[str, Any]) -> list[tuple[Side, Run, bool | None]]:
    """Each detector implementation as a side, with its first record and whether every
    attempt's detection indices equal river's of the same attempt (None: not compared)."""
    runs = [r for r in document["runs"] if "detector" in r]
    out = []
    keys = dict.fromkeys((r["tool"], r["detector"], r["implementation"]) for r in runs)
    for tool, detector, implementation in keys:
        found = matching(runs, tool=tool, detector=detector, implementation=implementation)
        side = process_side(found, tool, found[0]["workload"], None)
        same = [r.get("same_indices_as_river") for r in found]
        out.append((side, found[0], None if None in same else all(same)))
    return out


def detector_table(document: Mapping[str, Any]) -> list[str]:
    values = document["sizes"]["detector_values"]
    lines = [f"### Online detectors over {values:,} values", "", DETECTOR_HEADER]
    lines.append(_separator(DETECTOR_HEADER))
    sides = detector_sides(document)
    river = {first["detector"]: side for side, first, _ in sides if first["tool"] == "river"}
    for side, first, same in sides:
        work = side.median("work")
        reference = river.get(first["detector"])
        speed = medians_ratio(reference, side, "work") if reference else None
        lines.append(
            f"| {first['detector']} | {first['tool']} `{first['implementation']}` "
            f"| {len(side.work)}/{len(side.work) + len(side.stopped)} | {side.cell('work')} "
            f"| {number(values / work if work else None, 0)} | {side.cell('process')} "
            f"| {side.cell('rss', 0)} | {ratio(speed)} | {first.get('detections', '-')} "
            f"| {'-' if same is None else ('yes' if same else '**no**')} |"
        )
    return lines


def verdict_word(met: bool) -> str:
    return f"**{'MET' if met else 'MISSED'}**"


def targets(document: Mapping[str, Any]) -> list[str]:
    """The issue's targets, each with its measured figure and MET / MISSED, on the medians."""
    runs = [r for r in document["runs"] if "detector" not in r]
    small, large = document["sizes"]["current_rows"]
    total = driftwarden_total(runs, small)
    replay = process_side(runs, "driftwarden", "replay", small)
    lines = []
    if document["quick"]:
        lines.append(
            "- **Quick run**: the targets are set for the full sizes (200,000 reference rows, "
            "1M and 10M current rows, 10M detector values); these verdicts apply the same "
            "thresholds to the quick sizes, where fixed costs weigh more."
        )
    for tool, workload, wanted in (
        ("Evidently", 'DataDriftPreset(method="psi")', 25.0),
        ("whylogs", "profile both + drift report", 20.0),
    ):
        peer = process_side(runs, tool, workload, small)
        speed = medians_ratio(peer, total, "work")
        memory = medians_ratio(peer, total, "rss")
        if speed is None or memory is None:
            lines.append(f"- driftwarden ≥ {wanted:.0f}× faster than {tool}: not measured")
            continue
        whole = medians_ratio(peer, total, "process")
        lines.append(
            f"- driftwarden (build + replay) ≥ {wanted:.0f}× faster than {tool} {workload} on "
            f"{small:,} rows, with lower peak memory: {speed:.1f}× on the median work "
            f"(driftwarden {total.cell('work')} s, {tool} {peer.cell('work')} s; whole "
            f"processes, interpreter start and imports included: {whole:.1f}×; replay alone, "
            f"the cost per evaluation once the baseline exists: "
            f"{medians_ratio(peer, replay, 'work'):.1f}×), median peak RSS "
            f"{total.median('rss'):,.0f} vs {peer.median('rss'):,.0f} MiB — "
            f"{verdict_word(speed >= wanted and memory > 1)}"
        )
    a = process_side(runs, "driftwarden", "replay", small)
    b = process_side(runs, "driftwarden", "replay", large)
    a_s, b_s = a.median("work"), b.median("work")
    if a_s and b_s:
        change = (b_s / large) / (a_s / small)
        lines.append(
            f"- cost linear in rows from {small:,} to {large:,} (median replay time per row within "
            f"±{LINEAR_TOLERANCE:.0%}): {change:.2f}× the per-row time (replay {a.cell('work')} s "
            f"and {b.cell('work')} s) — {verdict_word(abs(change - 1) <= LINEAR_TOLERANCE)}"
        )
    sides = detector_sides(document)
    river = {first["detector"]: side for side, first, _ in sides if first["tool"] == "river"}
    for side, first, same in sides:
        if not str(first["implementation"]).endswith("_np"):
            continue
        reference = river.get(first["detector"])
        speed = medians_ratio(reference, side, "work") if reference else None
        if speed is None:
            lines.append(f"- `{first['implementation']}` ≥ 10× river: not measured")
            continue
        lines.append(
            f"- numpy `{first['implementation']}` ≥ 10× river with identical detection indices: "
            f"{speed:.1f}× on the medians, indices {'identical' if same else 'DIFFERENT'} in "
            f"every attempt — {verdict_word(speed >= 10 and bool(same))}"
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
        "(the machine was shared with other engineers' test runs: timings are noisy, which is "
        "why every side has the same attempts, taken in rotating rounds, and is compared on "
        "medians).",
        f"- Attempts per side: {document['attempts']}, in rounds of rotating order"
        + (
            f"; the peers ran only on current sets of at most {up_to:,} rows"
            if (up_to := document.get("peers_up_to_rows"))
            else ""
        )
        + ".",
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
