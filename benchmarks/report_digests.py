"""SHA-256 of every report line of the many-models case, and of snapshots taken on the way: run
it in two trees and compare the outputs to show a change leaves every byte as it was.

Run: ``.venv/bin/python benchmarks/report_digests.py OUTPUT.json [--models 100]`` in each tree
(``PYTHONPATH`` set to the tree), then ``cmp`` the two files. The case is
``bench_models.py``'s (files cached in ``.cache/bench/models/``), replayed at two batch sizes:
32,768 rows (the replay's default) and 7,001 (windows close in other batches). The smaller run
snapshots the pipeline after batches 4, 41 and 101 and goes on from a pipeline restored from the
second snapshot, so the snapshot bytes and a restored pipeline's lines are compared too.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
from bench_models import START_MS, baselines, events_path, settings_for

from monitor.pipeline import Pipeline
from monitor.sinks.base import Record, report_json
from monitor.sources.files import iter_file
from monitor.stage_one import event_schema
from monitor.state.snapshot import restore, snapshot

SIZES = (32_768, 7_001)
SNAPSHOTS = (3, 40, 100)  # batch numbers (from 0) after which the pipeline is snapshotted
RESTORED_AT = 40  # ... and at 7,001 rows, replaced by a pipeline restored from that snapshot


class Digests:
    """Sink keeping a SHA-256 of each report line and of all of them in order."""

    def __init__(self) -> None:
        self.all = hashlib.sha256()
        self.lines: list[str] = []

    def write(self, record: Record) -> None:
        line = report_json(record.report)
        self.all.update(line + b"\n")
        self.lines.append(hashlib.sha256(line).hexdigest())


def replay(models: int, size: int) -> dict[str, Any]:
    """The digests of one replay of the case in batches of ``size`` rows."""
    loaded = baselines(models, 5)
    settings = settings_for(models, 5)
    sink = Digests()
    pipeline = Pipeline(settings, loaded, [sink])
    categories = event_schema(settings, loaded).categorical_features
    offset, snapshots = 0, []
    batches = iter_file(events_path(1_000_000, models, 5), size, categories=categories)
    for number, batch in enumerate(batches):
        assert isinstance(batch, pa.RecordBatch)
        pipeline.process_table(batch, first_offset=offset, now_ms=START_MS + 10**10)
        offset += batch.num_rows
        if number in SNAPSHOTS:
            state = orjson.dumps(
                snapshot(pipeline), option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_SORT_KEYS
            )
            snapshots.append(hashlib.sha256(state).hexdigest())
            if number == RESTORED_AT and size != SIZES[0]:
                pipeline = Pipeline(settings, loaded, [sink])
                restore(pipeline, orjson.loads(state))
    pipeline.finish()
    return {
        "lines": len(sink.lines),
        "sha256": sink.all.hexdigest(),
        "snapshots": snapshots,
        "late": dict(sorted(pipeline.windower.late.by_model.items())),
        "per_line": sink.lines,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path)
    parser.add_argument("--models", type=int, default=100)
    args = parser.parse_args()
    out = {str(size): replay(args.models, size) for size in SIZES}
    args.output.write_text(json.dumps(out) + "\n")
    for size, found in out.items():
        print(f"{size} rows a batch: {found['lines']} lines, sha256 {found['sha256']}")


if __name__ == "__main__":
    main()
