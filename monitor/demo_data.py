"""A synthetic car-loan model with a training set and an hourly event stream with known incidents.

The stream is stable except during the incidents of :data:`INCIDENTS`, each a run of windows in
which one field-report failure is injected. Everything is seeded, so the files are identical on
every run.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

MODEL = "car-loan"
START_MS = 1_554_163_200_000  # 2019-04-02T00:00:00Z
HOUR_MS = 3_600_000
WINDOWS = 48
EVENTS_PER_WINDOW = 2_000
COUNTRIES = np.array(["US", "DE", "FR", "GB", "ES"])
COUNTRY_P = np.array([0.4, 0.2, 0.15, 0.15, 0.1])
SALARY_RANGES = np.array(["< 20K €", "20K - 40K €", "40K - 60K €", "60K - 80K €", "> 80K €"])
CHANNELS = np.array(["web", "branch", "partner"])
PLATFORMS = np.array(["ios", "android", "web"])
REGIONS = np.array(["na", "eu", "apac"])


@dataclass(frozen=True)
class Incident:
    """A labelled failure injected into windows ``first`` … ``last`` (inclusive)."""

    name: str
    first: int
    last: int
    description: str
    subjects: tuple[str, ...]
    segment: str = ""


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
    if "prediction-shift" in active:
        score = 1.0 - (1.0 - score) ** 3
    if "representation-change" in active:
        cols["country"] = np.where(cols["country"] == "US", "United States", cols["country"])
    if "missing-critical" in active:
        cols["credit_score"] = np.where(rng.random(n) < 0.05, np.nan, cols["credit_score"])
    cols["prediction"] = np.round(score, 6)
    cols["label"] = truth.astype(np.int64)
    cols["timestamp"] = START_MS + w * HOUR_MS + np.sort(rng.integers(0, HOUR_MS, n))
    return cols


def _events(seed: int) -> Iterator[dict[str, object]]:
    rng = np.random.default_rng(seed)
    numeric = ("car_value", "income", "loan_length", "credit_score", "age", "debt_ratio")
    categorical = ("country", "salary_range", "channel")
    for w in range(WINDOWS):
        cols = _window_events(rng, w)
        lists = {k: v.tolist() for k, v in cols.items()}
        for i in range(EVENTS_PER_WINDOW):
            features: dict[str, object] = {k: lists[k][i] for k in numeric}
            if features["credit_score"] != features["credit_score"]:  # NaN: the field is absent
                del features["credit_score"]
            features.update({k: lists[k][i] for k in categorical})
            yield {
                "event_id": f"e{w:02d}-{i:05d}",
                "model": MODEL,
                "model_version": "v3",
                "timestamp": int(lists["timestamp"][i]),
                "features": features,
                "prediction": lists["prediction"][i],
                "label": lists["label"][i],
                "segments": {"platform": lists["platform"][i], "region": lists["region"][i]},
            }


def write_demo_files(folder: Path, seed: int = 11) -> tuple[Path, Path]:
    """Write ``training.parquet`` and ``events.jsonl`` into ``folder``; return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    training = folder / "training.parquet"
    pq.write_table(training_table(), training)
    events = folder / "events.jsonl"
    with events.open("wb") as out:
        out.writelines(orjson.dumps(e, option=orjson.OPT_APPEND_NEWLINE) for e in _events(seed))
    return training, events
