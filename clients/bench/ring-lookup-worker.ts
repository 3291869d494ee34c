import { parentPort, workerData } from 'node:worker_threads';

import { getStrategy, type RingMember, type RingTable } from '../../src/ring/index.js';

/** What the parent asks one worker to measure. */
export interface LookupJob {
  strategy: string;
  replicas: number;
  options: Record<string, string>;
  /** Lookups per timed pass. */
  lookups: number;
  passes: number;
  /** Builds timed (at least; more while under ~200 ms in total). */
  builds: number;
}

/** Raw timings; the parent turns them into spreads. */
export type LookupOutcome =
  | { ok: true; buildNs: number[]; lookupNs: number[]; checksum: number }
  | { ok: false; reason: string };

const KEY_COUNT = 1 << 16;

/**
 * Runs in a worker thread of its own, one per strategy and N, so that every
 * strategy's lookup is measured with call sites that have only ever seen that
 * strategy, as in a data plane that runs one. Keys are random 6-digit request
 * ids (the default routing key), precomputed so that only the lookup is timed.
 */
function measure(job: LookupJob): LookupOutcome {
  const strategy = getStrategy(job.strategy);
  const members: RingMember[] = Array.from({ length: job.replicas }, (_, i) => ({
    hostname: `server-${i + 1}`,
    serverId: i + 1,
    address: `127.0.0.1:${20000 + i}`,
  }));
  let options: Record<string, string>;
  let table: RingTable;
  try {
    options = strategy.normalizeOptions(job.options);
    table = strategy.build(members, options);
  } catch (err) {
    return { ok: false, reason: (err as Error).message.replace(/^<Error> /, '') };
  }
  const buildNs: number[] = [];
  const buildStart = process.hrtime.bigint();
  while (buildNs.length < job.builds || (buildNs.length < 50 && process.hrtime.bigint() - buildStart < 200_000_000n)) {
    const t0 = process.hrtime.bigint();
    table = strategy.build(members, options);
    buildNs.push(Number(process.hrtime.bigint() - t0));
  }
  const keys = new Uint32Array(KEY_COUNT);
  for (let i = 0; i < KEY_COUNT; i++) keys[i] = 100_000 + Math.floor(Math.random() * 900_000);
  const mask = KEY_COUNT - 1;
  // Summing server ids keeps the lookups from being optimised away.
  let checksum = 0;
  const pass = (count: number): void => {
    for (let i = 0; i < count; i++) checksum += table.owner(keys[i & mask])!.serverId;
  };
  pass(Math.min(job.lookups, 200_000));
  const lookupNs: number[] = [];
  for (let p = 0; p < job.passes; p++) {
    const t0 = process.hrtime.bigint();
    pass(job.lookups);
    lookupNs.push(Number(process.hrtime.bigint() - t0) / job.lookups);
  }
  return { ok: true, buildNs, lookupNs, checksum };
}

if (parentPort) parentPort.postMessage(measure(workerData as LookupJob));
