"""Snapshot and restore of a :class:`~monitor.pipeline.Pipeline`'s state as plain JSON data.

A snapshot holds everything that shapes the pipeline's future output, so that a pipeline
restored from it continues exactly like the one it was taken from::

    {"format": "driftwarden.state/5",
     "baselines": {model: "sha256:…"},           what it was taken with: restore refuses when
     "version_baselines": {model: {version: "sha256:…"}},
     "settings": {"windows.size": ms or "1mo", …}, a digest or one of these settings
                                                  differs (windows.timezone and .offset are
                                                  recorded when not UTC and 0)
     "watermarks": [[partition, largest event time ms], …],
     "late": {model: events dropped as late},
     "closed_through": ms (windows ending at or before it never reopen),
     "segment_values": [{"model", "field", "values": [first come, first kept]}],
     "version_values": [{"model", "values": [first come, first kept]}],
     "capped": {cap: events counted under __other__ (windows: model_versions, segment_values)},
     "open": [{"model", "model_version", "segment", "start_ms", "end_ms", "events",
               "counts": [int, …], "performance": [int, …], "detections": {name: n}}],
     "score_streams": buffered prediction scores of open windows and the per-event detectors,
     "checks": [{"model", "model_version", "segment", "subject", "check", "level",
                 "above_warning", "above_intervention"}],
     "series": [{"model", "model_version", "segment", "name", "detector": state()}],
     "totals": {"events": {model: n}, "rejected": {reason: n}, "windows": n},
     "decoder": {"unknown_features": {name: n}, "type_mismatches": {name: n},
                 "capped": {"unknown_features": n}},
     "labels": {"join": waiting predictions and early labels (monitor.join.label_join),
                "late": {model: pairs dated in a closed window},
                "errors": open windows' pair errors and error-stream detectors}}

Per-event arrays (the buffered scores and pair errors with their times and tie-breaks, the
join's waiting rows) are packed as base64 of their bytes (:mod:`monitor.packed`), not as lists.
Lists are sorted by their keys and mappings built in sorted order, so equal states serialise to
equal bytes. Models loaded now that the snapshot does not know simply start fresh.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from monitor.errors import CheckpointError
from monitor.pipeline import Pipeline
from monitor.stage_one import Totals
from monitor.state.parts import (
    checks_state,
    read_checks,
    read_series,
    read_window,
    series_state,
    sorted_counts,
    windows_state,
)

STATE_FORMAT = "driftwarden.state/5"

_FRESH = "delete the checkpoint to start fresh"


def snapshot(pipeline: Pipeline) -> dict[str, Any]:
    """Everything that influences ``pipeline``'s future output, as JSON-serialisable data."""
    windower = pipeline.windower
    return {
        "format": STATE_FORMAT,
        "baselines": {
            model: pipeline.baselines[model].digest for model in sorted(pipeline.baselines)
        },
        "version_baselines": _version_digests(pipeline),
        "settings": _settings_of(pipeline),
        "watermarks": [[p, t] for p, t in sorted(windower.counters.seen().items())],
        "late": sorted_counts(windower.late.by_model),
        "closed_through": int(windower.closed_through),
        "segment_values": [
            {"model": model, "field": field, "values": list(values.known)}
            for (model, field), values in sorted(
                windower.segment_values.items(), key=lambda item: item[0]
            )
        ],
        "version_values": [
            {"model": model, "values": list(values.known)}
            for model, values in sorted(windower.version_values.items())
        ],
        "capped": sorted_counts(windower.capped),
        "open": windows_state(windower.windows.open.values()),
        "score_streams": {
            "buffers": windower.windows.score_values.state(),
            "detectors": pipeline.stage2.score_detectors.state(),
        },
        "checks": checks_state(pipeline.check_states),
        "series": series_state(pipeline.stage2.series),
        "totals": {
            "events": sorted_counts(pipeline.totals.events),
            "rejected": sorted_counts(pipeline.totals.rejected),
            "windows": pipeline.totals.windows,
        },
        "decoder": {
            "unknown_features": sorted_counts(pipeline.stage1.decoder.unknown_features),
            "type_mismatches": sorted_counts(pipeline.stage1.decoder.type_mismatches),
            "capped": sorted_counts(pipeline.stage1.decoder.capped),
        },
        "labels": {
            "join": pipeline.stage1.join.state(),
            "late": sorted_counts(windower.late_labels.by_model),
            "errors": {
                "buffers": windower.windows.error_values.state(),
                "detectors": pipeline.stage2.error_detectors.state(),
            },
        },
    }


def _version_digests(pipeline: Pipeline) -> dict[str, dict[str, str]]:
    return {
        model: {v: b.digest for v, b in sorted(by_version.items())}
        for model, by_version in sorted(pipeline.versions.items())
    }


_GRID_DEFAULTS: dict[str, Any] = {"windows.timezone": "UTC", "windows.offset": 0}
"""Grid settings a snapshot records only when they differ from these (as before they existed)."""


def _settings_of(pipeline: Pipeline) -> dict[str, Any]:
    """The settings a state depends on, by config field name, as JSON data."""
    settings = pipeline.settings
    windows = settings.windows
    grid = {"windows.timezone": windows.timezone, "windows.offset": windows.offset}
    return {
        "windows.size": settings.windows.size,
        **{name: value for name, value in grid.items() if value != _GRID_DEFAULTS[name]},
        "windows.allowed_lateness": settings.windows.allowed_lateness,
        "segments.fields": list(settings.segments.fields),
        "segments.max_values": settings.segments.max_values,
        "windows.max_versions": settings.windows.max_versions,
        "decode.max_unknown_features": settings.decode.max_unknown_features,
        "detectors.prediction": [d.model_dump(mode="json") for d in settings.detectors.prediction],
        "detectors.window_series": [
            d.model_dump(mode="json") for d in settings.detectors.window_series
        ],
        "detectors.errors": [d.model_dump(mode="json") for d in settings.detectors.errors],
    }


