#!/usr/bin/env bash
# Puts the images the Kubernetes test cluster runs into its containerd (no
# image can be pulled here; pods use imagePullPolicy: Never):
#   ringlb/pause:local    the sandbox image, built FROM scratch from the pause
#                         binary of build-binaries.sh with the local engine
#   ringlb/replica:latest and ringlb/ringlb:latest, built first when the
#                         Docker engine lacks them (npm run build, the local
#                         node base, images/build-images.sh)
# Each is copied with `docker save | ctr images import` when its Docker image
# id differs from the one imported last, so after `npm run images` a rerun
# brings the new build into the running cluster.
# usage: images/k8s/import-images.sh BIN_DIR   (the cluster's containerd must run)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=cluster.env
source "$here/cluster.env"
bin="${1:?usage: import-images.sh BIN_DIR}"
ctr=(ctr --address "$K8S_STATE/containerd/containerd.sock" --namespace k8s.io)

if ! docker image inspect "$K8S_PAUSE_IMAGE" >/dev/null 2>&1; then
  ctx="$(mktemp -d /tmp/ringlb-pause-ctx.XXXXXX)"
  cp "$bin/pause" "$ctx/pause"
  docker build --quiet -f "$here/pause.Dockerfile" -t "$K8S_PAUSE_IMAGE" "$ctx" >/dev/null
  rm -rf "$ctx"
  echo "import-images: built $K8S_PAUSE_IMAGE"
fi
if ! docker image inspect ringlb/replica:latest ringlb/ringlb:latest >/dev/null 2>&1; then
  echo 'import-images: building ringlb/replica and ringlb/ringlb'
  (cd "$root" && npm run build --silent)
  export BASE_IMAGE="${BASE_IMAGE:-ringlb/node-base:local}"
  if [[ "$BASE_IMAGE" == ringlb/node-base:local ]]; then "$root/images/make-base-image.sh" "$BASE_IMAGE"; fi
  "$root/images/build-images.sh"
fi

mkdir -p "$K8S_STATE/images"
for image in "$K8S_PAUSE_IMAGE" ringlb/replica:latest ringlb/ringlb:latest; do
  id=$(docker image inspect -f '{{.Id}}' "$image")
  record="$K8S_STATE/images/${image//[\/:]/_}"
  if [[ -f "$record" && "$(cat "$record")" == "$id" ]]; then continue; fi
  docker save "$image" | "${ctr[@]}" images import - >/dev/null
  # The sandbox image must never be garbage-collected: it cannot be pulled back.
  if [[ "$image" == "$K8S_PAUSE_IMAGE" ]]; then
    "${ctr[@]}" images label "docker.io/$image" io.cri-containerd.pinned=pinned >/dev/null
  fi
  echo "$id" >"$record"
  echo "import-images: imported $image (${id:7:12})"
done
