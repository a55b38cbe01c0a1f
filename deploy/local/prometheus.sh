#!/usr/bin/env bash
# Prometheus, promtool, Alertmanager and amtool from Debian's own packages, unpacked into the
# project without touching the system (no dpkg -i, no root needed once the .debs are cached).
#
#   deploy/local/prometheus.sh install   download the .debs (once) and unpack them (once)
#   deploy/local/prometheus.sh bin       print the folder holding the four binaries
#
# Packages: `prometheus` and `prometheus-alertmanager` of the running Debian release (bookworm:
# Prometheus 2.42, Alertmanager 0.25), fetched with `apt-get download` into .cache/debian/debs
# and unpacked with `dpkg-deb -x` into .cache/debian/root. Binaries: prometheus, promtool,
# prometheus-alertmanager, amtool in .cache/debian/root/usr/bin. Once unpacked, `install` does
# no network at all, so it is safe offline. `apt-get update` runs only when the download fails
# for want of package lists (its output goes to .cache/debian/apt.log).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
self="$root/deploy/local/prometheus.sh"
cache="$root/.cache/debian"
debs="$cache/debs"
tree="$cache/root"
bin="$tree/usr/bin"
log="$cache/apt.log"
packages=(prometheus prometheus-alertmanager)
binaries=(prometheus promtool prometheus-alertmanager amtool)

tool="prometheus"
# shellcheck source=deploy/local/common.sh
source "$root/deploy/local/common.sh"

unpacked() {
  local name
  for name in "${binaries[@]}"; do
    [ -x "$bin/$name" ] || return 1
  done
}

cached_deb() { compgen -G "$debs/${1}_*.deb" >/dev/null; }

download() {
  local missing=() name
  for name in "${packages[@]}"; do
    cached_deb "$name" || missing+=("$name")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  command -v apt-get >/dev/null || die "apt-get not found: this script needs a Debian-based system"
  mkdir -p "$debs"
  if ! (cd "$debs" && apt-get download "${missing[@]}") >"$log" 2>&1; then
    say "downloading ${missing[*]} failed; refreshing the package lists (apt-get update)"
    apt-get update >>"$log" 2>&1 || die "apt-get update failed; see $log"
    (cd "$debs" && apt-get download "${missing[@]}") >>"$log" 2>&1 ||
      die "apt-get download ${missing[*]} failed; see $log"
  fi
}

install() {
  unpacked && return 0
  command -v dpkg-deb >/dev/null || die "dpkg-deb not found: this script needs a Debian-based system"
  download
  local staging="$cache/root.partial" deb
  rm -rf "$staging"
  mkdir -p "$staging"
  for deb in "$debs"/*.deb; do
    dpkg-deb -x "$deb" "$staging"
  done
  rm -rf "$tree"
  mv "$staging" "$tree"
  unpacked || die "the packages unpacked into $tree lack one of: ${binaries[*]}"
  say "installed $("$bin/promtool" --version 2>&1 | head -n 1) into $bin"
}

case "${1:-}" in
  install) install ;;
  bin) echo "$bin" ;;
  *) usage ;;
esac
