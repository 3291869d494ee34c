import type { LeaseRecord, LeaseStore } from '../../src/runtime/lease-store.js';
import { RinglbError } from '../../src/shared/errors.js';

/**
 * A compare-and-swap lease record in memory, for control planes of one test
 * process, with a switch that makes it unreachable (an engine API lost).
 */
export class MemoryLeaseStore implements LeaseStore {
  readonly where = 'memory';
  record: LeaseRecord | undefined;
  down = false;
  writes = 0;

  async read(): Promise<LeaseRecord | undefined> {
    if (this.down) throw RinglbError.unavailable('engine down');
    return this.record;
  }

  async write(expected: LeaseRecord | undefined, next: Omit<LeaseRecord, 'version'>): Promise<boolean> {
    if (this.down) throw RinglbError.unavailable('engine down');
    if (expected?.version !== this.record?.version) return false;
    this.writes++;
    this.record = { ...next, version: (this.record?.version ?? 0) + 1 };
    return true;
  }
}
