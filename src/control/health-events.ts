import { EventEmitter } from 'node:events';
import type { Logger } from '../shared/logger.js';
import { type HealthChange, type ReplicaRecord, type ReplicaView, toView } from './replica-view.js';

/**
 * A health change in words, as `ringlb events` prints it and the control
 * plane logs it: "server-2 unhealthy (missed 2 heartbeats)", "server-2
 * replaced by server-4 (replaced after failure)", "server-1 added (adopted)".
 */
export function healthChangeText(change: {
  kind: string;
  hostname: string;
  replacedBy?: string;
  reason?: string;
  /** Outlier ejections: the data plane that ejected or returned the replica, and for how long. */
  nodeId?: string;
  ejectionMs?: number;
}): string {
  const by = change.nodeId || 'a data plane';
  const text =
    change.kind === 'replaced'
      ? `${change.hostname} replaced by ${change.replacedBy}`
      : change.kind === 'ejected'
        ? `${change.hostname} ejected by ${by} for ${(change.ejectionMs ?? 0) / 1000}s`
        : change.kind === 'returned'
          ? `${change.hostname} returned to ${by}'s routing`
          : `${change.hostname} ${change.kind}`;
  return change.reason ? `${text} (${change.reason})` : text;
}

/** One log line per health change, in the words of `ringlb events`: a failure at warn, the rest at info. */
export function logHealthChange(log: Logger, change: HealthChange): void {
  const text = healthChangeText({ ...change, hostname: change.replica.hostname });
  if (change.kind === 'unhealthy' || change.kind === 'ejected') log.warn(text, { event: change.kind });
  else log.info(text, { event: change.kind });
}

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
