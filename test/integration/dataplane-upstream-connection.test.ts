import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  type ConnectionOwner,
  UpstreamConnection,
  type UpstreamHandler,
} from '../../src/dataplane/upstream/upstream-connection.js';
import { UpstreamCode, type UpstreamError } from '../../src/dataplane/upstream/upstream-errors.js';
import { rawUpstream } from '../helpers/proxy-harness.js';

/** A connection on its own, with an owner that records what the connection tells it. */
function connect(port: number) {
  const events: string[] = [];
  const owner: ConnectionOwner = {
    options: {
      host: '127.0.0.1',
      port,
      connectTimeoutMs: 2_000,
      headersTimeoutMs: 2_000,
      bodyTimeoutMs: 2_000,
      idleTimeoutMs: 60_000,
    },
    release: () => events.push('release'),
    removed: () => events.push('removed'),
  };
  return { conn: new UpstreamConnection(owner), events };
}

function request(
  conn: UpstreamConnection,
  path: string,
): Promise<{ status?: number; body: string; error?: UpstreamError }> {
  return new Promise((resolve) => {
    let status: number | undefined;
    let body = '';
    const handler: UpstreamHandler = {
      onConnect: () => {},
      onHeaders: (s) => {
        status = s;
        return true;
      },
      onData: (c) => {
        body += c.toString('latin1');
        return true;
      },
      onComplete: () => resolve({ status, body }),
      onEnd: (last) => resolve({ status, body: body + last.toString() }),
      onError: (error) => resolve({ status, body, error: error as UpstreamError }),
    };
    conn.send({ method: 'GET', path, headers: ['host', 'x'], body: null }, handler);
  });
}

test('UpstreamConnection alone: released after a clean response; stray bytes and a reused connection that breaks are reported as such', async (t) => {
  const upstream = await rawUpstream(t, (socket, head) => {
    const path = head.split(' ')[1];
    if (path === '/stray') socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA');
    else if (path === '/drop') socket.destroy();
    else socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
  });
  const a = connect(upstream.port);
  t.after(() => a.conn.destroy());
  assert.deepEqual(await request(a.conn, '/'), { status: 200, body: 'ok' });
  assert.deepEqual(a.events, ['release']);
  // Reused, then broken before any response byte: the error says both, for the retry rule.
  const dropped = await request(a.conn, '/drop');
  assert.equal(dropped.error?.code, UpstreamCode.SOCKET_CLOSED);
  assert.equal(dropped.error?.reused, true);
  assert.equal(dropped.error?.responseStarted, false);
  assert.deepEqual(a.events, ['release', 'removed']);

  const b = connect(upstream.port);
  t.after(() => b.conn.destroy());
  assert.deepEqual(await request(b.conn, '/stray'), { status: 200, body: 'ok' });
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.deepEqual(b.events, ['removed'], 'bytes after the response: closed, never released for reuse');
});
