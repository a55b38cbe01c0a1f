"""The peers' isolated environment: a venv under .cache/peers-venv built from requirements.txt.

Created with ``python -m venv`` and filled by pip (cache under .cache/pip). A stamp holding the
sha256 of requirements.txt tells whether the venv is current; editing the file rebuilds it. The
project's own .venv is never touched.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REQUIREMENTS = HERE / "requirements.txt"


def peers_python(root: Path) -> Path:
    """Create or refresh the peers' venv under ``root``/.cache and return its interpreter."""
    venv = root / ".cache" / "peers-venv"
    python = venv / "bin" / "python"
    stamp = venv / "requirements.sha256"
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if python.exists() and stamp.exists() and stamp.read_text(encoding="ascii") == wanted:
        return python
    if venv.exists():
        shutil.rmtree(venv)
    print(f"creating the peers' venv in {venv} (pip, several minutes)", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    env = {**os.environ, "PIP_CACHE_DIR": str(root / ".cache" / "pip")}
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "-r", str(REQUIREMENTS)],
        check=True,
        env=env,
    )
    stamp.write_text(wanted, encoding="ascii")
    return python


def package_versions(python: Path, names: tuple[str, ...]) -> dict[str, str]:
    """Installed versions of ``names`` in the environment of ``python``."""
    script = (
        "import importlib.metadata as m, json, sys;"
        "print(json.dumps({n: m.version(n) for n in sys.argv[1:]}))"
    )
    found = subprocess.run(
        [str(python), "-c", script, *names], check=True, capture_output=True, text=True
    )
    versions: dict[str, str] = json.loads(found.stdout)
    return versions
