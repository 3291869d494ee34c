#!/usr/bin/env bash
# `npm run k8s:down`: stops the test cluster of cluster-up.sh completely, also
# after a failed or killed start: pods (so that CNI removes their network
# namespaces and veths), the kubelet, containers and shims of its containerd,
# containerd, the control plane and etcd; then whatever is still mounted under
# /tmp/ringlb-k8s, pod network namespaces and veths left on the pod range, the
# kubelet's cgroups, and the state folder. The logs are kept in
# /tmp/ringlb-k8s.last-logs. Running it twice is harmless.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=cluster.env
source "$here/cluster.env"
export PATH="$PATH:/usr/sbin:/sbin"
say() { printf 'k8s:down: %s\n' "$*" >&2; }
rm -f "$K8S_STATE/ready"

pid_of() { cat "$K8S_STATE/pids/$1.pid" 2>/dev/null; }
# stop PID...: SIGTERM, up to 10 s, then SIGKILL (each PID leads its own session)
stop_pids() {
  local pid t
  for pid in "$@"; do kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null; done
  for t in $(seq 1 20); do
    local left=0
    for pid in "$@"; do kill -0 "$pid" 2>/dev/null && left=1; done
    ((left)) || return 0
    sleep 0.5
  done
  for pid in "$@"; do kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null; done
}
stop() {
  local name pids=()
  for name in "$@"; do
    pid=$(pid_of "$name") && kill -0 "$pid" 2>/dev/null && pids+=("$pid")
  done
  ((${#pids[@]})) && say "stopping $*" && stop_pids "${pids[@]}"
  return 0
}

sock="$K8S_STATE/containerd/containerd.sock"
ctr=(ctr --address "$sock" --namespace k8s.io)
kubeconfig="$K8S_STATE/admin.kubeconfig"
kubectl="$K8S_STATE/bin/kubectl"  # a link to the binaries cluster-up.sh used
[[ -x "$kubectl" ]] || kubectl=""

# 1. Nothing may create or place pods any more; then every pod is deleted and
#    the kubelet tears its sandbox (and CNI network) down.
stop kube-controller-manager kube-scheduler
if [[ -n "$kubectl" ]] && pid=$(pid_of kubelet) && kill -0 "$pid" 2>/dev/null \
  && "$kubectl" --kubeconfig "$kubeconfig" --request-timeout=5s get --raw /readyz >/dev/null 2>&1; then
  say 'deleting every pod'
  "$kubectl" --kubeconfig "$kubeconfig" --request-timeout=10s delete pods --all --all-namespaces \
    --grace-period=0 --force --wait=false >/dev/null 2>&1
  for _ in $(seq 1 60); do
    [[ -z "$("${ctr[@]}" tasks ls -q 2>/dev/null)" ]] && ! ip -o addr show to "$K8S_POD_GATEWAY" 2>/dev/null | grep -q . && break
    sleep 0.5
  done
fi
stop kubelet

# 2. Containers the kubelet did not remove, then containerd and its shims.
if [[ -S "$sock" ]] && "${ctr[@]}" version >/dev/null 2>&1; then
  for task in $("${ctr[@]}" tasks ls -q 2>/dev/null); do
    "${ctr[@]}" tasks kill -s SIGKILL "$task" >/dev/null 2>&1
  done
  sleep 1
  for task in $("${ctr[@]}" tasks ls -q 2>/dev/null); do
    "${ctr[@]}" tasks delete -f "$task" >/dev/null 2>&1
  done
  for c in $("${ctr[@]}" containers ls -q 2>/dev/null); do
    "${ctr[@]}" containers delete "$c" >/dev/null 2>&1
  done
fi
stop containerd
stop kube-apiserver
stop etcd
# Container processes whose shim is gone (a killed run) are still in the
# kubelet's cgroups: every process there is one of this cluster's.
for procs in /sys/fs/cgroup/*/kubepods; do
  [[ -d "$procs" ]] || continue
  find "$procs" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u | while read -r pid; do
    kill -KILL "$pid" 2>/dev/null
  done
done
# Anything else still running from the state folder (a shim, or a process whose
# pid file is gone), found by that folder in its command line.
leftover=()
for proc in /proc/[0-9]*; do
  [[ "${proc#/proc/}" == "$$" ]] && continue
  { tr '\0' ' ' <"$proc/cmdline"; } 2>/dev/null | grep -qF -- "$K8S_STATE/" && leftover+=("${proc#/proc/}")
done
if ((${#leftover[@]})); then
  say "stopping ${#leftover[@]} leftover process(es): ${leftover[*]}"
  for pid in "${leftover[@]}"; do kill -KILL "$pid" 2>/dev/null; done
fi

# 3. Mounts under the state folder (pod volumes, rootfs, shm), deepest first.
grep -o " $K8S_STATE/[^ ]*" /proc/mounts 2>/dev/null | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done

# 4. Pod network namespaces (containerd keeps them under its state folder, so
#    step 3 released them) and veths on the pod range that CNI did not remove;
#    /var/run/netns is checked too, for a containerd configured otherwise.
prefix="${K8S_POD_CIDR%.*}."
for ns in $(ip netns list 2>/dev/null | awk '$1 ~ /^cni-/ { print $1 }'); do
  if ip -n "$ns" -o -4 addr show 2>/dev/null | grep -qF " $prefix"; then
    say "removing network namespace $ns"
    ip netns delete "$ns" 2>/dev/null
  fi
done
for link in $(ip -o addr show to "$K8S_POD_GATEWAY" 2>/dev/null | awk '{ print $2 }'); do
  say "removing veth $link"
  ip link delete "${link%@*}" 2>/dev/null
done

ip route delete unreachable "$K8S_POD_CIDR" 2>/dev/null
ip route delete unreachable "$K8S_SERVICE_CIDR" 2>/dev/null

# 5. The kubelet's cgroups (cgroupfs driver on cgroup v1), innermost first.
for hierarchy in /sys/fs/cgroup/*/; do
  [[ -d "$hierarchy/kubepods" ]] || continue
  find "$hierarchy/kubepods" -depth -type d -exec rmdir {} \; 2>/dev/null
done

# The kernel settings the kubelet changed, as they were before it started.
if [[ -f "$K8S_STATE/sysctl.saved" ]]; then
  while IFS= read -r setting; do sysctl -q -w "$setting" >/dev/null 2>&1; done <"$K8S_STATE/sysctl.saved"
fi

# 6. The state folder; its logs are kept for a look.
if [[ -d "$K8S_STATE" ]]; then
  rm -rf "$K8S_STATE.last-logs"
  [[ -d "$K8S_STATE/logs" ]] && cp -r "$K8S_STATE/logs" "$K8S_STATE.last-logs"
  rm -rf "$K8S_STATE" 2>/dev/null || {
    say "could not remove all of $K8S_STATE:"
    grep " $K8S_STATE" /proc/mounts >&2
    exit 1
  }
fi
say 'stopped'
