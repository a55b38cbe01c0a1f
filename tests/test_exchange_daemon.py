"""``driftwarden run`` with ``exchange.enabled``: several processes in one group, the two stages
apart through a real broker's exchange, write between them the one-process report."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from baselines.values import Baseline
from monitor.app import load_baselines, replay_topics_to_file
from monitor.config import load_settings
from monitor.sinks.report_merge import line_key
from tests.support.daemon import (
    daemon_config,
    daemon_log,
    get_endpoint,
    start_daemon_process,
    status_document,
    wait_for,
)
from tests.support.kafka import append, append_events, create_topic, read_all
from tests.support.label_stream import HOUR, T0, labelled_stream

N = 4_000  # events per model
SOURCES = 12  # partitions of the prediction and of the label topic
MODELS = ("m", "n", "a")  # on exchange partitions 2, 0 and 1 of 3


def _stream() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Three models' predictions and labels (10 minutes late, flipped from hour 6); model "n"
    drifts in feature x from hour 4, model "a" runs a canary version v2 on a third of its
    events."""
    predictions, labels = [], []
    for i, model in enumerate(MODELS):
        p, y = labelled_stream(n=N, hours=12, flip_from_hour=6, delay_ms=600_000)
        for j, (prediction, label) in enumerate(zip(p, y, strict=True)):
            for event in (prediction, label):
                event["model"] = model
                event["event_id"] = f"{model}{event['event_id']}"
            if model == "n" and prediction["timestamp"] >= T0 + 4 * HOUR:
                prediction["features"]["x"] += 2.0
            if model == "a" and (j + i) % 3 == 0:
                prediction["model_version"] = "v2"
        predictions += p
        labels += y
    return _in_time_order(predictions), _in_time_order(labels)


