import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { BENCH_PATH, type RunningTarget, type TargetContext } from './bench-target.js';
import { freePort } from './free-port.js';
import { resolveBinary } from './load-generator.js';
import { waitForHttp } from './wait-for-http.js';

/** How to run a proxy configured by one file (nginx, HAProxy). */
export interface ConfigProxySpec {
  /** Process name, e.g. `nginx-2`. */
  name: string;
  /** Path or name on PATH. */
  binary: string;
  /** File name of the configuration inside the target's folder. */
  configFile: string;
  /** The configuration for a proxy listening on 127.0.0.1:port. */
  config(port: number, dir: string): string;
  /** Command-line arguments, given the configuration's path. */
  args(configPath: string, dir: string): string[];
  /** The port speaks TLS (https URLs). */
  tls?: boolean;
  /** The port speaks only HTTP/2 with prior knowledge (h2c). */
  h2c?: boolean;
  /** Added to the proxy's environment (the Go proxies' GOMAXPROCS). */
  env?: Readonly<Record<string, string>>;
  /** Files the configuration refers to, written before the proxy starts (Traefik's dynamic file). */
  prepare?(): Promise<void>;
}

/**
 * Writes the configuration into the target's folder, starts the proxy in the
 * foreground under the bench's process set, and waits until it serves the
 * bench path through to a replica.
 */
export async function startConfigProxy(
  spec: ConfigProxySpec,
  { workDir, processes }: TargetContext,
): Promise<RunningTarget> {
  const binary = await resolveBinary(spec.binary);
  if (!binary) throw new Error(`${spec.name} not found at '${spec.binary}'`);
  await mkdir(workDir, { recursive: true });
  const port = await freePort();
  const configPath = path.join(workDir, spec.configFile);
  const config = spec.config(port, workDir);
  await writeFile(configPath, config);
  await spec.prepare?.();
  const proc = processes.spawn(
    spec.name,
    binary,
    spec.args(configPath, workDir),
    spec.env ? { env: { ...process.env, ...spec.env } } : {},
  );
  const url = `${spec.tls ? 'https' : 'http'}://127.0.0.1:${port}${BENCH_PATH}`;
  await waitForHttp(url, proc, undefined, spec.h2c);
  return { url, config, pids: () => (proc.hasExited() ? [] : [proc.pid]), close: () => processes.stop(proc) };
}
