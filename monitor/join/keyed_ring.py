"""A bounded store of numeric rows keyed by string id: oldest rows give way first.

The label join keeps its waiting predictions (and the labels that came before their
prediction) here. Rows live in fixed numpy columns used as a ring; a dict maps each id to its
slot. A full ring overwrites its oldest slots; dict entries of overwritten or taken rows are
not deleted one by one but recognised as stale (the slot now holds another id, or none) and
dropped in bulk when the dict has grown to twice the capacity. So every operation is a few
whole-array numpy steps plus C-level dict calls, never a Python loop per row.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from monitor.batches import BoolArray, IntArray
from monitor.packed import pack, pack_column, unpack, unpack_column


class KeyedRing:
    """At most ``capacity`` rows of the named numpy ``columns``, each under a string id.

    >>> ring = KeyedRing(2, {"t": np.int64})
    >>> ring.put(["a", "b", "c"], {"t": np.array([1, 2, 3])})["t"].tolist()  # "a" gives way
    [1]
    >>> found, rows = ring.take(["c", "a", "zz"])
    >>> found.tolist(), rows["t"].tolist(), len(ring)
    ([True, False, False], [3], 1)
    """

    def __init__(self, capacity: int, columns: Mapping[str, npt.DTypeLike]) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be at least 1, got {capacity}")
        self.capacity = capacity
        self.dtypes = {name: np.dtype(dtype) for name, dtype in columns.items()}
        self.columns: dict[str, np.ndarray] = {
            name: np.zeros(0, dtype) for name, dtype in self.dtypes.items()
        }
        self.ids: npt.NDArray[np.object_] = np.empty(0, dtype=object)
        self.live: BoolArray = np.zeros(0, dtype=bool)
        self.next = 0  # rows ever put; the next row goes to slot next % capacity
        self.slots: dict[str, int] = {}

    def __len__(self) -> int:
        return int(np.count_nonzero(self.live))

    def put(self, ids: Sequence[str], values: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Store rows (a later row with an id already present replaces it); return the rows
        that gave way to make room, oldest first."""
        n = len(ids)
        if n == 0:
            return self._rows(np.zeros(0, dtype=np.int64))
        dropped: dict[str, np.ndarray] = {
            k: v[: max(0, n - self.capacity)] for k, v in values.items()
        }
        if n > self.capacity:  # only the newest rows can stay
            ids = ids[n - self.capacity :]
            values = {k: v[n - self.capacity :] for k, v in values.items()}
            n = self.capacity
        self._grow(min(self.capacity, self.next + n))
        slots = (self.next + np.arange(n)) % self.capacity
        self.next += n
        overwritten = self._rows(slots[self.live[slots]])
        ids = list(ids)
        self._release(ids)
        self.ids[slots] = ids
        self.live[slots] = True
        for name, column in self.columns.items():
            column[slots] = values[name]
        self.slots.update(zip(ids, slots.tolist(), strict=True))
        if len(self.slots) > 2 * self.capacity:
            self._rebuild()
        return {k: np.concatenate([overwritten[k], dropped[k]]) for k in self.columns}

    def find(self, ids: Sequence[str]) -> tuple[BoolArray, IntArray]:
        """Which ids are stored, and the slot of each found one (in the order of ``ids``)."""
        if not ids:
            return np.zeros(0, dtype=bool), np.zeros(0, dtype=np.int64)
        looked_up = np.fromiter(map(self.slots.get, ids, itertools.repeat(-1)), np.int64, len(ids))
        found = looked_up >= 0
        candidates = looked_up[found]
        wanted = np.asarray(ids, dtype=object)[found]
        confirmed = self.live[candidates] & (self.ids[candidates] == wanted)
        found[found] = confirmed
        return found, candidates[confirmed]

    def take(self, ids: Sequence[str]) -> tuple[BoolArray, dict[str, np.ndarray]]:
        """Remove the stored ones of ``ids``; return which were found and their rows, in order.

        An id listed twice is found once (its first mention).
        """
        found, slots = self.find(ids)
        unique_slots, first = np.unique(slots, return_index=True)
        if len(unique_slots) < len(slots):
            keep = np.zeros(len(slots), dtype=bool)
            keep[first] = True
            found[np.flatnonzero(found)[~keep]] = False
            slots = slots[keep]
        rows = self._rows(slots)
        self.live[slots] = False
        self.ids[slots] = None
        return found, rows

    def expire(self, column: str, before: float) -> dict[str, np.ndarray]:
        """Remove every row whose ``column`` is below ``before``; return those rows."""
        old = np.flatnonzero(self.live & (self.columns[column] < before))
        rows = self._rows(old)
        self.live[old] = False
        self.ids[old] = None
        return rows

    def _rows(self, slots: IntArray) -> dict[str, np.ndarray]:
        return {name: column[slots] for name, column in self.columns.items()}

    def state(self) -> dict[str, Any]:
        """The live rows oldest first, as JSON data (packed, :mod:`monitor.packed`)."""
        order = self._age_order()
        return {
            "ids": pack_column(pa.array(self.ids[order], pa.string())),
            "columns": {name: pack(column[order]) for name, column in self.columns.items()},
        }

    def restore(self, state: Mapping[str, Any]) -> None:
        """Put back the rows of :meth:`state` (into an empty ring)."""
        columns = state["columns"]
        self.put(
            unpack_column(state["ids"]).to_pylist(),
            {name: unpack(columns[name], dtype) for name, dtype in self.dtypes.items()},
        )

    def _age_order(self) -> IntArray:
        size = len(self.live)
        oldest = self.next % self.capacity if self.next > self.capacity else 0
        order = (oldest + np.arange(size)) % max(1, size)
        return order[self.live[order]]

    def _grow(self, size: int) -> None:
        old = len(self.live)
        if size <= old:
            return
        size = min(self.capacity, max(size, 2 * old))
        for name, column in self.columns.items():
            self.columns[name] = np.concatenate([column, np.zeros(size - old, column.dtype)])
        self.ids = np.concatenate([self.ids, np.full(size - old, None, dtype=object)])
        self.live = np.concatenate([self.live, np.zeros(size - old, dtype=bool)])

    def _release(self, ids: list[str]) -> None:
        """A new row for an id already stored replaces the old one: free the old slot."""
        _, slots = self.find(ids)
        self.live[slots] = False
        self.ids[slots] = None

    def _rebuild(self) -> None:
        alive = np.flatnonzero(self.live)
        self.slots = dict(zip(self.ids[alive].tolist(), alive.tolist(), strict=True))
