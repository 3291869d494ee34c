#!/usr/bin/env bash
# `npm run k8s:up`: a single-node Kubernetes cluster on this machine for the
# tests, from binaries built with the Go module proxy (build-binaries.sh):
#   etcd, kube-apiserver (RBAC, service-account keys), kube-controller-manager
#   and kube-scheduler on 127.0.0.1; a kubelet (node "localhost") on a second
#   containerd of Debian's with its own root, state and socket; CNI ptp +
#   host-local (+ loopback) from containernetworking-plugins, no masquerade.
# Certificates come from openssl; no image is pulled (import-images.sh).
# There is no kube-proxy (no iptables here) and no DNS: see docs/kubernetes.md.
#
# Everything lives under /tmp/ringlb-k8s. When the cluster is fully ready (node
# Ready, a pod Running and answering on its pod IP from the host) the script
# writes the two lines it ends with to /tmp/ringlb-k8s/ready:
#   export KUBECONFIG=/tmp/ringlb-k8s/admin.kubeconfig
#   export PATH=<bin folder>:$PATH
# A running ready cluster is left as it is (the lines are printed again);
# anything else found there is stopped first with cluster-down.sh.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=cluster.env
source "$here/cluster.env"
started=$(date +%s.%N)
say() { printf 'k8s:up: %s\n' "$*" >&2; }
elapsed() { awk -v s="$started" -v n="$(date +%s.%N)" 'BEGIN { printf "%.1f", n - s }'; }
fail() {
  say "FAILED: $*"
  for log in "$K8S_STATE"/logs/*.log; do
    [[ -f "$log" ]] || continue
    printf '\n--- last lines of %s\n' "$log" >&2
    tail -15 "$log" >&2
  done
  say "the cluster is left as it is for a look; npm run k8s:down stops it"
  exit 1
}

export PATH="$PATH:/usr/sbin:/sbin"
for cmd in containerd ctr runc openssl docker ip; do
  command -v "$cmd" >/dev/null || fail "$cmd is missing (apt-get install containerd runc openssl docker.io iproute2)"
done
for plugin in ptp host-local loopback; do
  [[ -x /usr/lib/cni/$plugin ]] || fail "/usr/lib/cni/$plugin is missing (apt-get install containernetworking-plugins)"
done
docker info >/dev/null 2>&1 || fail 'the Docker engine is not running (it builds the pause image and holds the ringlb images)'

bin="$("$here/build-binaries.sh" | tail -1)"
export PATH="$bin:$PATH"
kubeconfig="$K8S_STATE/admin.kubeconfig"
exports="export KUBECONFIG=$kubeconfig
export PATH=$bin:\$PATH"

if [[ -f "$K8S_STATE/ready" ]] && kubectl --kubeconfig "$kubeconfig" get --raw /readyz >/dev/null 2>&1; then
  say "already running and ready (npm run k8s:down stops it)"
  echo "$exports"
  exit 0
fi
if [[ -e "$K8S_STATE" ]]; then
  say "stopping what a previous run left in $K8S_STATE"
  "$here/cluster-down.sh" >&2
fi
mkdir -p "$K8S_STATE"/{pki,logs,pids,etcd,containerd,kubelet,cni/net.d,cni/ipam,pod-logs}
ln -s "$bin" "$K8S_STATE/bin"
pki="$K8S_STATE/pki"

# --- certificates -------------------------------------------------------------
say 'certificates'
openssl_quiet() { openssl "$@" 2>/dev/null; }
openssl_quiet req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
  -subj '/CN=ringlb-k8s-ca' -keyout "$pki/ca.key" -out "$pki/ca.crt" \
  -addext 'basicConstraints=critical,CA:TRUE' -addext 'keyUsage=critical,keyCertSign,cRLSign'
# cert NAME CN [O] [SAN] [usage]
cert() {
  local name="$1" cn="$2" org="${3:-}" san="${4:-}" usage="${5:-clientAuth}" subj ext
  subj="/CN=$cn"
  [[ -n "$org" ]] && subj="/O=$org$subj"
  ext="$pki/$name.ext"
  {
    echo 'basicConstraints=critical,CA:FALSE'
    echo 'keyUsage=critical,digitalSignature,keyEncipherment'
    echo "extendedKeyUsage=$usage"
    [[ -n "$san" ]] && echo "subjectAltName=$san"
  } >"$ext"
  openssl_quiet req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "$subj" \
    -keyout "$pki/$name.key" -out "$pki/$name.csr"
  openssl_quiet x509 -req -in "$pki/$name.csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial \
    -days 30 -extfile "$ext" -out "$pki/$name.crt"
  rm -f "$pki/$name.csr" "$ext"
}
cert apiserver kube-apiserver '' \
  "IP:127.0.0.1,IP:$K8S_POD_GATEWAY,IP:$K8S_SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local" \
  serverAuth
cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters
cert admin ringlb-k8s-admin system:masters
cert controller-manager system:kube-controller-manager
cert scheduler system:kube-scheduler
cert kubelet "system:node:$K8S_NODE_NAME" system:nodes
cert kubelet-serving "$K8S_NODE_NAME" '' "DNS:$K8S_NODE_NAME,IP:127.0.0.1" serverAuth
openssl_quiet genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$pki/sa.key"
openssl_quiet pkey -in "$pki/sa.key" -pubout -out "$pki/sa.pub"
chmod 600 "$pki"/*.key

server="https://127.0.0.1:$K8S_APISERVER_PORT"
kubeconfig_for() {
  local name="$1" file="$K8S_STATE/$1.kubeconfig"
  cat >"$file" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: ringlb-k8s
  cluster:
    server: $server
    certificate-authority: $pki/ca.crt
users:
- name: $name
  user:
    client-certificate: $pki/$name.crt
    client-key: $pki/$name.key
contexts:
- name: ringlb-k8s
  context: {cluster: ringlb-k8s, user: $name}
current-context: ringlb-k8s
KUBECONFIG
  chmod 600 "$file"
}
for name in admin controller-manager scheduler kubelet; do kubeconfig_for "$name"; done

# --- processes ----------------------------------------------------------------
# run NAME COMMAND...: in its own session, logging to logs/NAME.log
run() {
  local name="$1"
  shift
  setsid "$@" >"$K8S_STATE/logs/$name.log" 2>&1 </dev/null &
  echo $! >"$K8S_STATE/pids/$name.pid"
}
# wait_for WHAT SECONDS COMMAND...
wait_for() {
  local what="$1" limit="$2" t0
  shift 2
  t0=$(date +%s)
  until "$@" >/dev/null 2>&1; do
    (($(date +%s) - t0 < limit)) || fail "$what not within $limit s"
    sleep 0.5
  done
  say "$what ($(elapsed) s)"
}
alive() { kill -0 "$(cat "$K8S_STATE/pids/$1.pid")" 2>/dev/null; }

say 'etcd'
run etcd etcd --name ringlb-k8s --data-dir "$K8S_STATE/etcd" \
  --listen-client-urls "http://127.0.0.1:$K8S_ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$K8S_ETCD_PORT" \
  --listen-peer-urls "http://127.0.0.1:$K8S_ETCD_PEER_PORT" --initial-advertise-peer-urls "http://127.0.0.1:$K8S_ETCD_PEER_PORT" \
  --initial-cluster "ringlb-k8s=http://127.0.0.1:$K8S_ETCD_PEER_PORT" \
  --unsafe-no-fsync --quota-backend-bytes=$((1024 * 1024 * 1024)) --log-level=warn
wait_for 'etcd is healthy' 60 curl -fsS "http://127.0.0.1:$K8S_ETCD_PORT/health"

say 'kube-apiserver'
# It listens on every address so that pods reach it at the host end of their
# link ($K8S_POD_GATEWAY, which it also advertises); the tests use 127.0.0.1.
run kube-apiserver kube-apiserver \
  --etcd-servers="http://127.0.0.1:$K8S_ETCD_PORT" \
  --bind-address=0.0.0.0 --secure-port="$K8S_APISERVER_PORT" --advertise-address="$K8S_POD_GATEWAY" \
  --tls-cert-file="$pki/apiserver.crt" --tls-private-key-file="$pki/apiserver.key" \
  --client-ca-file="$pki/ca.crt" \
  --requestheader-client-ca-file="$pki/ca.crt" --requestheader-allowed-names=ringlb-k8s-front-proxy \
  --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
  --requestheader-extra-headers-prefix=X-Remote-Extra- \
  --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction --allow-privileged=true \
  --service-cluster-ip-range="$K8S_SERVICE_CIDR" \
  --service-account-issuer=https://kubernetes.default.svc \
  --service-account-key-file="$pki/sa.pub" --service-account-signing-key-file="$pki/sa.key" \
  --kubelet-client-certificate="$pki/apiserver-kubelet-client.crt" --kubelet-client-key="$pki/apiserver-kubelet-client.key" \
  --kubelet-certificate-authority="$pki/ca.crt" --kubelet-preferred-address-types=Hostname \
  --profiling=false --v=1
wait_for 'kube-apiserver is ready' 120 kubectl --kubeconfig "$kubeconfig" get --raw /readyz

say 'kube-controller-manager and kube-scheduler'
run kube-controller-manager kube-controller-manager \
  --kubeconfig="$K8S_STATE/controller-manager.kubeconfig" \
  --authentication-kubeconfig="$K8S_STATE/controller-manager.kubeconfig" \
  --authorization-kubeconfig="$K8S_STATE/controller-manager.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$K8S_CONTROLLER_MANAGER_PORT" \
  --service-account-private-key-file="$pki/sa.key" --root-ca-file="$pki/ca.crt" \
  --use-service-account-credentials=true --leader-elect=false --profiling=false --v=1
run kube-scheduler kube-scheduler \
  --kubeconfig="$K8S_STATE/scheduler.kubeconfig" \
  --authentication-kubeconfig="$K8S_STATE/scheduler.kubeconfig" \
  --authorization-kubeconfig="$K8S_STATE/scheduler.kubeconfig" \
  --bind-address=127.0.0.1 --secure-port="$K8S_SCHEDULER_PORT" --leader-elect=false --profiling=false --v=1

# Nothing sent to the pod or service range may leave the machine: a pod's
# own /32 route (added by ptp) wins over these, so an address with no pod
# behind it (a deleted pod, a cluster IP: there is no kube-proxy) fails at
# once instead of following the default route out.
ip route replace unreachable "$K8S_POD_CIDR"
ip route replace unreachable "$K8S_SERVICE_CIDR"

say 'containerd'
cat >"$K8S_STATE/cni/net.d/10-ringlb-k8s.conflist" <<CNI
{
  "cniVersion": "0.4.0",
  "name": "ringlb-k8s",
  "plugins": [
    {
      "type": "ptp",
      "ipMasq": false,
      "mtu": 1500,
      "ipam": {
        "type": "host-local",
        "dataDir": "$K8S_STATE/cni/ipam",
        "ranges": [[{ "subnet": "$K8S_POD_CIDR", "gateway": "$K8S_POD_GATEWAY" }]]
      }
    }
  ]
}
CNI
ctrd="$K8S_STATE/containerd"
cat >"$ctrd/config.toml" <<TOML
version = 2
root = "$ctrd/root"
state = "$ctrd/state"
plugin_dir = ""
disabled_plugins = ["io.containerd.internal.v1.tracing", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]
[grpc]
  address = "$ctrd/containerd.sock"
[ttrpc]
  address = "$ctrd/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$ctrd/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "docker.io/$K8S_PAUSE_IMAGE"
  enable_selinux = false
  disable_apparmor = true
  # No CAP_SYS_RESOURCE in this sandbox: nothing may lower its oom_score_adj,
  # so containers get at least containerd's own instead of failing to start.
  restrict_oom_score_adj = true
  # Pod network namespaces under the state folder, not in /var/run/netns.
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$K8S_STATE/cni/net.d"
    max_conf_num = 1
TOML
run containerd containerd --config "$ctrd/config.toml"
wait_for 'containerd answers' 60 ctr --address "$ctrd/containerd.sock" version
"$here/import-images.sh" "$bin" >&2

say 'kubelet'
printf 'nameserver 127.0.0.1\n' >"$K8S_STATE/resolv.conf"
cat >"$K8S_STATE/kubelet-config.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: $K8S_KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $K8S_KUBELET_HEALTHZ_PORT
tlsCertFile: $pki/kubelet-serving.crt
tlsPrivateKeyFile: $pki/kubelet-serving.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $pki/ca.crt}
authorization: {mode: Webhook}
containerRuntimeEndpoint: unix://$ctrd/containerd.sock
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
podCIDR: $K8S_POD_CIDR
podLogsDir: $K8S_STATE/pod-logs
resolvConf: $K8S_STATE/resolv.conf
maxPods: 60
serializeImagePulls: false
imageGCHighThresholdPercent: 100
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, nodefs.inodesFree: 1%, imagefs.available: 1%}
makeIPTablesUtilChains: false
# Lowering its own oom_score_adj needs CAP_SYS_RESOURCE, which this sandbox lacks.
oomScoreAdj: 0
YAML
# The kubelet sets vm.overcommit_memory=1, kernel.panic=10 and
# kernel.panic_on_oops=1 (it has no option to leave them); k8s:down puts the
# machine's values back.
for key in vm.overcommit_memory kernel.panic kernel.panic_on_oops; do
  echo "$key=$(sysctl -n "$key")"
done >"$K8S_STATE/sysctl.saved"
run kubelet kubelet --config="$K8S_STATE/kubelet-config.yaml" --kubeconfig="$K8S_STATE/kubelet.kubeconfig" \
  --root-dir="$K8S_STATE/kubelet" --hostname-override="$K8S_NODE_NAME" --v=1
node_ready() {
  [[ "$(kubectl --kubeconfig "$kubeconfig" get node "$K8S_NODE_NAME" \
    -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" == True ]]
}
wait_for 'node localhost is Ready' 180 node_ready
for name in etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet; do
  alive "$name" || fail "$name exited"
done

# --- a pod answers on its pod IP ----------------------------------------------
say 'probe pod'
k() { kubectl --kubeconfig "$kubeconfig" "$@"; }
wait_for 'the default service account exists' 60 k -n default get serviceaccount default
k -n default delete pod ringlb-k8s-probe --ignore-not-found --wait=false >/dev/null
k -n default apply -f - >/dev/null <<YAML
apiVersion: v1
kind: Pod
metadata:
  name: ringlb-k8s-probe
  labels: {app.kubernetes.io/name: ringlb-k8s-probe}
spec:
  terminationGracePeriodSeconds: 2
  containers:
  - name: replica
    image: ringlb/replica:latest
    imagePullPolicy: Never
    env: [{name: PORT, value: "8080"}, {name: SERVER_ID, value: probe}]
    readinessProbe:
      httpGet: {path: /heartbeat, port: 8080}
      periodSeconds: 1
YAML
if ! k -n default wait pod/ringlb-k8s-probe --for=condition=Ready --timeout=180s >/dev/null; then
  k -n default describe pod ringlb-k8s-probe >&2 || true
  fail 'the probe pod did not become Ready'
fi
pod_ip=$(k -n default get pod ringlb-k8s-probe -o 'jsonpath={.status.podIP}')
curl -fsS --max-time 5 "http://$pod_ip:8080/home" >/dev/null || fail "the probe pod did not answer on http://$pod_ip:8080/home"
say "the probe pod answers on http://$pod_ip:8080/home ($(elapsed) s)"
k -n default delete pod ringlb-k8s-probe --wait=false >/dev/null

echo "$exports" >"$K8S_STATE/ready"
say "ready in $(elapsed) s"
echo "$exports"
