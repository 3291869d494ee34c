#!/usr/bin/env bash
# Makes a Node base image without a registry (docs/runtimes.md, Images): a root filesystem
# holding this host's `node`, the shared libraries `ldd` lists for it (and for
# the native addons under node_modules, e.g. resvg needs librt), the dynamic
# loader, a non-root user and /tmp, imported with `docker import`.
#
# There is no shell in the result, so Dockerfiles built FROM it must be
# COPY-only (ours are). On a host with a registry, use the default
# BASE_IMAGE=node:20-slim instead and skip this script.
#
# usage: images/make-base-image.sh [TAG]   (default ringlb/node-base:local)
set -euo pipefail

tag="${1:-${BASE_IMAGE:-ringlb/node-base:local}}"
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
node_bin="$(command -v node)" || { echo "make-base-image: node is not on PATH" >&2; exit 1; }
command -v docker >/dev/null || { echo "make-base-image: docker is not on PATH" >&2; exit 1; }

rootfs="$(mktemp -d /tmp/ringlb-rootfs.XXXXXX)"
trap 'rm -rf "$rootfs"' EXIT

# Copies a file to the same path inside the rootfs, following symlinks so the
# image holds real files under the names the loader asks for.
copy_in() {
  local src="$1"
  mkdir -p "$rootfs$(dirname "$src")"
  cp -L "$src" "$rootfs$src"
}

# Everything `ldd` resolves for an ELF file: "lib => /path (addr)" lines and
# the loader's own "/lib64/ld-linux… (addr)" line; vdso has no file.
copy_libs_of() {
  { ldd "$1" 2>/dev/null || true; } | awk '
    $2 == "=>" && $3 ~ /^\// { print $3 }
    $1 ~ /^\// { print $1 }
  ' | sort -u | while read -r lib; do copy_in "$lib"; done
}

mkdir -p "$rootfs/usr/local/bin"
cp -L "$node_bin" "$rootfs/usr/local/bin/node"
# Debian's node carries ~40 MB of debug info; the image does not need it.
if command -v strip >/dev/null; then strip --strip-debug "$rootfs/usr/local/bin/node"; fi
copy_libs_of "$node_bin"

# Native addons this host would load (only those built for this machine:
# ldd fails on foreign ones, and they are skipped).
if [[ -d "$repo_root/node_modules" ]]; then
  while IFS= read -r -d '' addon; do
    copy_libs_of "$addon"
  done < <(find "$repo_root/node_modules" -name '*.node' -type f -print0)
fi

# Same user name and ids as the official node images, so `USER node` works on both.
mkdir -p "$rootfs/etc" "$rootfs/home/node" "$rootfs/tmp" "$rootfs/app"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnode:x:1000:1000:node:/home/node:/sbin/nologin\n' >"$rootfs/etc/passwd"
printf 'root:x:0:\nnode:x:1000:\n' >"$rootfs/etc/group"
chmod 1777 "$rootfs/tmp"

chown 1000:1000 "$rootfs/home/node"

tar --numeric-owner -C "$rootfs" -c . \
  | docker import \
      --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin' \
      --change 'ENV NODE_ENV=production' \
      --change 'WORKDIR /app' \
      --change 'USER node' \
      --change 'CMD ["node"]' \
      --message "ringlb node base from $("$node_bin" --version) on $(uname -m)" \
      - "$tag" >/dev/null

echo "make-base-image: built $tag ($("$node_bin" --version), $(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}'))"
