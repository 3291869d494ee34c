/**
 * The record several control planes contend for (docs/runtimes.md, several
 * control planes). Only compare-and-swap writes: a write quotes the record it
 * read and loses if anyone wrote since. Every write changes `version`, which
 * is how the others see the holder is alive: expiry is judged by observing
 * change over a local interval, never by comparing clocks across hosts.
 */
export interface LeaseRecord {
  /** Identity of the holder; '' when released. */
  readonly holder: string;
  /** Where the holder serves gRPC, so followers can name it. */
  readonly address: string;
  /** Goes up by one on each change of holder. */
  readonly term: number;
  /** Opaque to callers: changes on every write (the engine's object version). */
  readonly version: number;
}

export interface LeaseStore {
  readonly where: string;
  read(): Promise<LeaseRecord | undefined>;
  /**
   * Writes `next` if the record is still `expected` (undefined: if none
   * exists yet). Resolves false when another writer got there first; throws
   * RinglbError UNAVAILABLE when the engine cannot be reached.
   */
  write(expected: LeaseRecord | undefined, next: Omit<LeaseRecord, 'version'>): Promise<boolean>;
}
