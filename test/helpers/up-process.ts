import type { TestContext } from 'node:test';
import { spawnRinglb } from './ringlb-process.js';

/** `npm start` (ringlb up with its defaults) on free ports; resolves with the control plane address. */
export async function startUp(t: TestContext, extraEnv: Record<string, string> = {}): Promise<string> {
  const proc = spawnRinglb(t, ['up'], {
    env: {
      RINGLB_INSTANCE: `refl-${process.pid}-${Date.now()}`,
      RINGLB_HOST: '127.0.0.1',
      RINGLB_PORT: '0',
      RINGLB_ADMIN: 'off',
      RINGLB_CONTROL_LISTEN: '127.0.0.1:0',
      ...extraEnv,
    },
  });
  const [, control] = await proc.waitForLog(/ringlb is up.*control=(\S+)/, 30_000);
  return control;
}
