"""A synthetic car-loan model: a training set, an hourly stream of predictions with known
incidents, and the delayed label of each prediction.

The stream is stable except during the incidents of :data:`INCIDENTS`, each a run of windows in
which one field-report failure is injected. Every prediction's outcome becomes known 5 to 90
minutes (event time) after it; labels due after the stream's end have not arrived yet and are
left out of the label stream. Everything is seeded, so the files and messages are identical on
every run.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

MODEL = "car-loan"
VERSION = "v3"
START_MS = 1_554_163_200_000  # 2019-04-02T00:00:00Z
HOUR_MS = 3_600_000
MINUTE_MS = 60_000
WINDOWS = 54
EVENTS_PER_WINDOW = 2_000
END_MS = START_MS + WINDOWS * HOUR_MS
LABEL_DELAY_MS = (5 * MINUTE_MS, 90 * MINUTE_MS)
"""Shortest and longest time (event time) between a prediction and its outcome being known."""
CONCEPT_CUTOFF = 680.0
"""During the concept-drift incident the outcome inverts for credit scores below this."""
COUNTRIES = np.array(["US", "DE", "FR", "GB", "ES"])
COUNTRY_P = np.array([0.4, 0.2, 0.15, 0.15, 0.1])
SALARY_RANGES = np.array(["< 20K €", "20K - 40K €", "40K - 60K €", "60K - 80K €", "> 80K €"])
CHANNELS = np.array(["web", "branch", "partner"])
PLATFORMS = np.array(["ios", "android", "web"])
REGIONS = np.array(["na", "eu", "apac"])
_NUMERIC = ("car_value", "income", "loan_length", "credit_score", "age", "debt_ratio")
_CATEGORICAL = ("country", "salary_range", "channel")


@dataclass(frozen=True)
class Incident:
    """A labelled failure injected into windows ``first`` … ``last`` (inclusive); with
    ``error_stream``, the detectors on the joined labels' errors must see it too."""

    name: str
    first: int
    last: int
    description: str
    subjects: tuple[str, ...]
    segment: str = ""
    error_stream: bool = False


INCIDENTS: tuple[Incident, ...] = (
    Incident(
        "numeric-shift",
        10,
        13,
        "car_value and loan_length shift abruptly",
        ("car_value", "loan_length"),
    ),
    Incident("representation-change", 17, 20, '"US" arrives as "United States"', ("country",)),
    Incident(
        "missing-critical",
        24,
        27,
        "credit_score missing 5% of the time (feature service timeouts)",
        ("credit_score",),
    ),
    Incident(
        "segment-only", 31, 34, "income shifts for platform=web only", ("income",), "platform=web"
    ),
    Incident(
        "prediction-shift",
        38,
        41,
        "the model's scores shift upwards (bad model push)",
        ("prediction",),
    ),
    Incident(
        "concept-drift",
        44,
        47,
        "concept drift: outcomes flip for credit_score < 680",
        ("performance",),
        error_stream=True,
    ),
)
STABLE = tuple(w for w in range(WINDOWS) if not any(i.first <= w <= i.last + 3 for i in INCIDENTS))


