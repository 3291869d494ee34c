import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { RinglbError } from '../shared/errors.js';
import { type DesiredState, type DesiredStateStore, parseDesiredState } from './desired-state-store.js';

/** The process runtime's desired state: desired.json in its state folder, beside replicas.json. */
export class FileStateStore implements DesiredStateStore {
  readonly where: string;

  constructor(stateDir: string) {
    this.where = path.join(stateDir, 'desired.json');
  }

  async load(): Promise<DesiredState | undefined> {
    let text: string;
    try {
      text = readFileSync(this.where, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw RinglbError.unavailable(`cannot read ${this.where}: ${(err as Error).message}`, err);
    }
    try {
      return parseDesiredState(text);
    } catch (err) {
      throw RinglbError.failedPrecondition(`${this.where}: ${(err as Error).message}`);
    }
  }

  async save(state: DesiredState): Promise<void> {
    // Write-then-rename: a control plane killed mid-write leaves the old whole file.
    mkdirSync(path.dirname(this.where), { recursive: true });
    const tmp = `${this.where}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(state, null, 2));
    renameSync(tmp, this.where);
  }

  async clear(): Promise<void> {
    rmSync(this.where, { force: true });
  }
}
