"""Which reader decodes JSON batches: the native (Rust) one where it was built, else Python's.

The native reader (:mod:`~monitor.decode.fast`, ``monitor.decode._native``) is an optional part
of the install: ``pip install`` builds it when a Rust toolchain is on the PATH and skips it
otherwise (setuptools-rust's optional extension). Without it every batch takes the per-record
path (:mod:`~monitor.decode.slow`, ``orjson.loads`` per message), which gives identical events,
more slowly. ``DRIFTWARDEN_JSON_READER=python`` chooses that path even where the native reader
exists (to rule it out when a batch decodes oddly); ``=native`` insists on it.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Mapping
from typing import Literal

from monitor.errors import ConfigError

JsonReader = Literal["native", "python"]
READER_ENV = "DRIFTWARDEN_JSON_READER"


def native_reader_built() -> bool:
    """Whether this install holds the native reader (False when it was built without Rust)."""
    return importlib.util.find_spec("monitor.decode._native") is not None


def json_reader(environ: Mapping[str, str] = os.environ) -> JsonReader:
    """The JSON reader to use: as ``DRIFTWARDEN_JSON_READER`` says, else the native one if built.

    >>> json_reader({"DRIFTWARDEN_JSON_READER": "python"})
    'python'
    """
    wanted = environ.get(READER_ENV, "").strip().lower()
    if wanted == "python":
        return "python"
    if wanted not in ("", "native"):
        raise ConfigError(f"{READER_ENV}={wanted!r} is not a JSON reader; use native or python")
    if native_reader_built():
        return "native"
    if wanted == "native":
        raise ConfigError(
            f"{READER_ENV}=native, but this install has no native reader (it was built without "
            "Rust); unset it, or reinstall with cargo on the PATH"
        )
    return "python"
