import type { TestContext } from 'node:test';
import { defer } from './cleanup.js';
import { type DockerEngine, REPLICA_IMAGE, removeInstanceContainers, uniqueInstance } from './docker-engine.js';
import { type RinglbProcess, startControl, startStack } from './ringlb-process.js';

/** The docker runtime's flags: host networking, the test replica image, one instance. */
const dockerRuntime = (instance: string): string[] => [
  '--runtime',
  'docker',
  '--network',
  'host',
  '--image',
  REPLICA_IMAGE,
  '--instance',
  instance,
];

/**
 * `ringlb up --runtime docker` as a real process on free 127.0.0.1 ports, host
 * networking, with an instance label of its own. When the test ends the stack
 * is stopped and, as a safety net, every container of the instance removed.
 */
export async function startDockerStack(t: TestContext, engine: DockerEngine, extraArgs: string[] = []) {
  const instance = uniqueInstance('stack');
  const started = Date.now();
  // Deferred first, so run last: after the stack stopped (defer is last-in first-out).
  defer(t, () => removeInstanceContainers(engine.docker, instance));
  const stack = await startStack(t, { args: [...dockerRuntime(instance), ...extraArgs] });
  const upMs = Date.now() - started;
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
  defer(t, () => removeInstanceContainers(engine.docker, instance));
  const { proc, address } = await startControl(t, {
    args: [...dockerRuntime(instance), '--listen', listen],
    timeoutMs: 30_000,
  });
  return { proc, address, readyMs: Date.now() - started };
}

export { type Answer, getJson, loopHome, postJson } from './http.js';
