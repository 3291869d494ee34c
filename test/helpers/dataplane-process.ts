import type { TestContext } from 'node:test';
import { type RinglbProcess, spawnRinglb } from './ringlb-process.js';

/**
 * `ringlb dataplane` as a real process against `controlAddress`, on free
 * ports of 127.0.0.1 (admin too unless `extra` sets --admin), stopped when
 * the test ends; resolves once it listens, with its URLs.
 */
export async function spawnDataPlaneProcess(
  t: TestContext,
  controlAddress: string,
  extra: string[] = [],
): Promise<{ process: RinglbProcess; url: string; adminUrl: string }> {
  const admin = extra.includes('--admin') ? [] : ['--admin', '127.0.0.1:0'];
  const args = ['dataplane', '--control', controlAddress, '--host', '127.0.0.1', '--port', '0', ...admin, ...extra];
  const process = spawnRinglb(t, args);
  // With --workers, each worker logs its own line (admin=off): wait for the primary's, which counts them.
  const line = extra.includes('--workers')
    ? /data plane listening url=(\S+) admin=(\S+) control=\S+ workers=\d+/
    : /data plane listening url=(\S+) admin=(\S+)/;
  const [, url, adminUrl] = await process.waitForLog(line, 60_000);
  return { process, url, adminUrl };
}
