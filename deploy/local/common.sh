# shellcheck shell=bash
# Shared by the deploy/local scripts: sourced after they set `tool` (the message prefix) and
# `self` (their own path, whose header comment is their usage text).
# shellcheck disable=SC2154  # tool and self are set by the sourcing script

say() { echo "$tool: $*" >&2; }
die() {
  say "$*"
  exit 1
}

usage() {
  awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$self" >&2
  exit 2
}
