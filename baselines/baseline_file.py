"""The baseline file on disk: indented JSON of the document (:mod:`baselines.codec`), replaced
atomically on save, checked whole on load."""

from __future__ import annotations

import os
from pathlib import Path

import orjson

from baselines.codec import REBUILD_HINT, decode_baseline, encode_baseline
from baselines.errors import BaselineError
from baselines.json_file import JsonFile
from baselines.values import Baseline

BASELINE_FILE = JsonFile(
    name="baseline file",
    error=BaselineError,
    unreadable_fix="check the path and its permissions",
    not_json=f"is not valid JSON ({{problem}}); {REBUILD_HINT}",
    missing_fix="check the path or build it with `driftwarden baseline build`",
)


def save_baseline(baseline: Baseline, path: str | Path) -> None:
    """Write ``baseline`` as indented JSON (atomically: a temporary file, then a rename)."""
    path = Path(path)
    data = orjson.dumps(encode_baseline(baseline), option=orjson.OPT_INDENT_2) + b"\n"
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise BaselineError(
            f"cannot write baseline {path}: {error.strerror or error};"
            " check that the directory exists and is writable"
        ) from error


def load_baseline(path: str | Path) -> Baseline:
    """Read and validate a baseline file; raises :class:`BaselineError` on any problem."""
    path = Path(path)
    return decode_baseline(BASELINE_FILE.read(path), origin=f"{BASELINE_FILE.name} {path}")
