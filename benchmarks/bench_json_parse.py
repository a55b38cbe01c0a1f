"""JSON parsing alone: the decoder's two paths and pyarrow's reader against a bare orjson loop.

Run: ``.venv/bin/python benchmarks/bench_json_parse.py [--lines 50000] [--batch 10000]
[--attempts 5]``; the raw figures go to benchmarks/results/json_parse.json.

On ``--lines`` lines of bench_replay's JSON Lines file (20 features, ~560 bytes a line), in
batches of ``--batch`` messages, ``--attempts`` times each in rounds of rotating order; medians
with min and max (benchmarks/attempts.py):

- *bare*: ``for line in lines: orjson.loads(line)``, one thread — the reference of issue 2's
  target;
- *native, 1 thread* and *native, 2 threads*: ``FastJsonReader.read``, the decoder's batch path
  (Rust) from messages to column pieces; only the 1-thread figure is a like-for-like ratio to
  the one-thread bare loop;
- *per-record*: ``parse_each`` + ``fields_from_objects``, the path a batch takes when the native
  reader gives it back (one ``orjson.loads`` per message, then pieces per JSON type);
- *pyarrow*: ``pyarrow.json.read_json`` of the batch joined as lines (the decoder's batch path
  until session 3), threaded as by default, parse only.

Prints each median (min–max) and its ratio to the bare loop's median.
"""

from __future__ import annotations

import argparse
import json
import os
from functools import partial
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.json as pa_json
from attempts import spread, timed_rounds
from bench_replay import CATEGORICAL, NUMERIC, cell, clocked, jsonl_events

from monitor.decode import EventSchema, FieldMapping
from monitor.decode.fast import FastJsonReader
from monitor.decode.paths import EventPaths
from monitor.decode.slow import fields_from_objects, parse_each

RESULTS = Path(__file__).resolve().parent / "results" / "json_parse.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--attempts", type=int, default=5)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    lines = jsonl_events(200_000).read_bytes().splitlines()[: args.lines]
    batches = [lines[i : i + args.batch] for i in range(0, len(lines), args.batch)]
    schema = EventSchema(frozenset({"bench"}), NUMERIC, CATEGORICAL, prediction_kind="numeric")
    paths = EventPaths.of(schema, FieldMapping())
    single = FastJsonReader(paths, threads=1)
    double = FastJsonReader(paths, threads=2)

    def bare() -> None:
        for line in lines:
            orjson.loads(line)

    def per_record() -> None:
        for batch in batches:
            objects, _, _ = parse_each(batch)
            fields_from_objects(objects, paths)

    def pyarrow_reader() -> None:
        for batch in batches:
            pa_json.read_json(pa.BufferReader(b"\n".join(batch)))

    runs = {
        "bare orjson loop, 1 thread": bare,
        "native, 1 thread": lambda: [single.read(b) for b in batches],
        "native, 2 threads": lambda: [double.read(b) for b in batches],
        "per-record path, 1 thread": per_record,
        "pyarrow read_json, its default threads": pyarrow_reader,
    }
    seconds = timed_rounds(
        {name: partial(clocked, work, []) for name, work in runs.items()}, args.attempts
    )
    summary = {name: spread(values) for name, values in seconds.items()}
    reference = summary["bare orjson loop, 1 thread"]["median"]
    for name, figures in summary.items():
        print(f"{name:40} {cell(figures, 4)} s  {figures['median'] / reference:5.2f}x bare")
    document = {
        "benchmark": "json_parse",
        "lines": len(lines),
        "batch": args.batch,
        "attempts": args.attempts,
        "cpus": os.cpu_count(),
        "load_average_at_end": os.getloadavg(),
        "seconds": seconds,
        "summary": summary,
        "ratio_to_bare_medians": {name: f["median"] / reference for name, f in summary.items()},
    }
    args.output.write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    print(f"raw figures: {args.output}")


if __name__ == "__main__":
    main()
