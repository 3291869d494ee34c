import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { CLUSTER_ENV_FILE, clusterFacts, inCidr } from '../helpers/kube-cluster.js';

// The Kubernetes test cluster's facts live in images/k8s/cluster.env, sourced
// by the shell scripts; the test helper reads the same file.

test('clusterFacts reads images/k8s/cluster.env as the scripts source it', () => {
  const facts = clusterFacts(CLUSTER_ENV_FILE);
  assert.equal(facts.K8S_STATE, process.env.RINGLB_K8S_STATE || '/tmp/ringlb-k8s');
  assert.match(facts.K8S_POD_CIDR!, /^\d+\.\d+\.\d+\.\d+\/\d+$/);
  assert.ok(inCidr(facts.K8S_POD_GATEWAY!, facts.K8S_POD_CIDR!), 'the pod gateway is in the pod range');
  assert.ok(!inCidr(facts.K8S_SERVICE_IP!, facts.K8S_POD_CIDR!), 'the service range is apart from the pod range');
  for (const key of ['K8S_APISERVER_PORT', 'K8S_ETCD_PORT', 'K8S_KUBELET_PORT']) {
    const port = Number(facts[key]);
    assert.ok(Number.isInteger(port) && port > 0 && port < 65536, `${key} is a port`);
    assert.ok(![5000, 9901, 50051].includes(port), `${key} is none of ringlb's default ports`);
  }
});

test('clusterFacts resolves a shell default (NAME:-default) from the environment, else the default', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ringlb-facts-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'cluster.env');
  writeFileSync(
    file,
    `# a comment\nA="\${RINGLB_FACTS_TEST_UNSET:-/tmp/x}"\nB=\${RINGLB_FACTS_TEST_SET:-no}\nC=10.0.0.0/24\n`,
  );
  process.env.RINGLB_FACTS_TEST_SET = 'yes';
  t.after(() => delete process.env.RINGLB_FACTS_TEST_SET);
  assert.deepEqual(clusterFacts(file), { A: '/tmp/x', B: 'yes', C: '10.0.0.0/24' });
});

test('inCidr', () => {
  assert.ok(inCidr('10.233.0.7', '10.233.0.0/24'));
  assert.ok(inCidr('10.233.0.255', '10.233.0.0/24'));
  assert.ok(!inCidr('10.233.1.1', '10.233.0.0/24'));
  assert.ok(!inCidr('127.0.0.1', '10.233.0.0/24'));
  assert.ok(inCidr('192.0.2.9', '0.0.0.0/0'));
  assert.ok(!inCidr('not-an-ip', '10.233.0.0/24'));
});
