"""Stage 1's side of the exchange: what a :class:`~monitor.window.windower.WindowCounter`
counted since the last hand-over, as partials and marks (:mod:`monitor.exchange.records`).

Each hand-over empties the counter: one partial per model holds its windows' counts (sorted by
start, then key), its late counts and its detector values in arrival order; stage 1 keeps only
the watermarks, the caps and the label join. The marks say, per source partition taking part in
the watermark, its largest event time and whether it is idle.

In one process the hand-over happens after every batch and the partials carry no offsets
(``source`` :data:`LOCAL`): nothing can be sent twice, so nothing needs an identity.
"""

from __future__ import annotations

from monitor.exchange.records import FeedValues, Mark, Partial, parts_of
from monitor.window.windower import LateCounts, WindowCounter, WindowCounts

LOCAL = -1
"""The source of a partial handed over in memory: one process, no offsets."""


def drain(counter: WindowCounter, config: str) -> list[Partial]:
    """What ``counter`` counted since the last call, one partial per model, sorted by model."""
    windows: dict[str, list[WindowCounts]] = {}
    for _, window in sorted(counter.open.items(), key=lambda item: (item[0][1], item[0][0])):
        windows.setdefault(window.key.model, []).append(window)
    values: dict[str, list[FeedValues]] = {}
    for feed, buffers in (("prediction", counter.score_values), ("errors", counter.error_values)):
        for model, version, start, time, tie, columns in buffers.drain():
            values.setdefault(model, []).append(
                FeedValues(start, version, feed, time, tie, columns)
            )
    late, late_labels = counter.late.by_model, counter.late_labels.by_model
    models = sorted({*windows, *values, *late, *late_labels})
    counter.open, counter.late, counter.late_labels = {}, LateCounts(), LateCounts()
    return [
        Partial(
            config,
            model,
            source=LOCAL,
            first=0,
            end=0,
            windows=parts_of(windows.get(model, ())),
            late_events=late.get(model, 0),
            late_pairs=late_labels.get(model, 0),
            values=tuple(values.get(model, ())),
        )
        for model in models
    ]


def marks(counter: WindowCounter, config: str) -> tuple[set[int], list[Mark]]:
    """The source partitions taking part in ``counter``'s watermark now (held, idle or
    delivering; not away), and a mark of each: its largest event time (None before its first
    event) and whether it is idle."""
    w = counter.watermarks
    sources = (set(w.seen) | w.held | w.idle) - w.away
    return sources, [
        Mark(config, p, end=0, watermark_ms=w.seen.get(p), idle=p in w.idle)
        for p in sorted(sources)
    ]
