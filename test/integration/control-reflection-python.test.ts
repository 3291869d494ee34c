import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runPythonClient } from '../helpers/python-client.js';
import { startStack } from '../helpers/ringlb-process.js';

test('Python grpcio (C core, strict descriptor pool) describes and calls the control plane over reflection only', async (t) => {
  const { control: address } = await startStack(t, { timeoutMs: 30_000 });
  for (const version of ['v1', 'v1alpha'] as const) {
    const { header, results } = await runPythonClient(address, {
      version,
      steps: [
        { op: 'list' },
        { op: 'describe', symbol: 'ringlb.v1.ControlPlane' },
        { op: 'describe', symbol: 'grpc.health.v1.Health' },
        { op: 'file', name: 'google/protobuf/timestamp.proto' },
        { op: 'unary', method: 'ringlb.v1.ControlPlane/ListReplicas' },
        { op: 'unary', method: 'ringlb.v1.ControlPlane/AddReplicas', request: { n: 1, hostnames: ['py-a'] } },
        { op: 'unary', method: 'ringlb.v1.ControlPlane/RemoveReplicas', request: { n: 1, hostnames: ['py-a'] } },
        { op: 'unary', method: 'ringlb.v1.ControlPlane/ReportFailure', request: { hostname: 'nobody' } },
        {
          op: 'unary',
          method: 'ringlb.v1.ControlPlane/SetRingPolicy',
          request: { policy: { strategy: 'classic' } },
        },
        { op: 'unary', method: 'ringlb.v1.ControlPlane/SimulateChange', request: { addCount: 1, sampleKeys: 1000 } },
        { op: 'unary', method: 'grpc.health.v1.Health/Check', request: { service: 'ringlb.v1.ControlPlane' } },
        { op: 'unary', method: 'grpc.health.v1.Health/List' },
        { op: 'stream', method: 'ringlb.v1.ControlPlane/WatchRing', request: { nodeId: 'python' } },
        { op: 'stream', method: 'ringlb.v1.ControlPlane/WatchHealth' },
        { op: 'stream', method: 'grpc.health.v1.Health/Watch', request: { service: '' } },
      ],
    });
    t.diagnostic(`python protobuf implementation: ${header.implementation}, grpc ${header.grpc}`);
    for (const r of results) assert.equal(r.error, undefined, `${version} ${r.op}: ${r.error} ${r.details}`);
    const [
      list,
      describe,
      health,
      timestamp,
      listed,
      added,
      removed,
      report,
      policy,
      simulate,
      check,
      hlist,
      ring,
      watch,
      hwatch,
    ] = results.map((r) => r.ok);
    assert.deepEqual(list, [
      'grpc.health.v1.Health',
      'grpc.reflection.v1.ServerReflection',
      'grpc.reflection.v1alpha.ServerReflection',
      'ringlb.v1.ControlPlane',
    ]);
    assert.equal(describe.file, 'ringlb/v1/ringlb.proto');
    assert.match(
      describe.text,
      /rpc ListReplicas \( \.ringlb\.v1\.ListReplicasRequest \) returns \( \.ringlb\.v1\.ReplicaSet \);/,
    );
    assert.match(
      describe.text,
      /rpc WatchRing \( \.ringlb\.v1\.WatchRingRequest \) returns \( stream \.ringlb\.v1\.RingSnapshot \);/,
    );
    assert.ok(results[1].fetched?.includes('google/protobuf/timestamp.proto'), 'Timestamp fetched by its own name');
    assert.equal(health.file, 'grpc/health/v1/health.proto');
    assert.deepEqual(timestamp, { name: 'google/protobuf/timestamp.proto', dependency: [] });
    assert.equal(listed.n, 3);
    assert.match(listed.replicas[0].since, /^\d{4}-\d\d-\d\dT/);
    assert.ok(added.replicas.some((r: { hostname: string }) => r.hostname === 'py-a'));
    assert.ok(!removed.replicas.some((r: { hostname: string }) => r.hostname === 'py-a'));
    assert.deepEqual(report, {}, 'accepted=false is the default value');
    assert.equal(policy.policy.strategy, 'classic');
    assert.ok(simulate.after);
    assert.equal(check.status, 'SERVING');
    assert.equal(hlist.statuses['ringlb.v1.ControlPlane'].status, 'SERVING');
    assert.equal(ring[0].members.length, 3);
    assert.equal(watch[0].kind, 'KIND_SNAPSHOT');
    assert.equal(hwatch[0].status, 'SERVING');
  }
});
