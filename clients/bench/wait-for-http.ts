import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';

import type { ManagedProcess } from './process-set.js';

/** One GET over HTTP/2 with prior knowledge (h2c), on its own session. */
function probeH2c(url: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(new URL(url).origin);
    const timer = setTimeout(() => session.destroy(new Error('timed out')), timeoutMs);
    session.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    const stream = session.request({ ':path': new URL(url).pathname });
    let status = 0;
    stream.on('response', (h) => {
      status = Number(h[':status']);
    });
    stream.resume();
    stream.on('error', reject);
    stream.on('end', () => {
      clearTimeout(timer);
      session.close();
      resolve(status);
    });
  });
}

/** One GET with its own connection, closed afterwards so no idle socket is left behind. */
function probe(url: string, timeoutMs: number, h2c: boolean): Promise<number> {
  if (h2c) return probeH2c(url, timeoutMs);
  return new Promise((resolve, reject) => {
    // The bench's certificate is self-signed: the probe only checks that the target serves.
    const client = url.startsWith('https:') ? https : http;
    const options = { agent: false, headers: { connection: 'close' }, timeout: timeoutMs, rejectUnauthorized: false };
    const req = client.get(url, options, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
  });
}

/**
 * Polls `url` until it answers 200, the process serving it exits, or the
 * deadline passes. Throws with the process's last output, so a proxy that
 * refused its configuration says why.
 */
export async function waitForHttp(
  url: string,
  proc: ManagedProcess | undefined,
  timeoutMs = 15_000,
  /** Ask over HTTP/2 with prior knowledge (a port that speaks only h2c). */
  h2c = false,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (proc?.hasExited()) {
      throw new Error(
        `${proc.name} exited before it served ${url}${proc.outputTail() ? `: ${proc.outputTail()}` : ''}`,
      );
    }
    try {
      const status = await probe(url, 2000, h2c);
      if (status === 200) return;
      last = `HTTP ${status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms (last: ${last})`);
}
