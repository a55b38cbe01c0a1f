"""whylogs on the benchmark tables, run from the peers' venv.

Profiles the current table (the per-batch work whylogs does in production) and the reference
table, then computes its drift report between the two profiles with
``whylogs.viz.drift.column_drift_algorithms.calculate_drift_scores`` (whylogs' default
algorithms: Kolmogorov-Smirnov on the KLL sketch for numeric columns, chi-square on frequent
items for categorical ones; drift category ``DRIFT`` below p = 0.05).
"""

from __future__ import annotations

from typing import Any

from common import FEATURES, Phases, emit, table_arguments, verdict


def main() -> None:
    args = table_arguments(__doc__.splitlines()[0]).parse_args()
    phases = Phases()
    with phases("import"):
        import pandas as pd  # type: ignore[import-untyped, import-not-found, unused-ignore]
        import whylogs  # type: ignore[import-untyped, import-not-found, unused-ignore]
        from whylogs.viz.drift.column_drift_algorithms import calculate_drift_scores  # type: ignore[import-untyped, import-not-found, unused-ignore]
    with phases("read"):
        reference = pd.read_parquet(args.reference, columns=list(FEATURES))
        current = pd.read_parquet(args.current, columns=list(FEATURES))
    with phases("profile_current"):
        current_view = whylogs.log(pandas=current).view()
    with phases("profile_reference"):
        reference_view = whylogs.log(pandas=reference).view()
    with phases("drift"):
        report = calculate_drift_scores(
            target_view=current_view, reference_view=reference_view, with_thresholds=True
        )
    emit(
        args.result,
        phases,
        ("read", "profile_current", "profile_reference", "drift"),
        scores=column_scores(report),
    )


def column_scores(report: dict[str, Any]) -> dict[str, Any]:
    """Each column's test statistic, its algorithm, and whether whylogs calls it ``DRIFT``."""
    return {
        name: verdict(score["statistic"], score["drift_category"] == "DRIFT", score["algorithm"])
        for name, score in sorted(report.items())
        if score is not None
    }


if __name__ == "__main__":
    main()
