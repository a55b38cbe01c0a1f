"""river's own drift detectors over a stored stream, run from the peers' venv.

The plain loop a river user writes (as in benchmarks/bench_detectors.py): ``update`` per value,
record the index whenever ``drift_detected``. Default parameters. Writes the detection indices
to ``--indices`` (.npy).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from common import Phases, emit

DETECTORS = ("adwin", "page_hinkley", "ddm")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detector", choices=DETECTORS, required=True)
    parser.add_argument("--stream", type=Path, required=True, help="values (.npy)")
    parser.add_argument("--indices", type=Path, required=True, help="detections to write (.npy)")
    parser.add_argument("--result", type=Path, required=True, help="JSON result to write")
    args = parser.parse_args()
    phases = Phases()
    with phases("import"):
        import numpy as np
        from river import drift  # type: ignore[import-untyped, import-not-found, unused-ignore]
        from river.drift import binary  # type: ignore[import-untyped, import-not-found, unused-ignore]
    with phases("load"):
        values = np.load(args.stream).tolist()
    with phases("detect"):
        detector = {"adwin": drift.ADWIN, "page_hinkley": drift.PageHinkley, "ddm": binary.DDM}[
            args.detector
        ]()
        hits = []
        for i, x in enumerate(values):
            detector.update(x)
            if detector.drift_detected:
                hits.append(i)
    np.save(args.indices, np.asarray(hits, dtype=np.int64))
    emit(args.result, phases, ("detect",), values=len(values), detections=len(hits))


if __name__ == "__main__":
    main()
