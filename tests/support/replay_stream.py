"""The replay tests' stream of model "m": seeded events with an optional shift of ``x``, as JSON
Lines or flat-file rows, and the settings that judge it in hourly windows."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa

from baselines.values import Baseline
from monitor.app import replay_to_file
from monitor.config import Settings, load_settings

HOUR = 3_600_000


def drifting_events(
    n: int = 3_000, *, hours: int = 6, shift_from_hour: int = 99
) -> list[dict[str, object]]:
    """``n`` labelled events over ``hours`` hours from epoch 0 in time order, like the training
    data until ``shift_from_hour``, from which ``x`` is shifted by +2."""
    rng = np.random.default_rng(8)
    times = np.sort(rng.integers(0, hours * HOUR, n))
    out = []
    for i, t in enumerate(times.tolist()):
        x = float(rng.normal(2.0 if t >= shift_from_hour * HOUR else 0.0, 1))
        out.append(
            {
                "event_id": f"e{i}",
                "model": "m",
                "model_version": "v1",
                "timestamp": t,
                "features": {
                    "x": x,
                    "y": float(rng.uniform(0, 10)),
                    "color": str(rng.choice(["red", "green", "blue"])),
                },
                "prediction": float(1 / (1 + np.exp(-x))),
                "label": int(rng.random() < 0.5),
                "segments": {"platform": str(rng.choice(["ios", "android"]))},
            }
        )
    return out


def write_jsonl(path: Path, events: list[dict[str, object]]) -> Path:
    """``path``, holding ``events`` as JSON Lines."""
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    return path


def flat_table(events: list[dict[str, object]]) -> pa.Table:
    """The events as flat-file rows: features and segments become columns of their own."""
    return pa.Table.from_pylist(
        [
            {
                **{k: v for k, v in e.items() if k not in ("features", "segments")},
                **e["features"],  # type: ignore[dict-item]
                **e["segments"],  # type: ignore[dict-item]
            }
            for e in events
        ]
    )


def replay_settings(tmp_path: Path, baseline: Baseline) -> Settings:
    """Hourly windows without lateness, per platform, for ``baseline`` saved in ``tmp_path``."""
    path = tmp_path / "m.json"
    baseline.save(path)
    return load_settings(
        None,
        models=[{"name": "m", "baseline": path}],
        windows={"size": "1h", "allowed_lateness": "0s"},
        segments={"fields": ["platform"]},
        alerts={"min_events": 50, "performance": {"min_labels": 50}},
    )


def two_model_report(folder: Path, baseline: Baseline) -> bytes:
    """The replay report of two models, m v1 drifting from hour 3 and n v2 (``baseline`` under
    another name) from hour 1, per platform: windows with alerts of several checks each."""
    second = dataclasses.replace(baseline, model="n")
    events = drifting_events(1_500, shift_from_hour=3)
    for event in drifting_events(1_500, shift_from_hour=1):
        event.update(model="n", model_version="v2", event_id=f"n{event['event_id']}")
        events.append(event)
    events.sort(key=lambda event: int(event["timestamp"]))  # type: ignore[call-overload]
    models = []
    for model in (baseline, second):
        model.save(folder / f"{model.model}.json")
        models.append({"name": model.model, "baseline": folder / f"{model.model}.json"})
    settings = load_settings(
        None,
        models=models,
        windows={"size": "1h", "allowed_lateness": "0s"},
        segments={"fields": ["platform"]},
        alerts={"min_events": 50, "performance": {"min_labels": 50}},
    )
    source = write_jsonl(folder / "events.jsonl", events)
    output = folder / "report.jsonl"
    replay_to_file(settings, {"m": baseline, "n": second}, source, output, batch_size=200)
    return output.read_bytes()
