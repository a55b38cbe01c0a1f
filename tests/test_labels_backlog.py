"""A backlog of labels far larger than ``labels.max_orphans`` joins every label: label partitions
are read at their predictions' pace (daemon and topic replay, real broker)."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest
import yaml

from baselines.values import Baseline
from monitor.app import replay_topics_to_file
from monitor.config import load_settings
from tests.support.daemon import daemon_config, get_endpoint, start_daemon_process, terminate
from tests.support.daemon import wait_for as _wait
from tests.support.label_stream import labelled_topics

N = 4_000
MAX_ORPHANS = 200


@pytest.fixture(scope="module")
def topics(kafka_bootstrap: str) -> tuple[str, str]:
    """Predictions and their labels 10 minutes later, keyed by event id, 2 partitions each."""
    return labelled_topics(kafka_bootstrap, 2, n=N, hours=8, delay_ms=600_000)


def backlog_config(
    folder: Path, baseline: Baseline, bootstrap: str, topics: tuple[str, str], max_orphans: int
) -> tuple[Path, int]:
    """A daemon of both topics whose fetches bring as many bytes of each partition (16 kB: about
    4 times more labels than predictions) and whose early-label buffer holds ``max_orphans``."""
    path, port = daemon_config(
        folder,
        baseline,
        bootstrap,
        topics[0],
        f"backlog-{max_orphans}",
        label_topics=[topics[1]],
        max_poll_records=50,
        max_partition_fetch_bytes=16_384,
    )
    config = yaml.safe_load(path.read_text())
    config["labels"] = {"max_orphans": max_orphans}
    path.write_text(yaml.safe_dump(config))
    return path, port


def replayed(folder: Path, config: Path, baseline: Baseline, name: str) -> bytes:
    """The report of ``replay --config`` of both topics."""
    report = folder / f"{name}.jsonl"
    replay_topics_to_file(load_settings(config), {"m": baseline}, report)
    return report.read_bytes()


def labelled(report: bytes) -> int:
    """Labelled events over the report's overall windows."""
    windows = [orjson.loads(line) for line in report.splitlines()]
    return sum(
        w["performance"]["labeled"]
        for w in windows
        if w["kind"] == "window" and w["segment"] == "" and "performance" in w
    )


def test_the_topic_replay_joins_every_label_of_a_backlog(
    tmp_path: Path, baseline: Baseline, kafka_bootstrap: str, topics: tuple[str, str]
) -> None:
    """With room for 200 early labels, the replay writes the report of a replay with room for
    a million, byte for byte: every one of the 4,000 labels joined."""
    small, _ = backlog_config(tmp_path, baseline, kafka_bootstrap, topics, MAX_ORPHANS)
    huge, _ = backlog_config(tmp_path, baseline, kafka_bootstrap, topics, 1_000_000)
    paced = replayed(tmp_path, small, baseline, "small")
    assert labelled(paced) == N
    assert paced == replayed(tmp_path, huge, baseline, "huge")


def test_the_daemon_joins_every_label_of_a_backlog(
    tmp_path: Path, baseline: Baseline, kafka_bootstrap: str, topics: tuple[str, str]
) -> None:
    """With room for 200 early labels the daemon joins all 4,000 (none unmatched), holds no label
    partition back once everything is read, and its report starts the replay's."""
    config, port = backlog_config(tmp_path, baseline, kafka_bootstrap, topics, MAX_ORPHANS)
    process = start_daemon_process(config)
    try:

        def read_all() -> bool:
            status, body = get_endpoint(port, "/status")
            totals = orjson.loads(body)["totals"] if status == 200 else None
            return totals is not None and (
                sum(totals["events"].values()),
                sum(totals["labels"]["received"].values()),
            ) == (N, N)

        _wait(read_all, "every prediction and label read", 120)
        status = orjson.loads(get_endpoint(port, "/status")[1])
        metrics = get_endpoint(port, "/metrics")[1].decode()
    finally:
        terminate(process)
    assert status["totals"]["labels"]["joined"] == {"m": N}
    unmatched = re.findall(r"^driftwarden_labels_unmatched_total\{.*\} (\S+)$", metrics, re.M)
    assert sum(map(float, unmatched)) == 0
    assert status["labels_held_back"] == []
    for partition in (0, 1):
        held = (
            f'driftwarden_label_partition_held_back{{partition="{partition}",topic="{topics[1]}"}}'
        )
        assert f"{held} 0.0" in metrics
    daemon_report = (tmp_path / f"backlog-{MAX_ORPHANS}" / "report.jsonl").read_bytes()
    assert replayed(tmp_path, config, baseline, "replay").startswith(daemon_report)
