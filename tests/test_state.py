"""Pipeline snapshots: a restored pipeline continues exactly like an uninterrupted one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from baselines.values import Baseline
from monitor.batches import RawRecords
from monitor.config import Settings
from monitor.errors import CheckpointError
from monitor.pipeline import Pipeline
from monitor.sinks.memory import ListSink
from monitor.sources.files import iter_file
from monitor.state.snapshot import STATE_FORMAT, restore, snapshot
from tests.support.state_stream import BATCH, HOUR, NOW_MS
from tests.support.state_stream import report_lines as _lines
from tests.support.state_stream import state_lines as _events
from tests.support.state_stream import state_settings as _settings


def _batches(source: Path, size: int) -> list[RawRecords]:
    """The file's batches, spread over two partitions so watermarks have more than one."""
    batches = []
    for batch in iter_file(source, size):
        assert isinstance(batch, RawRecords)
        batches.append(RawRecords(batch.values, batch.offset % 2, batch.offset, batch.timestamp_ms))
    return batches


def _pipeline(baseline: Baseline, config: Settings | None = None) -> tuple[Pipeline, ListSink]:
    sink = ListSink()
    return Pipeline(config or _settings(), {"m": baseline}, [sink]), sink


def _round_trip(state: dict[str, Any]) -> dict[str, Any]:
    loaded: dict[str, Any] = orjson.loads(orjson.dumps(state))
    return loaded


def _continue(
    baseline: Baseline, state: dict[str, Any], batches: list[RawRecords]
) -> tuple[list[bytes], bytes]:
    """Report lines and final state bytes of a fresh pipeline restored from ``state``."""
    pipeline, sink = _pipeline(baseline)
    restore(pipeline, state)
    for batch in batches:
        pipeline.process_records(batch, NOW_MS)
    pipeline.finish()
    return _lines(sink), orjson.dumps(snapshot(pipeline))


@dataclass(frozen=True)
class Recorded:
    """An uninterrupted run, with a snapshot and the report length at every batch boundary."""

    source: Path
    batches: list[RawRecords]
    report: bytes
    final_state: bytes
    states: list[dict[str, Any]]
    lines: list[bytes]
    emitted: list[int]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory, baseline: Baseline) -> Recorded:
    source = tmp_path_factory.mktemp("state") / "events.jsonl"
    source.write_bytes(b"".join(line + b"\n" for line in _events()))
    batches = _batches(source, BATCH)
    pipeline, sink = _pipeline(baseline)
    states, emitted = [_round_trip(snapshot(pipeline))], [0]
    for batch in batches:
        pipeline.process_records(batch, NOW_MS)
        states.append(_round_trip(snapshot(pipeline)))
        emitted.append(len(sink.records))
    pipeline.finish()
    return Recorded(
        source,
        batches,
        b"".join(_lines(sink)),
        orjson.dumps(snapshot(pipeline)),
        states,
        _lines(sink),
        emitted,
    )


