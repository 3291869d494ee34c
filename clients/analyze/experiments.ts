import { type HealthEvent, HealthEvent_Kind, HealthState, type Replica } from '../../src/gen/ringlb/v1/ringlb.js';
import {
  balanceFromCounts,
  buildRing,
  type RingMember,
  type RingPolicy,
  receivedTraffic,
  sampleRequestIds,
  simulateBoundedLoads,
} from '../../src/ring/index.js';
import { type RequestRecord, runLoad } from './load-runner.js';
import type { Progress } from './progress.js';
import { type StackClient, sleep } from './stack-client.js';

/** A ring policy under test, with the name it has in tables and charts. */
export interface Variant {
  id: string;
  label: string;
  policy: RingPolicy;
}

/** Settings of one analysis run. */
export interface ExperimentSettings {
  /** Requests per measurement (A-1, and each N of A-2). */
  requests: number;
  /** Requests in flight at once. */
  concurrency: number;
  /** A-1's N, and where A-3 and the disruption estimates run. */
  baseN: number;
  /** A-2's range of N. */
  nMin: number;
  nMax: number;
  /** A-4's variants; the first is the baseline A-1 and A-2 use (classic). */
  variants: Variant[];
  runA4: boolean;
  runA3: boolean;
  /** Concurrency of A-3's client loop while a replica is killed. */
  killConcurrency: number;
}

/** One load run: a variant at one N. */
export interface Measurement {
  variant: string;
  n: number;
  perReplica: { hostname: string; serverId: number; requests: number }[];
  ok: number;
  failed: number;
  durationMs: number;
  maxOverMean: number;
  minOverMean: number;
  /** Standard deviation of the shares over the mean share (coefficient of variation). */
  relStdDev: number;
  /**
   * max/mean of the same ring and policy in the closed-loop model of
   * bounded-loads.ts (same request count and concurrency, equally fast
   * replicas): what the policy does when replica speed plays no part.
   */
  modelMaxOverMean: number;
}

/** SimulateChange answers for one variant at base N. */
export interface Disruption {
  variant: string;
  n: number;
  removeMoved: number;
  removeIdeal: number;
  addMoved: number;
  addIdeal: number;
}

export interface EndpointCheck {
  name: string;
  expected: string;
  got: string;
  pass: boolean;
}

export interface KillResult {
  victim: string;
  victimServerId: number;
  instanceId: string;
  /** ms from the kill to the control plane reporting the victim unhealthy or removed. */
  detectMs?: number;
  /** ms from the kill to a new replica reported healthy. */
  replaceMs?: number;
  replacement?: string;
  requests: number;
  failed: number;
  failures: Record<string, number>;
  nBefore: number;
  nAfter: number;
  replicasAfter: string[];
  /** Health events after the kill, ms relative to it. */
  events: { atMs: number; kind: string; hostname: string; detail: string }[];
  /** Requests per 250 ms bucket, relative to the kill. */
  timeline: { startMs: number; ok: number; failed: number }[];
}

export interface ExperimentResults {
  settings: ExperimentSettings;
  measurements: Measurement[];
  disruption: Disruption[];
  checks: EndpointCheck[];
  kill?: KillResult;
  startedAt: Date;
  durationMs: number;
}

const KIND_NAMES: Record<number, string> = {
  [HealthEvent_Kind.KIND_ADDED]: 'added',
  [HealthEvent_Kind.KIND_HEALTHY]: 'healthy',
  [HealthEvent_Kind.KIND_UNHEALTHY]: 'unhealthy',
  [HealthEvent_Kind.KIND_REMOVED]: 'removed',
  [HealthEvent_Kind.KIND_REPLACED]: 'replaced',
};

/**
 * Drives the experiments against a live stack: membership through the REST
 * shims, the ring policy through SetRingPolicy, traffic through the proxy.
 * Restores the stack's replica count and policy at the end.
 */
export class ExperimentRunner {
  #policy: RingPolicy | undefined;

  constructor(
    readonly client: StackClient,
    readonly settings: ExperimentSettings,
    readonly progress: Progress,
    /** Kills a replica as an outsider would (kill -9, docker kill). */
    readonly killReplica: (replica: Replica) => Promise<void>,
  ) {}

