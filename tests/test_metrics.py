"""The Prometheus collector: scraped over HTTP, its samples equal the report's numbers."""

from __future__ import annotations

import urllib.request
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry, DuplicateTimeseries

from baselines.values import Baseline
from monitor.batches import RawRecords
from monitor.config import load_settings
from monitor.evaluate.levels import Level
from monitor.pipeline import Pipeline
from monitor.runtime.http import MonitorServer
from monitor.sinks.collector import DriftCollector, RunningTotals, kept_segments, segment_field
from monitor.sinks.latest_windows import HeldLevel, LatestWindows
from monitor.sinks.memory import ListSink
from monitor.sinks.metric_families import SUBJECT_STATISTICS
from monitor.sinks.report import epoch_seconds, iso_ms, read_record

HOUR = 3_600_000
Samples = dict[str, dict[tuple[tuple[str, str], ...], float]]


def labels(**pairs: str) -> tuple[tuple[str, str], ...]:
    """A sample's label set in the form :func:`scrape` keys it by."""
    return tuple(sorted(pairs.items()))


def scrape(server: MonitorServer) -> Samples:
    """GET /metrics and parse it: sample name → label set → value."""
    url = f"http://127.0.0.1:{server.port}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return out


@dataclass
class Exporter:
    """A LatestWindows sink, its collector on a fresh registry, and the server exposing it."""

    latest: LatestWindows
    server: MonitorServer

    def feed(self, *records: Mapping[str, Any]) -> Samples:
        for record in records:
            self.latest.write(read_record(record))
        return scrape(self.server)


@pytest.fixture
def exporter() -> Iterator[Exporter]:
    """An exporter with ``stale_after=1``, a segment cap of 2 and no totals."""
    latest = LatestWindows(stale_after=1)
    registry = CollectorRegistry()
    DriftCollector(latest, RunningTotals, max_segments=2, registry=registry, version="9.9")
    with MonitorServer(registry, latest, RunningTotals, host="127.0.0.1", port=0) as server:
        yield Exporter(latest, server)


def window(
    hour: int,
    segment: str = "",
    *,
    events: int = 500,
    version: str = "v1",
    psi: float = 0.01,
    level: str = "ok",
    model: str = "m",
) -> dict[str, Any]:
    """A minimal window report of feature ``x`` with one psi check."""
    return {
        "kind": "window",
        "model": model,
        "model_version": version,
        "segment": segment,
        "start": iso_ms(hour * HOUR),
        "end": iso_ms((hour + 1) * HOUR),
        "events": events,
        "features": {"x": {"events": events, "psi": psi, "levels": {"psi": level}}},
        "detectors": {},
    }


def alert(hour: int, to: str, before: str = "ok", segment: str = "") -> dict[str, Any]:
    """The alert report of check psi of ``x`` moving at the end of window ``hour``."""
    return {
        "kind": "alert",
        "model": "m",
        "model_version": "v1",
        "segment": segment,
        "subject": "x",
        "check": "psi",
        "from": before,
        "to": to,
        "value": 0.3,
        "threshold": 0.1,
        "window_end": iso_ms((hour + 1) * HOUR),
    }


# --- a real replay through the pipeline -------------------------------------------------------


def _messages(rng: np.random.Generator, hours: int, per_hour: int) -> list[bytes]:
    """Events of model m drawn like the training data, x shifted by 1.5 from hour 2 on."""
    n = hours * per_hour
    times = np.sort(rng.integers(0, hours * HOUR, n))
    x = rng.normal(0, 1, n) + np.where(times >= 2 * HOUR, 1.5, 0.0)
    score = 1 / (1 + np.exp(-x))
    columns = zip(
        times.tolist(),
        x.tolist(),
        rng.uniform(0, 10, n).tolist(),
        rng.choice(["red", "green", "blue"], n).tolist(),
        rng.choice(["ios", "android"], n).tolist(),
        score.tolist(),
        (rng.random(n) < score).astype(int).tolist(),
        strict=True,
    )
    return [
        orjson.dumps(
            {
                "event_id": f"e{i}",
                "model": "m",
                "model_version": "v1",
                "timestamp": t,
                "features": {"x": xi, "y": yi, "color": color},
                "prediction": p,
                "label": label,
                "segments": {"platform": platform},
            }
        )
        for i, (t, xi, yi, color, platform, p, label) in enumerate(columns)
    ]


