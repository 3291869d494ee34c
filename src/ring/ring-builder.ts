import { Worker } from 'node:worker_threads';
import { RinglbError } from '../shared/errors.js';
import { type Logger, silentLogger } from '../shared/logger.js';
import type { BuildReply, BuildRequest } from './ring-build-worker.js';
import { buildRing } from './strategy-registry.js';
import { buildCost, tableFromData } from './table-data.js';
import type { RingMember, RingPolicy, RingTable } from './types.js';
import { weightOf } from './weights.js';

/**
 * Tables costing more cells than this are built on a worker thread. Below it
 * a build takes a few milliseconds (maglev's default 65,537 entries: ~5 ms),
 * less than handing it to a thread and back.
 */
export const OFF_LOOP_BUILD_CELLS = 100_000;

interface Pending {
  members: readonly RingMember[];
  policy: RingPolicy;
  resolve: (table: RingTable) => void;
  reject: (err: Error) => void;
}

/**
 * Builds ring tables without stalling the caller's event loop (a data plane
 * swapping rings, a control plane validating a policy):
 * small ones at once, large ones (maglev with millions of entries, ketama
 * with many members × vnodes) on one worker thread running the same pure
 * ring code, whose arrays come back transferred and are wrapped in O(1).
 * The strategies stay pure; this wrapper is the only part of the ring that knows threads.
 *
 * If the worker dies, what it was building is built synchronously (slow but
 * correct) and the next large build starts a new worker.
 */
export class RingBuilder {
  readonly #offLoopCells: number;
  readonly #log: Logger;
  readonly #pending = new Map<number, Pending>();
  #worker: Worker | undefined;
  #nextId = 0;
  #closed = false;

  constructor(options: { offLoopCells?: number; log?: Logger } = {}) {
    this.#offLoopCells = options.offLoopCells ?? OFF_LOOP_BUILD_CELLS;
    this.#log = options.log ?? silentLogger;
  }

  /** The table for `members` under `policy`: a value when cheap, a promise when built off the loop. */
  build(members: readonly RingMember[], policy: RingPolicy): RingTable | Promise<RingTable> {
    // Ketama's points grow with weights: a member of weight w costs w members' worth.
    const weighted = members.reduce((sum, m) => sum + weightOf(m), 0);
    if (this.#closed || buildCost(weighted, policy) <= this.#offLoopCells) return buildRing(members, policy);
    return new Promise((resolve, reject) => {
      const id = ++this.#nextId;
      this.#pending.set(id, { members, policy, resolve, reject });
      const request: BuildRequest = { id, members: [...members], policy };
      this.#thread().postMessage(request);
    });
  }

  /** Stops the worker; builds still pending finish synchronously. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const worker = this.#worker;
    this.#worker = undefined;
    this.#buildPendingHere();
    void worker?.terminate();
  }

  #thread(): Worker {
    if (this.#worker) return this.#worker;
    const worker = new Worker(new URL('./ring-build-worker.js', import.meta.url));
    // Never what keeps the process alive: a pending build is someone's promise, not a task.
    worker.unref();
    worker.on('message', (reply: BuildReply) => this.#settle(reply));
    const lost = (reason: string): void => {
      if (this.#worker !== worker) return;
      this.#worker = undefined;
      this.#log.warn('ring build worker stopped; building here', { reason, pending: this.#pending.size });
      this.#buildPendingHere();
    };
    worker.on('error', (err) => lost(err.message));
    worker.on('exit', (code) => lost(`exit ${code}`));
    this.#worker = worker;
    return worker;
  }

  #settle(reply: BuildReply): void {
    const pending = this.#pending.get(reply.id);
    if (!pending) return;
    this.#pending.delete(reply.id);
    if (reply.error !== undefined) pending.reject(RinglbError.invalidArgument(reply.error));
    else if (reply.data === undefined) pending.resolve(buildRing(pending.members, pending.policy));
    else pending.resolve(tableFromData(pending.members, reply.data));
  }

  #buildPendingHere(): void {
    const all = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of all) {
      try {
        p.resolve(buildRing(p.members, p.policy));
      } catch (err) {
        p.reject(err as Error);
      }
    }
  }
}
