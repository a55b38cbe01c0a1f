"""Seeded training data and event batches in the shape of the tests' baseline of model "m"."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from monitor.batches import EventBatch


def training(rows: int = 5_000, seed: int = 3) -> pa.Table:
    """Two numeric features, one categorical, a score and a 0/1 label."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, rows)
    score = 1 / (1 + np.exp(-x))
    return pa.table(
        {
            "x": x,
            "y": rng.uniform(0, 10, rows),
            "color": rng.choice(["red", "green", "blue"], rows),
            "platform": rng.choice(["ios", "android"], rows),
            "score": score,
            "label": (rng.random(rows) < score).astype(np.int64),
        }
    )


def make_batch(
    times_ms: list[int] | np.ndarray,
    *,
    x: np.ndarray | None = None,
    color: list[str | None] | None = None,
    platform: list[str | None] | None = None,
    partition: list[int] | np.ndarray | None = None,
    model: str = "m",
    seed: int = 0,
) -> EventBatch:
    """An EventBatch of model ``model`` drawn like the training data unless values are given."""
    n = len(times_ms)
    rng = np.random.default_rng(seed)
    xs = rng.normal(0, 1, n) if x is None else x
    score = 1 / (1 + np.exp(-xs))
    return EventBatch(
        event_time_ms=np.asarray(times_ms, dtype=np.int64),
        partition=np.zeros(n, np.int64) if partition is None else np.asarray(partition, np.int64),
        offset=np.arange(n, dtype=np.int64),
        model=pa.array([model] * n, pa.string()),
        model_version=pa.array(["v1"] * n, pa.string()),
        event_id=pa.array([f"e{i}" for i in range(n)], pa.string()),
        segments={
            "platform": pa.array(
                platform or rng.choice(["ios", "android"], n).tolist(), pa.string()
            )
        },
        numeric={"x": xs, "y": rng.uniform(0, 10, n)},
        categorical={
            "color": pa.array(
                color or rng.choice(["red", "green", "blue"], n).tolist(), pa.string()
            )
        },
        prediction=score,
        label=pa.array((rng.random(n) < score).astype(np.int64).astype(str).tolist(), pa.string()),
    )
