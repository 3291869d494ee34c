import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import { test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { CONTROL_DEFAULTS } from '../../src/control/control-defaults.js';
import { ControlPlaneClient, type RingSnapshot } from '../../src/gen/ringlb/v1/ringlb.js';
import { defer } from '../helpers/cleanup.js';
import { startControlPlane } from '../helpers/control-plane.js';
import { startControl } from '../helpers/ringlb-process.js';
import { waitFor } from '../helpers/wait.js';

const STREAMS = 10_000;

function rssMb(pid: number): number {
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  return Math.round(kb / 1024);
}

test(`${STREAMS} WatchRing streams from one client: ${CONTROL_DEFAULTS.limits.maxStreamsPerClient} served, the rest RESOURCE_EXHAUSTED, the control plane stays responsive`, async (t) => {
  const { proc, address } = await startControl(t, {
    args: ['--replicas', '0'],
    timeoutMs: 30_000,
  });
  const pid = proc.child.pid!;
  const rssBefore = rssMb(pid);

  const flood = new ControlPlaneClient(address, grpc.credentials.createInsecure());
  defer(t, () => flood.close());
  const other = new ControlPlaneClient(address, grpc.credentials.createInsecure(), {
    // A separate channel: the flood's connection must not be what answers.
    'grpc.use_local_subchannel_pool': 1,
  });
  defer(t, () => other.close());

  const served: grpc.ClientReadableStream<RingSnapshot>[] = [];
  const codes = new Map<number, number>();
  let settled = 0;
  const startedAt = Date.now();
  const listReplicasMs = (): Promise<number> =>
    new Promise<number>((resolve, reject) => {
      const at = Date.now();
      other.listReplicas({}, new grpc.Metadata(), { deadline: Date.now() + 20_000 }, (err) =>
        err ? reject(err) : resolve(Date.now() - at),
      );
    });
  let during: Promise<number> | undefined;
  for (let i = 0; i < STREAMS; i++) {
    // Batches, so this process's own event loop is not what delays the probe below.
    if (i % 250 === 0) await new Promise((r) => setImmediate(r));
    if (i === STREAMS / 2) during = listReplicasMs();
    const call = flood.watchRing({ nodeId: `flood-${i}`, watchId: '' });
    let done = false;
    const settle = (): void => {
      if (!done) {
        done = true;
        settled++;
      }
    };
    call.on('data', () => {
      if (!done) served.push(call);
      settle();
    });
    call.on('error', (err: grpc.ServiceError) => {
      codes.set(err.code, (codes.get(err.code) ?? 0) + 1);
      settle();
    });
  }
  defer(t, () => {
    for (const call of served) call.cancel();
  });

  // Responsive during the flood and after it: a unary call on another channel answers.
  const listMs = await during!;
  await waitFor('every stream answered or refused', () => settled === STREAMS, 180_000);
  const floodMs = Date.now() - startedAt;
  const afterMs = await listReplicasMs();
  const rssAfter = rssMb(pid);
  t.diagnostic(
    `${STREAMS} WatchRing calls: ${served.length} served, ${codes.get(grpc.status.RESOURCE_EXHAUSTED) ?? 0} RESOURCE_EXHAUSTED in ${floodMs} ms; ` +
      `ListReplicas during the flood ${listMs} ms, after it ${afterMs} ms; control plane RSS ${rssBefore} → ${rssAfter} MB`,
  );
  assert.equal(served.length, CONTROL_DEFAULTS.limits.maxStreamsPerClient);
  assert.deepEqual(
    [...codes],
    [[grpc.status.RESOURCE_EXHAUSTED, STREAMS - CONTROL_DEFAULTS.limits.maxStreamsPerClient]],
  );
  assert.ok(rssAfter - rssBefore < 150, `RSS grew by ${rssAfter - rssBefore} MB`);
  assert.ok(afterMs < 2_000, `ListReplicas took ${afterMs} ms with ${served.length} streams held`);

  // Closing streams gives the slots back.
  for (const call of served.splice(0)) call.cancel();
  await waitFor(
    'a new WatchRing served once the old ones closed',
    () =>
      new Promise<boolean>((resolve) => {
        const call = flood.watchRing({ nodeId: 'after', watchId: '' });
        call.on('data', () => {
          resolve(true);
          call.cancel();
        });
        call.on('error', (err: grpc.ServiceError) => resolve(err.code === grpc.status.CANCELLED));
      }),
    10_000,
  );
});

test('keepalive enforcement: a client that pings too often gets GOAWAY ENHANCE_YOUR_CALM "too_many_pings"', async (t) => {
  const { address } = await startControlPlane(t, { replicas: 0 });
  const connect = async (): Promise<http2.ClientHttp2Session> => {
    const session = http2.connect(`http://${address}`);
    session.on('error', () => undefined);
    defer(t, () => session.destroy());
    await new Promise((resolve) => session.once('connect', resolve));
    return session;
  };
  const ping = (session: http2.ClientHttp2Session): Promise<void> =>
    new Promise((resolve) => {
      if (!session.ping(() => resolve())) resolve();
    });

  const rude = await connect();
  const goaway = new Promise<{ code: number; data: string }>((resolve) =>
    rude.on('goaway', (code, _last, data) => resolve({ code, data: data?.toString() ?? '' })),
  );
  for (let i = 0; i < 5 && !rude.closed; i++) await ping(rude);
  const { code, data } = await goaway;
  assert.equal(code, http2.constants.NGHTTP2_ENHANCE_YOUR_CALM);
  assert.equal(data, 'too_many_pings');

  // One ping (grpc-js, grpc-go and C core clients send one per keepalive interval) is fine.
  const polite = await connect();
  await ping(polite);
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(polite.closed || polite.destroyed, false);
  // And the control plane still answers gRPC.
  const client = new ControlPlaneClient(address, grpc.credentials.createInsecure());
  defer(t, () => client.close());
  await new Promise((resolve, reject) => client.listReplicas({}, (err, res) => (err ? reject(err) : resolve(res))));
});

test(`a request over ${CONTROL_DEFAULTS.limits.maxMessageBytes / 1024} KiB is refused with RESOURCE_EXHAUSTED and changes nothing`, async (t) => {
  const { address, server } = await startControlPlane(t, { replicas: 0 });
  const client = new ControlPlaneClient(address, grpc.credentials.createInsecure());
  defer(t, () => client.close());
  const code = await new Promise<number>((resolve) =>
    client.addReplicas(
      { n: 1, hostnames: ['x'.repeat(CONTROL_DEFAULTS.limits.maxMessageBytes + 1)], weights: [] },
      (err) => resolve(err ? err.code : grpc.status.OK),
    ),
  );
  assert.equal(code, grpc.status.RESOURCE_EXHAUSTED);
  assert.equal(server.manager.list().length, 0);
  const version = server.ring.current.version;
  await new Promise((resolve, reject) => client.listReplicas({}, (err, res) => (err ? reject(err) : resolve(res))));
  assert.equal(server.ring.current.version, version);
});

test('reflection: a client that sends requests without reading the answers cannot make the server queue them', async (t) => {
  const { proc, address } = await startControl(t, {
    args: ['--replicas', '0'],
    timeoutMs: 30_000,
  });
  const pid = proc.child.pid!;
  const rssBefore = rssMb(pid);
  // A raw HTTP/2 client, so that not reading really means not reading: no WINDOW_UPDATE, the
  // server's writes stop at the flow-control window (grpc-js clients read into their own buffer).
  const session = http2.connect(`http://${address}`);
  session.on('error', () => undefined);
  defer(t, () => session.destroy());
  const stream = session.request({
    ':method': 'POST',
    ':path': '/grpc.reflection.v1.ServerReflection/ServerReflectionInfo',
    'content-type': 'application/grpc',
    te: 'trailers',
  });
  stream.on('error', () => undefined);
  // ServerReflectionRequest{file_by_filename: "ringlb/v1/ringlb.proto"} (field 3), in a gRPC frame.
  const name = Buffer.from('ringlb/v1/ringlb.proto');
  const message = Buffer.concat([Buffer.from([(3 << 3) | 2, name.length]), name]);
  const frame = Buffer.concat([Buffer.from([0, 0, 0, 0, message.length]), message]);
  const REQUESTS = 50_000;
  stream.write(Buffer.concat(Array.from({ length: REQUESTS }, () => frame)));
  // No 'data' listener: this client reads nothing. Give the server time to do what it would.
  await new Promise((r) => setTimeout(r, 3_000));
  const rssAfter = rssMb(pid);
  // Each answer carries the ringlb.proto descriptor; without backpressure the RSS grew ~57 MB in these 3 s.
  t.diagnostic(`${REQUESTS} unread reflection requests: control plane RSS ${rssBefore} → ${rssAfter} MB`);
  assert.ok(rssAfter - rssBefore < 30, `RSS grew by ${rssAfter - rssBefore} MB`);
  const other = new ControlPlaneClient(address, grpc.credentials.createInsecure(), {
    'grpc.use_local_subchannel_pool': 1,
  });
  defer(t, () => other.close());
  await new Promise((resolve, reject) => other.listReplicas({}, (err, res) => (err ? reject(err) : resolve(res))));
  // Reading resumes the answers.
  const first = await new Promise<Buffer>((resolve) => stream.once('data', resolve));
  assert.ok(first.length > 100);
});
