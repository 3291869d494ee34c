import type { TestContext } from 'node:test';
import { Agent, request } from 'undici';
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
  const stack = await startStack(t, ['--runtime', 'docker', '--network', 'host', '--image', REPLICA_IMAGE, '--instance', instance, ...extraArgs]);
  const upMs = Date.now() - started;
  t.after(async () => {
    await stack.proc.stop();
    await removeInstanceContainers(engine.docker, instance);
  });
  return { ...stack, instance, upMs };
}

/** `ringlb control --runtime docker` alone, resolving with its gRPC address once it is ready. */
export async function startDockerControl(t: TestContext, engine: DockerEngine, instance: string, listen = '127.0.0.1:0'): Promise<{ proc: RinglbProcess; address: string; readyMs: number }> {
  const started = Date.now();
  const proc = spawnRinglb(t, ['control', '--runtime', 'docker', '--network', 'host', '--image', REPLICA_IMAGE, '--instance', instance, '--listen', listen]);
  t.after(async () => {
    await proc.stop();
    await removeInstanceContainers(engine.docker, instance);
  });
  const [, address] = await proc.waitForLog(/ready address=(\S+)/, 30_000);
  return { proc, address, readyMs: Date.now() - started };
}

export async function getJson(url: string, init: Parameters<typeof request>[1] = {}): Promise<{ status: number; body: any }> {
  const res = await request(url, init);
  const text = await res.body.text();
  return { status: res.statusCode, body: text ? JSON.parse(text) : undefined };
}

export function postJson(url: string, body: unknown, method: 'POST' | 'DELETE' = 'POST'): Promise<{ status: number; body: any }> {
  return getJson(url, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface Answer {
  readonly at: number;
  readonly status: number;
  /** X-Ringlb-Replica: which replica answered. */
  readonly replica: string;
}

/**
 * A client looping on GET /home with a few connections until stopped, keeping
 * every answer with its time so a test can tell when a new replica first
 * served. Bounded by `maxMs` whatever happens.
 */
export function loopHome(url: string, maxMs = 30_000) {
  const agent = new Agent({ connections: 4 });
  const answers: Answer[] = [];
  const errors: string[] = [];
  let stopped = false;
  let closing: Promise<void> | undefined;
  const deadline = Date.now() + maxMs;
  const worker = async (): Promise<void> => {
    while (!stopped && Date.now() < deadline) {
      try {
        const res = await request(`${url}/home`, { dispatcher: agent });
        await res.body.text();
        answers.push({ at: Date.now(), status: res.statusCode, replica: String(res.headers['x-ringlb-replica'] ?? '?') });
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
  };
  const workers = Promise.all([worker(), worker(), worker()]);
  return {
    answers,
    errors,
    non2xx: () => answers.filter((a) => a.status < 200 || a.status > 299),
    stop() {
      stopped = true;
      closing ??= workers.then(() => agent.close());
      return closing;
    },
  };
}
