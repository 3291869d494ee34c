import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type net from 'node:net';
import { test } from 'node:test';
import { checkHeartbeat } from '../../src/control/heartbeat.js';
import { HealthCheckResponse, HealthCheckResponse_ServingStatus } from '../../src/gen/grpc/health/v1/health.js';
import { defer } from '../helpers/cleanup.js';

/** A frame of one gRPC message. */
function message(bytes: Uint8Array): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(bytes.length, 1);
  return Buffer.concat([prefix, bytes]);
}

test('the heartbeat of an HTTP/2 replica is a gRPC health check: SERVING and UNIMPLEMENTED pass, the rest fail', async (t) => {
  let answer: (stream: http2.ServerHttp2Stream) => void = () => undefined;
  let path = '';
  const server = http2.createServer();
  server.on('stream', (stream, headers) => {
    path = String(headers[':path']);
    stream.on('error', () => undefined);
    stream.resume();
    stream.on('end', () => answer(stream));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  defer(t, () => new Promise<void>((resolve) => server.close(() => resolve())));
  const address = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  const withStatus = (status: HealthCheckResponse_ServingStatus) => (stream: http2.ServerHttp2Stream) => {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
    stream.end(message(HealthCheckResponse.encode({ status }).finish()));
  };
  const trailersOnly = (code: string) => (stream: http2.ServerHttp2Stream) =>
    stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': code }, { endStream: true });

  answer = withStatus(HealthCheckResponse_ServingStatus.SERVING);
  assert.equal(await checkHeartbeat(address, 1_000, 'h2c'), true);
  assert.equal(path, '/grpc.health.v1.Health/Check');
  answer = trailersOnly('12');
  assert.equal(await checkHeartbeat(address, 1_000, 'h2c'), true, 'no health service: answering is alive');
  answer = withStatus(HealthCheckResponse_ServingStatus.NOT_SERVING);
  assert.equal(await checkHeartbeat(address, 1_000, 'h2c'), false);
  answer = trailersOnly('14');
  assert.equal(await checkHeartbeat(address, 1_000, 'h2c'), false);
  answer = () => undefined;
  assert.equal(await checkHeartbeat(address, 200, 'h2c'), false, 'no answer in time');
  // An HTTP/1.1 check of an HTTP/2-only server fails, and so does an HTTP/2 check over TLS of a plaintext one.
  assert.equal(await checkHeartbeat(address, 500, 'http1'), false);
  assert.equal(await checkHeartbeat(address, 500, 'h2'), false);
});
