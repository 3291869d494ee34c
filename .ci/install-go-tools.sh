#!/usr/bin/env bash
# Installs the Go tools the tests drive, pinned, into a cache outside the
# checkout keyed by version (seconds when cached, about a minute cold), and
# prints the folder of each binary, one a line, for PATH:
#   grpcurl  the README's and docs/grpc-api.md's grpcurl commands (test/integration/grpcurl-docs.test.ts)
#   h2spec   HTTP/2 conformance of the traffic port (test/integration/dataplane-h2spec.test.ts)
# Usage: PATH="$(.ci/install-go-tools.sh | paste -sd:):$PATH"
set -euo pipefail

GRPCURL_VERSION=v1.9.4
H2SPEC_VERSION=v2.2.1+incompatible
cache="${RINGLB_TOOLS_CACHE:-/var/cache/ringlb/tools}"

# A non-interactive shell does not read ~/.bashrc, where the machine puts Go on PATH.
if ! command -v go >/dev/null && [[ -x /usr/local/go/bin/go ]]; then export PATH="/usr/local/go/bin:$PATH"; fi
command -v go >/dev/null || { echo 'go is missing: grpcurl and h2spec are built with it' >&2; exit 1; }
export HOME="${HOME:-/root}" GOFLAGS="${GOFLAGS:--buildvcs=false}"

# grpcurl has a go.mod of its own: go install pins it and its dependencies.
grpcurl_dir="$cache/grpcurl-$GRPCURL_VERSION"
if [[ ! -x "$grpcurl_dir/grpcurl" ]]; then
  echo "building grpcurl $GRPCURL_VERSION into $grpcurl_dir" >&2
  mkdir -p "$grpcurl_dir"
  GOBIN="$grpcurl_dir" go install "github.com/fullstorydev/grpcurl/cmd/grpcurl@$GRPCURL_VERSION" >&2
fi

# h2spec v2.2.1 predates modules (no go.mod): a wrapper module of ours pins the
# dependencies that go install would otherwise take at their newest.
h2spec_dir="$cache/h2spec-${H2SPEC_VERSION%%+*}"
if [[ ! -x "$h2spec_dir/h2spec" ]]; then
  echo "building h2spec $H2SPEC_VERSION into $h2spec_dir" >&2
  mkdir -p "$h2spec_dir/build"
  cat >"$h2spec_dir/build/go.mod" <<EOF
module ringlb.invalid/h2spec-build

go 1.24

tool github.com/summerwind/h2spec/cmd/h2spec

require (
	github.com/summerwind/h2spec $H2SPEC_VERSION
	github.com/fatih/color v1.19.0
	github.com/spf13/cobra v1.10.2
	golang.org/x/net v0.63.0
)
EOF
  (cd "$h2spec_dir/build" && go mod tidy >&2 && go build -o "$h2spec_dir/h2spec" github.com/summerwind/h2spec/cmd/h2spec >&2)
fi

echo "$grpcurl_dir"
echo "$h2spec_dir"
