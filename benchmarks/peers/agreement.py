"""Regenerate tests/fixtures/peer_agreement.json: the peers' PSI and JS on small fixed inputs.

Run with the peers' interpreter (or ``.venv/bin/python benchmarks/peers/run.py --fixture``)::

    .cache/peers-venv/bin/python benchmarks/peers/agreement.py

For each seeded case it stores the samples, the bin edges (or categories) and counts the peer
used, and the peer's own result through its public API: Evidently's PSI from
``Report([DataDriftPreset(method="psi")])`` and NannyML's Jensen-Shannon distance from
``UnivariateDriftCalculator(..., chunk_number=1)``. Bins and counts are rebuilt here with the
peers' rules (read from their source) and checked against the peers' own internals before being
written, so the fixture holds exactly what each peer computed with:

- Evidently (``legacy/calculations/stattests/utils.py: get_binned_data``): numeric columns with
  more than 20 distinct reference values get ``np.histogram_bin_edges(reference + current,
  "sturges")``; other columns one bin per value seen on either side. Shares are counts / n; a
  share of 0 is replaced by 1e-4, or by (smallest non-zero share of that side) / 1e6 when that
  smallest share is <= 1e-4.
- NannyML (``drift/univariate/methods.py``): continuous columns get
  ``np.histogram_bin_edges(reference, "doane")``, categorical ones the sorted reference values;
  current values outside them are one extra "leftover" bin with reference share 0; distance is
  ``scipy.spatial.distance.jensenshannon(ref, cur, base=2)``.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd  # type: ignore[import-untyped, import-not-found, unused-ignore]

os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")

import nannyml  # type: ignore[import-untyped, import-not-found, unused-ignore]
from evidently import DataDefinition, Dataset, Report  # type: ignore[import-untyped, import-not-found, unused-ignore]
from evidently.legacy.calculations.stattests.utils import (  # type: ignore[import-untyped, import-not-found, unused-ignore]
    get_binned_data,
)
from evidently.legacy.core import ColumnType  # type: ignore[import-untyped, import-not-found, unused-ignore]
from evidently.presets import DataDriftPreset  # type: ignore[import-untyped, import-not-found, unused-ignore]

FIXTURE = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "peer_agreement.json"
DECIMALS = 3
Sample = npt.NDArray[Any]


def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


def rounded(values: Sample) -> Sample:
    """Samples are rounded so the fixture stays small; the peers see the rounded values."""
    return np.round(values, DECIMALS)


def evidently_cases() -> list[tuple[str, str, Sample, Sample]]:
    """(name, kind, reference, current) inputs for Evidently's PSI."""
    gap = rng(3)
    bimodal = np.concatenate([gap.normal(-4, 0.5, 600), gap.normal(4, 0.5, 600)])
    sparse = rng(4)
    return [
        (
            "normal, mean shift",
            "numeric",
            rounded(rng(1).normal(0, 1, 1000)),
            rounded(rng(2).normal(0.4, 1, 800)),
        ),
        (
            "bimodal with an empty gap: zero shares on both sides",
            "numeric",
            rounded(bimodal),
            rounded(np.concatenate([gap.normal(-4, 0.5, 300), gap.normal(4, 0.8, 500)])),
        ),
        (
            "sparse tail: a current share of 1/10001 makes Evidently smooth with share / 1e6",
            "numeric",
            rounded(sparse.uniform(0, 30, 2000)),
            rounded(np.append(sparse.uniform(0, 10, 10_000), 29.5)),
        ),
        (
            "categories: one only in the reference, one only in the current set",
            "categorical",
            rng(5).choice(np.array(["a", "b", "c", "d", "e"]), 900, p=[0.4, 0.3, 0.15, 0.1, 0.05]),
            rng(6).choice(np.array(["a", "b", "c", "d", "f"]), 700, p=[0.3, 0.3, 0.2, 0.15, 0.05]),
        ),
    ]


def nannyml_cases() -> list[tuple[str, str, Sample, Sample]]:
    """(name, kind, reference, current) inputs for NannyML's Jensen-Shannon distance."""
    inside = rng(7).normal(0, 1, 1000)
    return [
        (
            "normal, mean shift, current inside the reference range",
            "continuous",
            rounded(inside),
            rounded(np.clip(rng(8).normal(0.3, 0.8, 800), inside.min(), inside.max())),
        ),
        (
            "uniform [0, 1] to [0, 1.2]: current values beyond the reference range",
            "continuous",
            rounded(rng(9).uniform(0, 1, 1000)),
            rounded(rng(10).uniform(0, 1.2, 900)),
        ),
        (
            "categories: one unseen in the reference",
            "categorical",
            rng(11).choice(np.array(["a", "b", "c", "d"]), 800, p=[0.4, 0.3, 0.2, 0.1]),
            rng(12).choice(np.array(["a", "b", "c", "e"]), 600, p=[0.3, 0.3, 0.3, 0.1]),
        ),
    ]


def evidently_psi(kind: str, reference: Sample, current: Sample) -> float:
    """PSI of column ``x`` from Evidently's public report API."""
    definition = (
        DataDefinition(numerical_columns=["x"])
        if kind == "numeric"
        else DataDefinition(categorical_columns=["x"])
    )
    snapshot = Report([DataDriftPreset(method="psi")]).run(
        Dataset.from_pandas(pd.DataFrame({"x": current}), data_definition=definition),
        Dataset.from_pandas(pd.DataFrame({"x": reference}), data_definition=definition),
    )
    (value,) = (
        m["value"]
        for m in snapshot.dict()["metrics"]
        if m["config"]["type"].endswith(":ValueDrift")
    )
    return float(value)


