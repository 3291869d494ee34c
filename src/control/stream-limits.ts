import { Metadata, ServerInterceptingCall, type ServerInterceptor, status } from '@grpc/grpc-js';
import type { PingPolicy } from './ping-policy.js';

/** Resource bounds of the control plane's gRPC server (defaults: CONTROL_DEFAULTS.limits). */
export interface ControlPlaneLimits extends PingPolicy {
  /** Largest request message accepted, bytes. Control requests are tiny. */
  maxMessageBytes: number;
  /** HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS per connection. */
  maxConcurrentStreamsPerConnection: number;
  /** Open streaming calls (WatchRing, WatchHealth, Health.Watch, reflection) per client address. */
  maxStreamsPerClient: number;
  /** Open streaming calls over all clients. */
  maxStreams: number;
  /** Server keepalive ping interval and ack timeout: a vanished peer's streams are freed. */
  keepaliveTimeMs: number;
  keepaliveTimeoutMs: number;
}

/** grpc-js server options for `limits`. */
export function serverOptions(limits: ControlPlaneLimits): Record<string, number> {
  return {
    'grpc.max_receive_message_length': limits.maxMessageBytes,
    'grpc.max_concurrent_streams': limits.maxConcurrentStreamsPerConnection,
    'grpc.keepalive_time_ms': limits.keepaliveTimeMs,
    'grpc.keepalive_timeout_ms': limits.keepaliveTimeoutMs,
  };
}

/**
 * Counts open streaming calls per client address (not per connection: a
 * client opening many connections is still one client) and in total, and
 * refuses the excess with RESOURCE_EXHAUSTED before the handler runs, so
 * 10,000 WatchRing calls from one client cost 256 subscriptions, not 10,000.
 */
export class StreamLimiter {
  readonly #limits: Pick<ControlPlaneLimits, 'maxStreamsPerClient' | 'maxStreams'>;
  readonly #open = new Map<string, number>();
  #total = 0;
  #refused = 0;

  constructor(limits: Pick<ControlPlaneLimits, 'maxStreamsPerClient' | 'maxStreams'>) {
    this.#limits = limits;
  }

  /** Streaming calls open now. */
  get open(): number {
    return this.#total;
  }

  /** Streaming calls refused since start. */
  get refused(): number {
    return this.#refused;
  }

  readonly interceptor: ServerInterceptor = (method, call) => {
    if (!method.requestStream && !method.responseStream) return new ServerInterceptingCall(call);
    const client = call.getConnectionInfo().remoteAddress ?? call.getPeer();
    let held = false;
    const release = (): void => {
      if (!held) return;
      held = false;
      this.#total--;
      const n = (this.#open.get(client) ?? 1) - 1;
      if (n > 0) this.#open.set(client, n);
      else this.#open.delete(client);
    };
    return new ServerInterceptingCall(call, {
      start: (next) =>
        next({
          onReceiveMetadata: (metadata, proceed) => {
            const mine = this.#open.get(client) ?? 0;
            if (mine < this.#limits.maxStreamsPerClient && this.#total < this.#limits.maxStreams) {
              held = true;
              this.#total++;
              this.#open.set(client, mine + 1);
              return proceed(metadata);
            }
            this.#refused++;
            const limit =
              mine >= this.#limits.maxStreamsPerClient
                ? `${this.#limits.maxStreamsPerClient} per client address`
                : `${this.#limits.maxStreams} in total`;
            call.sendStatus({
              code: status.RESOURCE_EXHAUSTED,
              details: `<Error> too many open streams (limit ${limit}); close some before opening more`,
              metadata: new Metadata(),
            });
          },
          onCancel: release,
        }),
      sendStatus: (s, next) => {
        release();
        next(s);
      },
    });
  };
}
