"""Delayed labels joined to their predictions by ``(model, event_id)``, in bounded memory.

Predictions with an event id wait in a :class:`~monitor.join.keyed_ring.KeyedRing` of at most
``max_pending`` rows; a label that arrives before its prediction waits in a second ring of
``max_orphans`` rows. Whichever of the two arrives second completes the pair, so the pairs
formed do not depend on how the two topics interleave. A row leaves unmatched when its ring
is full (oldest first: ``capacity``) or when it is older than the watermark minus the
``horizon`` (``horizon``); both are counted per model.

A joined pair is dated at the later of its two timestamps (normally the label's: the moment
the outcome became known), so performance is reported in the window in which the labels
arrived. A label timestamped before its prediction is an ordering/leakage violation: counted,
and still joined.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from monitor.batches import EventBatch, FloatArray, IntArray
from monitor.join.keyed_ring import KeyedRing

DELAY_BUCKETS_S = (60.0, 300.0, 900.0, 3600.0, 6 * 3600.0, 86400.0, 3 * 86400.0, 7 * 86400.0)
"""Upper bounds (seconds) of the label delay histogram; the last bucket is +Inf."""

Kind = Literal["numeric", "categorical", "classes"] | None


class Interner:
    """Small integer codes for the distinct strings of a column (models, versions, classes).

    >>> names = Interner()
    >>> names.encode(pa.array(["b", None, "a", "b"])).tolist()
    [0, -1, 1, 0]
    >>> names.decode(np.array([1, -1, 0])).to_pylist()
    ['a', None, 'b']
    """

    def __init__(self, names: list[str] | None = None) -> None:
        self.names: list[str] = list(names or [])
        self.codes: dict[str, int] = {name: i for i, name in enumerate(self.names)}

    def encode(self, values: pa.Array) -> IntArray:
        """Code of each value, -1 for null (one Python step per distinct value, not per row)."""
        encoded = pc.dictionary_encode(values)
        mapping = np.array(
            [self._code(v) for v in encoded.dictionary.to_pylist()] + [-1], dtype=np.int64
        )
        indices = encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        codes: IntArray = mapping[indices]
        return codes

    def decode(self, codes: IntArray) -> pa.Array:
        """The strings of some codes (null for -1)."""
        names = pa.array(self.names, pa.string())
        return names.take(pa.array(np.maximum(codes, 0), mask=codes < 0))

    def _code(self, name: str) -> int:
        code = self.codes.get(name)
        if code is None:
            code = self.codes[name] = len(self.names)
            self.names.append(name)
        return code


@dataclass
class JoinStats:
    """What the join has seen since start (copied for /metrics)."""

    labels: Counter[str] = field(default_factory=Counter)
    joined: Counter[str] = field(default_factory=Counter)
    unmatched: Counter[str] = field(default_factory=Counter)
    unlabeled: Counter[tuple[str, str]] = field(default_factory=Counter)
    order_violations: Counter[str] = field(default_factory=Counter)
    delay_counts: dict[str, list[int]] = field(default_factory=dict)
    delay_sum_s: dict[str, float] = field(default_factory=dict)
    pending: dict[str, int] = field(default_factory=dict)

    def copy(self) -> JoinStats:
        return JoinStats(
            Counter(self.labels),
            Counter(self.joined),
            Counter(self.unmatched),
            Counter(self.unlabeled),
            Counter(self.order_violations),
            {m: list(c) for m, c in self.delay_counts.items()},
            dict(self.delay_sum_s),
            dict(self.pending),
        )

    def state(self) -> dict[str, Any]:
        return {
            "labels": dict(sorted(self.labels.items())),
            "joined": dict(sorted(self.joined.items())),
            "unmatched": dict(sorted(self.unmatched.items())),
            "unlabeled": [[m, r, n] for (m, r), n in sorted(self.unlabeled.items())],
            "order_violations": dict(sorted(self.order_violations.items())),
            "delay_counts": dict(sorted(self.delay_counts.items())),
            "delay_sum_s": dict(sorted(self.delay_sum_s.items())),
        }

    @classmethod
    def total(cls, stats: Iterable[JoinStats]) -> JoinStats:
        """The sum of several joins' counts (the tasks of one process)."""
        out = cls()
        for s in stats:
            for mine, theirs in (
                (out.labels, s.labels),
                (out.joined, s.joined),
                (out.unmatched, s.unmatched),
                (out.order_violations, s.order_violations),
            ):
                mine.update(theirs)
            out.unlabeled.update(s.unlabeled)
            for model, counts in s.delay_counts.items():
                held = out.delay_counts.setdefault(model, [0] * len(counts))
                out.delay_counts[model] = [a + b for a, b in zip(held, counts, strict=True)]
            for model, seconds in s.delay_sum_s.items():
                out.delay_sum_s[model] = out.delay_sum_s.get(model, 0.0) + seconds
            for model, n in s.pending.items():
                out.pending[model] = out.pending.get(model, 0) + n
        return out

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> JoinStats:
        return cls(
            Counter(state["labels"]),
            Counter(state["joined"]),
            Counter(state["unmatched"]),
            Counter({(m, r): n for m, r, n in state["unlabeled"]}),
            Counter(state["order_violations"]),
            {m: list(c) for m, c in state["delay_counts"].items()},
            dict(state["delay_sum_s"]),
        )


