"""Label pacing: a label partition is paused while read too far ahead (event time) of the
prediction partition of its number that still has records to read, and flows otherwise."""

from __future__ import annotations

import pytest
from kafka import TopicPartition
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from monitor.runtime.http import status_document
from monitor.sinks.collector import DriftCollector, RunningTotals
from monitor.sinks.latest_windows import LatestWindows
from monitor.sources.kafka import PartitionIds
from monitor.sources.label_pacing import LabelPacing, Paced
from tests.support.memory_consumer import MemoryConsumer, MemoryGroup

MINUTE = 60_000
IDS = PartitionIds(["predictions", "labels"])
PREDICTIONS_0, LABELS_0 = TopicPartition("predictions", 0), TopicPartition("labels", 0)
LABELS_1 = TopicPartition("labels", 1)


def consumer(predictions: int = 1, labels: int = 1) -> MemoryConsumer:
    """A twin assigned every partition of a prediction and a label topic (one message each)."""
    twin = MemoryConsumer(
        {"predictions": [[b"{}"]] * predictions, "labels": [[b"{}"]] * labels}, MemoryGroup()
    )
    twin.subscribed = ["predictions", "labels"]
    twin.assigned = twin.every_partition()
    twin.positions = dict.fromkeys(twin.assigned, 0)
    return twin


def times(label: int | None, prediction: int | None) -> dict[int, int]:
    """Largest event times read: labels:0 at ``label``, predictions:0 at ``prediction``."""
    read = {IDS.id_of("labels", 0): label, IDS.id_of("predictions", 0): prediction}
    return {partition: time for partition, time in read.items() if time is not None}


@pytest.fixture
def pacing() -> LabelPacing:
    """Labels may be read 10 minutes past their predictions."""
    return LabelPacing(IDS, ["labels"], read_ahead_ms=10 * MINUTE)


def test_a_label_partition_ahead_of_predictions_with_records_left_is_paused(
    pacing: LabelPacing,
) -> None:
    """Labels read 30 minutes past predictions that have 500 records left: paused."""
    twin = consumer()
    paced = pacing.pace(twin, {("predictions", 0): 500}, times(40 * MINUTE, 10 * MINUTE))
    assert twin.paused() == {LABELS_0}
    assert paced == Paced(frozenset({("labels", 0)}), {("labels", 0): 30 * MINUTE})


def test_labels_within_the_read_ahead_flow(pacing: LabelPacing) -> None:
    """Labels read exactly ``read_ahead`` past their predictions are not paused."""
    twin = consumer()
    pacing.pace(twin, {("predictions", 0): 500}, times(20 * MINUTE, 10 * MINUTE))
    assert twin.paused() == set()


def test_labels_resume_once_their_predictions_caught_up(pacing: LabelPacing) -> None:
    """The predictions read to their end (lag 0, caught up or idle): the labels resume."""
    twin = consumer()
    pacing.pace(twin, {("predictions", 0): 500}, times(40 * MINUTE, 10 * MINUTE))
    paced = pacing.pace(twin, {("predictions", 0): 0}, times(40 * MINUTE, 10 * MINUTE))
    assert twin.paused() == set()
    assert paced.held == {}


def test_labels_resume_once_their_predictions_moved_close_enough(pacing: LabelPacing) -> None:
    """Predictions read up to within ``read_ahead`` of the labels: the labels resume."""
    twin = consumer()
    pacing.pace(twin, {("predictions", 0): 500}, times(40 * MINUTE, 10 * MINUTE))
    pacing.pace(twin, {("predictions", 0): 300}, times(40 * MINUTE, 35 * MINUTE))
    assert twin.paused() == set()


def test_an_empty_prediction_partition_holds_nothing_back(pacing: LabelPacing) -> None:
    """A prediction partition without records (lag 0, no event time) lets its labels flow."""
    twin = consumer()
    pacing.pace(twin, {("predictions", 0): 0}, times(40 * MINUTE, None))
    assert twin.paused() == set()


def test_predictions_not_read_yet_hold_labels_back(pacing: LabelPacing) -> None:
    """Predictions with records left and no event time read yet hold read labels back; how
    far ahead is unknown."""
    twin = consumer()
    paced = pacing.pace(twin, {("predictions", 0): 500}, times(40 * MINUTE, None))
    assert twin.paused() == {LABELS_0}
    assert paced.held == {("labels", 0): None}


def test_predictions_whose_end_is_not_known_yet_hold_labels_back(pacing: LabelPacing) -> None:
    """An owned prediction partition not fetched yet (no lag known) counts as having records."""
    twin = consumer()
    pacing.pace(twin, {}, times(40 * MINUTE, 10 * MINUTE))
    assert twin.paused() == {LABELS_0}


def test_a_label_partition_read_nothing_yet_flows(pacing: LabelPacing) -> None:
    """Before any label of a partition has an event time, its partition is not paused."""
    twin = consumer()
    pacing.pace(twin, {("predictions", 0): 500}, times(None, 10 * MINUTE))
    assert twin.paused() == set()


def test_labels_without_a_prediction_partition_of_their_number_flow(pacing: LabelPacing) -> None:
    """labels:1 has no predictions:1 (one prediction partition): it is never paused."""
    twin = consumer(predictions=1, labels=2)
    read = {**times(10 * MINUTE, 10 * MINUTE), IDS.id_of("labels", 1): 90 * MINUTE}
    pacing.pace(twin, {("predictions", 0): 500}, read)
    assert twin.paused() == set()


def test_labels_whose_predictions_another_member_owns_flow(pacing: LabelPacing) -> None:
    """A prediction partition not assigned here holds nothing back."""
    twin = consumer()
    twin.assigned = [LABELS_0]
    pacing.pace(twin, {}, times(40 * MINUTE, 10 * MINUTE))
    assert twin.paused() == set()


def test_a_paused_partition_delivers_nothing_and_keeps_its_position(pacing: LabelPacing) -> None:
    """The twin, as kafka-python: a poll skips a paused partition, whose position stays."""
    twin = consumer()
    pacing.pace(twin, {("predictions", 0): 1}, times(40 * MINUTE, 10 * MINUTE))
    polled = twin.poll(timeout_ms=0, max_records=10)
    assert set(polled) == {PREDICTIONS_0}
    assert twin.position(LABELS_0) == 0


def test_without_label_topics_nothing_is_paced() -> None:
    """No label topics: pacing pauses nothing and reports no partition."""
    twin = consumer()
    paced = LabelPacing(IDS, [], read_ahead_ms=0).pace(twin, {}, times(40 * MINUTE, 0))
    assert twin.paused() == set() and paced == Paced()


def test_held_back_partitions_are_on_metrics_and_status() -> None:
    """Each paced label partition is a 0/1 gauge; /status lists the held ones, ahead in s."""
    paced = Paced(frozenset({("labels", 0), ("labels", 1)}), {("labels", 1): 90_000})
    registry = CollectorRegistry()
    DriftCollector(
        LatestWindows(),
        RunningTotals,
        max_segments=2,
        pacing_provider=lambda: paced,
        registry=registry,
    )
    samples = {
        (s.labels["topic"], s.labels["partition"]): s.value
        for family in text_string_to_metric_families(generate_latest(registry).decode())
        if family.name == "driftwarden_label_partition_held_back"
        for s in family.samples
    }
    assert samples == {("labels", "0"): 0.0, ("labels", "1"): 1.0}
    document = status_document(LatestWindows().snapshot(), RunningTotals(), {}, paced)
    assert document["labels_held_back"] == [{"topic": "labels", "partition": 1, "ahead_s": 90.0}]
