"""One voice per model: a process exports the model series of the models it owns, and all of its
process series."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Collection
from pathlib import Path

import orjson
import pytest
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import CollectorRegistry

from baselines.values import Baseline
from monitor.join.label_join import JoinStats
from monitor.sinks.collector import DriftCollector, RunningTotals
from monitor.sinks.latest_windows import LatestWindows
from monitor.sinks.metric_families import PROCESS_FAMILIES, is_model_family
from monitor.sinks.report import read_record
from tests.support.replay_stream import two_model_report

DAEMON_DOC = Path(__file__).resolve().parents[1] / "docs" / "daemon.md"

TOTALS = RunningTotals(
    events={"m": 1500, "n": 1500},
    rejected={"invalid_json": 3},
    late={"m": 2, "n": 5},
    windows=36,
    labels=JoinStats(
        labels=Counter(m=10, n=20),
        joined=Counter(m=9, n=18),
        unlabeled=Counter({("n", "horizon"): 2}),
        delay_counts={"m": [1] * 9},
        delay_sum_s={"m": 60.0},
        pending={"m": 1, "n": 0},
    ),
    late_labels={"n": 1},
    cap_overflow={"segment_values": 4},
)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, baseline: Baseline) -> LatestWindows:
    """The metrics store after a replay of models m and n (windows, alerts, detections)."""
    latest = LatestWindows(stale_after=1)
    for line in two_model_report(tmp_path_factory.mktemp("owners"), baseline).splitlines():
        latest.write(read_record(orjson.loads(line)))
    return latest


def metrics(store: LatestWindows, owned: Callable[[], Collection[str]] | None) -> bytes:
    """/metrics of a collector over ``store`` and :data:`TOTALS` owning ``owned``."""
    registry = CollectorRegistry()
    DriftCollector(
        store,
        lambda: TOTALS,
        max_segments=20,
        baseline_digests=lambda: {"m": "sha256:aa", "n": "sha256:bb"},
        lag_provider=lambda: {("predictions", 0): 7, ("predictions", 1): 0},
        owned_models=owned,
        version="9.9",
        registry=registry,
    )
    return generate_latest(registry)


def series(text: bytes, *, model_families: bool) -> set[str]:
    """The sample lines of the model families (or of the process families) of a scrape."""
    out = set()
    for line in text.decode().splitlines():
        if line.startswith("#"):
            continue
        name = re.sub(r"(_total|_bucket|_sum|_count|_created)$", "", line.split("{")[0].split()[0])
        if is_model_family(name) == model_families:
            out.add(line)
    return out


def test_owning_every_model_exports_what_no_ownership_exports(store: LatestWindows) -> None:
    """Owning every configured model gives /metrics byte for byte as without an owner."""
    assert metrics(store, lambda: {"m", "n"}) == metrics(store, None)


def test_model_series_of_a_model_owned_elsewhere_are_not_exported(store: LatestWindows) -> None:
    """Owning m exports exactly the model series of m that an owner of both exports."""
    everything = series(metrics(store, None), model_families=True)
    of_m = {line for line in everything if 'model="m"' in line}
    assert of_m and everything - of_m
    assert series(metrics(store, lambda: {"m"}), model_families=True) == of_m


def test_process_series_are_exported_whatever_the_process_owns(store: LatestWindows) -> None:
    """A process owning no model exports the same process series as one owning every model."""
    everything = series(metrics(store, None), model_families=False)
    assert series(metrics(store, frozenset), model_families=False) == everything
    assert any("driftwarden_labels_joined_total" in line for line in everything)


def test_a_process_owning_no_model_exports_no_model_series(store: LatestWindows) -> None:
    """With nothing owned, every model family is empty (only its HELP and TYPE lines remain)."""
    assert series(metrics(store, frozenset), model_families=True) == set()


def test_ownership_is_read_at_every_scrape(store: LatestWindows) -> None:
    """A model given away between two scrapes is gone from the second."""
    owned = {"m", "n"}

    def models(text: bytes) -> set[str]:
        return set(re.findall(r'^driftwarden_alert_level\{.*model="(\w+)"', text.decode(), re.M))

    registry = CollectorRegistry()
    DriftCollector(
        store, RunningTotals, max_segments=20, owned_models=lambda: owned, registry=registry
    )
    assert models(generate_latest(registry)) == {"m", "n"}
    owned.discard("n")
    assert models(generate_latest(registry)) == {"m"}


def test_every_model_series_carries_a_model_label(store: LatestWindows) -> None:
    """Each sample of a model family names its model (the label the ownership filter reads)."""
    unnamed = [
        line for line in series(metrics(store, None), model_families=True) if "model=" not in line
    ]
    assert unnamed == []


def test_the_metrics_table_marks_each_family_with_its_scope() -> None:
    """docs/daemon.md's metrics table says `process` for exactly the process families."""
    text = DAEMON_DOC.read_text(encoding="utf-8")
    table = text[text.index("## Metrics") : text.index("## Checkpoints and restarts")]
    rows = re.findall(r"^\| `(driftwarden_[a-z_<>]+)` \|.*\| (model|process) \|$", table, re.M)
    assert len(rows) == len(re.findall(r"^\| `driftwarden_", table, re.M))
    documented = {re.sub(r"_total$", "", name) for name, scope in rows if scope == "process"}
    assert documented == PROCESS_FAMILIES
