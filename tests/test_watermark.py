"""Per-partition watermarks."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from monitor.window.watermark import Watermarks


def test_watermark_is_running_max_of_a_single_partition() -> None:
    """With one partition the watermark at each event is the largest event time so far."""
    w = Watermarks()
    got = w.advance(np.array([5, 3, 9, 7]), np.zeros(4, dtype=np.int64))
    assert got.tolist() == [5, 5, 9, 9]


def test_slowest_partition_holds_the_watermark_back() -> None:
    """The watermark is the minimum over partitions of their largest event time."""
    w = Watermarks()
    got = w.advance(np.array([10, 20, 30, 15]), np.array([0, 0, 0, 1]))
    assert got.tolist() == [10, 20, 30, 15]
    assert w.current() == 15


def test_partition_without_data_does_not_stall() -> None:
    """A partition that has delivered nothing does not hold the others back."""
    w = Watermarks()
    w.advance(np.array([100]), np.array([3]))
    assert w.current() == 100


def test_state_carries_across_batches() -> None:
    """Maxima from earlier batches apply to later ones."""
    w = Watermarks()
    w.advance(np.array([50]), np.array([0]))
    assert w.advance(np.array([10]), np.array([0])).tolist() == [50]


def test_forget_releases_a_revoked_partition() -> None:
    """A forgotten partition no longer holds the watermark back."""
    w = Watermarks({0: 10, 1: 99})
    w.forget({0})
    assert w.current() == 99


def test_batch_split_does_not_change_per_event_watermarks() -> None:
    """Feeding events in one batch or one at a time gives the same per-event watermarks."""
    rng = np.random.default_rng(1)
    ts = rng.integers(0, 1000, 200)
    parts = rng.integers(0, 3, 200)
    whole = Watermarks().advance(ts, parts)
    single = Watermarks()
    pieces = [single.advance(ts[i : i + 1], parts[i : i + 1]) for i in range(200)]
    assert whole.tolist() == np.concatenate(pieces).tolist()


def test_held_partition_keeps_every_event_on_time_until_it_delivers() -> None:
    """An assigned partition with no events yet holds the watermark: nothing is late or closes."""
    w = Watermarks()
    w.hold({1})
    assert w.advance(np.array([10_000, 20_000]), np.array([0, 0])).max() < 0
    assert w.current() is None
    w.advance(np.array([500]), np.array([1]))
    assert w.current() == 500


def test_idle_partition_does_not_stall_the_watermark() -> None:
    """A partition read to its end stops holding the others back, and rejoins with new events."""
    w = Watermarks({0: 100, 1: 900})
    w.set_idle({0})
    assert w.current() == 900
    w.advance(np.array([950]), np.array([0]))
    assert w.current() == 900 and not w.idle


def test_all_partitions_idle_means_everything_was_read() -> None:
    """When every partition is idle the watermark is the largest event time seen."""
    w = Watermarks({0: 100, 1: 900})
    w.set_idle({0, 1})
    assert w.current() == 900


@given(
    st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 2)), min_size=1, max_size=60),
    st.lists(st.integers(1, 20), min_size=1, max_size=60),
)
def test_any_batch_split_gives_the_watermarks_of_one_event_at_a_time(
    events: list[tuple[int, int]], sizes: list[int]
) -> None:
    """Whatever batches the events come in (one partition or several), each event's watermark
    is the one it gets when events arrive one at a time."""
    times = np.array([t for t, _ in events], dtype=np.int64)
    parts = np.array([p for _, p in events], dtype=np.int64)
    single = Watermarks()
    expected = [single.advance(times[i : i + 1], parts[i : i + 1])[0] for i in range(len(times))]
    batched, got, start = Watermarks(), [], 0
    for size in sizes * len(times):
        if start >= len(times):
            break
        got += batched.advance(times[start : start + size], parts[start : start + size]).tolist()
        start += size
    assert got == expected


def test_an_empty_batch_has_an_empty_int64_watermark() -> None:
    """Advancing with no events gives an empty int64 array and changes nothing."""
    w = Watermarks({0: 10})
    got = w.advance(np.empty(0, np.int64), np.empty(0, np.int64))
    assert (got.dtype, got.shape, w.current()) == (np.dtype(np.int64), (0,), 10)


def test_holds_add_up() -> None:
    """Holding partition 1 and then partition 2 keeps both held until each delivers."""
    w = Watermarks()
    w.hold({1})
    w.hold({2})
    w.advance(np.array([5]), np.array([2]))
    assert w.current() is None


def test_idle_partitions_add_up() -> None:
    """Partitions set idle in two calls both stop holding the watermark back."""
    w = Watermarks({0: 10, 1: 5, 2: 3})
    w.set_idle({1})
    w.set_idle({2})
    assert w.current() == 10


def test_forgetting_one_partition_keeps_the_others_idle() -> None:
    """Forgetting a partition, even one never seen, leaves other idle partitions idle."""
    w = Watermarks({0: 10, 1: 5})
    w.set_idle({1, 2})
    w.forget({2})
    assert w.current() == 10


def test_a_partition_away_takes_no_part_until_given_back() -> None:
    """A partition set away (owned elsewhere after a restore) does not hold the others back."""
    w = Watermarks({0: 10, 1: 4})
    w.set_away({1})
    assert w.current() == 10
    assert w.advance(np.array([12]), np.array([0])).tolist() == [12]


def test_a_partition_given_back_counts_with_the_largest_time_it_had() -> None:
    """Given back, an away partition's earlier maximum holds the watermark again, so its next
    events are judged as if it had never left: an event at 3 after 4 still sees watermark 4."""
    w = Watermarks({0: 10, 1: 4})
    w.set_away({1})
    w.hold({1})
    assert w.current() == 4
    assert w.advance(np.array([3]), np.array([1])).tolist() == [4]