@dataclass
class Replay:
    """What a replay reported, its pipeline, and a scrape of the collector fed by it."""

    records: list[Mapping[str, Any]]
    pipeline: Pipeline
    samples: Samples
    digest: str

    def latest_windows(self) -> dict[tuple[str, str, str], Mapping[str, Any]]:
        latest: dict[tuple[str, str, str], Mapping[str, Any]] = {}
        for r in self.records:
            if r["kind"] == "window":
                latest[(r["model"], r["model_version"], r["segment"])] = r
        return latest


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory, baseline: Baseline) -> Iterator[Replay]:
    """Four hours of 300 events with a shift from hour 2, bad messages and one late event."""
    path = tmp_path_factory.mktemp("metrics") / "m.json"
    baseline.save(path)
    settings = load_settings(
        None,
        models=[{"name": "m", "baseline": path}],
        windows={"size": "1h", "allowed_lateness": "0s"},
        segments={"fields": ["platform"]},
        alerts={"min_events": 50, "performance": {"min_labels": 50}},
    )
    kept = ListSink()
    latest = LatestWindows()
    pipeline = Pipeline(settings, {"m": baseline}, [latest, kept])
    late = orjson.dumps({"model": "m", "timestamp": 10, "features": {"x": 0.0}})
    values = [
        *_messages(np.random.default_rng(5), 4, 300),
        b"not json",
        b'{"model": "nope", "timestamp": 0}',
        late,
    ]
    n = len(values)
    offsets = np.arange(n, dtype=np.int64)
    pipeline.process_records(
        RawRecords(values, np.zeros(n, np.int64), offsets, np.full(n, -1, np.int64)), now_ms=HOUR
    )
    pipeline.finish()

    def totals() -> RunningTotals:
        t = pipeline.totals
        return RunningTotals(
            dict(t.events), dict(t.rejected), dict(pipeline.windower.late.by_model), t.windows
        )

    registry = CollectorRegistry()
    DriftCollector(
        latest,
        totals,
        max_segments=10,
        baseline_digests=lambda: {"m": baseline.digest},
        lag_provider=lambda: {("events", 0): 7, ("events", 1): 0},
        version="1.2.3",
        registry=registry,
    )
    with MonitorServer(registry, latest, totals, host="127.0.0.1", port=0) as server:
        yield Replay(kept.reports(), pipeline, scrape(server), baseline.digest)


def test_feature_gauges_equal_the_latest_window_report(replay: Replay) -> None:
    """Every statistic and rate of every feature is exported with the report's exact value."""
    compared = 0
    for (model, version, segment), record in replay.latest_windows().items():
        for feature, scores in record["features"].items():
            for stat, (suffix, _) in SUBJECT_STATISTICS.items():
                key = labels(model=model, model_version=version, segment=segment, feature=feature)
                exported = replay.samples.get(f"driftwarden_feature_{suffix}", {}).get(key)
                assert exported == scores.get(stat), (segment, feature, stat)
                compared += stat in scores
    assert compared == 3 * (3 * 9 - 2)  # 3 keys, 3 features of 9 statistics, ks/wasserstein once


def test_prediction_and_label_gauges_equal_the_report(replay: Replay) -> None:
    """The prediction's and the label's statistics are exported as the report gives them."""
    for (model, version, segment), record in replay.latest_windows().items():
        key = labels(model=model, model_version=version, segment=segment)
        for subject in ("prediction", "label"):
            for stat, (suffix, _) in SUBJECT_STATISTICS.items():
                exported = replay.samples.get(f"driftwarden_{subject}_{suffix}", {}).get(key)
                assert exported == record[subject].get(stat), (segment, subject, stat)


def test_performance_and_reference_equal_the_report(replay: Replay) -> None:
    """Each performance metric and its baseline reference are exported per window key."""
    for (model, version, segment), record in replay.latest_windows().items():
        perf = record["performance"]
        key = {"model": model, "model_version": version, "segment": segment}
        for family, values in (
            ("driftwarden_performance", perf["metrics"]),
            ("driftwarden_performance_reference", perf["reference"]),
        ):
            exported = {
                dict(k)["metric"]: v
                for k, v in replay.samples[family].items()
                if {n: dict(k)[n] for n in key} == key
            }
            assert exported == values
        assert replay.samples["driftwarden_window_labeled_events"][labels(**key)] == perf["labeled"]


