#!/usr/bin/env bash
# Builds ringlb/replica and ringlb/ringlb from the compiled tree (run
# `npm run build` first; `npm run images` does both).
#
# The Dockerfiles are COPY-only; this script stages a small build context with
# exactly what they copy: package.json, proto/ and dist/src
# without source maps, and only the production packages of node_modules (as
# `npm ls --omit=dev` lists them), so no .dockerignore is needed and the
# engine is not sent the 250 MB development tree.
#
# env: BASE_IMAGE (default node:20-slim; on a registry-less host, the image
#      images/make-base-image.sh makes: ringlb/node-base:local)
#      IMAGE_TAG (default latest)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
base="${BASE_IMAGE:-node:20-slim}"
tag="${IMAGE_TAG:-latest}"

for f in dist/src/replica/main.js dist/src/cli/main.js; do
  [[ -f "$f" ]] || { echo "build-images: $f is missing: run npm run build first" >&2; exit 1; }
done

ctx="$(mktemp -d /tmp/ringlb-image-ctx.XXXXXX)"
trap 'rm -rf "$ctx"' EXIT

cp package.json "$ctx/"
cp -R proto "$ctx/proto"
mkdir -p "$ctx/dist"
cp -R dist/src "$ctx/dist/"
find "$ctx/dist" -name '*.map' -delete

# Production packages, outermost first; a nested package travels with its
# parent, so only paths not under an already listed one are copied.
npm ls --omit=dev --all --parseable 2>/dev/null | sed "s#^$root/##" | grep '^node_modules/' | sort \
  | awk 'kept == "" || index($0, kept "/") != 1 { print; kept = $0 }' >"$ctx/packages.txt" || true
[[ -s "$ctx/packages.txt" ]] || { echo "build-images: npm ls found no production packages: run npm ci" >&2; exit 1; }
tar -c -T "$ctx/packages.txt" | tar -x -C "$ctx"
rm "$ctx/packages.txt"

build() {
  local dockerfile="$1" image="$2"
  # The legacy builder is what a plain docker.io engine has; BuildKit (buildx)
  # is used where the CLI has it. Either way the Dockerfiles only COPY.
  docker build --quiet --build-arg "BASE_IMAGE=$base" -f "$root/images/$dockerfile" -t "$image" "$ctx" >/dev/null
  echo "build-images: built $image from $base ($(docker image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}'))"
}
build replica.Dockerfile "ringlb/replica:$tag"
build ringlb.Dockerfile "ringlb/ringlb:$tag"
