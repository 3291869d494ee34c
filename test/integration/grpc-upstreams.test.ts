import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { type TestContext, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { EchoClient, type EchoReply, type EchoRequest, EchoService } from '../../src/gen/ringlb/echo/v1/echo.js';
import { makePki } from '../helpers/certs.js';
import { defer } from '../helpers/cleanup.js';
import { tempStateDir } from '../helpers/control-plane.js';
import { getJson } from '../helpers/http.js';
import { startStack } from '../helpers/ringlb-process.js';
import { waitFor } from '../helpers/wait.js';

/**
 * gRPC services behind ringlb (docs/grpc-upstreams.md), real processes:
 * `ringlb up --upstream-protocol h2c --h2c` with two replicas serving the
 * echo service, a grpc-js client and (when installed) grpcurl through the
 * data plane.
 */

const EMPTY: EchoRequest = { message: '', payload: Buffer.alloc(0), count: 0, intervalMs: 0, delayMs: 0 };

function keyed(user: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set('x-user', user);
  return md;
}

function unary(
  client: EchoClient,
  request: Partial<EchoRequest>,
  md = new grpc.Metadata(),
  options: Partial<grpc.CallOptions> = {},
): Promise<EchoReply> {
  return new Promise((resolve, reject) =>
    client.unary({ ...EMPTY, ...request }, md, options, (err, reply) => (err ? reject(err) : resolve(reply!))),
  );
}

/** The pid of each replica (the process runtime's state file). */
function replicaPids(stateDir: string): Map<string, number> {
  const entries = JSON.parse(readFileSync(path.join(stateDir, 'replicas.json'), 'utf8')) as {
    hostname: string;
    pid: number;
  }[];
  return new Map(entries.map((e) => [e.hostname, e.pid]));
}

/** grpcurl on PATH (CI installs it, .ci/run); undefined when missing outside CI. */
function grpcurlPath(): string | undefined {
  const found = spawnSync('grpcurl', ['-version'], { encoding: 'utf8' });
  if (found.status === 0) return 'grpcurl';
  if (process.env.CI === 'true') assert.fail('grpcurl is not on PATH (CI installs it with go install)');
  return undefined;
}

function run(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(file, args, { timeout: 10_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`${file} ${args.join(' ')}: ${err.message}\n${stderr}`)) : resolve(stdout),
    ),
  );
}

/** Waits for `members` replicas in the stack's ring, then an echo client to its traffic port (closed at the end). */
async function echoClient(
  t: TestContext,
  stack: { url: string; adminUrl: string },
  members: number,
): Promise<EchoClient> {
  await waitFor(`${members} replicas in the ring`, async () => {
    const ring = await getJson(`${stack.adminUrl}/ring`);
    return Object.keys(ring.body.replicas ?? {}).length === members;
  });
  const client = new EchoClient(new URL(stack.url).host, grpc.credentials.createInsecure());
  defer(t, () => client.close());
  return client;
}

