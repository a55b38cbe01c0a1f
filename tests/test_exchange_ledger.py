"""Stage 2 counts every partial once, however often it reads it, and refuses two histories of one
source partition."""

from __future__ import annotations

from random import Random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.exchange.ledger import PartialLedger, PartialOverlapError
from monitor.exchange.records import Partial


def _partial(first: int, end: int, *, model: str = "m", source: int = 3) -> Partial:
    return Partial("c", model, source, first, end, windows=())


@given(
    st.lists(st.integers(0, 50), min_size=1, max_size=30, unique=True).map(sorted),
    st.randoms(use_true_random=False),
)
def test_each_partial_is_counted_once_however_often_it_is_read(
    bounds: list[int], random: Random
) -> None:
    """Consecutive partials of a source partition, each followed by copies of itself or of
    earlier ones (re-sent after a kill, or read again by a replay of the exchange), are counted
    exactly once each."""
    sent = [_partial(a, b) for a, b in zip([0, *bounds], bounds, strict=False) if a < b]
    reads = []
    for i, partial in enumerate(sent):
        reads.append(partial)
        reads.extend(random.choices(sent[: i + 1], k=random.randint(0, 2)))
    ledger = PartialLedger()
    counted = [p.identity() for p in reads if ledger.admit(p)]
    assert counted == [p.identity() for p in sent]


def test_a_gap_in_the_offsets_is_not_a_copy() -> None:
    """A model without events for a while sends nothing; its next partial starts further on and
    counts."""
    ledger = PartialLedger()
    assert [ledger.admit(_partial(0, 10)), ledger.admit(_partial(25, 30))] == [True, True]


def test_models_and_source_partitions_are_counted_apart() -> None:
    """Partials of the same offsets for another model or from another source partition are not
    copies."""
    ledger = PartialLedger()
    admitted = [
        ledger.admit(_partial(0, 10)),
        ledger.admit(_partial(0, 10, model="other")),
        ledger.admit(_partial(0, 10, source=4)),
    ]
    assert admitted == [True, True, True]


def test_a_partial_straddling_the_counted_offsets_is_refused() -> None:
    """Offsets partly counted mean two owners sent different cuts of one partition's history;
    stage 2 refuses that partial, naming it."""
    ledger = PartialLedger()
    ledger.admit(_partial(0, 10))
    with pytest.raises(PartialOverlapError) as refused:
        ledger.admit(_partial(5, 15))
    assert str(refused.value) == (
        "a partial of model 'm' from source partition 3 covers offsets 5 to 15, but offsets "
        "before 10 were counted already: two processes owned that partition at once"
    )
