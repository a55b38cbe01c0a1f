"""A counter's open windows added to batch after batch in place: what adding every part of a
window to it gives."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.window.open_counts import OpenCounts

SIZES = {"a": 3, "b": 1, "c": 4}  # slots per key (a model's layout size)
PERFORMANCE = {"a": 2, "b": 0, "c": 1}

windows = st.tuples(st.sampled_from(sorted(SIZES)), st.integers(0, 3))
batch = st.lists(windows, unique=True, max_size=6)


@settings(max_examples=60, deadline=None)
@given(st.lists(batch, max_size=5), st.integers(0, 2**32 - 1))
def test_batches_added_in_place_sum_each_windows_parts(
    batches: list[list[tuple[str, int]]], seed: int
) -> None:
    """Each window's events, counts and performance are the sums of its parts over the batches,
    listed by start then key."""
    rng = np.random.default_rng(seed)
    counted: OpenCounts[tuple[str, str, str]] = OpenCounts()
    expected: dict[tuple[int, str], tuple[int, list[int], list[int]]] = {}
    for found in batches:
        sizes = [SIZES[key] for key, _ in found]
        perf_sizes = [PERFORMANCE[key] for key, _ in found]
        events = rng.integers(0, 9, len(found))
        counts = rng.integers(0, 9, sum(sizes))
        performance = rng.integers(0, 9, sum(perf_sizes))
        base = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        perf_base = np.concatenate([[0], np.cumsum(perf_sizes)]).astype(np.int64)
        bounds = [((key, "", ""), start, start + 1) for key, start in found]
        counted.add(bounds, events, base, counts, perf_base, performance)
        for i, (key, start) in enumerate(found):
            n, slots, perf = expected.get(
                (start, key), (0, [0] * SIZES[key], [0] * PERFORMANCE[key])
            )
            expected[(start, key)] = (
                n + int(events[i]),
                (np.array(slots) + counts[base[i] : base[i + 1]]).tolist(),
                (np.array(perf) + performance[perf_base[i] : perf_base[i + 1]]).tolist(),
            )
    assert [
        (start, key[0], n, slots.tolist(), perf.tolist())
        for key, start, _, n, slots, perf in counted.windows()
    ] == [(start, key, *expected[(start, key)]) for start, key in sorted(expected)]