def test_window_events_and_last_window_end(replay: Replay) -> None:
    """Window events per key and the end of the model's newest window, in epoch seconds."""
    latest = replay.latest_windows()
    assert replay.samples["driftwarden_window_events"] == {
        labels(model=m, model_version=v, segment=s): r["events"] for (m, v, s), r in latest.items()
    }
    assert replay.samples["driftwarden_last_window_end_timestamp_seconds"] == {
        labels(model="m", model_version="v1"): 4 * 3600.0
    }


def test_alert_levels_equal_the_pipeline_check_states(replay: Replay) -> None:
    """Each exported level is the rank of the level the pipeline's state machine holds."""
    levels = replay.samples["driftwarden_alert_level"]
    states = {
        (k.segment, "prediction" if subject == "__prediction__" else subject, check): state.level
        for (k, subject, check), state in replay.pipeline.check_states.items()
    }
    exported = {
        (dict(k)["segment"], dict(k)["subject"], dict(k)["check"]): v for k, v in levels.items()
    }
    assert exported == {at: states[at].rank for at in exported}
    assert exported[("", "x", "psi")] == 2
    assert len(exported) == 3 * (3 * 3 + 3 + 2)  # 3 keys: 3 checks × 3 features, prediction, perf


def test_counters_equal_the_pipeline_totals(replay: Replay) -> None:
    """Accepted, rejected and late events and closed windows equal the pipeline's counts."""
    s = replay.samples
    assert s["driftwarden_events_total"] == {labels(model="m"): 1201}
    assert s["driftwarden_events_rejected_total"] == {
        labels(reason="invalid_json"): 1,
        labels(reason="unknown_model"): 1,
    }
    assert s["driftwarden_late_events_total"] == {labels(model="m"): 1}
    assert s["driftwarden_windows_closed_total"] == {(): 12}


def test_transitions_and_detections_count_the_report(replay: Replay) -> None:
    """Alert transitions by new level and detector firings are the report's, summed."""
    transitions = Counter(r["to"] for r in replay.records if r["kind"] == "alert")
    detections: Counter[str] = Counter()
    for r in replay.records:
        for name, verdict in r.get("detectors", {}).items():
            detections[name] += verdict.get("detections", 0) + verdict.get("drift", False)
    assert replay.samples["driftwarden_alert_transitions_total"] == {
        labels(model="m", to=to): n for to, n in transitions.items()
    }
    assert replay.samples["driftwarden_drift_detections_total"] == {
        labels(model="m", detector=name): n for name, n in detections.items() if n
    }
    assert transitions["intervention"] > 0


def test_info_and_lag_series(replay: Replay) -> None:
    """Baseline digest, build version and consumer lag per partition are exported."""
    s = replay.samples
    assert s["driftwarden_baseline_info"] == {labels(model="m", digest=replay.digest): 1}
    assert s["driftwarden_build_info"] == {labels(version="1.2.3"): 1}
    assert s["driftwarden_consumer_lag_records"] == {
        labels(topic="events", partition="0"): 7,
        labels(topic="events", partition="1"): 0,
    }


# --- rules on hand-written reports ------------------------------------------------------------


def test_nan_statistic_is_exported_as_nan(exporter: Exporter) -> None:
    """A statistic the report wrote as null (NaN) is exported as NaN, not dropped."""
    record = window(0)
    record["features"]["x"]["psi"] = None
    value = exporter.feed(record)["driftwarden_feature_psi"]
    assert np.isnan(value[labels(model="m", model_version="v1", segment="", feature="x")])


def test_older_window_does_not_replace_newer(exporter: Exporter) -> None:
    """A window ending before the key's latest one is ignored."""
    s = exporter.feed(window(3, psi=0.2), window(2, psi=0.9))
    assert s["driftwarden_feature_psi"] == {
        labels(model="m", model_version="v1", segment="", feature="x"): 0.2
    }


def test_segment_missing_one_window_is_still_exported(exporter: Exporter) -> None:
    """With stale_after=1, a segment whose latest window is one window old stays."""
    s = exporter.feed(window(0), window(0, "platform=ios"), window(1))
    assert {dict(k)["segment"] for k in s["driftwarden_window_events"]} == {"", "platform=ios"}


