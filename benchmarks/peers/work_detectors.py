"""Driftwarden's online detectors over a stored stream, run from the project's .venv.

``--detector NAME``: a name of ``detectors.online.make_detector`` with default parameters, fed
the whole stream with ``update_many``; writes the detection indices to ``--indices`` (.npy).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from common import Phases, emit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--detector", required=True, help="make_detector name, e.g. ddm_np")
    parser.add_argument("--stream", type=Path, required=True, help="values (.npy)")
    parser.add_argument("--indices", type=Path, required=True, help="detections to write (.npy)")
    parser.add_argument("--result", type=Path, required=True, help="JSON result to write")
    args = parser.parse_args()
    phases = Phases()
    with phases("import"):
        import numpy as np

        from detectors.online import make_detector
    with phases("load"):
        values = np.load(args.stream)
    with phases("detect"):
        hits = make_detector(args.detector).update_many(values)
    np.save(args.indices, hits)
    emit(args.result, phases, ("detect",), values=int(values.size), detections=int(hits.size))


if __name__ == "__main__":
    main()
