#!/usr/bin/env bash
# Builds the Kubernetes test cluster's binaries with the plain `go` client from
# the Go module proxy: etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubelet, kubectl and the pause binary of the sandbox image.
# They go to a cache outside the checkout keyed by the versions
# (default /var/cache/ringlb/k8s-<kube>-etcd-<etcd>/bin); with all of them
# there it returns at once. Prints the bin folder on its last line.
# A cold build takes 15-25 min on 2 cores.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# A non-interactive shell (CI) does not read ~/.bashrc, where the machine puts Go on PATH.
if ! command -v go >/dev/null && [[ -x /usr/local/go/bin/go ]]; then export PATH="/usr/local/go/bin:$PATH"; fi
command -v go >/dev/null || { echo "build-binaries: no go command (Go 1.26 from the machine) on PATH" >&2; exit 1; }
# go keeps its module and build caches under $HOME.
export HOME="${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}"
# The versions are the ones the wrapper go.mod files require.
version_of() { (cd "$here/go/$1" && GOFLAGS=-mod=readonly go list -m -f '{{.Version}}' "$2"); }
kube_version=$(version_of kubernetes k8s.io/kubernetes)
etcd_version=$(version_of etcd go.etcd.io/etcd/server/v3)
cache="${RINGLB_K8S_CACHE:-/var/cache/ringlb}/k8s-$kube_version-etcd-$etcd_version"
bin="$cache/bin"
binaries=(etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl pause)

missing=()
for b in "${binaries[@]}"; do [[ -x "$bin/$b" ]] || missing+=("$b"); done
if ((${#missing[@]} == 0)); then
  echo "$bin"
  exit 0
fi
echo "building ${missing[*]} into $bin (kubernetes $kube_version, etcd $etcd_version)" >&2
mkdir -p "$bin"
export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--buildvcs=false} -mod=readonly" GOTOOLCHAIN=local
major=${kube_version#v}; major=${major%%.*}
minor=${kube_version#v*.}; minor=${minor%%.*}
build_date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$build_date"
done
started=$(date +%s)
# One binary at a time, into a temporary name, so that an interrupted build
# never leaves a half-written binary that the check above would take as done.
for b in "${missing[@]}"; do
  case "$b" in
    etcd) dir="$here/go/etcd" pkg=. flags="-s -w" ;;
    pause) dir="$here/go/pause" pkg=. flags="-s -w" ;;
    *) dir="$here/go/kubernetes" pkg="k8s.io/kubernetes/cmd/$b" flags="$ldflags" ;;
  esac
  t0=$(date +%s)
  (cd "$dir" && go build -trimpath -ldflags "$flags" -o "$bin/.$b.tmp" "$pkg")
  mv "$bin/.$b.tmp" "$bin/$b"
  echo "built $b in $(($(date +%s) - t0)) s" >&2
done
echo "built ${missing[*]} in $(($(date +%s) - started)) s" >&2
echo "$bin"
