import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { JsonValue } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { ReflectionClient, type ReflectionError, type ReflectionVersion } from '../helpers/reflection-client.js';
import { startStack } from '../helpers/ringlb-process.js';

/** Requests for the unary RPCs; any RPC not listed is called with {} (it must still be served and resolvable). */
const UNARY_REQUESTS: Record<string, JsonValue> = {
  'ringlb.v1.ControlPlane/ListReplicas': {},
  'ringlb.v1.ControlPlane/AddReplicas': { n: 1, hostnames: ['refl-a'] },
  'ringlb.v1.ControlPlane/RemoveReplicas': { n: 1, hostnames: ['refl-a'] },
  'ringlb.v1.ControlPlane/ReportFailure': { hostname: 'no-such-replica', reason: 'reflection test' },
  'ringlb.v1.ControlPlane/SetRingPolicy': { policy: { strategy: 'classic' } },
  'ringlb.v1.ControlPlane/SimulateChange': { addCount: 1, sampleKeys: 1000 },
  'grpc.health.v1.Health/Check': { service: 'ringlb.v1.ControlPlane' },
  'grpc.health.v1.Health/List': {},
};
const STREAM_REQUESTS: Record<string, JsonValue> = {
  'ringlb.v1.ControlPlane/WatchRing': { nodeId: 'reflection-test' },
  'ringlb.v1.ControlPlane/WatchHealth': {},
  'grpc.health.v1.Health/Watch': { service: '' },
};

for (const version of ['v1', 'v1alpha'] as ReflectionVersion[]) {
  test(`reflection ${version} on npm start: describe and call every RPC with a strict registry (as grpcurl)`, async (t) => {
    const { control: address } = await startStack(t, { timeoutMs: 30_000 });
    const client = new ReflectionClient(address, { version });
    t.after(() => client.close());

    const services = await client.listServices();
    assert.deepEqual(services, [
      'grpc.health.v1.Health',
      'grpc.reflection.v1.ServerReflection',
      'grpc.reflection.v1alpha.ServerReflection',
      'ringlb.v1.ControlPlane',
    ]);

    // describe ringlb.v1.ControlPlane: the file under its proto/ name, Timestamp from its own file.
    const { service, registry } = await client.service('ringlb.v1.ControlPlane');
    assert.equal(service.file.name, 'ringlb/v1/ringlb');
    const ringlbFile = await client.fileByName('ringlb/v1/ringlb.proto');
    assert.deepEqual(ringlbFile.dependency, ['google/protobuf/timestamp.proto']);
    assert.ok(client.fetched.includes('google/protobuf/timestamp.proto'), `fetched ${client.fetched}`);
    assert.equal(registry.getMessage('google.protobuf.Timestamp')?.file.name, 'google/protobuf/timestamp');
    // Comments survive for describe.
    assert.match(ringlbFile.sourceCodeInfo?.location.map((l) => l.leadingComments).join('') ?? '', /data planes/);

    let unary = 0;
    let streams = 0;
    for (const name of services) {
      const { service: svc } = await client.service(name);
      for (const method of svc.methods) {
        // Every input and output type resolves with every field's type.
        for (const message of [method.input, method.output]) {
          for (const field of message.fields) {
            if (field.fieldKind === 'message') assert.ok(field.message.typeName);
            if (field.fieldKind === 'enum') assert.ok(field.enum.values.length > 0);
          }
        }
        const full = `${name}/${method.name}`;
        if (method.methodKind === 'unary') {
          unary++;
          const known = UNARY_REQUESTS[full];
          try {
            const res = await client.callUnary(full, known ?? {});
            assert.equal(typeof res, 'object', full);
          } catch (err) {
            // An RPC this test does not know may refuse {} as input, but must be served.
            assert.ok(!known, `${full}: ${(err as Error).message}`);
            assert.ok(
              ![grpc.status.UNIMPLEMENTED, grpc.status.INTERNAL, grpc.status.UNKNOWN].includes(
                (err as grpc.ServiceError).code,
              ),
              `${full}: ${(err as Error).message}`,
            );
          }
        } else if (
          method.methodKind === 'server_streaming' ||
          (method.methodKind === 'bidi_streaming' && !name.startsWith('grpc.reflection.'))
        ) {
          streams++;
          const [first] = await client.readStream(full, STREAM_REQUESTS[full] ?? {});
          assert.equal(typeof first, 'object', full);
        }
      }
    }
    assert.ok(unary >= 8, `called ${unary} unary RPCs`);
    assert.ok(streams >= 3, `read ${streams} streams`);

    // The calls the issue quotes, by value.
    const listed = await client.callUnary('ringlb.v1.ControlPlane/ListReplicas', {});
    assert.equal(listed.n, 3);
    assert.deepEqual(
      listed.replicas.map((r: { hostname: string; health: string }) => [r.hostname, r.health]),
      [
        ['server-1', 'HEALTH_STATE_HEALTHY'],
        ['server-2', 'HEALTH_STATE_HEALTHY'],
        ['server-3', 'HEALTH_STATE_HEALTHY'],
      ],
    );
    assert.match(listed.replicas[0].since, /^\d{4}-\d\d-\d\dT/, 'Timestamp decoded as a Timestamp');
    const [ring] = await client.readStream('ringlb.v1.ControlPlane/WatchRing', { nodeId: 'reflection-test' });
    assert.equal(ring.members.length, 3);
    const [health] = await client.readStream('ringlb.v1.ControlPlane/WatchHealth', {});
    assert.equal(health.kind, 'KIND_SNAPSHOT');
  });
}

test('reflection answers every lookup the way grpcurl expects, and NOT_FOUND for unknown names', async (t) => {
  const { control: address } = await startStack(t, { timeoutMs: 30_000 });
  const client = new ReflectionClient(address);
  t.after(() => client.close());
  for (const name of [
    'ringlb/v1/ringlb.proto',
    'google/protobuf/timestamp.proto',
    'grpc/health/v1/health.proto',
    'grpc/reflection/v1/reflection.proto',
    'grpc/reflection/v1alpha/reflection.proto',
  ]) {
    assert.equal((await client.fileByName(name)).name, name);
  }
  assert.equal(await client.fileContaining('ringlb.v1.ControlPlane'), 'ringlb/v1/ringlb.proto');
  assert.equal(await client.fileContaining('ringlb.v1.Replica'), 'ringlb/v1/ringlb.proto');
  assert.equal(await client.fileContaining('google.protobuf.Timestamp'), 'google/protobuf/timestamp.proto');
  assert.equal(await client.fileContaining('grpc.health.v1.Health'), 'grpc/health/v1/health.proto');
  // Methods, nested types and enum values are symbols too.
  for (const symbol of [
    'ringlb.v1.ControlPlane.ListReplicas',
    'ringlb.v1.HealthEvent.Kind',
    'ringlb.v1.HEALTH_STATE_HEALTHY',
  ]) {
    const res = await client.ask({ fileContainingSymbol: symbol });
    assert.ok(res.fileDescriptorResponse, symbol);
  }
  for (const request of [
    { fileByFilename: 'ringlb_v1.proto' },
    { fileByFilename: 'google_protobuf.proto' },
    { fileContainingSymbol: 'ringlb.v1.Nope' },
  ]) {
    const res = await client.ask(request);
    assert.equal(res.errorResponse?.errorCode, grpc.status.NOT_FOUND, JSON.stringify(request));
  }
  await assert.rejects(client.fileByName('nope.proto'), (err: ReflectionError) => err.code === grpc.status.NOT_FOUND);
});