def test_segment_missing_two_windows_disappears(exporter: Exporter) -> None:
    """With stale_after=1, a segment absent from the two newest windows is no longer exported."""
    exporter.feed(window(0), window(0, "platform=ios", level="warning"))
    s = exporter.feed(window(1), window(2))
    assert {dict(k)["segment"] for k in s["driftwarden_window_events"]} == {""}
    assert {dict(k)["segment"] for k in s["driftwarden_alert_level"]} == {""}
    assert {dict(k)["segment"] for k in s["driftwarden_feature_psi"]} == {""}


def test_retired_version_disappears(exporter: Exporter) -> None:
    """After a rollout from v1 to v2, v1's series go once v2 is two windows ahead."""
    s = exporter.feed(window(0, version="v1"), window(1, version="v2"), window(2, version="v2"))
    assert s["driftwarden_last_window_end_timestamp_seconds"] == {
        labels(model="m", model_version="v2"): 3 * 3600.0
    }


def test_staleness_is_judged_per_model(exporter: Exporter) -> None:
    """A model whose windows lag another model's keeps its series."""
    s = exporter.feed(window(0, model="slow"), window(5, model="m"))
    assert set(s["driftwarden_last_window_end_timestamp_seconds"]) == {
        labels(model="slow", model_version="v1"),
        labels(model="m", model_version="v1"),
    }


def test_forgotten_model_disappears(exporter: Exporter) -> None:
    """forget_model drops the model's windows, levels and counters."""
    exporter.feed(window(0, model="gone"), window(0), alert(0, "warning"))
    exporter.latest.forget_model("m")
    s = scrape(exporter.server)
    assert set(s["driftwarden_window_events"]) == {
        labels(model="gone", model_version="v1", segment="")
    }
    assert "driftwarden_alert_transitions_total" not in s


def test_insufficient_data_keeps_the_held_level(exporter: Exporter) -> None:
    """A window without enough data leaves the exported level at the one the check holds."""
    s = exporter.feed(window(0, level="warning"), alert(0, "warning"))
    key = labels(model="m", model_version="v1", segment="", subject="x", check="psi")
    assert s["driftwarden_alert_level"] == {key: 1}
    s = exporter.feed(window(1, level="insufficient_data"))
    assert s["driftwarden_alert_level"] == {key: 1}


def test_check_without_enough_data_yet_is_not_exported(exporter: Exporter) -> None:
    """A check that never had a window with enough data has no alert_level series."""
    s = exporter.feed(window(0, level="insufficient_data"))
    assert "driftwarden_alert_level" not in s
    assert s["driftwarden_feature_psi"]


def test_alert_transition_sets_the_level(exporter: Exporter) -> None:
    """An alert record moves the exported level even before the next window."""
    s = exporter.feed(window(0, level="warning"), alert(0, "intervention", "warning"))
    key = labels(model="m", model_version="v1", segment="", subject="x", check="psi")
    assert s["driftwarden_alert_level"] == {key: 2}
    assert s["driftwarden_alert_transitions_total"] == {labels(model="m", to="intervention"): 1}


def test_segment_cap_exports_the_busiest_values(exporter: Exporter) -> None:
    """With a cap of 2, the two segment values with most events are exported, plus __other__."""
    s = exporter.feed(
        window(0),
        window(0, "platform=a", events=50),
        window(0, "platform=b", events=300),
        window(0, "platform=c", events=200),
        window(0, "platform=d", events=200),
        window(0, "platform=__other__", events=10),
        window(0, "region=eu", events=5),
    )
    exported = {dict(k)["segment"] for k in s["driftwarden_feature_psi"]}
    assert exported == {"", "platform=b", "platform=c", "platform=__other__", "region=eu"}
    assert s["driftwarden_segment_values_folded"] == {labels(model="m", field="platform"): 2}


def test_folded_segments_raise_the_other_level(exporter: Exporter) -> None:
    """A folded segment's warning shows as the level of field=__other__."""
    s = exporter.feed(
        window(0, "platform=a", events=300),
        window(0, "platform=b", events=200),
        window(0, "platform=c", events=10, level="intervention"),
        window(0, "platform=d", events=10, level="warning"),
    )
    levels = {dict(k)["segment"]: v for k, v in s["driftwarden_alert_level"].items()}
    assert levels == {"platform=a": 0, "platform=b": 0, "platform=__other__": 2}
    assert {dict(k)["segment"] for k in s["driftwarden_window_events"]} == {
        "platform=a",
        "platform=b",
    }