@dataclass(frozen=True)
class Pairs:
    """Joined pairs (an event batch dated at the later timestamp, carrying prediction, label,
    version and segments) and the row of the input batch whose arrival completed each."""

    batch: EventBatch
    trigger: IntArray


class LabelJoin:
    """Pairs predictions and labels of the same ``(model, event_id)``; see the module docstring.

    ``prediction_kind``/``label_kind`` say how the values are stored (numbers, or class names
    kept as codes; with ``"classes"`` the probability of each of ``classes``, a column each);
    ``segment_fields`` are carried from the prediction to the pair.
    """

    def __init__(
        self,
        *,
        horizon_ms: int,
        max_pending: int,
        max_orphans: int,
        segment_fields: tuple[str, ...],
        prediction_kind: Kind,
        label_kind: Kind,
        classes: tuple[str, ...] = (),
    ) -> None:
        self.options: dict[str, Any] = {
            "classes": classes,
            "horizon_ms": horizon_ms,
            "max_pending": max_pending,
            "max_orphans": max_orphans,
            "segment_fields": segment_fields,
            "prediction_kind": prediction_kind,
            "label_kind": label_kind,
        }
        self.horizon_ms = horizon_ms
        self.segment_fields = segment_fields
        self.prediction_kind = prediction_kind
        self.label_kind = label_kind
        self.classes = classes if prediction_kind == "classes" else ()
        self.strings = {
            name: Interner() for name in ("model", "version", "prediction", "label", "segment")
        }
        predictions: dict[str, Any] = {"time": np.int64, "value": np.float64, "model": np.int64}
        predictions["version"] = np.int64
        predictions.update({f"class:{c}": np.float64 for c in self.classes})
        predictions.update({f"segment:{f}": np.int64 for f in segment_fields})
        self.pending = KeyedRing(max_pending, predictions)
        self.orphans = KeyedRing(
            max_orphans, {"time": np.int64, "value": np.float64, "model": np.int64}
        )
        self.stats = JoinStats()

    def add_predictions(self, batch: EventBatch) -> Pairs | None:
        """Keep the batch's predictions that have an event id and no label of their own; return
        the pairs their waiting labels complete (``None`` when there are none)."""
        usable = (
            pc.is_valid(batch.event_id).to_numpy(zero_copy_only=False)
            & _present(batch.prediction, len(batch))
            & ~_present(batch.label, len(batch))
        )
        rows = np.flatnonzero(usable)
        if not len(rows):
            return None
        take = pa.array(rows)
        model = batch.model.take(take)
        keys = _keys(model, batch.event_id.take(take))
        values = {
            "time": batch.event_time_ms[rows],
            "value": self._values(batch.prediction, rows, "prediction"),
            "model": self.strings["model"].encode(model),
            "version": self.strings["version"].encode(batch.model_version.take(take)),
            **self._class_values(batch.prediction, take),
        }
        for f in self.segment_fields:
            column = batch.segments.get(f)
            codes = (
                np.full(len(rows), -1, np.int64)
                if column is None
                else self.strings["segment"].encode(column.take(take))
            )
            values[f"segment:{f}"] = codes
        found, labels = self.orphans.take(keys)
        waiting = ~found
        self._count_gone(
            self.pending.put(
                _select(keys, waiting),
                {k: v[waiting] for k, v in values.items()},
            ),
            "capacity",
        )
        if not found.any():
            return None
        predictions = {k: v[found] for k, v in values.items()}
        return Pairs(self._pairs(predictions, labels, _select(keys, found)), rows[found])

    def add_labels(self, batch: EventBatch) -> Pairs | None:
        """Join the batch's labels to waiting predictions; keep the others until theirs comes."""
        usable = pc.is_valid(batch.event_id).to_numpy(zero_copy_only=False) & _present(
            batch.label, len(batch)
        )
        rows = np.flatnonzero(usable)
        if not len(rows):
            return None
        take = pa.array(rows)
        model = batch.model.take(take)
        self.stats.labels.update(dict(_value_counts(model)))
        keys = _keys(model, batch.event_id.take(take))
        values = {
            "time": batch.event_time_ms[rows],
            "value": self._values(batch.label, rows, "label"),
            "model": self.strings["model"].encode(model),
        }
        found, predictions = self.pending.take(keys)
        alone = ~found
        gone = self.orphans.put(
            _select(keys, alone),
            {k: v[alone] for k, v in values.items()},
        )
        self._count_unmatched(gone)
        if not found.any():
            return None
        labels = {k: v[found] for k, v in values.items()}
        return Pairs(self._pairs(predictions, labels, _select(keys, found)), rows[found])

    def expire(self, watermark_ms: int) -> None:
        """Give up on predictions and early labels older than the watermark minus the horizon;
        recount the waiting predictions per model (the pipeline calls this as windows close)."""
        before = watermark_ms - self.horizon_ms
        self._count_gone(self.pending.expire("time", before), "horizon")
        self._count_unmatched(self.orphans.expire("time", before))
        self._pending_sizes()

    def state(self) -> dict[str, Any]:
        """Waiting rows, the string codes they use and the counters, as JSON data."""
        return {
            "strings": {name: names.names for name, names in sorted(self.strings.items())},
            "pending": self.pending.state(),
            "orphans": self.orphans.state(),
            "stats": self.stats.state(),
        }

    def restored(self, state: Mapping[str, Any]) -> LabelJoin:
        """A join with these options holding what :meth:`state` saved."""
        join = LabelJoin(**self.options)
        join.strings = {name: Interner(list(names)) for name, names in state["strings"].items()}
        join.pending.restore(state["pending"])
        join.orphans.restore(state["orphans"])
        join.stats = JoinStats.from_state(state["stats"])
        join._pending_sizes()
        return join

    def _pairs(
        self, predictions: dict[str, np.ndarray], labels: dict[str, np.ndarray], keys: list[str]
    ) -> EventBatch:
        """The joined pairs as an event batch dated at the later of the two timestamps."""
        delay_ms = labels["time"] - predictions["time"]
        models = self.strings["model"].decode(predictions["model"])
        self._observe(models, delay_ms)
        n = len(keys)
        return EventBatch(
            event_time_ms=np.maximum(labels["time"], predictions["time"]),
            partition=np.zeros(n, np.int64),
            offset=np.zeros(n, np.int64),
            model=models,
            model_version=self.strings["version"].decode(predictions["version"]),
            event_id=pa.array(keys, pa.string()),
            segments={
                f: self.strings["segment"].decode(predictions[f"segment:{f}"])
                for f in self.segment_fields
            },
            prediction=self._prediction(predictions),
            label=self._column(labels["value"], self.label_kind, "label"),
        )

    def _observe(self, models: pa.Array, delay_ms: IntArray) -> None:
        stats = self.stats
        edges = np.asarray(DELAY_BUCKETS_S) * 1000
        for model in pc.unique(models).to_pylist():
            mine = pc.equal(models, model).to_numpy(zero_copy_only=False)
            delays = delay_ms[mine]
            stats.joined[model] += len(delays)
            stats.order_violations[model] += int(np.count_nonzero(delays < 0))
            waited = np.maximum(delays, 0)
            buckets = np.bincount(
                np.searchsorted(edges, waited, side="left"), minlength=len(edges) + 1
            )
            counts = stats.delay_counts.setdefault(model, [0] * (len(edges) + 1))
            stats.delay_counts[model] = [a + int(b) for a, b in zip(counts, buckets, strict=True)]
            stats.delay_sum_s[model] = (
                stats.delay_sum_s.get(model, 0.0) + float(waited.sum()) / 1000
            )

    def _class_values(
        self, prediction: FloatArray | pa.Array | None, take: pa.Array
    ) -> dict[str, FloatArray]:
        """Each class's probability (NaN where missing) of the kept rows."""
        if not self.classes:
            return {}
        assert isinstance(prediction, pa.StructArray)
        objects = prediction.take(take)
        names = {field.name for field in objects.type}
        nothing = np.full(len(objects), np.nan)
        return {
            f"class:{c}": (
                pc.struct_field(objects, [objects.type.get_field_index(c)])
                .to_numpy(zero_copy_only=False)
                .astype(np.float64)
                if c in names
                else nothing
            )
            for c in self.classes
        }

    def _prediction(self, predictions: dict[str, np.ndarray]) -> FloatArray | pa.Array:
        """The waiting predictions of the pairs, as the decoder gave them."""
        if not self.classes:
            return self._column(predictions["value"], self.prediction_kind, "prediction")
        children = [predictions[f"class:{c}"] for c in self.classes]
        return pa.StructArray.from_arrays(
            [pa.array(v, mask=np.isnan(v)) for v in children], names=list(self.classes)
        )

    def _values(
        self, column: FloatArray | pa.Array | None, rows: IntArray, name: str
    ) -> FloatArray:
        if isinstance(column, pa.StructArray):
            return np.zeros(len(rows))  # the classes' columns hold the values
        if isinstance(column, pa.Array):
            codes = self.strings[name].encode(column.take(pa.array(rows)))
            return codes.astype(np.float64)
        assert column is not None
        return np.asarray(column, dtype=np.float64)[rows]

    def _column(self, values: FloatArray, kind: Kind, name: str) -> FloatArray | pa.Array:
        if kind == "categorical":
            return self.strings[name].decode(values.astype(np.int64))
        return values

    def _count_gone(self, rows: Mapping[str, np.ndarray], reason: str) -> None:
        for model, n in _code_counts(rows["model"], self.strings["model"]):
            self.stats.unlabeled[(model, reason)] += n

    def _count_unmatched(self, rows: Mapping[str, np.ndarray]) -> None:
        for model, n in _code_counts(rows["model"], self.strings["model"]):
            self.stats.unmatched[model] += n

    def _pending_sizes(self) -> None:
        """Waiting predictions per model (a pass over the buffer: run at window close only)."""
        live = self.pending.columns["model"][self.pending.live]
        self.stats.pending = dict(_code_counts(live, self.strings["model"]))


