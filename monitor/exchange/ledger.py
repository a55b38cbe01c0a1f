"""Stage 2 counts each partial once: a copy of one already counted is recognised by its offsets.

A partial's identity is (model, source partition, ``[first, end)``). Per model and source
partition the ledger keeps the end of the offsets counted so far; the partials of one source
partition cover consecutive offset ranges (with gaps where the model had no events), so a
partial that starts at or after that end is new, one that ends at or before it is a copy (sent
again after a kill, or read again while stage 2 rebuilds its open windows from the exchange),
and one that straddles it means two processes owned the source partition at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from monitor.exchange.records import Partial


class PartialOverlapError(ValueError):
    """A partial covers offsets partly counted already: the exchange holds two histories."""


class PartialLedger:
    """The offsets counted so far per (model, source partition).

    >>> ledger = PartialLedger()
    >>> first = Partial("c", "m", source=3, first=0, end=10, windows=())
    >>> ledger.admit(first), ledger.admit(first)
    (True, False)
    """

    def __init__(self) -> None:
        self.counted_through: dict[tuple[str, int], int] = {}

    def admit(self, partial: Partial) -> bool:
        """True for a partial to count (and remember it), False for a copy of one counted.

        Raises :class:`PartialOverlapError` for a partial that straddles the offsets counted.
        """
        key = (partial.model, partial.source)
        through = self.counted_through.get(key)
        if through is None or partial.first >= through:
            self.counted_through[key] = partial.end
            return True
        if partial.end <= through:
            return False
        raise PartialOverlapError(
            f"a partial of model {partial.model!r} from source partition {partial.source} covers "
            f"offsets {partial.first} to {partial.end}, but offsets before {through} were counted "
            "already: two processes owned that partition at once"
        )

    def state(self) -> list[list[Any]]:
        """The offsets counted through, per (model, source partition), as sorted JSON data.

        >>> ledger = PartialLedger()
        >>> ledger.admit(Partial("c", "m", source=3, first=0, end=10, windows=()))
        True
        >>> ledger.state()
        [['m', 3, 10]]
        """
        return [
            [model, source, end] for (model, source), end in sorted(self.counted_through.items())
        ]

    def restore(self, state: Sequence[Sequence[Any]]) -> None:
        """Take back what :meth:`state` saved."""
        self.counted_through = {(str(m), int(s)): int(end) for m, s, end in state}
