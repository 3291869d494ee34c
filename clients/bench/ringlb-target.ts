import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { ControlPlaneServer } from '../../src/control/control-plane-server.js';
import type { ProxyEngine } from '../../src/dataplane/proxy/proxy-handler.js';
import { DEFAULT_POLICY, normalizePolicy, type TrafficPolicy, trafficText } from '../../src/ring/index.js';
import { StaticDriver } from '../../src/runtime/static-driver.js';
import { BASELINE_SUFFIX } from './bench-options.js';
import { BENCH_PATH, type BenchTarget, isTls, TRANSPORT_LABEL, type Transport } from './bench-target.js';
import { freePort } from './free-port.js';
import { waitForHttp } from './wait-for-http.js';

const execFileAsync = promisify(execFile);

/** The `ringlb` binary, as users run it. */
const RINGLB_MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** Which ringlb data plane a target runs, and from which build. */
export interface RinglbTargetSpec {
  readonly workers: number;
  readonly engine?: ProxyEngine;
  readonly transport?: Transport;
  readonly accessLog?: boolean;
  /**
   * The ring strategy (`ringlb bench --matrix` uses ketama: the classic ring
   * holds at most 56 replicas). Absent: the control plane's default, classic.
   */
  readonly strategy?: string;
  /**
   * Another build's `dist/src/cli/main.js` (`ringlb bench --baseline`): the
   * data plane starts from it, with the same flags, and the id gets
   * `@baseline`. Absent: this checkout's build.
   */
  readonly baseline?: { readonly main: string; readonly description: string };
  /** Traffic settings of the ring policy the control plane serves (`ringlb bench --rate-limit …`). */
  readonly traffic?: Partial<TrafficPolicy>;
}

/**
 * ringlb's data plane with `workers` processes, in front of the bench's
 * replicas, started as users start it: `ringlb dataplane` with its default
 * routing (a random 6-digit request id per request) and logging at warn.
 * `engine` picks `--proxy-engine`: builtin (the default, ringlb's own
 * HTTP/1.1 client), undici, or reply-from (Fastify + @fastify/reply-from),
 * so the bench shows what each costs. The control plane runs inside the
 * bench process (its CPU is not the data plane's, as nginx has none) and
 * adopts the replicas through a StaticDriver. `accessLog` adds
 * `--access-log FILE` (JSON lines, every request, a file in the temp folder)
 * so the bench shows what the access log costs per request.
 */
export function ringlbTarget(spec: RinglbTargetSpec): BenchTarget {
  const { workers, engine = 'builtin', transport = 'http', accessLog = false, baseline, traffic, strategy } = spec;
  // gRPC needs HTTP/2 to the replicas too: the ring policy's upstream protocol, as `--upstream-protocol h2c` sets it.
  const policy = normalizePolicy({
    ...DEFAULT_POLICY,
    ...(strategy ? { strategy, options: {} } : {}),
    ...(transport === 'grpc' ? { upstreamProtocol: 'h2c' as const } : {}),
    traffic,
  });
  const trafficLabel = traffic
    ? `, ${trafficText(policy.traffic!).join(' ')}${baseline ? ' (in the ring policy; a build without them ignores them)' : ''}`
    : '';
  const main = baseline?.main ?? RINGLB_MAIN;
  const engineLabel = { builtin: '', undici: ' over undici pools', 'reply-from': ' on Fastify + @fastify/reply-from' }[
    engine
  ];
  const baseId =
    transport !== 'http'
      ? `ringlb-${transport}`
      : engine !== 'builtin'
        ? `ringlb-${engine}`
        : workers === 1
          ? accessLog
            ? 'ringlb-1-log'
            : 'ringlb-1'
          : 'ringlb-n';
  const id = baseline ? `${baseId}${BASELINE_SUFFIX}` : baseId;
  return {
    id,
    transport,
    label: () =>
      `ringlb data plane${engineLabel}, ${workers} process${workers > 1 ? 'es' : ''}${TRANSPORT_LABEL[transport]}, ${strategy ?? 'classic'} ring, random request id${accessLog ? ', access log to a file (JSON lines, every request)' : ''}${trafficLabel}${baseline ? `, baseline build ${baseline.description}` : ''}`,
    async unavailable() {
      if (!existsSync(main)) return `${main} is not built (npm run build)`;
      let help: string;
      try {
        help = (await execFileAsync(process.execPath, [main, 'dataplane', '--help'], { timeout: 15_000 })).stdout;
      } catch (err) {
        return `ringlb dataplane does not run: ${(err as Error).message.split('\n')[0]}`;
      }
      if (workers > 1 && !help.includes('--workers'))
        return 'ringlb dataplane has no worker-process mode (--workers) yet';
      if (engine !== 'builtin' && !help.includes('--proxy-engine'))
        return 'ringlb dataplane has no --proxy-engine option';
      if (isTls(transport) && !help.includes('--tls-cert')) return 'ringlb dataplane has no TLS (--tls-cert) yet';
      if (transport === 'grpc' && !help.includes('--h2c')) return 'ringlb dataplane has no h2c listener (--h2c) yet';
      if (accessLog && !help.includes('--access-log')) return 'ringlb dataplane has no --access-log option';
      return undefined;
    },
    async start({ replicas, processes, certificate }) {
      const control = new ControlPlaneServer({
        listen: '127.0.0.1:0',
        driver: new StaticDriver(replicas),
        replicas: replicas.length,
        policy,
      });
      try {
        const { address } = await control.start();
        const port = await freePort();
        const args = [
          main,
          'dataplane',
          '--control',
          address,
          '--host',
          '127.0.0.1',
          '--port',
          String(port),
          '--admin',
          'off',
          '--log-level',
          'warn',
        ];
        if (workers > 1) args.push('--workers', String(workers));
        if (engine !== 'builtin') args.push('--proxy-engine', engine);
        if (isTls(transport)) args.push('--tls-cert', certificate.cert, '--tls-key', certificate.key);
        if (transport === 'h2c' || transport === 'grpc') args.push('--h2c');
        const logDir = accessLog ? mkdtempSync(path.join(os.tmpdir(), 'ringlb-bench-log-')) : undefined;
        if (logDir) args.push('--access-log', path.join(logDir, 'access.log'));
        const proc = processes.spawn(id, process.execPath, args);
        const url = `${isTls(transport) ? 'https' : 'http'}://127.0.0.1:${port}${BENCH_PATH}`;
        await waitForHttp(url, proc, undefined, transport === 'grpc');
        return {
          url,
          pids: () => (proc.hasExited() ? [] : [proc.pid]),
          close: async () => {
            await processes.stop(proc);
            await control.close();
            if (logDir) rmSync(logDir, { recursive: true, force: true });
          },
        };
      } catch (err) {
        await control.close();
        throw err;
      }
    },
  };
}
