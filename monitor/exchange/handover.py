"""Stage 1's side of the exchange: what the source partitions' window counters counted since the
last hand-over, as partials and marks (:mod:`monitor.exchange.records`).

Each hand-over empties the counters: one partial per (model, source partition) holds its
windows' counts (sorted by start, then key), its late counts, its detector values in arrival
order and the offsets ``[first, end)`` they came from; stage 1 keeps only the watermarks, the
caps and the label join. The marks say, per source partition taking part in closing windows,
where it is, its largest event time and whether it is idle.
"""

from __future__ import annotations

from monitor.exchange.records import FeedValues, Mark, Partial, WindowPart
from monitor.window.open_counts import OpenCounts
from monitor.window.source_counters import SourceCounters
from monitor.window.windower import LateCounts, WindowCounter


def drain(counters: SourceCounters, config: str) -> list[Partial]:
    """What every counter counted since the last call, by source partition, then model."""
    return [
        partial
        for source, counter in sorted(counters.counters.items())
        for partial in _drain(counter, source, config)
    ]


def marks(counters: SourceCounters, config: str) -> tuple[set[int], list[Mark]]:
    """The source partitions taking part in closing windows now (held, idle or delivering; not
    away), and a mark of each: its position, its largest event time (None before its first
    event) and whether it is idle."""
    sources, out = set(), []
    for source, counter in sorted(counters.counters.items()):
        w = counter.watermarks
        if source in w.away or not (source in w.seen or source in w.held or source in w.idle):
            continue
        sources.add(source)
        out.append(Mark(config, source, counter.end, w.seen.get(source), source in w.idle))
    return sources, out


def _drain(counter: WindowCounter, source: int, config: str) -> list[Partial]:
    """One counter's partials, one per model, sorted by model; the counter is emptied."""
    windows: dict[str, list[WindowPart]] = {}
    for key, start, end, events, counts, performance in counter.counted.windows():
        part = WindowPart(start, end, key.model_version, key.segment, events, counts, performance)
        windows.setdefault(key.model, []).append(part)
    values: dict[str, list[FeedValues]] = {}
    for feed, buffers in (("prediction", counter.score_values), ("errors", counter.error_values)):
        for model, version, start, time, tie, columns in buffers.drain():
            run = FeedValues(start, version, feed, time, tie, columns)
            values.setdefault(model, []).append(run)
    late, late_labels = counter.late.by_model, counter.late_labels.by_model
    models = sorted({*windows, *values, *late, *late_labels})
    first = counter.end if counter.first is None else counter.first
    counter.counted, counter.late, counter.late_labels = OpenCounts(), LateCounts(), LateCounts()
    counter.first = None
    return [
        Partial(
            config,
            model,
            source=source,
            first=first,
            end=counter.end,
            windows=tuple(windows.get(model, ())),
            late_events=late.get(model, 0),
            late_pairs=late_labels.get(model, 0),
            values=tuple(values.get(model, ())),
        )
        for model in models
    ]