  async run(): Promise<ExperimentResults> {
    const started = performance.now();
    const startedAt = new Date();
    const s = this.settings;
    const initial = await this.client.rep();
    const received = await this.client.currentPolicy();
    const initialPolicy = { ...received, traffic: receivedTraffic(received.traffic) };
    const results: ExperimentResults = {
      settings: s,
      measurements: [],
      disruption: [],
      checks: [],
      startedAt,
      durationMs: 0,
    };
    const variants = s.runA4 ? s.variants : s.variants.slice(0, 1);
    const ns = range(s.nMin, s.nMax);
    if (!ns.includes(s.baseN)) ns.push(s.baseN);
    ns.sort((a, b) => a - b);
    try {
      // Membership changes are the slow part, so each N is visited once and
      // every variant measured there (A-1 is the baseline at base N, A-2 the
      // baseline across N, A-4 everything).
      for (const n of ns) {
        await this.ensureReplicas(n);
        for (const v of variants) {
          results.measurements.push(await this.measure(v, n));
          if (n === s.baseN && s.runA4 && v.policy.loadBound === 0)
            results.disruption.push(await this.disruption(v, n));
        }
      }
      await this.ensureReplicas(s.baseN);
      if (s.runA3) {
        await this.setPolicy(s.variants[0]!.policy);
        results.checks = await this.checkEndpoints();
        const busiest = results.measurements.find((m) => m.n === s.baseN && m.variant === s.variants[0]!.id);
        results.kill = await this.killDuringLoad(busiest);
      }
    } finally {
      await this.restore(initial.N, initialPolicy).catch((err: unknown) =>
        this.progress.log(`could not restore N=${initial.N}: ${(err as Error).message}`),
      );
    }
    results.durationMs = performance.now() - started;
    return results;
  }

  /** Scales to n through POST /add and DELETE /rm, naming new replicas server-<k>. */
  async ensureReplicas(n: number): Promise<void> {
    const rep = await this.client.rep();
    if (rep.N < n) {
      const names: string[] = [];
      for (let k = 1; names.length < n - rep.N; k++) {
        if (!rep.replicas.includes(`server-${k}`)) names.push(`server-${k}`);
      }
      this.progress.log(`POST /add ${JSON.stringify({ n: n - rep.N, hostnames: names })}`);
      await this.client.scale('add', n - rep.N, names);
    } else if (rep.N > n) {
      // Remove the newest (highest server id) so that low ids stay put.
      const { replicas } = await this.client.listReplicas();
      const names = replicas
        .sort((a, b) => b.serverId - a.serverId)
        .slice(0, rep.N - n)
        .map((r) => r.hostname);
      this.progress.log(`DELETE /rm ${JSON.stringify({ n: rep.N - n, hostnames: names })}`);
      await this.client.scale('rm', rep.N - n, names);
    }
    await this.client.waitForRing((r) => Object.keys(r.replicas).length === n);
  }

