import http from 'node:http';
import https from 'node:https';

import type { ManagedProcess } from './process-set.js';

/** One GET with its own connection, closed afterwards so no idle socket is left behind. */
function probe(url: string, timeoutMs: number): Promise<number> {
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
export async function waitForHttp(url: string, proc: ManagedProcess | undefined, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    if (proc?.hasExited()) {
      throw new Error(
        `${proc.name} exited before it served ${url}${proc.outputTail() ? `: ${proc.outputTail()}` : ''}`,
      );
    }
    try {
      const status = await probe(url, 2000);
      if (status === 200) return;
      last = `HTTP ${status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms (last: ${last})`);
}