def test_stream_exercises_every_piece_of_state(recorded: Recorded) -> None:
    """Mid-stream, every piece of state is non-empty and the report has alerts and detections."""
    middle = recorded.states[len(recorded.batches) // 2 + 2]
    for piece in ("watermarks", "late", "open", "checks", "series"):
        assert middle[piece], piece
    assert len(middle["watermarks"]) == 2
    scores = middle["score_streams"]
    assert {e["name"] for e in scores["detectors"]} == {"page_hinkley_np", "adwin"}
    assert scores["buffers"] and scores["buffers"][0]["values"]["score"]
    assert [e["values"] for e in middle["segment_values"]] == [["ios", "android", "web"]]
    assert middle["totals"]["rejected"]["invalid_json"] > 0
    assert middle["decoder"] == {
        "unknown_features": {"z": middle["decoder"]["unknown_features"]["z"]},
        "type_mismatches": {"y": middle["decoder"]["type_mismatches"]["y"]},
        "capped": {},
    }
    assert middle["version_values"] == [{"model": "m", "values": ["v2", "v1"]}]
    assert middle["capped"]["segment_values"] > 0  # "tv" past segments.max_values=3
    report = recorded.report
    assert b'"kind":"alert"' in report
    assert b'"segment":"platform=__other__"' in report
    assert b'"drift":true' in report
    assert b'"adwin":{"detections":' in report
    assert b'"page_hinkley_np":{"detections":' in report


def test_snapshots_do_not_change_the_run(recorded: Recorded, baseline: Baseline) -> None:
    """Taking a snapshot after every batch leaves the report as a run without snapshots."""
    pipeline, sink = _pipeline(baseline)
    for batch in recorded.batches:
        pipeline.process_records(batch, NOW_MS)
    pipeline.finish()
    assert b"".join(_lines(sink)) == recorded.report
    assert orjson.dumps(snapshot(pipeline)) == recorded.final_state


def test_restore_at_every_batch_boundary_continues_exactly(
    recorded: Recorded, baseline: Baseline
) -> None:
    """Cut at any batch boundary and restored from JSON, the report and end state are unchanged."""
    for cut, state in enumerate(recorded.states):
        lines, final_state = _continue(baseline, state, recorded.batches[cut:])
        assert b"".join(recorded.lines[: recorded.emitted[cut]] + lines) == recorded.report, cut
        assert final_state == recorded.final_state, cut


@settings(max_examples=6, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch_size=st.integers(50, 1_500), data=st.data())
def test_restore_continues_exactly_for_any_batching(
    recorded: Recorded, baseline: Baseline, batch_size: int, data: st.DataObject
) -> None:
    """With any batch size and cut point, stop, snapshot, restore and continue: same report."""
    batches = _batches(recorded.source, batch_size)
    cut = data.draw(st.integers(0, len(batches)), label="cut")
    pipeline, sink = _pipeline(baseline)
    for batch in batches[:cut]:
        pipeline.process_records(batch, NOW_MS)
    lines, final_state = _continue(baseline, _round_trip(snapshot(pipeline)), batches[cut:])
    assert b"".join(_lines(sink) + lines) == recorded.report
    assert final_state == recorded.final_state


def test_restore_then_snapshot_gives_the_same_bytes(recorded: Recorded, baseline: Baseline) -> None:
    """A snapshot of a freshly restored pipeline serialises to the bytes it was restored from."""
    for state in recorded.states[::4]:
        pipeline, _ = _pipeline(baseline)
        restore(pipeline, state)
        assert orjson.dumps(snapshot(pipeline)) == orjson.dumps(state)


_EMPTY: dict[str, Any] = {
    "watermarks": [],
    "segment_values": [],
    "open": [],
    "score_streams": {"buffers": [], "detectors": []},
    "checks": [],
    "series": [],
    "late": {},
    "totals": {"events": {}, "rejected": {}, "windows": 0},
    "decoder": {"unknown_features": {}, "type_mismatches": {}, "capped": {}},
    "capped": {},
}


def _without(state: dict[str, Any], piece: str) -> dict[str, Any]:
    if piece == "watermarks":  # event-time progress: the maxima and the closed horizon together
        return {**state, "watermarks": [], "closed_through": -(2**63)}
    return {**state, piece: _EMPTY[piece]}


@pytest.mark.parametrize(
    "piece", ["watermarks", "segment_values", "open", "score_streams", "checks", "series"]
)
def test_losing_a_piece_of_state_changes_the_report(
    recorded: Recorded, baseline: Baseline, piece: str
) -> None:
    """Restoring without one piece of report-shaping state gives a different report at some cut."""
    cuts = range(len(recorded.batches) // 2, len(recorded.batches))
    assert any(
        b"".join(
            recorded.lines[: recorded.emitted[cut]]
            + _continue(baseline, _without(recorded.states[cut], piece), recorded.batches[cut:])[0]
        )
        != recorded.report
        for cut in cuts
    )


@pytest.mark.parametrize("piece", ["late", "totals", "decoder", "capped"])
def test_losing_a_counter_changes_the_end_state(
    recorded: Recorded, baseline: Baseline, piece: str
) -> None:
    """Restoring without the late, total, decoder or cap counts leaves wrong counts at the end."""
    cut = len(recorded.batches) // 2
    state = _without(recorded.states[cut], piece)
    _, final_state = _continue(baseline, state, recorded.batches[cut:])
    assert final_state != recorded.final_state


def test_snapshot_records_what_it_was_taken_with(recorded: Recorded, baseline: Baseline) -> None:
    """A snapshot names its format, the baseline digests and the settings it depends on."""
    state = recorded.states[0]
    assert state["format"] == STATE_FORMAT
    assert state["baselines"] == {"m": baseline.digest}
    assert state["settings"] == {
        "windows.size": HOUR,
        "windows.allowed_lateness": 600_000,
        "segments.fields": ["platform"],
        "segments.max_values": 3,
        "windows.max_versions": 20,
        "decode.max_unknown_features": 100,
        "detectors.prediction": [
            {"name": "page_hinkley_np", "params": {}},
            {"name": "adwin", "params": {}},
        ],
        "detectors.window_series": [
            {"name": "page_hinkley_np", "params": {"min_instances": 5, "threshold": 1.0}}
        ],
        "detectors.errors": [
            {"name": "ddm_np", "params": {}, "stream": "error"},
            {"name": "hddm_a", "params": {}, "stream": "error"},
            {"name": "adwin", "params": {}, "stream": "abs_error"},
            {"name": "page_hinkley_np", "params": {}, "stream": "abs_error"},
        ],
    }


def test_model_added_since_the_snapshot_starts_fresh(
    recorded: Recorded, baseline: Baseline
) -> None:
    """A model configured after the snapshot was taken starts empty; the others are restored."""
    state = recorded.states[5]
    models = [{"name": "m", "baseline": "m.json"}, {"name": "n", "baseline": "n.json"}]
    config, baselines = _settings(models=models), {"m": baseline, "n": baseline}
    fresh = snapshot(Pipeline(config, baselines, []))
    pipeline = Pipeline(config, baselines, [])
    restore(pipeline, state)
    after = snapshot(pipeline)
    assert after["baselines"] == {"m": baseline.digest, "n": baseline.digest}
    assert after["open"] == state["open"]
    assert after["segment_values"] == [state["segment_values"][0], fresh["segment_values"][1]]


def _refusal(baseline: Baseline, state: dict[str, Any], config: Settings | None = None) -> str:
    pipeline, _ = _pipeline(baseline, config)
    before = orjson.dumps(snapshot(pipeline))
    with pytest.raises(CheckpointError) as error:
        restore(pipeline, state)
    assert orjson.dumps(snapshot(pipeline)) == before
    message = str(error.value)
    assert "\n" not in message
    return message


def test_changed_baseline_is_refused(recorded: Recorded, baseline: Baseline) -> None:
    """A snapshot taken with another baseline of the model is refused, naming both digests."""
    other = "sha256:" + "0" * 64
    state = {**recorded.states[5], "baselines": {"m": other}}
    assert _refusal(baseline, state) == (
        f"checkpoint was taken with baseline {other} of model m, but {baseline.digest} is "
        "loaded now; delete the checkpoint to start fresh"
    )


def test_a_snapshot_records_the_digests_of_per_version_baselines(baseline: Baseline) -> None:
    """A pipeline with a per-version baseline snapshots its digest under model and version."""
    pipeline = Pipeline(_settings(), {"m": baseline}, [], versions={"m": {"v2": baseline}})
    assert snapshot(pipeline)["version_baselines"] == {"m": {"v2": baseline.digest}}


def test_changed_version_baselines_are_refused(recorded: Recorded, baseline: Baseline) -> None:
    """A snapshot taken with a per-version baseline that is not loaded now is refused."""
    state = {**recorded.states[5], "version_baselines": {"m": {"v2": "sha256:0"}}}
    assert _refusal(baseline, state) == (
        'checkpoint was taken with version baselines {"m":{"v2":"sha256:0"}}, but {} are '
        "loaded now; configure them back or delete the checkpoint to start fresh"
    )


def test_model_no_longer_loaded_is_refused(recorded: Recorded, baseline: Baseline) -> None:
    """A snapshot holding a model that is not loaded now is refused."""
    state = recorded.states[5]
    state = {**state, "baselines": {**state["baselines"], "car-loan": baseline.digest}}
    assert _refusal(baseline, state) == (
        "checkpoint holds state of model 'car-loan', which is not loaded now; "
        "configure it again or delete the checkpoint to start fresh"
    )


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"windows": {"size": "30m", "allowed_lateness": "10m"}},
            "windows.size=3600000, but windows.size=1800000",
        ),
        (
            {"windows": {"size": "1h", "allowed_lateness": "0s"}},
            "windows.allowed_lateness=600000, but windows.allowed_lateness=0",
        ),
        (
            {"segments": {"fields": ["platform"], "max_values": 5}},
            "segments.max_values=3, but segments.max_values=5",
        ),
        (
            {"detectors": {"prediction": [{"name": "page_hinkley_np"}]}},
            'detectors.prediction=[{"name":"page_hinkley_np","params":{}},{"name":"adwin"',
        ),
        (
            {"segments": {"fields": ["region"], "max_values": 3}},
            'segments.fields=["platform"], but segments.fields=["region"]',
        ),
        (
            {
                "detectors": {
                    "prediction": [{"name": "page_hinkley_np"}, {"name": "adwin"}],
                    "window_series": [],
                }
            },
            'detectors.window_series=[{"name":"page_hinkley_np"',
        ),
        (
            {
                "detectors": {
                    "prediction": [{"name": "page_hinkley_np"}, {"name": "adwin"}],
                    "errors": [],
                }
            },
            'detectors.errors=[{"name":"ddm_np"',
        ),
        (
            {"windows": {"size": "1h", "allowed_lateness": "10m", "max_versions": 5}},
            "windows.max_versions=20, but windows.max_versions=5",
        ),
        (
            {"decode": {"max_unknown_features": 50}},
            "decode.max_unknown_features=100, but decode.max_unknown_features=50",
        ),
    ],
)
def test_changed_settings_are_refused(
    recorded: Recorded, baseline: Baseline, overrides: dict[str, Any], expected: str
) -> None:
    """A snapshot taken with other window, segment or detector settings is refused."""
    message = _refusal(baseline, recorded.states[5], _settings(**overrides))
    assert message.startswith(f"checkpoint was taken with {expected}")
    assert message.endswith(
        "is configured now; set it back or delete the checkpoint to start fresh"
    )