def test_collector_names_are_registered() -> None:
    """Registering a second collector with the same metric names on one registry is refused."""
    registry = CollectorRegistry()
    DriftCollector(LatestWindows(), RunningTotals, max_segments=1, registry=registry)
    with pytest.raises(DuplicateTimeseries):
        DriftCollector(LatestWindows(), RunningTotals, max_segments=1, registry=registry)


def test_invalid_caps_are_refused() -> None:
    """A segment cap below 1 and a negative staleness are user mistakes with a fix."""
    with pytest.raises(ValueError, match="max_segments must be at least 1"):
        DriftCollector(LatestWindows(), RunningTotals, max_segments=0)
    with pytest.raises(ValueError, match="stale_after must be"):
        LatestWindows(stale_after=-1)


def test_epoch_seconds_reads_report_times() -> None:
    """Report instants convert to epoch seconds, milliseconds included."""
    assert epoch_seconds(iso_ms(1_554_206_400_123)) == 1_554_206_400.123


@given(
    st.dictionaries(
        st.tuples(st.sampled_from(["m", "n"]), st.sampled_from(["", "p=a", "p=b", "p=c", "q=a"])),
        st.integers(0, 1000),
    ),
    st.integers(1, 3),
)
def test_kept_segments_are_the_busiest_within_the_cap(
    events: dict[tuple[str, str], int], cap: int
) -> None:
    """Per (model, field) at most ``cap`` values are kept, none quieter than a dropped one."""
    kept = kept_segments(events, cap)
    assert {k for k in events if k[1] == ""} <= kept <= set(events)
    for model, name in {(m, segment_field(s)) for m, s in events if s}:
        group = {k: n for k, n in events.items() if k[0] == model and segment_field(k[1]) == name}
        mine = [k for k in group if k in kept]
        assert len(mine) == min(cap, len(group))
        dropped = [n for k, n in group.items() if k not in kept]
        assert all(group[k] >= n for k in mine for n in dropped)


def test_thresholds_are_exported_for_every_exported_level(replay: Replay) -> None:
    """Each exported check has the warning and intervention threshold it was compared with
    (kind ``applied``), as the report states."""
    thresholds = replay.samples["driftwarden_check_threshold"]
    levels = replay.samples["driftwarden_alert_level"]
    checks = {dict(k)["level"] for k in thresholds}
    assert checks == {"warning", "intervention"}
    applied = {k for k in thresholds if dict(k)["kind"] == "applied"}
    assert {tuple(p for p in k if p[0] not in ("level", "kind")) for k in applied} == set(levels)
    at = {"model": "m", "model_version": "v1", "segment": "", "subject": "x", "check": "psi"}
    assert thresholds[labels(**at, level="warning", kind="applied")] == 0.1
    assert thresholds[labels(**at, level="intervention", kind="applied")] == 0.25


def test_a_drift_check_exports_its_practical_and_statistical_thresholds(replay: Replay) -> None:
    """A drift check's practical and statistical thresholds are exported beside the applied
    one, which is the higher of the two (the default rule, ``mode: both``)."""
    thresholds = replay.samples["driftwarden_check_threshold"]
    at = {"model": "m", "model_version": "v1", "segment": "", "subject": "x", "check": "psi"}
    for level in ("warning", "intervention"):
        practical = thresholds[labels(**at, level=level, kind="practical")]
        statistical = thresholds[labels(**at, level=level, kind="statistical")]
        applied = thresholds[labels(**at, level=level, kind="applied")]
        assert applied == max(practical, statistical)
    assert {dict(k)["check"] for k in thresholds if dict(k)["kind"] != "applied"} == {"psi"}


def _kept_segments(latest: LatestWindows, *records: Mapping[str, Any]) -> set[str]:
    """The segments whose latest window is still exported after ``records`` were written."""
    for record in records:
        latest.write(read_record(record))
    return {w.key.segment for w in latest.snapshot().windows}


def test_stale_after_counts_windows_as_configured() -> None:
    """With stale_after=2 a segment two windows behind stays; three windows behind it goes."""
    latest = LatestWindows(stale_after=2)
    assert _kept_segments(latest, window(0, "platform=ios"), window(2)) == {"", "platform=ios"}
    assert _kept_segments(latest, window(3)) == {""}


