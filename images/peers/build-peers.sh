#!/usr/bin/env bash
# Builds the Go proxies `ringlb bench` compares with (Traefik, Caddy) and the
# gRPC load generator of its *-grpc targets (ghz) from the Go module proxy, pinned, into a cache outside the checkout keyed by version,
# and links them into $PEERS_BIN (default /usr/local/bin) so that the bench
# finds them on PATH. Seconds when cached; Traefik takes ~10 min cold on 2 cores.
#
# Traefik's go.mod replaces one of its packages with a directory of its own
# (./pkg/config/dynamic/ext), which `go install module@version` refuses, so it
# is built inside its downloaded module source, where that replace resolves.
set -euo pipefail
# v3.6.12, not the newest v3.7: v3.7's go.mod replaces go-http-auth with a
# fork version the Go module proxy does not serve (403).
TRAEFIK_VERSION=v3.6.12
CADDY_VERSION=v2.11.9
# The only ghz version the Go module proxy lists (`go list -m -versions github.com/bojand/ghz`).
GHZ_VERSION=v0.93.0
CACHE=${RINGLB_TOOLS_CACHE:-/var/cache/ringlb/tools}
PEERS_BIN=${PEERS_BIN:-/usr/local/bin}

if ! command -v go >/dev/null && [[ -x /usr/local/go/bin/go ]]; then export PATH="/usr/local/go/bin:$PATH"; fi
command -v go >/dev/null || { echo 'go is missing: Traefik and Caddy are built with it' >&2; exit 1; }
export HOME=${HOME:-/root}

caddy=$CACHE/caddy-$CADDY_VERSION/caddy
if [[ ! -x $caddy ]]; then
  echo "building caddy $CADDY_VERSION"
  GOBIN=$(dirname "$caddy") nice -n 10 go install "github.com/caddyserver/caddy/v2/cmd/caddy@$CADDY_VERSION"
fi

ghz=$CACHE/ghz-$GHZ_VERSION/ghz
if [[ ! -x $ghz ]]; then
  echo "building ghz $GHZ_VERSION"
  # Stamped as its release builds stamp it (else `ghz --version` says "dev").
  GOBIN=$(dirname "$ghz") nice -n 10 go install -ldflags "-X main.version=$GHZ_VERSION" \
    "github.com/bojand/ghz/cmd/ghz@$GHZ_VERSION"
fi

traefik=$CACHE/traefik-$TRAEFIK_VERSION/traefik
if [[ ! -x $traefik ]]; then
  echo "building traefik $TRAEFIK_VERSION"
  (cd /tmp && go mod download "github.com/traefik/traefik/v3@$TRAEFIK_VERSION")
  src=$(go env GOMODCACHE)/github.com/traefik/traefik/v3@$TRAEFIK_VERSION
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  cp -r "$src" "$work/traefik" && chmod -R u+w "$work/traefik"
  # The version is stamped as Traefik's release builds stamp it (else `traefik version` says "dev").
  (cd "$work/traefik" && nice -n 10 go build -trimpath \
    -ldflags "-X github.com/traefik/traefik/v3/pkg/version.Version=${TRAEFIK_VERSION#v}" \
    -o "$traefik" ./cmd/traefik)
fi

mkdir -p "$PEERS_BIN"
ln -sf "$caddy" "$PEERS_BIN/caddy"
ln -sf "$traefik" "$PEERS_BIN/traefik"
ln -sf "$ghz" "$PEERS_BIN/ghz"
"$PEERS_BIN/caddy" version | head -1
"$PEERS_BIN/traefik" version | head -1
echo "ghz $("$PEERS_BIN/ghz" --version 2>&1)"
