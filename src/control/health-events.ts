import { EventEmitter } from 'node:events';
import { type HealthChange, type ReplicaRecord, type ReplicaView, toView } from './replica-view.js';

/** The feed of health changes (WatchHealth): numbered in order, to any number of listeners. */
export class HealthEvents {
  readonly #events = new EventEmitter();
  #sequence = 0;

  constructor() {
    this.#events.setMaxListeners(0);
  }

  /** Subscribes; returns the unsubscribe function. */
  on(listener: (change: HealthChange) => void): () => void {
    this.#events.on('change', listener);
    return () => this.#events.off('change', listener);
  }

  emit(
    kind: HealthChange['kind'],
    replica: ReplicaRecord | ReplicaView,
    extra: Pick<HealthChange, 'replacedBy' | 'reason' | 'nodeId' | 'ejectionMs'> = {},
  ): void {
    const change: HealthChange = {
      kind,
      replica: kind === 'removed' ? { ...toView(replica), health: 'removed' } : toView(replica),
      at: new Date(),
      sequence: ++this.#sequence,
      ...extra,
    };
    this.#events.emit('change', change);
  }

  /** `old` (failed) was replaced by `by`. */
  replaced(old: ReplicaView, by: string): void {
    this.emit('replaced', { ...old, health: 'removed' }, { replacedBy: by, reason: 'replaced after failure' });
  }

  /** Drops every listener. */
  close(): void {
    this.#events.removeAllListeners();
  }
}
