"""Shared fixtures: a small baseline built from seeded data, a real Kafka broker, and the daemon
tests' topic and its uninterrupted report. What they are built from is in ``tests/support``."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
from hypothesis import settings

from baselines.build import build_baseline
from baselines.values import Baseline
from tests.support.builders import training
from tests.support.daemon import daemon_config, good_messages, run_to_end
from tests.support.kafka import BOOTSTRAP_ENV, JAVA_MISSING, LocalBroker, produce, session_broker

# The one settings profile of every property test (a test's own @settings changes only what it
# names, e.g. max_examples). No deadline: hypothesis' default fails an example that takes over
# 200 ms of wall-clock time, a timing assertion that the suite's rules exclude. On two cores
# shared with other jobs an example's time varies tenfold; what a property test specifies is the
# result; speed is what benchmarks/ measures.
settings.register_profile("driftwarden", deadline=None)
settings.load_profile("driftwarden")


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``kafka`` marker."""
    config.addinivalue_line("markers", "kafka: the test needs a real Kafka broker")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses ``kafka_bootstrap`` or ``own_broker`` with ``kafka``, so that
    ``-m "not kafka"`` deselects them."""
    for item in items:
        if {"kafka_bootstrap", "own_broker"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.kafka)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say why broker tests were skipped, even under ``-q``."""
    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if JAVA_MISSING in str(getattr(report, "longrepr", ""))
    ]
    if skipped:
        terminalreporter.write_line(f"kafka: {len(skipped)} test(s) skipped: {JAVA_MISSING}")


@pytest.fixture(scope="session")
def baseline() -> Baseline:
    """A baseline of model "m" with a per-platform reference."""
    return build_baseline(
        training(),
        model="m",
        prediction="score",
        label="label",
        segments=("platform",),
        window_sizes=(100, 1000),
        replicates=200,
    )


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap servers of a running broker: ``$KAFKA_BOOTSTRAP_SERVERS`` or our own (skipped
    only when no ``java`` is on PATH; any other failure to start is a test error)."""
    external = os.environ.get(BOOTSTRAP_ENV, "").strip()
    if external:
        yield external
        return
    if shutil.which("java") is None:
        pytest.skip(JAVA_MISSING)
    with session_broker() as bootstrap:
        yield bootstrap


@pytest.fixture(scope="module")
def own_broker() -> Iterator[LocalBroker]:
    """A broker of this test module alone, for tests that pause, stop or restart it; resumed,
    stopped and deleted when the module ends."""
    if shutil.which("java") is None:
        pytest.skip(JAVA_MISSING)
    broker = LocalBroker()
    broker.start()
    try:
        yield broker
    finally:
        broker.stop(purge=True)


@pytest.fixture(scope="module")
def topic(kafka_bootstrap: str) -> str:
    """A one-partition topic holding the daemon tests' stream, with a shift from hour 3."""
    return produce(kafka_bootstrap, good_messages())


@pytest.fixture(scope="module")
def uninterrupted(
    tmp_path_factory: pytest.TempPathFactory, baseline: Baseline, kafka_bootstrap: str, topic: str
) -> bytes:
    """The report of a daemon that consumed the whole clean stream without interruption."""
    folder = tmp_path_factory.mktemp("whole")
    config, port = daemon_config(folder, baseline, kafka_bootstrap, topic, "whole")
    run_to_end(config, port)
    report = (folder / "whole" / "report.jsonl").read_bytes()
    assert report.count(b'"kind":"window"') > 0
    return report
