"""The label-join tests' stream: predictions of model "m" and their labels as separate events,
the partitions of the two topics, and the settings that join them."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson

from monitor.batches import RawRecords
from monitor.config import Settings, load_settings
from tests.support.kafka import append_events, create_topic

HOUR = 3_600_000
T0 = 1_554_076_800_000  # 2019-04-01T00:00:00Z
NOW_MS = T0 + 400 * HOUR
PREDICTIONS, LABELS = 0, 1  # partition ids of the two topics


def label_settings(**overrides: Any) -> Settings:
    """Hourly windows without lateness, per platform, a prediction and a label topic;
    ``overrides`` replace whole top-level sections."""
    options: dict[str, Any] = {
        "models": [{"name": "m", "baseline": "m.json"}],
        "windows": {"size": "1h", "allowed_lateness": "0s"},
        "segments": {"fields": ["platform"]},
        "alerts": {"min_events": 50, "performance": {"min_labels": 50}},
        "kafka": {"prediction_topics": ["predictions"], "label_topics": ["labels"]},
    }
    options.update(overrides)
    return load_settings(None, **options)


def labelled_stream(
    n: int = 6_000, hours: int = 6, flip_from_hour: int | None = None, delay_ms: int = 60_000
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Predictions like the training data and their labels ``delay_ms`` later; labels are
    inverted from ``flip_from_hour`` on (concept drift: the inputs do not change)."""
    rng = np.random.default_rng(11)
    times = T0 + np.sort(rng.integers(0, hours * HOUR, n))
    x = rng.normal(0, 1, n)
    score = 1 / (1 + np.exp(-x))
    label = (rng.random(n) < score).astype(int)
    if flip_from_hour is not None:
        label = np.where(times >= T0 + flip_from_hour * HOUR, 1 - label, label)
    platform = rng.choice(["ios", "android"], n)
    y = rng.uniform(0, 10, n)
    color = rng.choice(["red", "green", "blue"], n)
    predictions = [
        {
            "event_id": f"e{i}",
            "model": "m",
            "model_version": "v1",
            "timestamp": int(times[i]),
            "features": {"x": float(x[i]), "y": float(y[i]), "color": str(color[i])},
            "segments": {"platform": str(platform[i])},
            "prediction": float(score[i]),
        }
        for i in range(n)
    ]
    labels = [
        {"event_id": f"e{i}", "model": "m", "timestamp": int(times[i]) + delay_ms, "label": int(y)}
        for i, y in enumerate(label)
    ]
    return predictions, labels


def object_records(objects: list[dict[str, Any]], partition: int) -> RawRecords:
    """``objects`` as JSON messages of ``partition`` at offsets 0, 1, … without record times."""
    n = len(objects)
    return RawRecords(
        [orjson.dumps(o) for o in objects],
        np.full(n, partition, np.int64),
        np.arange(n, dtype=np.int64),
        np.full(n, -1, np.int64),
    )


def labelled_topics(bootstrap: str, partitions: int = 1, **stream: Any) -> tuple[str, str]:
    """A new prediction topic and label topic of ``partitions`` each, holding
    :func:`labelled_stream` (``stream`` its arguments), keyed by event id."""
    predictions, labels = labelled_stream(**stream)
    names = (
        create_topic(bootstrap, "pred", partitions),
        create_topic(bootstrap, "labels", partitions),
    )
    append_events(bootstrap, names[0], predictions)
    append_events(bootstrap, names[1], labels)
    return names
