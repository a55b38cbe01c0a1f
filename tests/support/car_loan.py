"""A small synthetic twin of NannyML's car-loan data: a reference and an analysis CSV file.

The columns are NannyML's (``id, car_value, salary_range, debt_to_income_ratio, loan_length,
repaid_loan_on_prev_car, size_of_downpayment, driver_tenure, repaid, timestamp, y_pred_proba,
y_pred``), with its zone-less timestamps (``2018-01-01 00:00:00.000``) and no ``model`` column.
The reference covers the first half of 2018; the analysis the next 150 days, in whose second
half ``car_value`` grows by half and the scores shift upwards. Seeded: the same files each time.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

#: The training file's names of the prediction, the label and the time.
PREDICTION, LABEL, TIMESTAMP = "y_pred_proba", "repaid", "timestamp"
#: Rows of each file.
ROWS = 3_000
_DAY_MS = 86_400_000
_REFERENCE_START_MS = 1_514_764_800_000  # 2018-01-01T00:00:00Z
_ANALYSIS_START_MS = _REFERENCE_START_MS + 180 * _DAY_MS
_SALARY = np.array(["0 - 20K €", "20K - 40K €", "40K - 60K €", "60K+ €"])
_DOWNPAYMENT = np.array(["0%", "10%", "20%", "30%", "40%+"])


def car_loan_table(*, analysis: bool, rows: int = ROWS) -> pa.Table:
    """The reference (``analysis=False``) or the analysis rows, in NannyML's column order."""
    rng = np.random.default_rng(17 + analysis)
    start = _ANALYSIS_START_MS if analysis else _REFERENCE_START_MS
    span_ms = (150 if analysis else 180) * _DAY_MS
    times = start + np.sort(rng.integers(0, span_ms, rows))
    drifted = analysis & (np.arange(rows) >= rows // 2)
    car_value = rng.lognormal(10.0, 0.5, rows) * np.where(drifted, 1.5, 1.0)
    debt = rng.beta(2.0, 5.0, rows)
    loan_length = rng.integers(12, 61, rows)
    tenure = rng.gamma(2.0, 2.0, rows)
    logit = 1.5 - 0.00003 * car_value - 3.0 * debt + 0.1 * tenure + np.where(drifted, 1.0, 0.0)
    score = np.round(1 / (1 + np.exp(-logit)), 2)
    return pa.table(
        {
            "id": np.arange(rows) + (rows if analysis else 0),
            "car_value": np.round(car_value, 0),
            "salary_range": rng.choice(_SALARY, rows),
            "debt_to_income_ratio": np.round(debt, 4),
            "loan_length": loan_length,
            "repaid_loan_on_prev_car": rng.random(rows) < 0.6,
            "size_of_downpayment": rng.choice(_DOWNPAYMENT, rows),
            "driver_tenure": np.round(tenure, 2),
            LABEL: (rng.random(rows) < score).astype(np.int64),
            TIMESTAMP: _zoneless(times),
            PREDICTION: score,
            "y_pred": (score >= 0.5).astype(np.int64),
        }
    )


def with_reserved_names(table: pa.Table, model: str) -> pa.Table:
    """The same rows in the event contract's names: ``model``, ``prediction``, ``label``."""
    renamed = {PREDICTION: "prediction", LABEL: "label"}
    out = table.rename_columns([renamed.get(name, name) for name in table.column_names])
    return out.append_column("model", pa.array([model] * table.num_rows))


def write_csv(table: pa.Table, path: Path) -> Path:
    """``table`` as a CSV file without quotes, as NannyML ships it; returns ``path``."""
    options = pa_csv.WriteOptions(include_header=False, quoting_style="none")
    with path.open("wb") as out:
        out.write((",".join(table.column_names) + "\n").encode())
        pa_csv.write_csv(table, out, write_options=options)
    return path


def write_json_lines(table: pa.Table, path: Path) -> Path:
    """``table`` as JSON Lines of flat rows (no event envelope), times as epoch milliseconds
    as pandas' ``to_json(orient="records", lines=True)`` writes them; returns ``path``."""
    times = table.column(TIMESTAMP).cast(pa.timestamp("ms")).cast(pa.int64())
    rows = table.set_column(table.schema.get_field_index(TIMESTAMP), TIMESTAMP, times)
    path.write_bytes(
        b"".join(orjson.dumps(row, option=orjson.OPT_APPEND_NEWLINE) for row in rows.to_pylist())
    )
    return path


def _zoneless(times_ms: np.ndarray) -> pa.Array:
    """Epoch milliseconds as NannyML's text: ``2018-01-01 00:08:43.152``."""
    stamps = pa.array(times_ms, pa.timestamp("ms"))
    return pc.strftime(stamps, format="%Y-%m-%d %H:%M:%S")
