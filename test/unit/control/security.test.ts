import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { inspect } from 'node:util';
import { create, toBinary } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import { checkExposure, requiresToken } from '../../../src/control/auth.js';
import { DescriptorIndex } from '../../../src/control/reflection-service.js';
import { BearerToken } from '../../../src/shared/bearer-token.js';
import { isLoopbackHost } from '../../../src/shared/loopback.js';

test('requiresToken: mutations and unknown RPCs need it; reads, reflection and health do not (unless scope all)', () => {
  const cp = (m: string): string => `/ringlb.v1.ControlPlane/${m}`;
  for (const m of ['AddReplicas', 'RemoveReplicas', 'SetRingPolicy', 'ReportFailure', 'SomeFutureRpc']) {
    assert.equal(requiresToken(cp(m), 'mutations'), true, m);
  }
  for (const m of ['ListReplicas', 'WatchRing', 'WatchHealth', 'SimulateChange']) {
    assert.equal(requiresToken(cp(m), 'mutations'), false, m);
    assert.equal(requiresToken(cp(m), 'all'), true, m);
  }
  const reflection = '/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo';
  assert.equal(requiresToken(reflection, 'mutations'), false);
  assert.equal(requiresToken(reflection, 'all'), true);
  assert.equal(requiresToken('/grpc.health.v1.Health/Check', 'all'), false);
});

test('isLoopbackHost', () => {
  for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1'])
    assert.ok(isLoopbackHost(h), h);
  for (const h of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.2', 'example.com', '128.0.0.1'])
    assert.ok(!isLoopbackHost(h), h);
});

test('checkExposure: quiet on loopback, refused in public without TLS or a token, warned when partly open', () => {
  const token = new BearerToken('a'.repeat(32));
  const tls = { cert: 'c', key: 'k' };
  assert.deepEqual(checkExposure({ listenHost: '127.0.0.1', insecure: false }), { warnings: [] });
  assert.match(checkExposure({ listenHost: '0.0.0.0', insecure: false }).refusal ?? '', /--insecure/);
  const insecure = checkExposure({ listenHost: '0.0.0.0', insecure: true });
  assert.equal(insecure.refusal, undefined);
  assert.match(insecure.warnings[0], /^INSECURE/);
  assert.deepEqual(checkExposure({ listenHost: '0.0.0.0', tls: { ...tls, clientCa: 'ca' }, token, insecure: false }), {
    warnings: [],
  });
  assert.match(checkExposure({ listenHost: '0.0.0.0', token, insecure: false }).warnings[0], /plaintext/);
  assert.match(checkExposure({ listenHost: '0.0.0.0', tls, insecure: false }).warnings[0], /any TLS client/);
});

test('BearerToken: matches only the exact bearer value, never prints the secret, refuses short tokens', (t) => {
  const secret = 's3cret-s3cret-s3cret';
  const token = new BearerToken(secret);
  assert.ok(token.matches(`Bearer ${secret}`));
  assert.ok(token.matches(`bearer ${secret}`));
  for (const bad of [undefined, '', secret, `Bearer ${secret}x`, `Bearer ${secret.slice(1)}`, `Basic ${secret}`])
    assert.ok(!token.matches(bad), String(bad));
  assert.ok(!`${token} ${JSON.stringify({ token })} ${inspect(token)}`.includes(secret));
  assert.throws(() => new BearerToken('short'), /at least 16 characters/);
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ringlb-token-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'token');
  const first = BearerToken.fromFileOrCreate(file);
  assert.equal(first.created, true);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const again = BearerToken.fromFileOrCreate(file);
  assert.equal(again.created, false);
  assert.ok(again.token.matches(first.token.header()));
});

test('DescriptorIndex: real file names and symbols; a set missing an import is refused', () => {
  const index = new DescriptorIndex();
  assert.equal(index.fileOf('ringlb.v1.ControlPlane'), 'ringlb/v1/ringlb.proto');
  assert.equal(index.fileOf('ringlb.v1.ControlPlane.WatchRing'), 'ringlb/v1/ringlb.proto');
  assert.equal(index.fileOf('ringlb.v1.HealthEvent.Kind'), 'ringlb/v1/ringlb.proto');
  assert.equal(index.fileOf('ringlb.v1.HealthEvent.KIND_SNAPSHOT'), 'ringlb/v1/ringlb.proto');
  assert.equal(index.fileOf('google.protobuf.Timestamp'), 'google/protobuf/timestamp.proto');
  // A stream sends each dependency once.
  const sent = new Set<string>();
  assert.equal(index.filesFor('ringlb/v1/ringlb.proto', sent).length, 2);
  assert.equal(index.filesFor('ringlb/v1/ringlb.proto', sent).length, 1);
  assert.equal(index.filesFor('google/protobuf/timestamp.proto', sent).length, 1, 'a requested file always comes');
  // What @grpc/reflection fed from proto-loader served: ringlb without timestamp.proto.
  const broken = create(FileDescriptorSetSchema, {
    file: [
      {
        name: 'ringlb_v1.proto',
        package: 'ringlb.v1',
        syntax: 'proto3',
        messageType: [
          {
            name: 'Replica',
            field: [{ name: 'since', number: 5, type: 11, label: 1, typeName: '.google.protobuf.Timestamp' }],
          },
        ],
      },
    ],
  });
  assert.throws(
    () => new DescriptorIndex(Buffer.from(toBinary(FileDescriptorSetSchema, broken)).toString('base64')),
    /google.protobuf.Timestamp/,
  );
});
