"""The paused-broker test with a longer pause: 10 minutes by default. Not part of CI.

    .venv/bin/python benchmarks/outage.py [--pause-s 600]

Runs ``tests/test_daemon_outage.py::test_a_paused_broker_is_ridden_out`` with its pause set
through ``DRIFTWARDEN_TEST_PAUSE_S``: a broker of its own is frozen with SIGSTOP mid-stream for
that long while the daemon keeps running, then resumed; the test checks that the daemon never
exits, /healthz stays 200, /readyz is 503 during the pause and 200 after, the report is
byte-identical to an uninterrupted run's and every bad message reached the dead-letter topic.
A pause longer than the producer's delivery timeout (120 s) also exercises the outbox: the
dead letters it gave up on are sent again at the next checkpoint. Raw result (the pause, the
verdict, the seconds): ``benchmarks/results/outage.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEST = "tests/test_daemon_outage.py::test_a_paused_broker_is_ridden_out"
RESULTS = ROOT / "benchmarks" / "results" / "outage.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pause-s", type=int, default=600, help="how long the broker is frozen")
    args = parser.parse_args()
    environment = {**os.environ, "DRIFTWARDEN_TEST_PAUSE_S": str(args.pause_s)}
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", TEST, "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env=environment,
        check=False,
    )
    verdict = "passed" if done.returncode == 0 else f"FAILED (exit {done.returncode})"
    seconds = time.monotonic() - started
    print(f"broker paused {args.pause_s} s: {verdict} in {seconds:.0f} s")
    result = {"pause_s": args.pause_s, "verdict": verdict, "seconds": round(seconds, 1)}
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
