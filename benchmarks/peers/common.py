"""What every worker of the peer benchmark shares: feature names, phase timing, the result file.

Standard library only: workers import it from both environments (the project's .venv and the
peers' venv). A worker times its phases with ``Phases``, then ``emit`` writes one JSON object to
the ``--result`` path the harness gave it.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

NUMERIC = tuple(f"n{i:02d}" for i in range(16))
CATEGORICAL = tuple(f"c{i}" for i in range(4))
FEATURES = NUMERIC + CATEGORICAL
#: Features whose current distribution differs from the reference, and how (see data.py).
SHIFTS = {
    "n00": "mean +0.5 sd",
    "n01": "mean +0.2 sd",
    "n02": "sd x1.5",
    "n08": "lognormal sigma 0.5 -> 0.6",
    "n12": "uniform [0, 1] -> [0, 1.2] (values beyond the reference range)",
    "c0": "category shares reversed",
    "c1": "new category 'new' at 2%",
}
MODEL = "peers"
#: Environment the harness gives every worker: no usage analytics from the peers.
QUIET_ENVIRONMENT = {
    "DO_NOT_TRACK": "1",
    "NML_DISABLE_USAGE_LOGGING": "1",
    "WHYLOGS_NO_ANALYTICS": "True",
}


class Phases:
    """Wall seconds of named phases, in the order they ran.

    >>> phases = Phases()
    >>> with phases("work"):
    ...     pass
    >>> list(phases.seconds)
    ['work']
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = time.perf_counter() - started


def table_arguments(description: str) -> argparse.ArgumentParser:
    """The arguments of a drift-score worker: the two tables and where to write the result."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--reference", type=Path, required=True, help="reference Parquet")
    parser.add_argument("--current", type=Path, required=True, help="current Parquet")
    parser.add_argument("--result", type=Path, required=True, help="JSON result to write")
    return parser


def verdict(score: float, drift: bool, method: str) -> dict[str, Any]:
    """One feature's score as a worker reports it (NaN, which JSON lacks, becomes None).

    >>> verdict(0.25, True, "psi")
    {'score': 0.25, 'drift': True, 'method': 'psi'}
    """
    value = float(score)
    return {
        "score": value if math.isfinite(value) else None,
        "drift": bool(drift),
        "method": method,
    }


def emit(path: Path, phases: Phases, work: tuple[str, ...], **extra: Any) -> None:
    """Write phase seconds, ``work_seconds`` (sum of the ``work`` phases) and the extras."""
    document: Mapping[str, Any] = {
        "phases": phases.seconds,
        "work_seconds": sum(phases.seconds[name] for name in work),
        **extra,
    }
    path.write_text(json.dumps(document, indent=1, sort_keys=True), encoding="utf-8")
