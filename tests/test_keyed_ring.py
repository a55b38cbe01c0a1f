"""The bounded keyed store behind the label join: oldest rows give way, ids find their rows."""

from __future__ import annotations

import numpy as np
import orjson
from hypothesis import given
from hypothesis import strategies as st

from monitor.join.keyed_ring import KeyedRing


def _ring(capacity: int = 3) -> KeyedRing:
    return KeyedRing(capacity, {"t": np.int64, "v": np.float64})


def _put(ring: KeyedRing, ids: list[str]) -> dict[str, np.ndarray]:
    t = np.array([int(i[1:]) for i in ids], dtype=np.int64)
    return ring.put(ids, {"t": t, "v": t / 10})


def test_take_returns_the_rows_of_the_found_ids_in_request_order() -> None:
    """take finds stored ids in the order asked and says which were not there."""
    ring = _ring()
    _put(ring, ["a1", "a2"])
    found, rows = ring.take(["a2", "zz", "a1"])
    assert found.tolist() == [True, False, True]
    assert rows["t"].tolist() == [2, 1]
    assert rows["v"].tolist() == [0.2, 0.1]


def test_a_full_ring_gives_way_oldest_first() -> None:
    """Putting past the capacity overwrites the oldest rows and returns them."""
    ring = _ring(3)
    _put(ring, ["a1", "a2"])
    gone = _put(ring, ["a3", "a4", "a5"])
    assert gone["t"].tolist() == [1, 2]
    assert ring.find(["a1", "a2", "a3", "a4", "a5"])[0].tolist() == [False, False, True, True, True]


def test_a_batch_larger_than_the_capacity_keeps_its_newest_rows() -> None:
    """Only the newest ``capacity`` rows of one oversized put stay; the rest are returned."""
    ring = _ring(2)
    gone = _put(ring, ["a1", "a2", "a3", "a4"])
    assert sorted(gone["t"].tolist()) == [1, 2]
    assert len(ring) == 2 and ring.find(["a3", "a4"])[0].all()


def test_taken_rows_are_gone() -> None:
    """A row taken once is not found again."""
    ring = _ring()
    _put(ring, ["a1"])
    ring.take(["a1"])
    assert ring.take(["a1"])[0].tolist() == [False]
    assert len(ring) == 0


def test_an_id_listed_twice_is_taken_once() -> None:
    """Two labels for one prediction join it once."""
    ring = _ring()
    _put(ring, ["a1"])
    found, rows = ring.take(["a1", "a1"])
    assert found.tolist() == [True, False]
    assert rows["t"].tolist() == [1]


def test_putting_an_id_again_replaces_its_row() -> None:
    """The newer row of an id is the one found; the ring holds it once."""
    ring = _ring()
    ring.put(["a"], {"t": np.array([1]), "v": np.array([1.0])})
    ring.put(["a"], {"t": np.array([2]), "v": np.array([2.0])})
    assert len(ring) == 1
    assert ring.take(["a"])[1]["t"].tolist() == [2]


def test_expire_removes_the_rows_below_the_cut_and_returns_them() -> None:
    """Rows whose column is below the cut leave; the others stay."""
    ring = _ring(4)
    _put(ring, ["a5", "a1", "a7", "a2"])
    gone = ring.expire("t", 5)
    assert sorted(gone["t"].tolist()) == [1, 2]
    assert ring.find(["a5", "a7"])[0].all() and len(ring) == 2


def test_state_round_trips_through_json_in_age_order() -> None:
    """A ring restored from its JSON state holds the same rows and gives way in the same order."""
    ring = _ring(3)
    _put(ring, ["a1", "a2", "a3", "a4"])
    copy = _ring(3)
    copy.restore(orjson.loads(orjson.dumps(ring.state())))
    assert copy.state() == ring.state()
    assert copy.find(["a1", "a2", "a3", "a4"])[0].tolist() == [False, True, True, True]
    assert _put(copy, ["a5"])["t"].tolist() == _put(ring, ["a5"])["t"].tolist() == [2]


@given(
    capacity=st.integers(1, 8),
    batches=st.lists(st.integers(0, 6), min_size=1, max_size=12),
)
def test_the_ring_holds_the_newest_ids_up_to_its_capacity(
    capacity: int, batches: list[int]
) -> None:
    """After any sequence of puts of fresh ids, exactly the newest ``capacity`` are stored."""
    ring = _ring(capacity)
    ids = [f"a{i}" for i in range(sum(batches))]
    start = 0
    for size in batches:
        _put(ring, ids[start : start + size])
        start += size
    newest = ids[-capacity:] if ids else []
    assert len(ring) == len(newest)
    assert ring.find(newest)[0].all()
    assert not ring.find(ids[: len(ids) - len(newest)])[0].any()
    assert len(ring.slots) <= 2 * capacity + max(batches)
