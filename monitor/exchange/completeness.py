"""Stage 2's watermark: which windows every source partition has passed, from their marks.

The rule is the one-process watermark's (:mod:`monitor.window.watermark`), fed by marks instead
of events. The source partitions are all partitions of the configured topics (from metadata,
:meth:`Completeness.set_sources`), not only those that sent a mark: a partition whose stage-1
owner has not started yet must hold windows back. A partition *holds* (no window is complete)
until its first mark with a watermark or with ``idle``; an idle partition does not stall
closing and takes part again with its next mark that is not idle; with every partition idle, the
largest watermark counts. Windows ending at or before the watermark minus the allowed lateness
are complete, and stay complete (:meth:`Completeness.closed_through` never goes back).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from monitor.exchange.records import Mark


@dataclass
class _Progress:
    end: int
    watermark_ms: int | None
    idle: bool


class Completeness:
    """The last mark of every source partition, and the windows they have all passed.

    >>> c = Completeness(allowed_lateness_ms=0)
    >>> c.set_sources({1, 2})
    >>> c.mark(Mark("c", source=1, end=5, watermark_ms=70, idle=False))
    >>> c.watermark() is None  # partition 2 has not reported yet
    True
    >>> c.mark(Mark("c", source=2, end=3, watermark_ms=40, idle=False))
    >>> c.watermark(), c.closed_through()
    (40, 40)
    >>> c.mark(Mark("c", source=2, end=3, watermark_ms=40, idle=True))
    >>> c.watermark(), c.closed_through()
    (70, 70)
    """

    def __init__(self, allowed_lateness_ms: int, closed_through: int | None = None) -> None:
        """``closed_through``: restored from a snapshot (windows it closed stay closed)."""
        self.allowed_lateness_ms = allowed_lateness_ms
        self.sources: set[int] = set()
        self.progress: dict[int, _Progress] = {}
        self._closed_through = closed_through

    def set_sources(self, sources: set[int]) -> None:
        """The source partitions that exist now: new ones hold windows back until they report,
        gone ones no longer count."""
        self.apply(sources, ())

    def mark(self, mark: Mark) -> None:
        """Take a source partition's progress; a mark older than the last one taken (a smaller
        ``end``) is ignored, and a partition's watermark never goes back."""
        self.apply(None, (mark,))

    def apply(self, sources: set[int] | None, marks: Iterable[Mark]) -> None:
        """Take new sources (None: unchanged) and marks together, then advance once: a window
        closes only on what they say all at once, never on half of them."""
        if sources is not None:
            self.sources = set(sources)
            for gone in set(self.progress) - self.sources:
                del self.progress[gone]
        for mark in marks:
            self._take(mark)
        self._advance()

    def preview(self, sources: set[int] | None, marks: Iterable[Mark]) -> int | None:
        """What :meth:`closed_through` would be after :meth:`apply` of the same arguments; this
        changes nothing.

        >>> c = Completeness(allowed_lateness_ms=10)
        >>> c.set_sources({1})
        >>> c.preview(None, [Mark("c", source=1, end=5, watermark_ms=70, idle=False)])
        60
        >>> c.closed_through() is None
        True
        """
        trial = Completeness(self.allowed_lateness_ms, self._closed_through)
        trial.sources = set(self.sources)
        trial.progress = {source: replace(p) for source, p in self.progress.items()}
        trial.apply(sources, marks)
        return trial.closed_through()

    def state(self) -> dict[str, Any]:
        """The last progress of every source partition and the windows closed, as JSON data
        (the source partitions themselves come from metadata, not from a snapshot).

        >>> c = Completeness(allowed_lateness_ms=0)
        >>> c.set_sources({4})
        >>> c.mark(Mark("c", source=4, end=9, watermark_ms=70, idle=False))
        >>> c.state()
        {'progress': [[4, 9, 70, False]], 'closed_through': 70}
        """
        return {
            "progress": [
                [source, p.end, p.watermark_ms, p.idle]
                for source, p in sorted(self.progress.items())
            ],
            "closed_through": self._closed_through,
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        """Take back what :meth:`state` saved, for the source partitions that exist now."""
        self.progress = {
            int(source): _Progress(int(end), None if time is None else int(time), bool(idle))
            for source, end, time, idle in state["progress"]
            if int(source) in self.sources
        }
        closed = state["closed_through"]
        self._closed_through = None if closed is None else int(closed)
        self._advance()

    def _take(self, mark: Mark) -> None:
        if mark.source not in self.sources:
            return
        last = self.progress.setdefault(mark.source, _Progress(mark.end, None, mark.idle))
        if mark.end < last.end:
            return
        last.end, last.idle = mark.end, mark.idle
        if mark.watermark_ms is not None and (
            last.watermark_ms is None or mark.watermark_ms > last.watermark_ms
        ):
            last.watermark_ms = mark.watermark_ms

    def watermark(self) -> int | None:
        """The least watermark of the partitions taking part (the largest when all are idle);
        None while a partition holds or none has an event time yet."""
        if any(self._holds(source) for source in self.sources):
            return None
        seen = [
            (s.watermark_ms, s.idle) for s in self.progress.values() if s.watermark_ms is not None
        ]
        active = [time for time, idle in seen if not idle]
        if active:
            return min(active)
        return max((time for time, _ in seen), default=None)

    def closed_through(self) -> int | None:
        """Windows ending at or before this are complete (None: none is yet)."""
        return self._closed_through

    def _advance(self) -> None:
        current = self.watermark()
        if current is None:
            return
        horizon = current - self.allowed_lateness_ms
        if self._closed_through is None or horizon > self._closed_through:
            self._closed_through = horizon

    def _holds(self, source: int) -> bool:
        progress = self.progress.get(source)
        return progress is None or (progress.watermark_ms is None and not progress.idle)
