#!/usr/bin/env bash
# `npm run test:k8s`: the tests under test/k8s/ against the test cluster, as
# required tests (RINGLB_REQUIRE_K8S=1: a missing cluster fails them).
# A cluster that is already up and ready (npm run k8s:up) is used and left
# running; otherwise this brings one up and brings it down again on exit,
# whatever happened.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/../.."
# shellcheck source=cluster.env
source "$here/cluster.env"

npm run build --silent
if [[ -f "$K8S_STATE/ready" ]] && "$K8S_STATE/bin/kubectl" --kubeconfig "$K8S_STATE/admin.kubeconfig" \
  --request-timeout=5s get --raw /readyz >/dev/null 2>&1; then
  echo "test:k8s: using the running cluster in $K8S_STATE (left running)"
  # Tests run the images as they are now: bring a rebuilt one into the cluster.
  "$here/import-images.sh" "$(readlink "$K8S_STATE/bin")"
else
  trap '"$here/cluster-down.sh"' EXIT
  "$here/cluster-up.sh"
fi
export RINGLB_REQUIRE_K8S=1
node --test --test-concurrency=1 --test-timeout=900000 $(find dist/test/k8s -name '*.test.js' | sort)
