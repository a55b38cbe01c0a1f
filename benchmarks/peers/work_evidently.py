"""Evidently's data-drift preset on the benchmark tables, run from the peers' venv.

``--method psi`` sets PSI for every column (``DataDriftPreset(method="psi")``, the current API's
name for the legacy ``stattest="psi"``); ``--method default`` keeps Evidently's own choice per
column (for more than 1,000 reference rows: normed Wasserstein for numeric columns, Jensen-Shannon
for categorical ones). Reads both tables with pandas, runs the report, writes the per-column
drift score and verdict.
"""

from __future__ import annotations

from typing import Any

from common import CATEGORICAL, FEATURES, NUMERIC, Phases, emit, table_arguments, verdict


def main() -> None:
    parser = table_arguments(__doc__.splitlines()[0])
    parser.add_argument("--method", choices=("psi", "default"), required=True)
    args = parser.parse_args()
    phases = Phases()
    with phases("import"):
        import pandas as pd  # type: ignore[import-untyped, import-not-found, unused-ignore]
        from evidently import DataDefinition, Dataset, Report  # type: ignore[import-untyped, import-not-found, unused-ignore]
        from evidently.presets import DataDriftPreset  # type: ignore[import-untyped, import-not-found, unused-ignore]
    with phases("read"):
        reference = pd.read_parquet(args.reference, columns=list(FEATURES))
        current = pd.read_parquet(args.current, columns=list(FEATURES))
    with phases("drift"):
        definition = DataDefinition(
            numerical_columns=list(NUMERIC), categorical_columns=list(CATEGORICAL)
        )
        preset = DataDriftPreset(method="psi" if args.method == "psi" else None)
        snapshot = Report([preset]).run(
            Dataset.from_pandas(current, data_definition=definition),
            Dataset.from_pandas(reference, data_definition=definition),
        )
        document: dict[str, Any] = snapshot.dict()
    emit(args.result, phases, ("read", "drift"), scores=column_scores(document))


def column_scores(document: dict[str, Any]) -> dict[str, Any]:
    """The ``ValueDrift`` metric of every column: score, method, and score >= threshold."""
    out = {}
    for metric in document["metrics"]:
        config = metric["config"]
        if config["type"].endswith(":ValueDrift"):
            score = float(metric["value"])
            out[config["column"]] = verdict(score, score >= config["threshold"], config["method"])
    return dict(sorted(out.items()))


if __name__ == "__main__":
    main()