def test_staleness_is_measured_in_the_windows_own_length() -> None:
    """With ten-minute windows and stale_after=1, a segment twenty minutes behind goes."""

    def short(index: int, segment: str = "") -> dict[str, Any]:
        start, end = index * HOUR // 6, (index + 1) * HOUR // 6
        return {**window(0, segment), "start": iso_ms(start), "end": iso_ms(end)}

    latest = LatestWindows(stale_after=1)
    assert _kept_segments(latest, short(0, "platform=ios"), short(1)) == {"", "platform=ios"}
    assert _kept_segments(latest, short(2)) == {""}


def _keys(latest: LatestWindows) -> list[tuple[str, str, str]]:
    return [tuple(w.key) for w in latest.snapshot().windows]  # type: ignore[misc]


def test_stale_after_is_one_window_by_default_and_may_be_zero() -> None:
    """By default a key may lag one window; 0 is allowed, a negative count is refused."""
    assert LatestWindows().stale_after == 1
    assert LatestWindows(stale_after=0).stale_after == 0
    with pytest.raises(
        ValueError,
        match=r"^stale_after must be a number of windows ≥ 0, got -1; use 0 to export only "
        r"the newest window of each model$",
    ):
        LatestWindows(stale_after=-1)


def test_a_key_two_windows_behind_its_model_is_dropped() -> None:
    """With 1-hour windows and stale_after 1, a version two hours behind the newest is dropped."""
    latest = LatestWindows(stale_after=1)
    latest.write(read_record(window(10, version="v1")))
    latest.write(read_record(window(12, version="v2")))
    assert _keys(latest) == [("m", "v2", "")]


def test_a_stale_key_arriving_last_is_dropped_too() -> None:
    """A window that is already stale against its model's newest end is not kept."""
    latest = LatestWindows(stale_after=1)
    latest.write(read_record(window(5, version="v1")))
    latest.write(read_record(window(1, version="v2")))
    assert _keys(latest) == [("m", "v1", "")]


def test_a_forgotten_model_starts_again_from_its_next_window() -> None:
    """After forget_model the model's newest end is forgotten too, so an earlier window is kept."""
    latest = LatestWindows()
    latest.forget_model("never-seen")
    latest.write(read_record(window(10)))
    latest.forget_model("m")
    latest.write(read_record(window(1)))
    assert _keys(latest) == [("m", "v1", "")]


def test_a_window_with_the_same_end_replaces_the_latest() -> None:
    """A second report of the same window end replaces the first (only older ones are ignored)."""
    latest = LatestWindows()
    latest.write(read_record(window(3, psi=0.01)))
    latest.write(read_record(window(3, psi=0.2)))
    (kept,) = latest.snapshot().windows
    assert kept.record["features"]["x"]["psi"] == 0.2


def test_detections_of_window_reports_add_up_per_model_and_detector() -> None:
    """Each window adds its detections plus one for a drift verdict, per (model, detector)."""
    latest = LatestWindows()
    first = {**window(0), "detectors": {"adwin": {"detections": 2, "drift": True}}}
    second = {**window(1), "detectors": {"adwin": {"detections": 1}, "kswin": {"drift": False}}}
    latest.write(read_record(first))
    latest.write(read_record(second))
    assert latest.snapshot().detections == {("m", "adwin"): 4}


def test_alerts_count_transitions_and_set_the_held_level_since_their_window() -> None:
    """Two alerts to warning count two transitions; the check holds warning since the last one."""
    latest = LatestWindows()
    latest.write(read_record(window(0)))
    latest.write(read_record(alert(0, "warning")))
    latest.write(read_record(alert(0, "warning")))
    snapshot = latest.snapshot()
    assert snapshot.transitions == {("m", "warning"): 2}
    (kept,) = snapshot.windows
    assert kept.levels[("x", "psi")] == HeldLevel(Level.WARNING, iso_ms(HOUR))


def test_a_window_report_without_detectors_is_kept() -> None:
    """A window report that has no ``detectors`` object is kept and counts no detection."""
    latest = LatestWindows()
    record = {k: v for k, v in window(0).items() if k != "detectors"}
    latest.write(read_record(record))
    snapshot = latest.snapshot()
    assert (len(snapshot.windows), snapshot.detections) == (1, {})
