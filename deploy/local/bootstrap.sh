#!/usr/bin/env bash
# Creates .venv and installs driftwarden with its dev tools, pinned by constraints.txt.
# Idempotent: with unchanged pyproject.toml and constraints it does nothing, so it works
# offline after the first run (pip's cache lives in the git-ignored .cache/).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="$root/.venv"
stamp="$venv/.driftwarden-installed"
want="$(cat "$root/pyproject.toml" "$root/deploy/local/constraints.txt" | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "bootstrap: installing driftwarden into $venv" >&2
python3 -m venv "$venv"
export PIP_CACHE_DIR="$root/.cache/pip" PIP_DISABLE_PIP_VERSION_CHECK=1
"$venv/bin/python" -m pip install -q -c "$root/deploy/local/constraints.txt" -e "${root}[dev]" >&2
echo "$want" > "$stamp"
