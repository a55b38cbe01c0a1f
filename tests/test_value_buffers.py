"""Detector values held per open window and handed over in (time, tie-break) order."""

from __future__ import annotations

import numpy as np
import orjson
import pyarrow as pa

from monitor.window.value_buffers import ValueBuffers

HOUR = 3_600_000


def _add(buffers: ValueBuffers, times: list[int], ties: list[int], scores: list[float]) -> None:
    buffers.add("m", "v1", np.array(times), pa.array(ties), {"score": np.array(scores)})


def test_take_orders_values_by_time_then_tiebreak_across_batches() -> None:
    """Values of two batches come back sorted by time, equal times by their tie-break."""
    buffers = ValueBuffers(("score",), HOUR)
    _add(buffers, [30, 10], [0, 5], [3.0, 1.5])
    _add(buffers, [10, 20], [2, 0], [1.2, 2.0])
    assert buffers.take("m", "v1", 0)["score"].tolist() == [1.2, 1.5, 2.0, 3.0]


def test_take_empties_the_window() -> None:
    """A window's values are handed over once; a second take finds nothing."""
    buffers = ValueBuffers(("score",), HOUR)
    _add(buffers, [10], [0], [1.0])
    buffers.take("m", "v1", 0)
    assert buffers.take("m", "v1", 0) == {}


def test_values_go_to_the_window_of_their_time() -> None:
    """Values an hour apart are held under two windows."""
    buffers = ValueBuffers(("score",), HOUR)
    _add(buffers, [10, HOUR + 10], [0, 1], [1.0, 2.0])
    assert buffers.take("m", "v1", HOUR)["score"].tolist() == [2.0]
    assert buffers.take("m", "v1", 0)["score"].tolist() == [1.0]


def test_without_streams_nothing_is_buffered() -> None:
    """With no detector to feed, added values are not kept."""
    buffers = ValueBuffers((), HOUR)
    _add(buffers, [10], [0], [1.0])
    assert buffers.buffers == {}


def test_discard_through_drops_only_windows_that_closed() -> None:
    """Windows ending at or before the closed horizon are dropped, later ones kept."""
    buffers = ValueBuffers(("score",), HOUR)
    _add(buffers, [10, HOUR + 10], [0, 1], [1.0, 2.0])
    buffers.discard_through(HOUR)
    assert list(buffers.buffers) == [("m", "v1", HOUR)]


def test_state_round_trip_keeps_values_and_their_order_exactly() -> None:
    """A restored copy hands over the same values, NaN included, in the same order."""
    buffers = ValueBuffers(("score",), HOUR)
    _add(buffers, [30, 10], [0, 5], [np.nan, 0.1])
    _add(buffers, [10], [2], [1e-300])
    restored = buffers.restored(orjson.loads(orjson.dumps(buffers.state())))
    assert orjson.dumps(restored.state()) == orjson.dumps(buffers.state())
    assert restored.take("m", "v1", 0)["score"].tolist()[:2] == [1e-300, 0.1]