def test_unknown_format_is_refused(recorded: Recorded, baseline: Baseline) -> None:
    """A snapshot of another format is refused."""
    state = {**recorded.states[5], "format": "driftwarden.state/9"}
    assert _refusal(baseline, state) == (
        "checkpoint state has format 'driftwarden.state/9', but this driftwarden reads "
        f"'{STATE_FORMAT}'; delete the checkpoint to start fresh"
    )


def test_malformed_state_is_refused_untouched(recorded: Recorded, baseline: Baseline) -> None:
    """A snapshot missing a piece is refused with one line and installs nothing."""
    state = {k: v for k, v in recorded.states[5].items() if k != "decoder"}
    assert _refusal(baseline, state) == (
        "checkpoint state cannot be restored (missing field 'decoder'); "
        "delete the checkpoint to start fresh"
    )


def test_window_of_another_layout_is_refused(recorded: Recorded, baseline: Baseline) -> None:
    """An open window whose counts do not fit the baseline's slots is refused."""
    state = recorded.states[5]
    window = {**state["open"][0], "counts": [1, 2, 3]}
    message = _refusal(baseline, {**state, "open": [window, *state["open"][1:]]})
    assert "does not have the baseline's slot counts" in message


def test_segment_values_of_an_unknown_field_are_refused(
    recorded: Recorded, baseline: Baseline
) -> None:
    """Segment values saved for a field not configured now are refused, naming model and field."""
    state = recorded.states[5]
    extra = {"model": "m", "field": "region", "values": ["eu"]}
    message = _refusal(baseline, {**state, "segment_values": [*state["segment_values"], extra]})
    assert message == (
        "checkpoint state cannot be restored (segment values of unknown model and field "
        "('m', 'region')); delete the checkpoint to start fresh"
    )


