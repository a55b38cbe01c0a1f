"""Deterministic data sets of the peer benchmark: Parquet tables and detector streams.

Run by ``run.py`` from the project's .venv: ``python benchmarks/peers/data.py --out DIR
--reference N --current N [N ...] --values N``. Files that already exist are kept (their content
depends only on their name). Tables hold 16 numeric and 4 categorical features; ``current-*``
tables add the ``model`` and ``timestamp`` columns the replay needs (the peers ignore them). Every
block of 1,000,000 rows is drawn from its own seeded generator, so the first million rows of the
10M set are the 1M set. The detector streams are bench_detectors.py's own generators.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_detectors import error_stream, gaussian_stream
from common import MODEL

START_MS = 1_700_006_400_000  # 2023-11-15T00:00:00Z
SPAN_MS = 24 * 3_600_000
BLOCK = 1_000_000
REFERENCE_SEED = 1_000
CURRENT_SEED = 2_000
FloatArray = npt.NDArray[np.float64]


def category_shares(size: int, reverse: bool = False) -> FloatArray:
    """Zipf-like shares of ``size`` categories (1/(i+1), normalised), optionally reversed.

    >>> category_shares(3).round(3).tolist()
    [0.545, 0.273, 0.182]
    """
    weights = 1.0 / np.arange(1, size + 1)
    shares: FloatArray = (weights / weights.sum())[::-1] if reverse else weights / weights.sum()
    return shares


def feature_block(rows: int, seed: int, shifted: bool) -> dict[str, npt.NDArray[np.generic]]:
    """One block of feature columns; ``shifted`` applies ``SHIFTS``."""
    rng = np.random.default_rng(seed)
    out: dict[str, npt.NDArray[np.generic]] = {}
    for i in range(8):
        sd = 1.0 + i / 8
        mean = {0: 0.5 * sd, 1: 0.2 * sd}.get(i, 0.0) if shifted else 0.0
        out[f"n{i:02d}"] = rng.normal(mean, sd * (1.5 if shifted and i == 2 else 1.0), rows)
    for i in range(8, 12):
        sigma = 0.6 if shifted and i == 8 else 0.5
        out[f"n{i:02d}"] = rng.lognormal(0.0, sigma, rows)
    out["n12"] = rng.uniform(0.0, 1.2 if shifted else 1.0, rows)
    out["n13"] = rng.uniform(-5.0, 5.0, rows)
    out["n14"] = rng.exponential(2.0, rows)
    out["n15"] = rng.gamma(3.0, 1.0, rows)
    for i in range(4):
        size = 5 + 3 * i
        values = np.array([f"{'abcd'[i]}{j}" for j in range(size)] + ["new"])
        shares = np.append(category_shares(size, reverse=shifted and i == 0), 0.0)
        if shifted and i == 1:
            shares = np.append(shares[:-1] * 0.98, 0.02)
        out[f"c{i}"] = values[rng.choice(values.size, rows, p=shares)]
    return out


def write_table(path: Path, rows: int, seed: int, shifted: bool, events: bool) -> None:
    """Write ``rows`` rows block by block; ``events`` adds ``model`` and ``timestamp``."""
    writer: pq.ParquetWriter | None = None
    tmp = path.with_suffix(".tmp")
    try:
        for first in range(0, rows, BLOCK):
            size = min(BLOCK, rows - first)
            columns: dict[str, object] = {}
            if events:
                index = np.arange(first, first + size, dtype=np.int64)
                columns["model"] = pa.DictionaryArray.from_arrays(
                    np.zeros(size, dtype=np.int32), [MODEL]
                )
                columns["timestamp"] = START_MS + index * SPAN_MS // rows
            columns.update(feature_block(size, seed + first // BLOCK, shifted))
            table = pa.table(columns)
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table, row_group_size=BLOCK)
    finally:
        if writer is not None:
            writer.close()
    tmp.rename(path)


def table_path(folder: Path, kind: str, rows: int) -> Path:
    """Where the ``kind`` ("reference" or "current") table of ``rows`` rows lives."""
    return folder / f"{kind}-{rows}.parquet"


def stream_path(folder: Path, kind: str, values: int) -> Path:
    """Where the ``kind`` ("gaussian" or "errors") detector stream of ``values`` lives."""
    return folder / f"{kind}-{values}.npy"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--reference", type=int, required=True)
    parser.add_argument("--current", type=int, nargs="+", required=True)
    parser.add_argument("--values", type=int, required=True)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    path = table_path(args.out, "reference", args.reference)
    if not path.exists():
        write_table(path, args.reference, REFERENCE_SEED, shifted=False, events=False)
    for rows in args.current:
        path = table_path(args.out, "current", rows)
        if not path.exists():
            write_table(path, rows, CURRENT_SEED, shifted=True, events=True)
    for kind, make in (("gaussian", gaussian_stream), ("errors", error_stream)):
        path = stream_path(args.out, kind, args.values)
        if not path.exists():
            np.save(path, make(args.values))


if __name__ == "__main__":
    main()