def _in_time_order(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(events, key=lambda e: (int(e["timestamp"]), e["event_id"]))


def _produce(bootstrap: str, names: tuple[str, str], part: slice = slice(None)) -> None:
    """Send ``part`` of the stream's predictions and labels (each in time order)."""
    predictions, labels = _stream()
    append_events(bootstrap, names[0], predictions[part])
    append_events(bootstrap, names[1], labels[part])


def _topics(bootstrap: str) -> tuple[str, str]:
    return (
        create_topic(bootstrap, "xpred", SOURCES),
        create_topic(bootstrap, "xlabels", SOURCES),
    )


@pytest.fixture(scope="module")
def topics(kafka_bootstrap: str) -> tuple[str, str]:
    """12 + 12 partitions holding the whole stream."""
    names = _topics(kafka_bootstrap)
    _produce(kafka_bootstrap, names)
    return names


def _config(
    folder: Path, baseline: Baseline, bootstrap: str, topics: tuple[str, str], group: str, n: int
) -> tuple[Path, int]:
    """Member ``n`` of ``group``: its own instance id, report file and port."""
    path, port = daemon_config(folder, baseline, bootstrap, topics[0], f"{group}-{n}")
    group = f"{group}-{topics[0]}"  # a group (and internal topics) of this test run only
    config = yaml.safe_load(path.read_text())
    for model in MODELS:
        replace(baseline, model=model).save(folder / f"{model}.json")
    config["models"] = [{"name": m, "baseline": f"{m}.json"} for m in MODELS]
    config["kafka"].update(
        label_topics=[topics[1]], group_id=group, group_instance_id=f"{group}-{n}"
    )
    config["kafka"]["max_poll_records"] = 500
    config["exchange"] = {"enabled": True, "partitions": 3}
    # no partition goes idle during a test: with pauses between the parts of the stream, which
    # windows an idle partition's first new events find closed would depend on timing
    config["daemon"].update(checkpoint_interval="500ms", idle_timeout="10m")
    del config["daemon"]["checkpoint_path"]
    path.write_text(yaml.safe_dump(config))
    return path, port


@pytest.fixture(scope="module")
def expected(
    tmp_path_factory: pytest.TempPathFactory,
    baseline: Baseline,
    kafka_bootstrap: str,
    topics: tuple[str, str],
) -> list[bytes]:
    """One process's report of both topics (a replay), up to the windows every partition has
    passed (ending at 11:00; the last hour closes only once partitions go idle)."""
    folder = tmp_path_factory.mktemp("exchange-expected")
    config, _ = _config(folder, baseline, kafka_bootstrap, topics, "reference", 0)
    settings = load_settings(config)
    replay_topics_to_file(settings, load_baselines(settings), folder / "replayed.jsonl")
    lines = (folder / "replayed.jsonl").read_bytes().splitlines()
    return sorted((line for line in lines if _end_ms(line) <= T0 + 11 * HOUR), key=_key)


def _end_ms(line: bytes) -> int:
    record = orjson.loads(line)
    end = record["end"] if record["kind"] == "window" else record["window_end"]
    from datetime import datetime

    return int(datetime.fromisoformat(end).timestamp() * 1000)


def _key(line: bytes) -> tuple[object, ...]:
    return (*line_key(orjson.loads(line)), line)


def _union(reports: list[Path]) -> list[bytes]:
    """Every whole line of the reports, each once, in the merge's order."""
    lines: set[bytes] = set()
    for report in reports:
        if report.exists():
            data = report.read_bytes()
            lines.update(data[: data.rfind(b"\n") + 1].splitlines())
    return sorted(lines, key=_key)


@pytest.fixture
def group(request: pytest.FixtureRequest) -> Iterator[list[subprocess.Popen[bytes]]]:
    """The processes a test starts, killed at its end whatever happened."""
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def _await_union(reports: list[Path], expected: list[bytes], processes: list[Any]) -> list[bytes]:
    try:
        wait_for(lambda: len(_union(reports)) >= len(expected), "the whole report", 150)
    except AssertionError:
        logs = "\n".join(daemon_log(p)[-2000:] for p in processes)
        raise AssertionError(f"{len(_union(reports))} of {len(expected)} lines;\n{logs}") from None
    return _union(reports)


def test_three_processes_write_the_one_process_report(
    tmp_path: Path,
    baseline: Baseline,
    kafka_bootstrap: str,
    expected: list[bytes],
    group: list[subprocess.Popen[bytes]],
) -> None:
    """Three processes started together on 12 + 12 partitions, fed once the group has settled:
    the union of their report files, in the merge's order, is one process's report (feature
    drift, a canary, performance, the concept switch's alerts), and each of them wrote some of
    it."""
    names = _topics(kafka_bootstrap)
    configs = [_config(tmp_path, baseline, kafka_bootstrap, names, "three", n) for n in range(3)]
    group.extend(start_daemon_process(config) for config, _ in configs)
    wait_for(lambda: _settled([port for _, port in configs]), "a task share each", 150)
    _produce(kafka_bootstrap, names)
    reports = [tmp_path / f"three-{n}" / "report.jsonl" for n in range(3)]
    union = _await_union(reports, expected, group)
    assert any(b'"kind":"alert"' in line for line in expected)
    assert union == expected
    assert all(r.read_bytes() for r in reports)
    owners = [status_document(port)["owns"] for _, port in configs]
    assert sorted(m for owns in owners for m in owns["models"]) == sorted(MODELS)
    assert sorted(t for owns in owners for t in owns["tasks"]) == list(range(SOURCES))
    series = [_model_series(get_endpoint(port, "/metrics")[1]) for _, port in configs]
    assert sum(len(s) for s in series) == len(set().union(*series)) > 0


def _settled(ports: list[int]) -> bool:
    """Whether each process owns a third of the tasks and one exchange partition."""
    answers = [get_endpoint(port, "/status") for port in ports]
    if any(status != 200 for status, _ in answers):
        return False
    owners = [orjson.loads(body).get("owns", {}) for _, body in answers]
    shares = [(len(o.get("tasks", ())), len(o.get("exchange_partitions", ()))) for o in owners]
    return shares == [(SOURCES // len(ports), 1)] * len(ports)


def _model_series(metrics: bytes) -> set[str]:
    """The alert-level series of a /metrics text: one per model, version, segment, subject
    and check."""
    return {
        line.rpartition(" ")[0]
        for line in metrics.decode().splitlines()
        if line.startswith("driftwarden_alert_level{")
    }


def _member(
    tmp_path: Path, baseline: Baseline, bootstrap: str, names: tuple[str, str], n: int
) -> Path:
    """Member ``n`` of the group of ``names``, whose session ends 6 s after its last heartbeat."""
    path, _ = _config(tmp_path, baseline, bootstrap, names, "g", n)
    document = yaml.safe_load(path.read_text())
    document["kafka"]["session_timeout"] = "6s"
    path.write_text(yaml.safe_dump(document))
    return path


def _reports(tmp_path: Path, count: int) -> list[Path]:
    return [tmp_path / f"g-{n}" / "report.jsonl" for n in range(count)]


@pytest.mark.parametrize("restarted", [False, True], ids=["never-restarted", "restarted"])
def test_a_process_killed_mid_stream_loses_and_doubles_nothing(
    tmp_path: Path,
    baseline: Baseline,
    kafka_bootstrap: str,
    expected: list[bytes],
    group: list[subprocess.Popen[bytes]],
    restarted: bool,
) -> None:
    """One of three processes killed with SIGKILL after the first half of the stream (and some
    bad messages): restarted (it takes its partitions back and restores their state from
    Kafka) or never (the session timeout gives them to the others), the union of the report
    files once the second half is in is one process's report, and the alerts topic and the
    dead-letter topic hold each transition and each bad message exactly once."""
    names = _topics(kafka_bootstrap)
    alerts, dead = (create_topic(kafka_bootstrap, prefix) for prefix in ("xalerts", "xdead"))
    half = len(_stream()[0]) // 2
    _produce(kafka_bootstrap, names, slice(0, half))
    bad = [b"not json %d" % i for i in range(BAD_MESSAGES)]
    append(kafka_bootstrap, names[0], bad)
    configs = [_member(tmp_path, baseline, kafka_bootstrap, names, n) for n in range(3)]
    for config in configs:
        _send_outputs(config, alerts, dead)
    group.extend(start_daemon_process(config) for config in configs)
    reports = _reports(tmp_path, 3)
    wait_for(lambda: len(_union(reports)) >= len(expected) // 4, "a quarter of the report", 150)
    os.kill(group[0].pid, signal.SIGKILL)
    group[0].wait(timeout=10)
    if restarted:
        group.append(start_daemon_process(configs[0]))
    _produce(kafka_bootstrap, names, slice(half, None))
    assert _await_union(reports, expected, group) == expected
    transitions = [line for line in expected if line.startswith(b'{"kind":"alert"')]
    sent = read_all(kafka_bootstrap, alerts, len(transitions) + 1, committed=True)
    assert sorted(m.value for m in sent) == sorted(transitions)
    dead_letters = read_all(kafka_bootstrap, dead, BAD_MESSAGES + 1, committed=True)
    assert sorted(m.value for m in dead_letters) == sorted(bad)


BAD_MESSAGES = 5


def _send_outputs(config: Path, alerts: str, dead: str) -> None:
    """Have the process send level transitions to ``alerts`` and bad messages to ``dead``."""
    document = yaml.safe_load(config.read_text())
    document["kafka"].update(alerts_topic=alerts, dead_letter_topic=dead)
    config.write_text(yaml.safe_dump(document))


def test_a_group_scaled_from_one_to_three_to_two_writes_the_one_process_report(
    tmp_path: Path,
    baseline: Baseline,
    kafka_bootstrap: str,
    expected: list[bytes],
    group: list[subprocess.Popen[bytes]],
) -> None:
    """One process for the first third of the stream, three for the second, two for the last
    (one stopped with SIGTERM): the union of the report files is one process's report."""
    names = _topics(kafka_bootstrap)
    third = len(_stream()[0]) // 3
    configs = [_member(tmp_path, baseline, kafka_bootstrap, names, n) for n in range(3)]
    reports = _reports(tmp_path, 3)
    _produce(kafka_bootstrap, names, slice(0, third))
    group.append(start_daemon_process(configs[0]))
    wait_for(lambda: len(_union(reports)) >= len(expected) // 6, "a sixth of the report", 150)
    group.extend(start_daemon_process(config) for config in configs[1:])
    _produce(kafka_bootstrap, names, slice(third, 2 * third))
    wait_for(lambda: len(_union(reports)) >= len(expected) // 2, "half of the report", 150)
    group[1].send_signal(signal.SIGTERM)
    assert group[1].wait(timeout=30) == 0, daemon_log(group[1])
    _produce(kafka_bootstrap, names, slice(2 * third, None))
    assert _await_union(reports, expected, group) == expected


def _expire_exchange(bootstrap: str, names: tuple[str, str]) -> int:
    """Delete from the exchange topic of the group of ``names`` what no open window needs any
    more, as its retention would in time: each partition's records before the ``replay_from``
    of its stage-2 snapshot (before the committed offset when no window is open); the number
    of records deleted."""
    from kafka.admin import KafkaAdminClient

    from monitor.exchange.changelog import Changelog

    group_id = f"g-{names[0]}"
    changelog = Changelog(f"{group_id}-stage2-changelog")
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        committed = admin.list_group_offsets(f"{group_id}-stage2")[f"{group_id}-stage2"]
        expired = {}
        for tp, position in committed.items():
            data = changelog.restore(
                {"bootstrap_servers": bootstrap}, tp.partition, f"e{tp.partition}"
            )
            replay_from = None if data is None else orjson.loads(data)["replay_from"]
            expired[tp] = position.offset if replay_from is None else replay_from
        admin.delete_records(expired)
    finally:
        admin.close()
    return sum(expired.values())


def test_partitions_moved_after_their_exchange_history_expired_restore_their_snapshots(
    tmp_path: Path,
    baseline: Baseline,
    kafka_bootstrap: str,
    expected: list[bytes],
    group: list[subprocess.Popen[bytes]],
) -> None:
    """One process reads the first half of the stream and stops (SIGTERM); the exchange records
    no open window needs are deleted, as retention would; a second process takes every exchange
    partition over from its snapshot in the stage-2 changelog and the records after its
    ``replay_from``: the union of the two report files is one process's report."""
    names = _topics(kafka_bootstrap)
    half = len(_stream()[0]) // 2
    _produce(kafka_bootstrap, names, slice(0, half))
    configs = [_member(tmp_path, baseline, kafka_bootstrap, names, n) for n in range(2)]
    reports = _reports(tmp_path, 2)
    group.append(start_daemon_process(configs[0]))
    # past model n's drift from hour 4: its levels are raised when the process stops
    wait_for(lambda: len(_union(reports)) >= len(expected) * 2 // 5, "2/5 of the report", 150)
    group[0].send_signal(signal.SIGTERM)
    assert group[0].wait(timeout=30) == 0, daemon_log(group[0])
    assert _expire_exchange(kafka_bootstrap, names) > 0
    group.append(start_daemon_process(configs[1]))
    _produce(kafka_bootstrap, names, slice(half, None))
    assert _await_union(reports, expected, group) == expected
    taken = [
        orjson.loads(line)
        for line in daemon_log(group[1]).splitlines()
        if '"exchange partitions owned"' in line
    ]
    assert [t["restored"] for t in taken if t["gained"]] == [[0, 1, 2]]
