import type { TestContext } from 'node:test';
import { type DockerEngine, removeInstanceContainers, REPLICA_IMAGE, uniqueInstance } from './docker-engine.js';
import { spawnRinglb, startStack, type RinglbProcess } from './ringlb-process.js';

/**
 * `ringlb up --runtime docker` as a real process on free 127.0.0.1 ports, host
 * networking, with an instance label of its own. When the test ends the stack
 * is stopped and, as a safety net, every container of the instance removed.
 */
export async function startDockerStack(t: TestContext, engine: DockerEngine, extraArgs: string[] = []) {
  const instance = uniqueInstance('stack');
  const started = Date.now();
  const stack = await startStack(t, [
    '--runtime',
    'docker',
    '--network',
    'host',
    '--image',
    REPLICA_IMAGE,
    '--instance',
    instance,
    ...extraArgs,
  ]);
  const upMs = Date.now() - started;
  t.after(async () => {
    await stack.proc.stop();
    await removeInstanceContainers(engine.docker, instance);
  });
  return { ...stack, instance, upMs };
}

/** `ringlb control --runtime docker` alone, resolving with its gRPC address once it is ready. */
export async function startDockerControl(
  t: TestContext,
  engine: DockerEngine,
  instance: string,
  listen = '127.0.0.1:0',
): Promise<{ proc: RinglbProcess; address: string; readyMs: number }> {
  const started = Date.now();
  const proc = spawnRinglb(t, [
    'control',
    '--runtime',
    'docker',
    '--network',
    'host',
    '--image',
    REPLICA_IMAGE,
    '--instance',
    instance,
    '--listen',
    listen,
  ]);
  t.after(async () => {
    await proc.stop();
    await removeInstanceContainers(engine.docker, instance);
  });
  const [, address] = await proc.waitForLog(/ready address=(\S+)/, 30_000);
  return { proc, address, readyMs: Date.now() - started };
}

export { getJson, loopHome, postJson, type Answer } from './http.js';
export { waitFor } from './wait.js';