  async setPolicy(policy: RingPolicy): Promise<void> {
    if (this.#policy && samePolicy(this.#policy, policy)) return;
    const snapshot = await this.client.setRingPolicy(policy);
    this.#policy = policy;
    await this.client.waitForRing((r) => r.version >= snapshot.version && r.strategy === policy.strategy);
  }

  async measure(variant: Variant, n: number): Promise<Measurement> {
    await this.setPolicy(variant.policy);
    const { replicas } = await this.client.listReplicas();
    const label = `${variant.label} N=${n}`;
    const load = await runLoad({
      origin: this.client.endpoints.url,
      count: this.settings.requests,
      concurrency: this.settings.concurrency,
      onProgress: (done) => this.progress.tick(label, done, this.settings.requests),
    });
    const members: RingMember[] = replicas
      .map((r) => ({ hostname: r.hostname, serverId: r.serverId, address: r.address }))
      .sort((a, b) => a.serverId - b.serverId);
    const counts = members.map((m) => load.perServer.get(String(m.serverId)) ?? 0);
    const b = balanceFromCounts(members, counts);
    const shares = Object.values(b.shares);
    const model = simulateBoundedLoads(
      buildRing(members, variant.policy),
      { requests: this.settings.requests, concurrency: this.settings.concurrency, c: variant.policy.loadBound },
      sampleRequestIds(this.settings.requests, n),
    );
    const m: Measurement = {
      variant: variant.id,
      n,
      perReplica: members.map((mem, k) => ({ hostname: mem.hostname, serverId: mem.serverId, requests: counts[k]! })),
      ok: load.ok,
      failed: load.failed,
      durationMs: load.durationMs,
      maxOverMean: b.maxOverMean,
      minOverMean: shares.length ? Math.min(...shares) * shares.length : 0,
      relStdDev: b.stdDev * members.length,
      modelMaxOverMean: balanceFromCounts(members, model.counts).maxOverMean,
    };
    this.progress.log(
      `${label}: ${m.perReplica.map((r) => `${r.hostname}=${r.requests}`).join(' ')}  max/mean ${m.maxOverMean.toFixed(3)}` +
        `  ${(load.ok / (load.durationMs / 1000)).toFixed(0)} req/s${m.failed ? `  FAILED ${m.failed}` : ''}`,
    );
    return m;
  }

  /** SimulateChange (the live dry-run RPC) for removing one replica and adding one. */
  async disruption(variant: Variant, n: number): Promise<Disruption> {
    const { replicas } = await this.client.listReplicas();
    const last = replicas.sort((a, b) => b.serverId - a.serverId)[0]!;
    const remove = await this.client.simulateChange({ removeHostnames: [last.hostname], sampleKeys: 100_000 });
    const add = await this.client.simulateChange({ addCount: 1, sampleKeys: 100_000 });
    return {
      variant: variant.id,
      n,
      removeMoved: remove.movedFraction,
      removeIdeal: remove.idealMovedFraction,
      addMoved: add.movedFraction,
      addIdeal: add.idealMovedFraction,
    };
  }

  /** A-3, part 1: every endpoint, good and bad requests, and that bad ones change nothing. */
  async checkEndpoints(): Promise<EndpointCheck[]> {
    const checks: EndpointCheck[] = [];
    const c = this.client;
    const message = (body: unknown): string => String((body as { message?: unknown } | undefined)?.message ?? '');
    const check = async (name: string, expected: string, run: () => Promise<[string, boolean]>): Promise<void> => {
      let got: string;
      let pass: boolean;
      try {
        [got, pass] = await run();
      } catch (err) {
        [got, pass] = [`error: ${(err as Error).message}`, false];
      }
      checks.push({ name, expected, got, pass });
      this.progress.log(`A-3 ${pass ? 'ok  ' : 'FAIL'} ${name}: ${got}`);
    };
    const n0 = (await c.rep()).N;
    const probe = 'a3-probe';
    await check('GET /rep', `200, N=${n0}`, async () => {
      const a = await c.http('GET', '/rep');
      const m = (a.body as { message: { N: number; replicas: string[] } }).message;
      return [`${a.status}, N=${m.N} [${m.replicas.join(', ')}]`, a.status === 200 && m.N === n0];
    });
    await check('GET /home', '200, Hello from Server: <id>', async () => {
      const a = await c.http('GET', '/home');
      return [`${a.status}, ${message(a.body)}`, a.status === 200 && /^Hello from Server: /.test(message(a.body))];
    });
    await check('GET /heartbeat (proxied)', '200', async () => {
      const a = await c.http('GET', '/heartbeat');
      return [String(a.status), a.status === 200];
    });
    await check('GET /other', "400, <Error> '/other' endpoint does not exist in server replicas", async () => {
      const a = await c.http('GET', '/other');
      return [
        `${a.status}, ${message(a.body)}`,
        a.status === 400 && message(a.body) === "<Error> '/other' endpoint does not exist in server replicas",
      ];
    });
    await check(`POST /add {"n":1,"hostnames":["${probe}"]}`, `200, N=${n0 + 1}`, async () => {
      const a = await c.http('POST', '/add', { n: 1, hostnames: [probe] });
      const m = (a.body as { message: { N: number; replicas: string[] } }).message;
      return [`${a.status}, N=${m?.N}`, a.status === 200 && m.N === n0 + 1 && m.replicas.includes(probe)];
    });
    await check(`DELETE /rm {"n":1,"hostnames":["${probe}"]}`, `200, N=${n0}`, async () => {
      const a = await c.http('DELETE', '/rm', { n: 1, hostnames: [probe] });
      const m = (a.body as { message: { N: number; replicas: string[] } }).message;
      return [`${a.status}, N=${m?.N}`, a.status === 200 && m.N === n0 && !m.replicas.includes(probe)];
    });
    const refused = async (
      method: 'POST' | 'DELETE',
      path: string,
      body: unknown,
      status: number,
      text?: string,
    ): Promise<[string, boolean]> => {
      const a = await c.http(method, path, body);
      const msg = message(a.body);
      return [`${a.status}, ${msg}`, a.status === status && (text === undefined || msg === text)];
    };
    await check(
      'POST /add, more hostnames than n',
      '400, <Error> Length of hostname list is more than newly added instances',
      () =>
        refused(
          'POST',
          '/add',
          { n: 1, hostnames: ['a3-x', 'a3-y'] },
          400,
          '<Error> Length of hostname list is more than newly added instances',
        ),
    );
    await check(
      'DELETE /rm, more hostnames than n',
      '400, <Error> Length of hostname list is more than removable instances',
      () =>
        refused(
          'DELETE',
          '/rm',
          { n: 1, hostnames: ['a3-x', 'a3-y'] },
          400,
          '<Error> Length of hostname list is more than removable instances',
        ),
    );
    await check('DELETE /rm, unknown hostname', '404', () =>
      refused('DELETE', '/rm', { n: 1, hostnames: ['a3-nobody'] }, 404),
    );
    await check('POST /add, malformed JSON', '400', () => refused('POST', '/add', '{"n": 1,', 400));
    await check('POST /add, negative n', '400', () => refused('POST', '/add', { n: -1 }, 400));
    await check('gRPC ListReplicas', `N=${n0}, all healthy`, async () => {
      const set = await c.listReplicas();
      const healthy = set.replicas.filter((r) => r.health === HealthState.HEALTH_STATE_HEALTHY).length;
      return [`N=${set.n}, ${healthy} healthy`, set.n === n0 && healthy === n0];
    });
    await check('admin GET /ring', 'current version and strategy', async () => {
      const ring = await c.adminRing();
      if (!ring) return ['no admin address', true];
      return [
        `version ${ring.version}, ${ring.strategy}, ${Object.keys(ring.replicas).length} replicas`,
        Object.keys(ring.replicas).length === n0,
      ];
    });
    await check('bad requests changed nothing', `N=${n0}`, async () => {
      const rep = await c.rep();
      return [`N=${rep.N}`, rep.N === n0 && !rep.replicas.includes(probe) && !rep.replicas.includes('a3-x')];
    });
    return checks;
  }

  /**
   * A-3, part 2: a client loop on GET /home while the replica that took the
   * most traffic is killed from outside; WatchHealth timestamps detection
   * and replacement. The loop ends a second after the replacement is healthy.
   */
  async killDuringLoad(busiest?: Measurement): Promise<KillResult> {
    const before = await this.client.listReplicas();
    const top = busiest?.perReplica.slice().sort((a, b) => b.requests - a.requests)[0]?.hostname;
    const victim = before.replicas.find((r) => r.hostname === top) ?? before.replicas[0]!;
    const original = new Set(before.replicas.map((r) => r.hostname));
    const events: { at: number; event: HealthEvent }[] = [];
    let killAt = Number.POSITIVE_INFINITY;
    let detectAt: number | undefined;
    let replacedAt: number | undefined;
    let replacement: string | undefined;
    let onReplaced!: () => void;
    const replaced = new Promise<void>((resolve) => (onReplaced = resolve));
    const cancel = this.client.watchHealth((event, at) => {
      if (at < killAt || event.kind === HealthEvent_Kind.KIND_SNAPSHOT) return;
      events.push({ at, event });
      const host = event.replica?.hostname;
      const lost = [HealthEvent_Kind.KIND_UNHEALTHY, HealthEvent_Kind.KIND_REMOVED, HealthEvent_Kind.KIND_REPLACED];
      if (detectAt === undefined && host === victim.hostname && lost.includes(event.kind)) detectAt = at;
      // A replacement is announced once it passed its first heartbeat: as
      // 'added' already healthy, or 'replaced' naming it, or 'healthy'.
      const fresh = event.kind === HealthEvent_Kind.KIND_REPLACED ? event.replacedBy : host;
      const healthyNow =
        event.kind === HealthEvent_Kind.KIND_REPLACED ||
        ((event.kind === HealthEvent_Kind.KIND_ADDED || event.kind === HealthEvent_Kind.KIND_HEALTHY) &&
          event.replica?.health === HealthState.HEALTH_STATE_HEALTHY);
      if (replacedAt === undefined && healthyNow && fresh && !original.has(fresh)) {
        replacedAt = at;
        replacement = fresh;
        onReplaced();
      }
    });
    try {
      const stopAfter = replaced.then(() => sleep(1000));
      this.progress.log(
        `A-3: GET /home loop (${this.settings.killConcurrency} in flight); kill -9 ${victim.hostname} (${victim.instanceId}) in 1 s`,
      );
      const loadDone = runLoad({
        origin: this.client.endpoints.url,
        count: 500_000,
        concurrency: this.settings.killConcurrency,
        until: stopAfter,
        maxMs: 30_000,
        keepRecords: true,
      });
      const loadStart = performance.now();
      await sleep(1000);
      killAt = performance.now();
      await this.killReplica(victim);
      const load = await loadDone;
      const shift = killAt - loadStart;
      const after = await this.client.rep();
      const result: KillResult = {
        victim: victim.hostname,
        victimServerId: victim.serverId,
        instanceId: victim.instanceId,
        detectMs: detectAt === undefined ? undefined : detectAt - killAt,
        replaceMs: replacedAt === undefined ? undefined : replacedAt - killAt,
        replacement,
        requests: load.ok + load.failed,
        failed: load.failed,
        failures: Object.fromEntries(load.failures),
        nBefore: before.n,
        nAfter: after.N,
        replicasAfter: after.replicas,
        events: events.map(({ at, event }) => ({
          atMs: at - killAt,
          kind: KIND_NAMES[event.kind] ?? String(event.kind),
          hostname: event.replica?.hostname ?? '',
          detail: event.replacedBy ? `replaced by ${event.replacedBy}` : event.reason,
        })),
        timeline: bucketize(load.records, shift, 250),
      };
      this.progress.log(
        `A-3: ${victim.hostname} killed; detected after ${fmtMs(result.detectMs)}, ${replacement ?? 'no replacement'} healthy after ` +
          `${fmtMs(result.replaceMs)}; ${result.requests} requests, ${result.failed} failed; N=${result.nAfter}`,
      );
      return result;
    } finally {
      cancel();
    }
  }

  /** Back to the replica count and policy the stack had before the run. */
  async restore(n: number, policy: RingPolicy): Promise<void> {
    await this.ensureReplicas(n);
    await this.setPolicy(policy);
  }
}

function bucketize(records: RequestRecord[], shift: number, width: number): KillResult['timeline'] {
  const buckets = new Map<number, { startMs: number; ok: number; failed: number }>();
  for (const r of records) {
    const start = Math.floor((r.at - shift) / width) * width;
    const b = buckets.get(start) ?? { startMs: start, ok: 0, failed: 0 };
    if (r.status >= 200 && r.status < 300) b.ok++;
    else b.failed++;
    buckets.set(start, b);
  }
  return [...buckets.values()].sort((a, b) => a.startMs - b.startMs);
}

function samePolicy(a: RingPolicy, b: RingPolicy): boolean {
  return (
    a.strategy === b.strategy &&
    a.loadBound === b.loadBound &&
    JSON.stringify(sorted(a.options)) === JSON.stringify(sorted(b.options))
  );
}

function sorted(o: Readonly<Record<string, string>>): [string, string][] {
  return Object.entries(o).sort(([x], [y]) => x.localeCompare(y));
}

function range(from: number, to: number): number[] {
  return Array.from({ length: Math.max(0, to - from + 1) }, (_, k) => from + k);
}

export function fmtMs(ms: number | undefined): string {
  return ms === undefined ? 'n/a' : ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`;
}