def restore(pipeline: Pipeline, state: Mapping[str, Any]) -> None:
    """Put a snapshot's state back into ``pipeline`` so processing continues exactly.

    Raises :class:`CheckpointError` (and leaves ``pipeline`` untouched) when the snapshot has
    another format, was taken with another baseline or other window, segment or detector
    settings, or is malformed.
    """
    try:
        _check_compatible(pipeline, state)
        apply = _rebuild(pipeline, state)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        reason = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
        raise CheckpointError(f"checkpoint state cannot be restored ({reason}); {_FRESH}") from None
    apply()


def _check_compatible(pipeline: Pipeline, state: Mapping[str, Any]) -> None:
    written = state.get("format")
    if written != STATE_FORMAT:
        raise CheckpointError(
            f"checkpoint state has format {written!r}, but this driftwarden reads "
            f"{STATE_FORMAT!r}; {_FRESH}"
        )
    then = {**_GRID_DEFAULTS, **state["settings"]}
    for name, now in {**_GRID_DEFAULTS, **_settings_of(pipeline)}.items():
        if then.get(name) != now:
            raise CheckpointError(
                f"checkpoint was taken with {name}={_text(then.get(name))}, but "
                f"{name}={_text(now)} is configured now; set it back or {_FRESH}"
            )
    then_versions, now_versions = state["version_baselines"], _version_digests(pipeline)
    if then_versions != now_versions:
        raise CheckpointError(
            f"checkpoint was taken with version baselines {_text(then_versions)}, but "
            f"{_text(now_versions)} are loaded now; configure them back or {_FRESH}"
        )
    for model, digest in sorted(state["baselines"].items()):
        if model not in pipeline.baselines:
            raise CheckpointError(
                f"checkpoint holds state of model {model!r}, which is not loaded now; "
                f"configure it again or {_FRESH}"
            )
        loaded = pipeline.baselines[model].digest
        if loaded != digest:
            raise CheckpointError(
                f"checkpoint was taken with baseline {digest} of model {model}, but {loaded} "
                f"is loaded now; {_FRESH}"
            )


def _rebuild(pipeline: Pipeline, state: Mapping[str, Any]) -> Callable[[], None]:
    """Build every piece of ``state`` first; return the step that installs them all."""
    windower = pipeline.windower
    seen = {int(p): int(t) for p, t in state["watermarks"]}
    late = {str(m): int(n) for m, n in state["late"].items()}
    closed_through = int(state["closed_through"])
    known = {
        (e["model"], e["field"]): {str(v): i for i, v in enumerate(e["values"])}
        for e in state["segment_values"]
    }
    unknown = sorted(set(known) - set(windower.segment_values))
    if unknown:
        raise ValueError(f"segment values of unknown model and field {unknown[0]}")
    versions = {
        e["model"]: {str(v): i for i, v in enumerate(e["values"])} for e in state["version_values"]
    }
    strangers = sorted(set(versions) - set(windower.version_values))
    if strangers:
        raise ValueError(f"model versions of unknown model {strangers[0]}")
    capped = Counter(state["capped"])
    windows = [read_window(e, pipeline.layouts[e["model"]]) for e in state["open"]]
    checks = read_checks(state["checks"])
    series = read_series(state["series"])
    totals = state["totals"]
    restored_totals = Totals(
        Counter(totals["events"]), Counter(totals["rejected"]), int(totals["windows"])
    )
    decoder = state["decoder"]
    unknown_features = Counter(decoder["unknown_features"])
    type_mismatches = Counter(decoder["type_mismatches"])
    decoder_capped = Counter(decoder["capped"])
    labels = state["labels"]
    join = pipeline.stage1.join.restored(labels["join"])
    late_labels = {str(m): int(n) for m, n in labels["late"].items()}
    error_values = windower.windows.error_values.restored(labels["errors"]["buffers"])
    error_detectors = pipeline.stage2.error_detectors.restored(labels["errors"]["detectors"])
    score_values = windower.windows.score_values.restored(state["score_streams"]["buffers"])
    score_detectors = pipeline.stage2.score_detectors.restored(state["score_streams"]["detectors"])

    def install() -> None:
        windower.restore(seen, closed_through)
        windower.windows.late.by_model = late
        for key, values in known.items():
            windower.segment_values[key].known = values
        for model, values in versions.items():
            windower.version_values[model].known = values
        windower.caps.capped = capped
        windower.windows.open = {(w.key, w.start_ms): w for w in windows}
        windower.windows.score_values = score_values
        pipeline.stage2.score_detectors = score_detectors
        pipeline.stage2.check_states = checks
        pipeline.stage2.series = series
        pipeline.totals.events = restored_totals.events
        pipeline.totals.rejected = restored_totals.rejected
        pipeline.totals.windows = restored_totals.windows
        pipeline.stage1.decoder.unknown_features = unknown_features
        pipeline.stage1.decoder.type_mismatches = type_mismatches
        pipeline.stage1.decoder.capped = decoder_capped
        pipeline.stage1.join = join
        windower.windows.late_labels.by_model = late_labels
        windower.windows.error_values = error_values
        pipeline.stage2.error_detectors = error_detectors

    return install


def _text(value: Any) -> str:
    """A setting's value as compact JSON for a one-line message."""
    return orjson.dumps(value).decode()
