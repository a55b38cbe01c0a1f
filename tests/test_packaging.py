"""An install where there is no Rust: the sdist and the wheel build and install without cargo,
and replay a file with the Python JSON reader to the report the native reader gives.

Everything is installed from a wheelhouse in ``.cache/wheelhouse``, downloaded once with pip
(pinned by ``deploy/local/constraints.txt``) and read offline afterwards.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from baselines.build import build_baseline_file
from tests.support.builders import training

ROOT = Path(__file__).resolve().parents[1]
WHEELHOUSE = ROOT / ".cache" / "wheelhouse"
CONSTRAINTS = ROOT / "deploy" / "local" / "constraints.txt"
#: What builds the sdist and the wheel, pinned.
BUILD_TOOLS = ("build==1.6.1", "setuptools==84.2.1", "setuptools-rust==1.12.0")
TIMEOUT_S = 900


def _run(*command: str | Path, env: dict[str, str] | None = None) -> str:
    """Run ``command``; its output, or a failure that shows it."""
    done = subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, env=env, timeout=TIMEOUT_S
    )
    assert done.returncode == 0, f"{command} exited {done.returncode}:\n{done.stderr[-4000:]}"
    return done.stdout


def _requirements() -> list[str]:
    """The runtime dependencies and the build tools."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    return [*project["project"]["dependencies"], *BUILD_TOOLS]


@pytest.fixture(scope="module")
def wheelhouse() -> Path:
    """Wheels of every dependency and build tool, downloaded when the requirements change."""
    wanted = "\n".join([*_requirements(), CONSTRAINTS.read_text(encoding="utf-8")])
    stamp = WHEELHOUSE / ".requirements"
    digest = hashlib.sha256(wanted.encode()).hexdigest()
    if not (stamp.is_file() and stamp.read_text() == digest):
        WHEELHOUSE.mkdir(parents=True, exist_ok=True)
        download = [sys.executable, "-m", "pip", "download", "-q", "-d", WHEELHOUSE]
        _run(*download, "-c", CONSTRAINTS, *_requirements())
        stamp.write_text(digest)
    return WHEELHOUSE


@pytest.fixture(scope="module")
def without_rust() -> dict[str, str]:
    """The environment with every folder that holds cargo or rustc taken off the PATH."""
    folders = os.environ.get("PATH", "").split(os.pathsep)
    kept = [f for f in folders if not any((Path(f) / tool).exists() for tool in ("cargo", "rustc"))]
    env = {**os.environ, "PATH": os.pathsep.join(kept), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("CARGO_HOME", None)
    assert shutil.which("cargo", path=env["PATH"]) is None
    return env


def _new_venv(folder: Path) -> Path:
    """A clean virtualenv with pip; its python."""
    venv.create(folder, with_pip=True, clear=True)
    return folder / "bin" / "python"


@pytest.fixture(scope="module")
def built(
    tmp_path_factory: pytest.TempPathFactory, wheelhouse: Path, without_rust: dict[str, str]
) -> dict[str, Path]:
    """The sdist and the wheel of a copy of the tracked sources, built where no cargo is."""
    folder = tmp_path_factory.mktemp("packaging")
    source = folder / "source"
    tracked = _run("git", "-C", ROOT, "ls-files", "-z").split("\0")
    for name in filter(None, tracked):
        if (ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, source / name)
    builder = _new_venv(folder / "builder")
    offline = ["--no-index", "--find-links", str(wheelhouse)]
    _run(builder, "-m", "pip", "install", "-q", *offline, *BUILD_TOOLS, env=without_rust)
    dist = folder / "dist"
    _run(builder, "-m", "build", "--no-isolation", "--outdir", dist, source, env=without_rust)
    (sdist,) = dist.glob("driftwarden-*.tar.gz")
    (wheel,) = dist.glob("driftwarden-*.whl")
    return {"sdist": sdist, "wheel": wheel}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A baseline and a JSON Lines file of events in its shape."""
    folder = tmp_path_factory.mktemp("packaging-inputs")
    pq.write_table(training(2_000), folder / "t.parquet")
    baseline = folder / "b.json"
    build_baseline_file(
        folder / "t.parquet", baseline, model="m", prediction="score", segments=("platform",)
    )
    rows = training(3_000, seed=9).to_pylist()
    events = folder / "events.jsonl"
    events.write_bytes(
        b"".join(
            orjson.dumps(
                {
                    "event_id": str(i),
                    "model": "m",
                    "timestamp": 1_554_163_200_000 + i * 7_000,
                    "features": {k: row[k] for k in ("x", "y", "color")},
                    "prediction": row["score"],
                }
            )
            + b"\n"
            for i, row in enumerate(rows)
        )
    )
    return baseline, events


@pytest.mark.parametrize("artifact", ["sdist", "wheel"])
def test_an_install_without_rust_replays_with_the_python_reader(
    artifact: str,
    built: dict[str, Path],
    wheelhouse: Path,
    without_rust: dict[str, str],
    inputs: tuple[Path, Path],
    tmp_path: Path,
) -> None:
    """Installed from the sdist or the wheel with no cargo on the PATH, driftwarden says it uses
    the Python reader and replays a file to the bytes the native reader's replay writes."""
    python = _new_venv(tmp_path / "venv")
    offline = ["--no-index", "--find-links", str(wheelhouse)]
    _run(python, "-m", "pip", "install", "-q", *offline, built[artifact], env=without_rust)
    installed = python.parent / "driftwarden"
    assert _run(installed, "--version", env=without_rust).endswith("(JSON reader: python)\n")
    baseline, events = inputs
    replay = ["replay", "--baseline", baseline, "--input", events, "--no-progress"]
    _run(installed, *replay, "--output", tmp_path / "python.jsonl", env=without_rust)
    native = [sys.executable, "-m", "monitor.cli", *replay, "--output", tmp_path / "native.jsonl"]
    _run(*native, env={**os.environ, "DRIFTWARDEN_JSON_READER": "native"})
    assert (tmp_path / "python.jsonl").read_bytes() == (tmp_path / "native.jsonl").read_bytes()
