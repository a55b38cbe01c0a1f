"""Events of several models in one batch are counted as each model alone would count them."""

from __future__ import annotations

from dataclasses import fields, replace

import numpy as np
import pyarrow as pa
import pytest

from baselines.build import build_baseline
from baselines.values import Baseline
from monitor.batches import EventBatch
from monitor.exchange.local import Windower
from monitor.window.slot_layout import ModelLayout, column
from monitor.window.windower import WindowKey
from tests.support.builders import make_batch, training

HOUR = 3_600_000


@pytest.fixture(scope="module")
def shifted() -> Baseline:
    """A second model whose bins differ from the shared fixture's (its ``x`` is shifted)."""
    table = training(seed=11)
    table = table.set_column(0, "x", pa.array(table.column("x").to_numpy() * 3 + 2))
    return build_baseline(
        table, model="n", prediction="score", label="label", window_sizes=(100,), replicates=50
    )


def test_interleaved_models_count_into_their_own_bins(
    baseline: Baseline, shifted: Baseline
) -> None:
    """Each model's window holds, slot by slot, the counts of its own events binned alone."""
    layouts = {"m": ModelLayout(baseline), "n": ModelLayout(shifted)}
    assert layouts["m"].by_name["x"].baseline.layout != layouts["n"].by_name["x"].baseline.layout
    n = 400
    owner = np.random.default_rng(5).choice(["m", "n"], n)
    x = np.random.default_rng(6).normal(1, 3, n)
    x[::17] = np.nan
    batch = replace(make_batch(np.arange(n) * 1000, x=x), model=pa.array(owner))
    windower = Windower(layouts, size_ms=HOUR, allowed_lateness_ms=0)
    windower.add(batch)
    closed = {w.key: w for w in windower.flush()}
    for model, layout in layouts.items():
        rows = np.flatnonzero(owner == model)
        expected = np.concatenate(
            [
                np.bincount(
                    s.baseline.slots(column(batch, s.name, s.baseline, rows)),
                    minlength=s.baseline.n_slots,
                )
                for s in layout.subjects
            ]
        )
        window = closed[WindowKey(model, "v1", "")]
        assert window.counts.tolist() == expected.tolist()
        assert window.events == len(rows)


def test_interleaved_models_keep_their_own_first_segment_values(shifted: Baseline) -> None:
    """With room for one platform each, each model keeps the first platform of its own events."""
    layouts = {"m": ModelLayout(shifted), "n": ModelLayout(shifted)}  # no preferred platforms
    owner = ["n", "m", "n", "m", "m", "n"]
    platform = ["ios", "android", "web", "ios", "android", "ios"]
    batch = replace(make_batch(np.arange(6) * 1000, platform=list(platform)), model=pa.array(owner))
    windower = Windower(
        layouts,
        size_ms=HOUR,
        allowed_lateness_ms=0,
        segment_fields=("platform",),
        max_segment_values=1,
    )
    windower.add(windower.fold(batch))
    segments = sorted((w.key.model, w.key.segment, w.events) for w in windower.flush())
    assert segments == [
        ("m", "", 3),
        ("m", "platform=__other__", 1),
        ("m", "platform=android", 2),
        ("n", "", 3),
        ("n", "platform=__other__", 1),
        ("n", "platform=ios", 2),
    ]
    assert windower.capped["segment_values"] == 2


def _rows(batch: EventBatch, rows: np.ndarray) -> EventBatch:
    """The given rows of every column of ``batch``."""

    def take(value: object) -> object:
        if isinstance(value, dict):
            return {name: take(column) for name, column in value.items()}
        if isinstance(value, np.ndarray):
            return value[rows]
        if isinstance(value, pa.Array):
            return value.take(pa.array(rows))
        return value

    return EventBatch(**{f.name: take(getattr(batch, f.name)) for f in fields(batch)})


def test_interleaved_models_count_what_each_counts_alone(
    baseline: Baseline, shifted: Baseline
) -> None:
    """Every window of interleaved models (counts, events and performance from inline labels,
    per version and platform) equals the window of that model's events counted alone."""
    layouts = {"m": ModelLayout(baseline), "n": ModelLayout(shifted)}
    n = 600
    rng = np.random.default_rng(8)
    owner = rng.choice(["m", "n"], n)
    batch = replace(
        make_batch(np.sort(rng.integers(0, 3 * HOUR, n)), seed=9),
        model=pa.array(owner),
        model_version=pa.array(rng.choice(["v1", "v2"], n)),
    )
    options = {"size_ms": HOUR, "allowed_lateness_ms": 0, "segment_fields": ("platform",)}
    together = Windower(layouts, **options)  # type: ignore[arg-type]
    together.add(batch)
    found = {(w.key, w.start_ms): w for w in together.flush()}
    expected = {}
    for model, layout in layouts.items():
        alone = Windower({model: layout}, **options)  # type: ignore[arg-type]
        alone.add(_rows(batch, np.flatnonzero(owner == model)))
        expected.update({(w.key, w.start_ms): w for w in alone.flush()})
    assert sorted(found) == sorted(expected)
    assert any(w.performance.any() for w in found.values())
    for where, window in expected.items():
        got = found[where]
        assert got.events == window.events
        assert got.counts.tolist() == window.counts.tolist()
        assert got.performance.tolist() == window.performance.tolist()
