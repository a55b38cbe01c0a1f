#!/usr/bin/env bash
# The command-line tools the chart and image checks need, installed project-locally.
#
#   deploy/local/tools.sh install   build the pinned helm with `go install` (once; offline after)
#   deploy/local/tools.sh bin       print the folder that holds the tools
#
# helm is pinned below and built from the Go module proxy with GOPATH, GOMODCACHE and GOCACHE
# under .cache/go; the binary lands in .cache/tools/bin. When that binary is there and reports the
# pinned version, `install` does nothing (no network). hadolint and kubernetes-validate
# come from PyPI with the dev extras (deploy/local/bootstrap.sh), not from here.
set -euo pipefail

helm_version="v3.21.4"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
self="$root/deploy/local/tools.sh"
bin="$root/.cache/tools/bin"
gocache="$root/.cache/go"

tool="tools"
# shellcheck source=deploy/local/common.sh
source "$root/deploy/local/common.sh"

# Prints the version the installed helm reports, or nothing.
installed_helm() { "$bin/helm" version --template '{{.Version}}' 2>/dev/null || true; }

install_helm() {
  if [ -x "$bin/helm" ] && [ "$(installed_helm)" = "$helm_version" ]; then
    return 0
  fi
  command -v go >/dev/null || die "go not found on PATH: install Go 1.26 or newer"
  local log="$gocache/install-helm.log" started=$SECONDS gomod kube_minor
  mkdir -p "$bin" "$gocache"
  : >"$log"
  export GOPATH="$gocache" GOMODCACHE="$gocache/mod" GOCACHE="$gocache/build" GOBIN="$bin" \
    GOTOOLCHAIN=local GOFLAGS=-buildvcs=false CGO_ENABLED=0
  say "building helm $helm_version with go install (2-4 minutes, once)"
  # helm's release builds stamp their version and the Kubernetes version `helm template` assumes
  # (that of the client-go helm is built with) through -ldflags; go install does not.
  gomod="$(go mod download -json "helm.sh/helm/v3@$helm_version" 2>>"$log" |
    sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')" ||
    die "cannot download helm $helm_version: check the network (log: $log)"
  kube_minor="$(sed -n 's:^[[:space:]]*k8s.io/client-go v0\.\([0-9]*\)\..*:\1:p' "$gomod")"
  [ -n "$kube_minor" ] || die "no k8s.io/client-go requirement in $gomod"
  local ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$helm_version"
  local pkg
  for pkg in pkg/chartutil pkg/lint/rules; do
    ldflags+=" -X helm.sh/helm/v3/$pkg.k8sVersionMajor=1"
    ldflags+=" -X helm.sh/helm/v3/$pkg.k8sVersionMinor=$kube_minor"
  done
  if ! go install -trimpath -ldflags "$ldflags" "helm.sh/helm/v3/cmd/helm@$helm_version" \
    >>"$log" 2>&1; then
    tail -n 30 "$log" >&2
    die "go install of helm $helm_version failed: check the network and the Go version (log: $log)"
  fi
  # The module cache stays (a reinstall works offline); the 700 MB build cache need not.
  go clean -cache
  say "helm $helm_version (Kubernetes 1.$kube_minor by default) built in" \
    "$((SECONDS - started)) s into $bin"
}

[ $# -eq 1 ] || usage
case "$1" in
  install) install_helm ;;
  bin) echo "$bin" ;;
  -h | --help | help) usage ;;
  *) die "unknown command '$1': use install or bin" ;;
esac
