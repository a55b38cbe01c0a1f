"""JSON parsing alone: the decoder's two paths and pyarrow's reader against a bare orjson loop.

Run: ``.venv/bin/python benchmarks/bench_json_parse.py [--lines 50000] [--batch 10000]
[--repeats 5]``

On ``--lines`` lines of bench_replay's JSON Lines file (20 features, ~560 bytes a line), in
batches of ``--batch`` messages, best of ``--repeats``:

- *bare*: ``for line in lines: orjson.loads(line)`` — the reference of issue 2's target;
- *native, default threads* and *native, 1 thread*: ``FastJsonReader.read``, the decoder's batch
  path (Rust) from messages to column pieces;
- *per-record*: ``parse_each`` + ``fields_from_objects``, the path a batch takes when the native
  reader gives it back (one ``orjson.loads`` per message, then pieces per JSON type);
- *pyarrow*: ``pyarrow.json.read_json`` of the batch joined as lines (the decoder's batch path
  until session 3), threaded as by default, parse only.

Prints seconds and the ratio to *bare* for each.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable

import orjson
import pyarrow as pa
import pyarrow.json as pa_json
from bench_replay import CATEGORICAL, NUMERIC, jsonl_events

from monitor.decode import EventSchema, FieldMapping
from monitor.decode.fast import FastJsonReader
from monitor.decode.paths import EventPaths
from monitor.decode.slow import fields_from_objects, parse_each


def best(repeats: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    lines = jsonl_events(200_000).read_bytes().splitlines()[: args.lines]
    batches = [lines[i : i + args.batch] for i in range(0, len(lines), args.batch)]
    schema = EventSchema(frozenset({"bench"}), NUMERIC, CATEGORICAL, prediction_kind="numeric")
    paths = EventPaths.of(schema, FieldMapping())
    native = FastJsonReader(paths)
    single = FastJsonReader(paths, threads=1)

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
        "bare orjson loop": bare,
        f"native, {native.threads} thread(s)": lambda: [native.read(b) for b in batches],
        "native, 1 thread": lambda: [single.read(b) for b in batches],
        "per-record path": per_record,
        "pyarrow read_json": pyarrow_reader,
    }
    seconds = {name: best(args.repeats, work) for name, work in runs.items()}
    reference = seconds["bare orjson loop"]
    for name, value in seconds.items():
        print(f"{name:24} {value:8.4f} s  {value / reference:5.2f}x bare")
    print(json.dumps({"lines": len(lines), "batch": args.batch, "seconds": seconds}))


if __name__ == "__main__":
    main()
