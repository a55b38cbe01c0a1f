#!/usr/bin/env bash
# Creates .venv and installs driftwarden with its dev tools. Idempotent: re-running with an
# unchanged pyproject.toml does nothing (so it works offline after the first run).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="$root/.venv"
stamp="$venv/.driftwarden-installed"
want="$(sha256sum "$root/pyproject.toml" | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
python3 -m venv "$venv"
export PIP_CACHE_DIR="$root/.cache/pip"
"$venv/bin/python" -m pip install -q --upgrade pip >&2
"$venv/bin/python" -m pip install -q -e "$root[dev]" >&2
echo "$want" > "$stamp"