def test_an_open_windows_detections_survive_a_restore(
    recorded: Recorded, baseline: Baseline
) -> None:
    """Detections counted into an open window are restored with it."""
    state = recorded.states[5]
    window = {**state["open"][0], "detections": {"adwin": 2, "kswin": 1}}
    pipeline, _ = _pipeline(baseline)
    restore(pipeline, {**state, "open": [window, *state["open"][1:]]})
    assert snapshot(pipeline)["open"][0]["detections"] == {"adwin": 2, "kswin": 1}


def test_late_label_counts_survive_a_restore(recorded: Recorded, baseline: Baseline) -> None:
    """The count of label pairs that came too late is restored per model."""
    state = recorded.states[5]
    labels = {**state["labels"], "late": {"m": 3}}
    pipeline, _ = _pipeline(baseline)
    restore(pipeline, {**state, "labels": labels})
    assert snapshot(pipeline)["labels"]["late"] == {"m": 3}


def test_model_versions_of_an_unknown_model_are_refused(
    recorded: Recorded, baseline: Baseline
) -> None:
    """Model versions saved for a model not loaded now are refused, naming the model."""
    state = recorded.states[5]
    extra = {"model": "x", "values": ["v1"]}
    message = _refusal(baseline, {**state, "version_values": [*state["version_values"], extra]})
    assert message == (
        "checkpoint state cannot be restored (model versions of unknown model x); "
        "delete the checkpoint to start fresh"
    )


def test_the_decoders_capped_counts_survive_a_restore(
    recorded: Recorded, baseline: Baseline
) -> None:
    """Unknown feature names counted under __other__ past the cap are restored."""
    state = recorded.states[5]
    decoder = {**state["decoder"], "capped": {"unknown_features": 7}}
    pipeline, _ = _pipeline(baseline)
    restore(pipeline, {**state, "decoder": decoder})
    assert snapshot(pipeline)["decoder"]["capped"] == {"unknown_features": 7}