test('gRPC through the data plane to h2c replicas: unary, streams, big messages, deadlines, cancellation, a replica killed mid-stream, sticky metadata keys, grpcurl', async (t) => {
  const stateDir = tempStateDir(t);
  const stack = await startStack(t, {
    stateDir,
    args: [
      '--upstream-protocol',
      'h2c',
      '--h2c',
      '--replicas',
      '2',
      '--strategy',
      'ketama',
      '--routing-key',
      'header:x-user',
      '--heartbeat-interval',
      '200',
    ],
  });
  const client = await echoClient(t, stack, 2);
  const target = new URL(stack.url).host;
  assert.equal((await getJson(`${stack.adminUrl}/ring`)).body.upstreamProtocol, 'h2c');

  // Unary, with the metadata the replica received.
  const hello = await unary(client, { message: 'hello' }, keyed('alice'));
  assert.equal(hello.message, 'hello');
  assert.match(hello.replica, /^server-\d+$/);
  assert.equal(hello.metadata['x-user'], 'alice');
  assert.equal(hello.metadata.te, 'trailers');

  // The same metadata key always reaches the same replica; different keys reach both.
  const owners = new Set<string>();
  for (let i = 0; i < 16; i++) {
    const first = await unary(client, {}, keyed(`user-${i}`));
    const again = await unary(client, {}, keyed(`user-${i}`));
    assert.equal(again.replica, first.replica, `user-${i} moved from ${first.replica} to ${again.replica}`);
    owners.add(first.replica);
  }
  assert.equal(owners.size, 2, 'sixteen keys on a ketama ring of two reach both replicas');

  // Server streaming.
  const streamed: number[] = [];
  for await (const reply of client.serverStream({ ...EMPTY, count: 5, intervalMs: 2 }, keyed('alice'))) {
    streamed.push((reply as EchoReply).index);
  }
  assert.deepEqual(streamed, [0, 1, 2, 3, 4]);

  // Bidi, ping-pong: each answer arrives before the next request is sent (nothing is buffered on the way).
  const bidi = client.bidi(keyed('alice'));
  const next = (): Promise<EchoReply> => new Promise((resolve) => bidi.once('data', resolve));
  bidi.write({ ...EMPTY, message: 'ping' });
  assert.equal((await next()).message, 'ping');
  bidi.write({ ...EMPTY, message: 'pong' });
  assert.equal((await next()).message, 'pong');
  bidi.end();
  await new Promise((resolve) => bidi.once('end', resolve));

  // A message of a few MB each way.
  const payload = Buffer.alloc(3_000_000, 7);
  const big = await unary(client, { payload }, keyed('alice'));
  assert.equal(big.payload.length, payload.length);
  assert.ok(big.payload.equals(payload));

  // A deadline that passes.
  const started = Date.now();
  await assert.rejects(unary(client, { delayMs: 3_000 }, keyed('alice'), { deadline: Date.now() + 300 }), {
    code: grpc.status.DEADLINE_EXCEEDED,
  });
  assert.ok(Date.now() - started < 2_500);

  // A client's cancellation reaches the replica (it counts calls that ended that way).
  const before = (await unary(client, {}, keyed('cancel-me'))).cancelled;
  const cancelled = client.serverStream({ ...EMPTY, count: 1_000, intervalMs: 20 }, keyed('cancel-me'));
  cancelled.on('error', () => undefined);
  await new Promise((resolve) => cancelled.once('data', resolve));
  cancelled.cancel();
  await waitFor('the replica saw the cancellation', async () => {
    const reply = await unary(client, {}, keyed('cancel-me'));
    return reply.cancelled > before;
  });

  // A replica killed mid-stream: that stream fails UNAVAILABLE, the next call is served by the other replica.
  const doomed = client.serverStream({ ...EMPTY, count: 1_000, intervalMs: 20 }, keyed('kill-me'));
  const failed = new Promise<grpc.ServiceError>((resolve) => doomed.once('error', resolve));
  const first = (await new Promise((resolve) => doomed.once('data', resolve))) as EchoReply;
  process.kill(replicaPids(stateDir).get(first.replica)!, 'SIGKILL');
  const err = await failed;
  assert.equal(err.code, grpc.status.UNAVAILABLE, `${err.code} ${err.details}`);
  const after = await unary(client, { message: 'still here' }, keyed('kill-me'));
  assert.equal(after.message, 'still here');
  assert.notEqual(after.replica, first.replica);

  // grpcurl, with no proto files: reflection and the echo service through the data plane.
  const grpcurl = grpcurlPath();
  if (grpcurl === undefined) {
    t.diagnostic('grpcurl is not on PATH: its part is skipped (CI installs it)');
    return;
  }
  const list = await run(grpcurl, ['-plaintext', target, 'list']);
  assert.match(list, /^ringlb\.echo\.v1\.Echo$/m);
  const out = await run(grpcurl, [
    '-plaintext',
    '-H',
    'x-user: alice',
    '-d',
    '{"message": "hi from grpcurl"}',
    target,
    'ringlb.echo.v1.Echo/Unary',
  ]);
  const reply = JSON.parse(out) as { message: string; replica: string };
  assert.equal(reply.message, 'hi from grpcurl');
  assert.match(reply.replica, /^server-\d+$/);
});

test('gRPC to h2 replicas (HTTP/2 over TLS): the data plane verifies the replica certificate; heartbeats go over HTTPS', async (t) => {
  const pki = makePki(t);
  const stack = await startStack(t, {
    args: ['--upstream-protocol', 'h2', '--h2c', '--replicas', '1'],
    // The replicas inherit the environment: their certificate; the data plane trusts the test CA.
    env: { REPLICA_TLS_CERT: pki.serverCert, REPLICA_TLS_KEY: pki.serverKey, NODE_EXTRA_CA_CERTS: pki.ca },
  });
  const client = await echoClient(t, stack, 1);
  const reply = await unary(client, { message: 'over tls' });
  assert.equal(reply.message, 'over tls');
  assert.equal(reply.metadata[':scheme'], undefined);
  const home = await fetch(`${stack.url}/home`);
  assert.equal(home.status, 200);
  assert.match(await home.text(), /Hello from Server: 1/);
});

test('a static backend given as h2c:// speaks HTTP/2 in an HTTP/1.1 ring: a plain grpc-js server, health-checked over gRPC', async (t) => {
  // A gRPC server that speaks no HTTP/1.1 and has no health service (its UNIMPLEMENTED answer is alive).
  const server = new grpc.Server();
  server.addService(EchoService, {
    unary: (call: grpc.ServerUnaryCall<EchoRequest, EchoReply>, callback: grpc.sendUnaryData<EchoReply>) => {
      const metadata = Object.fromEntries(Object.entries(call.metadata.getMap()).map(([k, v]) => [k, String(v)]));
      callback(null, { ...EMPTY, message: call.request.message, replica: 'grpc', index: 0, metadata, cancelled: 0 });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(err) : resolve(bound),
    ),
  );
  defer(t, () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())));
  const stack = await startStack(t, {
    args: ['--runtime', 'static', '--backend', `grpc=h2c://127.0.0.1:${port}`, '--h2c', '--heartbeat-interval', '100'],
  });
  const client = await echoClient(t, stack, 1);
  const reply = await unary(client, { message: 'per replica' });
  assert.equal(reply.message, 'per replica');
  assert.equal(reply.replica, 'grpc');
  const ring = (await getJson(`${stack.adminUrl}/ring`)).body;
  assert.equal(ring.upstreamProtocol, 'http1');
  assert.equal(ring.members[0].protocol, 'h2c');
});