def _present(values: FloatArray | pa.Array | None, n: int) -> np.ndarray:
    """Where a prediction or label column (of ``n`` rows) has a value."""
    if values is None:
        return np.zeros(n, dtype=bool)
    if isinstance(values, pa.Array):
        valid: np.ndarray = pc.is_valid(values).to_numpy(zero_copy_only=False)
        return valid
    present: np.ndarray = ~np.isnan(np.asarray(values, dtype=np.float64))
    return present


def _keys(model: pa.Array, event_id: pa.Array) -> list[str]:
    """``model`` and ``event_id`` joined by a unit separator, one string per row."""
    joined = pc.binary_join_element_wise(model, event_id, "\x1f")
    return joined.to_pylist()  # type: ignore[no-any-return]


def _select(keys: list[str], mask: np.ndarray) -> list[str]:
    return np.asarray(keys, dtype=object)[mask].tolist()  # type: ignore[no-any-return]


def _value_counts(values: pa.Array) -> list[tuple[str, int]]:
    return [(v["values"], v["counts"]) for v in pc.value_counts(values).to_pylist()]


def _code_counts(codes: np.ndarray, names: Interner) -> list[tuple[str, int]]:
    if not len(codes):
        return []
    counts = np.bincount(codes.astype(np.int64), minlength=len(names.names))
    return [(names.names[i], int(counts[i])) for i in np.flatnonzero(counts)]