def _population(rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
    """Feature columns of n applicants from the training distribution."""
    return {
        "car_value": np.round(rng.lognormal(10.4, 0.35, n), 2),
        "income": np.round(rng.normal(52_000, 14_000, n), 0),
        "loan_length": rng.choice(np.arange(12, 61, 6), n).astype(np.float64),
        "credit_score": np.round(rng.normal(680, 60, n), 0),
        "age": rng.integers(19, 75, n).astype(np.float64),
        "debt_ratio": np.round(rng.beta(2, 5, n), 4),
        "country": rng.choice(COUNTRIES, n, p=COUNTRY_P),
        "salary_range": rng.choice(SALARY_RANGES, n),
        "channel": rng.choice(CHANNELS, n, p=[0.6, 0.3, 0.1]),
        "platform": rng.choice(PLATFORMS, n, p=[0.35, 0.45, 0.2]),
        "region": rng.choice(REGIONS, n, p=[0.5, 0.35, 0.15]),
    }


def _score(cols: dict[str, np.ndarray]) -> np.ndarray:
    """The model: probability that the loan is repaid."""
    z = (
        0.8
        + 0.012 * (np.nan_to_num(cols["credit_score"], nan=680.0) - 680)
        - 2.5 * (cols["debt_ratio"] - 0.28)
        + 0.00002 * (cols["income"] - 52_000)
        - 0.00001 * (cols["car_value"] - 35_000)
        - 0.01 * (cols["loan_length"] - 36)
    )
    probability: np.ndarray = 1.0 / (1.0 + np.exp(-z))
    return probability


def training_table(rows: int = 50_000, seed: int = 7) -> pa.Table:
    """The clean training sample the baseline is built from (with scores and outcomes)."""
    rng = np.random.default_rng(seed)
    cols = _population(rng, rows)
    score = _score(cols)
    return pa.table(
        {
            **cols,
            "y_pred_proba": np.round(score, 6),
            "repaid": (rng.random(rows) < score).astype(np.int64),
        }
    )


def _window_events(rng: np.random.Generator, w: int) -> dict[str, np.ndarray]:
    n = EVENTS_PER_WINDOW
    cols = _population(rng, n)
    active = {i.name for i in INCIDENTS if i.first <= w <= i.last}
    if "numeric-shift" in active:
        cols["car_value"] = cols["car_value"] * 1.6
        cols["loan_length"] = np.minimum(cols["loan_length"] + 18, 72)
    if "segment-only" in active:
        web = cols["platform"] == "web"
        cols["income"] = np.where(web, cols["income"] + 14_000, cols["income"])
    score = _score(cols)
    truth = rng.random(n) < score
    if "concept-drift" in active:
        truth = np.where(cols["credit_score"] < CONCEPT_CUTOFF, ~truth, truth)
    if "prediction-shift" in active:
        score = 1.0 - (1.0 - score) ** 3
    if "representation-change" in active:
        cols["country"] = np.where(cols["country"] == "US", "United States", cols["country"])
    if "missing-critical" in active:
        cols["credit_score"] = np.where(rng.random(n) < 0.05, np.nan, cols["credit_score"])
    cols["prediction"] = np.round(score, 6)
    cols["label"] = truth.astype(np.int64)
    cols["timestamp"] = START_MS + w * HOUR_MS + np.sort(rng.integers(0, HOUR_MS, n))
    cols["event_id"] = np.char.add(f"e{w:02d}-", np.char.zfill(np.arange(n).astype(str), 5))
    return cols


@dataclass(frozen=True)
class DemoStream:
    """Every prediction of the stream in event-time order, with its outcome and when the outcome
    becomes known (``label_time_ms``)."""

    columns: dict[str, np.ndarray]

    @property
    def size(self) -> int:
        """Number of predictions."""
        return len(self.columns["timestamp"])

    def labels_due(self) -> np.ndarray:
        """Indices of the predictions whose label arrives before the stream ends, in label-time
        order (ties by prediction order)."""
        due = np.flatnonzero(self.columns["label_time_ms"] < END_MS)
        order: np.ndarray = due[np.argsort(self.columns["label_time_ms"][due], kind="stable")]
        return order


def demo_stream(seed: int = 11) -> DemoStream:
    """The whole stream; ``seed`` fixes the events, ``seed + 1`` the label delays."""
    rng = np.random.default_rng(seed)
    windows = [_window_events(rng, w) for w in range(WINDOWS)]
    columns = {k: np.concatenate([cols[k] for cols in windows]) for k in windows[0]}
    delays = np.random.default_rng(seed + 1).integers(*LABEL_DELAY_MS, len(columns["timestamp"]))
    columns["label_time_ms"] = columns["timestamp"] + delays
    return DemoStream(columns)


def prediction_events(stream: DemoStream, *, inline_labels: bool) -> Iterator[dict[str, object]]:
    """Prediction events in event-time order; with ``inline_labels`` each carries its outcome
    (a log joined upstream), else the outcome comes later as a label event."""
    lists = {k: v.tolist() for k, v in stream.columns.items()}
    for i in range(stream.size):
        features: dict[str, object] = {k: lists[k][i] for k in _NUMERIC}
        if features["credit_score"] != features["credit_score"]:  # NaN: the field is absent
            del features["credit_score"]
        features.update({k: lists[k][i] for k in _CATEGORICAL})
        event: dict[str, object] = {
            "event_id": lists["event_id"][i],
            "model": MODEL,
            "model_version": VERSION,
            "timestamp": lists["timestamp"][i],
            "features": features,
            "prediction": lists["prediction"][i],
            "segments": {"platform": lists["platform"][i], "region": lists["region"][i]},
        }
        if inline_labels:
            event["label"] = lists["label"][i]
        yield event


def label_events(stream: DemoStream) -> Iterator[dict[str, object]]:
    """Label events ``{event_id, model, timestamp, label}`` in the order they become known."""
    due = stream.labels_due()
    ids = stream.columns["event_id"][due].tolist()
    times = stream.columns["label_time_ms"][due].tolist()
    labels = stream.columns["label"][due].tolist()
    for event_id, time_ms, label in zip(ids, times, labels, strict=True):
        yield {"event_id": event_id, "model": MODEL, "timestamp": time_ms, "label": label}


@dataclass(frozen=True)
class Message:
    """One Kafka message of the live demo: which topic, the key (the event id), the JSON body."""

    is_label: bool
    key: bytes
    value: bytes


def live_messages(stream: DemoStream) -> Iterator[Message]:
    """Predictions and labels merged in event-time order, as a live system would see them."""
    predictions = zip(
        stream.columns["timestamp"].tolist(),
        (_message(e, False) for e in prediction_events(stream, inline_labels=False)),
        strict=True,
    )
    labels = zip(
        stream.columns["label_time_ms"][stream.labels_due()].tolist(),
        (_message(e, True) for e in label_events(stream)),
        strict=True,
    )
    for _, message in heapq.merge(predictions, labels, key=lambda pair: pair[0]):
        yield message


def _message(event: dict[str, object], is_label: bool) -> Message:
    return Message(is_label, str(event["event_id"]).encode(), orjson.dumps(event))


def write_demo_files(folder: Path, seed: int = 11) -> tuple[Path, Path]:
    """Write ``training.parquet`` and ``events.jsonl`` (predictions carrying their outcome, for a
    file replay) into ``folder``; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    training = write_training(folder)
    events = folder / "events.jsonl"
    with events.open("wb") as out:
        out.writelines(
            orjson.dumps(e, option=orjson.OPT_APPEND_NEWLINE)
            for e in prediction_events(demo_stream(seed), inline_labels=True)
        )
    return training, events


def write_training(folder: Path) -> Path:
    """Write ``training.parquet`` into ``folder``; return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    training = folder / "training.parquet"
    pq.write_table(training_table(), training)
    return training
