#!/usr/bin/env bash
# Creates .venv and installs driftwarden with its dev tools, pinned by constraints.txt, building
# the native JSON reader (monitor/decode/native, Rust) with the machine's cargo.
# Idempotent: with unchanged pyproject.toml, constraints and Rust sources it does nothing, so it
# works offline after the first run (pip's and cargo's caches live in the git-ignored .cache/).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="$root/.venv"
stamp="$venv/.driftwarden-installed"
native="$root/monitor/decode/native"
want="$(cat "$root/pyproject.toml" "$root/deploy/local/constraints.txt" "$native/Cargo.toml" \
  "$native/Cargo.lock" "$native"/src/*.rs | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
# rustup installs cargo under ~/.cargo/bin, which a non-login shell may not have on PATH
if ! command -v cargo >/dev/null && [ -x "$HOME/.cargo/bin/cargo" ]; then
  export PATH="$HOME/.cargo/bin:$PATH"
fi
command -v cargo >/dev/null || {
  echo "bootstrap: cargo not found; install Rust (https://rustup.rs) and run again" >&2
  exit 1
}
echo "bootstrap: installing driftwarden into $venv" >&2
python3 -m venv "$venv"
export PIP_CACHE_DIR="$root/.cache/pip" PIP_DISABLE_PIP_VERSION_CHECK=1
export CARGO_HOME="$root/.cache/cargo" CARGO_TARGET_DIR="$root/.cache/cargo-target"
"$venv/bin/python" -m pip install -q -c "$root/deploy/local/constraints.txt" -e "${root}[dev]" >&2
echo "$want" > "$stamp"
