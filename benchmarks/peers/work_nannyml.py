"""NannyML's univariate drift calculator (Jensen-Shannon) on the benchmark tables, peers' venv.

``UnivariateDriftCalculator`` with ``jensen_shannon`` for continuous and categorical columns and
one chunk (``chunk_number=1``), so the whole current table is scored once, as the other tools do.
Fitting bins the reference (Doane bins) and also scores the reference itself, as NannyML always
does. The verdict is JS > 0.1, NannyML's documented alert level for this method (with a single
reference chunk its standard-deviation threshold degenerates to the reference value itself).
"""

from __future__ import annotations

import warnings
from typing import Any

from common import FEATURES, Phases, emit, table_arguments, verdict

ALERT = 0.1


def main() -> None:
    args = table_arguments(__doc__.splitlines()[0]).parse_args()
    phases = Phases()
    with phases("import"):
        import nannyml  # type: ignore[import-untyped, import-not-found, unused-ignore]
        import pandas as pd  # type: ignore[import-untyped, import-not-found, unused-ignore]
    with phases("read"):
        reference = pd.read_parquet(args.reference, columns=list(FEATURES))
        current = pd.read_parquet(args.current, columns=list(FEATURES))
    with phases("fit"), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "number of chunks is too low": intended
        calculator = nannyml.UnivariateDriftCalculator(
            column_names=list(FEATURES),
            continuous_methods=["jensen_shannon"],
            categorical_methods=["jensen_shannon"],
            chunk_number=1,
        ).fit(reference)
    with phases("calculate"), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        frame = calculator.calculate(current).filter(period="analysis").to_df()
    emit(args.result, phases, ("read", "fit", "calculate"), scores=column_scores(frame))


def column_scores(frame: Any) -> dict[str, Any]:
    """Each feature's Jensen-Shannon distance from the single analysis chunk."""
    out = {}
    for name in FEATURES:
        score = float(frame[(name, "jensen_shannon", "value")].iloc[0])
        out[name] = verdict(score, score > ALERT, "jensen_shannon")
    return out


if __name__ == "__main__":
    main()
