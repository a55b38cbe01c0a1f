"""One cause, one alert: what the missing, unseen and out-of-range checks report is left out of
the drift statistic, so a window whose only change is one of them raises that check alone."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
import scipy.spatial.distance
import scipy.stats

from baselines.build import build_baseline
from baselines.values import Baseline
from tests.support.segmented_stream import HOUR_MS, raises, replay

EPSILON = 1e-4
PER_WINDOW = 2_000
REFERENCE_X = np.random.default_rng(0).normal(0.0, 1.0, 10_000)


@pytest.fixture(scope="module")
def baseline() -> Baseline:
    """A categorical ``country`` (a, b, c at exactly 50/30/20 %) and a standard normal ``x``."""
    country = np.repeat(["a", "b", "c"], [5_000, 3_000, 2_000])
    np.random.default_rng(1).shuffle(country)
    return build_baseline(pa.table({"country": country, "x": REFERENCE_X}), model="m")


def _windows(country: list[str | None], x: list[float | None]) -> pa.Table:
    """Two hourly windows holding the same ``PER_WINDOW`` events each."""
    times = np.concatenate([np.arange(PER_WINDOW), HOUR_MS + np.arange(PER_WINDOW)])
    return pa.table(
        {
            "country": pa.array(country * 2, pa.string()),
            "x": pa.array(x * 2, pa.float64()),
            "timestamp": pa.array(times),
            "model": pa.array(["m"] * len(times)),
        }
    )


def _reference_like_x(seed: int) -> list[float | None]:
    """``PER_WINDOW`` values of ``x`` drawn from the reference's own values."""
    return np.random.default_rng(seed).choice(REFERENCE_X, PER_WINDOW).tolist()


def _psi(reference: np.ndarray, current: np.ndarray) -> float:
    """PSI written out: zero shares become ε, no renormalisation (docs/statistics.md)."""
    p, q = reference / reference.sum(), current / current.sum()
    p, q = np.where(p > 0, p, EPSILON), np.where(q > 0, q, EPSILON)
    return float(np.sum((q - p) * np.log(q / p)))


def _second_window(records: list[Mapping[str, Any]]) -> Mapping[str, Any]:
    return [r for r in records if r["kind"] == "window"][1]


def _alerts(records: list[Mapping[str, Any]]) -> list[tuple[str, str, str]]:
    return [(r["subject"], r["check"], r["to"]) for r in raises(records)]


def test_an_unseen_category_raises_unseen_rate_only(tmp_path: Path, baseline: Baseline) -> None:
    """A 2 % unseen category in windows otherwise close to the reference raises unseen_rate, not
    PSI: PSI, KL and JS are those of the seen values alone (vocabulary and other)."""
    seen = {"a": 1_000, "b": 580, "c": 380}
    country = [v for v, n in seen.items() for _ in range(n)] + ["zz"] * 40
    records = replay(tmp_path, baseline, _windows(country, _reference_like_x(2)), segments=())
    assert _alerts(records) == [("country", "unseen_rate", "warning")]
    scores = _second_window(records)["features"]["country"]
    assert scores["unseen_rate"] == 0.02
    reference = np.array([5_000, 3_000, 2_000, 0])  # a, b, c, other
    current = np.array([*seen.values(), 0])
    assert scores["psi"] == pytest.approx(_psi(reference, current), rel=1e-12, abs=1e-15)
    p, q = reference / reference.sum(), current / current.sum()
    assert scores["js"] == pytest.approx(
        scipy.spatial.distance.jensenshannon(p, q, base=2), rel=1e-12
    )
    smoothed = [np.where(v > 0, v, EPSILON) for v in (q, p)]
    assert scores["kl"] == pytest.approx(scipy.stats.entropy(*smoothed), rel=1e-9)
    with_unseen = _psi(np.append(reference, 0), np.append(current, 40))
    assert with_unseen > 0.1 > scores["psi"]  # what the unseen bin used to add: a second alert


def test_missing_values_raise_missing_rate_only(tmp_path: Path, baseline: Baseline) -> None:
    """30 % of ``x`` missing, the rest drawn from the reference: missing_rate intervenes, PSI is
    that of the present values in the reference's bins."""
    x = _reference_like_x(3)
    x[: PER_WINDOW * 3 // 10] = [None] * (PER_WINDOW * 3 // 10)
    records = replay(tmp_path, baseline, _windows(["a"] * PER_WINDOW, x), segments=())
    assert ("x", "missing_rate", "intervention") in _alerts(records)
    assert [a for a in _alerts(records) if a[0] == "x"] == [("x", "missing_rate", "intervention")]
    edges = np.asarray(baseline.features["x"].layout.edges)
    present = np.array([v for v in x if v is not None])
    expected = _psi(np.histogram(REFERENCE_X, edges)[0], np.histogram(present, edges)[0])
    assert _second_window(records)["features"]["x"]["psi"] == pytest.approx(expected, rel=1e-12)


def test_out_of_range_values_raise_out_of_range_rate_only(
    tmp_path: Path, baseline: Baseline
) -> None:
    """10 % of ``x`` beyond the reference maximum, the rest drawn from the reference:
    out_of_range_rate warns, PSI is that of the in-range values (the tail is not folded into
    the last bin)."""
    x = _reference_like_x(4)
    beyond = float(REFERENCE_X.max()) + 1.0
    x[: PER_WINDOW // 10] = [beyond] * (PER_WINDOW // 10)
    records = replay(tmp_path, baseline, _windows(["a"] * PER_WINDOW, x), segments=())
    assert [a for a in _alerts(records) if a[0] == "x"] == [("x", "out_of_range_rate", "warning")]
    scores = _second_window(records)["features"]["x"]
    assert scores["out_of_range_rate"] == 0.1
    edges = np.asarray(baseline.features["x"].layout.edges)
    inside = np.array(x[PER_WINDOW // 10 :])
    expected = _psi(np.histogram(REFERENCE_X, edges)[0], np.histogram(inside, edges)[0])
    assert scores["psi"] == pytest.approx(expected, rel=1e-12)