def evidently_epsilon(shares: Sample) -> float | None:
    """The value Evidently puts in place of zero shares on one side (None: no zero share)."""
    if np.all(shares > 0):
        return None
    smallest = float(shares[shares > 0].min())
    return smallest / 10**6 if smallest <= 0.0001 else 0.0001


def evidently_case(name: str, kind: str, reference: Sample, current: Sample) -> dict[str, Any]:
    ref, cur = pd.Series(reference), pd.Series(current)
    case: dict[str, Any] = {"name": name, "kind": kind}
    if kind == "numeric":
        edges = np.histogram_bin_edges(np.concatenate([reference, current]), bins="sturges")
        ref_counts = np.histogram(reference, edges)[0]
        cur_counts = np.histogram(current, edges)[0]
        case["edges"] = edges.tolist()
        column_type = ColumnType.Numerical
    else:
        categories = sorted(set(reference) | set(current))
        ref_counts = np.array([np.sum(reference == c) for c in categories])
        cur_counts = np.array([np.sum(current == c) for c in categories])
        case["categories"] = categories
        column_type = ColumnType.Categorical
    ref_shares, cur_shares = get_binned_data(ref, cur, column_type, 30, feel_zeroes=False)
    if kind == "categorical":  # Evidently orders categories by set iteration; compare as sets
        ref_shares, cur_shares = np.sort(ref_shares), np.sort(cur_shares)
        assert np.array_equal(ref_shares, np.sort(ref_counts / len(reference)))
        assert np.array_equal(cur_shares, np.sort(cur_counts / len(current)))
    else:
        assert np.array_equal(ref_shares, ref_counts / len(reference))
        assert np.array_equal(cur_shares, cur_counts / len(current))
    epsilons = {evidently_epsilon(ref_shares), evidently_epsilon(cur_shares)} - {None}
    assert len(epsilons) <= 1, f"{name}: Evidently smooths the two sides differently"
    return case | {
        "reference": reference.tolist(),
        "current": current.tolist(),
        "reference_counts": ref_counts.tolist(),
        "current_counts": cur_counts.tolist(),
        "epsilon": epsilons.pop() if epsilons else None,
        "psi": evidently_psi(kind, reference, current),
    }


def nannyml_case(name: str, kind: str, reference: Sample, current: Sample) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "number of chunks is too low": intended
        calculator = nannyml.UnivariateDriftCalculator(
            column_names=["x"],
            continuous_methods=["jensen_shannon"],
            categorical_methods=["jensen_shannon"],
            chunk_number=1,
        ).fit(pd.DataFrame({"x": reference}))
        frame = calculator.calculate(pd.DataFrame({"x": current})).filter(period="analysis")
    js = float(frame.to_df()[("x", "jensen_shannon", "value")].iloc[0])
    (method,) = calculator._column_to_models_mapping["x"]
    case: dict[str, Any] = {"name": name, "kind": kind}
    if kind == "continuous":
        edges = np.histogram_bin_edges(reference, bins="doane")
        assert np.array_equal(edges, method._bins)
        ref_counts = np.histogram(reference, edges)[0]
        cur_counts = np.histogram(current, edges)[0]
        case["edges"] = edges.tolist()
    else:
        categories = np.unique(reference)
        assert np.array_equal(categories, method._bins)
        ref_counts = np.array([np.sum(reference == c) for c in categories])
        cur_counts = np.array([np.sum(current == c) for c in categories])
        case["categories"] = categories.tolist()
    assert np.array_equal(ref_counts / len(reference), method._reference_proba_in_bins)
    # NannyML's own test for a leftover bin, on shares (it can fire on rounding alone).
    leftover_bin = bool(1 - np.sum(cur_counts / len(current)) > 0)
    if leftover_bin:
        ref_counts = np.append(ref_counts, 0)
        cur_counts = np.append(cur_counts, len(current) - cur_counts.sum())
    return case | {
        "reference": reference.tolist(),
        "current": current.tolist(),
        "leftover_bin": leftover_bin,
        "reference_counts": ref_counts.tolist(),
        "current_counts": cur_counts.tolist(),
        "js": js,
    }


def compact_json(document: dict[str, Any]) -> str:
    """Indented JSON with every list of scalars on one line (the samples stay readable).

    >>> print(compact_json({"a": [1, 2], "b": {"c": ["x"]}}))
    {
     "a": [1, 2],
     "b": {
      "c": ["x"]
     }
    }
    <BLANKLINE>
    """
    text = json.dumps(document, indent=1)
    return re.sub(r"\[\s*([^\[\]{}]*?)\s*\]", lambda m: f"[{' '.join(m[1].split())}]", text) + "\n"


def main() -> None:
    if os.environ.get("PYTHONHASHSEED") != "0":
        # Evidently sums categorical PSI in set order, which string hashing randomises (last
        # bit of the result): a fixed hash seed keeps the fixture byte-identical across runs.
        os.execve(
            sys.executable, [sys.executable, *sys.argv], {**os.environ, "PYTHONHASHSEED": "0"}
        )
    versions = {
        name: importlib.metadata.version(name)
        for name in ("evidently", "nannyml", "numpy", "scipy", "pandas")
    }
    groups = {
        "evidently_psi": [evidently_case(*case) for case in evidently_cases()],
        "nannyml_js": [nannyml_case(*case) for case in nannyml_cases()],
    }
    document = {"generated_by": "benchmarks/peers/agreement.py", "versions": versions, **groups}
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    FIXTURE.write_text(compact_json(document), encoding="utf-8")
    for group, cases in groups.items():
        for case in cases:
            value = case.get("psi", case.get("js"))
            print(f"{group:<14} {case['name']:<84} {value:.12f} eps={case.get('epsilon')}")
    print(f"wrote {FIXTURE}")


if __name__ == "__main__":
    main()
