"""The snapshot tests' stream: JSON lines that exercise every piece of pipeline state, and the
settings that judge them."""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson

from monitor.config import Settings, load_settings
from monitor.sinks.base import report_json
from monitor.sinks.memory import ListSink

HOUR = 3_600_000
NOW_MS = 100 * HOUR
BATCH = 200


def state_lines(hours: int = 10, per_hour: int = 180, shift_from_hour: int = 6) -> list[bytes]:
    """Lines of a stream that exercises every piece of pipeline state.

    Two model versions, segment values beyond the cap ("web" early, "tv" later), a drift of x
    from ``shift_from_hour`` on (alerts, per-event and window-series detections), events two
    hours late (one opens every batch of 200 lines, where only the restored watermark knows it
    is late), unknown features, text in a numeric feature and unparseable lines.
    """
    rng = np.random.default_rng(11)
    times = np.sort(rng.integers(0, hours * HOUR, hours * per_hour))
    lines = []
    for i, t in enumerate(times.tolist()):
        hour = t // HOUR
        late = i % 25 == 0 and hour >= 2
        x = float(rng.normal(1.5 if hour >= shift_from_hour else 0.0, 1))
        platform = str(rng.choice(["ios", "android"]))
        if rng.random() < 0.05:
            platform = "web"
        elif hour >= 4 and rng.random() < 0.1:
            platform = "tv"
        features: dict[str, Any] = {
            "x": x,
            "y": "n/a" if i % 53 == 0 else float(rng.uniform(0, 10)),
            "color": str(rng.choice(["red", "green", "blue"])),
        }
        if i % 41 == 0:
            features["z"] = 1.0
        event = {
            "event_id": f"e{i}",
            "model": "m",
            "model_version": "v2" if i % 4 == 0 else "v1",
            "timestamp": t - 2 * HOUR if late else t,
            "features": features,
            "prediction": float(1 / (1 + np.exp(-x))),
            "label": int(rng.random() < 1 / (1 + np.exp(-x))),
            "segments": {"platform": platform},
        }
        lines.append(b"{oops" if i % 97 == 3 else orjson.dumps(event))
    return lines


def state_settings(**overrides: Any) -> Settings:
    """Hourly windows with 10 minutes' lateness, at most 3 platforms, two prediction detectors;
    ``overrides`` replace whole top-level sections."""
    options: dict[str, Any] = {
        "models": [{"name": "m", "baseline": "m.json"}],
        "windows": {"size": "1h", "allowed_lateness": "10m"},
        "segments": {"fields": ["platform"], "max_values": 3},
        "alerts": {"min_events": 50, "performance": {"min_labels": 50}},
        "detectors": {"prediction": [{"name": "page_hinkley_np"}, {"name": "adwin"}]},
    }
    options.update(overrides)
    return load_settings(None, **options)


def report_lines(sink: ListSink) -> list[bytes]:
    """Each report object the sink received, as the report file holds it."""
    return [report_json(report) for report in sink.reports()]
