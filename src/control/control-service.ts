import type { ServerUnaryCall, ServerWritableStream, sendUnaryData } from '@grpc/grpc-js';
import {
  type ControlPlaneServer as ControlPlaneHandlers,
  type HealthEvent,
  HealthEvent_Kind,
  type ReplicaSet,
  type WatchHealthRequest,
} from '../gen/ringlb/v1/ringlb.js';
import { TRAFFIC_DEFAULTS, trafficText } from '../ring/index.js';
import { RinglbError, toGrpcError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { ChangeSimulator } from './change-simulator.js';
import { HealthHistory } from './health-history.js';
import {
  fromProtoPolicy,
  fromProtoSimulation,
  toProtoHealthEvent,
  toProtoReplica,
  toProtoSimulation,
  toProtoSnapshot,
} from './proto-conversions.js';
import type { ReplicaManager } from './replica-manager.js';
import type { ReplicaView } from './replica-view.js';
import { RingAcks } from './ring-acks.js';
import { snapshotOf } from './ring-snapshot-encoding.js';
import type { RingStore, VersionedRing } from './ring-store.js';

/**
 * The gRPC service: translate, delegate to the ReplicaManager / RingStore,
 * and map every error once through toGrpcError.
 */
export function createControlService(deps: {
  manager: ReplicaManager;
  ring: RingStore;
  /** Where WatchRing streams with a watch_id and their AckRing calls are tracked. */
  acks: RingAcks;
  simulator: ChangeSimulator;
  log: Logger;
  /**
   * Resolves once the replica set is up (adopted or started). Watchers wait
   * for it: a data plane must never be handed the empty ring of a control
   * plane that is still adopting, or it would drop every replica it serves.
   */
  ready: Promise<void>;
  /** Called with every open stream so close() can end them (grpc-js tryShutdown waits for streams). */
  trackStream: (call: ServerWritableStream<unknown, unknown>) => void;
}): ControlPlaneHandlers {
  const { manager, ring, acks, simulator, log, ready, trackStream } = deps;
  const history = new HealthHistory(manager);

  const replicaSet = (replicas: ReplicaView[]): ReplicaSet => ({
    n: replicas.length,
    replicas: replicas.map(toProtoReplica),
    ringVersion: ring.current.version,
  });

  function unary<Req, Res>(handler: (req: Req) => Promise<Res> | Res) {
    return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
      Promise.resolve()
        .then(() => handler(call.request))
        .then(
          (res) => callback(null, res),
          (err: unknown) => {
            if (!(err instanceof RinglbError))
              log.error('unexpected error in a gRPC handler', { error: String((err as Error)?.stack ?? err) });
            callback(toGrpcError(err));
          },
        );
    };
  }

  return {
    addReplicas: unary((req) => manager.add(req.n, req.hostnames, req.weights).then(replicaSet)),
    removeReplicas: unary((req) => manager.remove(req.n, req.hostnames).then(replicaSet)),
    listReplicas: unary(async () => {
      await ready;
      return replicaSet(manager.list());
    }),
    reportFailure: unary((req) => ({
      accepted: manager.reports.failure(req.hostname, req.reason || 'connection failed'),
    })),
    setRingPolicy: unary(async (req) => {
      const policy = fromProtoPolicy(req.policy, ring.current.policy);
      // Build once here so a policy that cannot build (e.g. too many members for the slots) is refused, not published.
      manager.assertLeader();
      await simulator.check(ring.current.members, policy);
      log.info('ring policy changed', {
        strategy: policy.strategy,
        options: policy.options,
        loadBound: policy.loadBound,
        slowStart: policy.slowStart ?? 0,
        traffic: trafficText(policy.traffic ?? TRAFFIC_DEFAULTS).join(' ') || 'defaults',
      });
      return toProtoSnapshot(ring.publish({ policy }));
    }),
    reportOutlier: unary((req) => ({
      accepted: manager.reports.outlier(req.hostname, {
        nodeId: req.nodeId,
        ejected: req.ejected,
        reason: req.reason,
        ejectionMs: req.ejectionMs,
      }),
    })),
    simulateChange: unary((req) => toProtoSimulation(simulator.simulate(ring.current, fromProtoSimulation(req)))),
    setReplicaWeight: unary((req) => manager.setWeight(req.hostname, req.weight).then(replicaSet)),
    ackRing: unary((req) => {
      RingAcks.validate(req.watchId);
      return { known: req.watchId !== '' && acks.ack(req.watchId, req.version) };
    }),

    watchRing(call) {
      trackStream(call);
      const { nodeId, watchId } = call.request;
      log.debug('ring watcher subscribed', { nodeId, acknowledges: watchId !== '' });
      let forget = (): void => undefined;
      try {
        if (watchId) forget = acks.register(watchId, nodeId);
      } catch (err) {
        call.emit('error', toGrpcError(err));
        return;
      }
      // Only the newest snapshot matters: if the client is slow, older unsent ones are dropped.
      let pending: VersionedRing | undefined;
      let draining = false;
      const send = (state: VersionedRing): void => {
        if (call.cancelled || call.writableEnded) return;
        if (draining) {
          pending = state;
          return;
        }
        // One shared snapshot (and its bytes) per version for every stream: ring-snapshot-encoding.ts.
        if (!call.write(snapshotOf(state))) {
          draining = true;
          call.once('drain', () => {
            draining = false;
            const next = pending;
            pending = undefined;
            if (next) send(next);
          });
        }
      };
      let unwatch = (): void => undefined;
      const stop = (): void => {
        unwatch();
        forget();
      };
      call.on('cancelled', stop);
      call.on('finish', stop);
      call.on('close', stop);
      call.on('error', stop);
      void ready.then(
        () => {
          if (!call.cancelled && !call.writableEnded) unwatch = ring.watch(send);
        },
        () => call.end(),
      );
    },

    watchHealth(call) {
      trackStream(call);
      void ready.then(
        () => watchHealth(call),
        () => call.end(),
      );
    },
  };

  function watchHealth(call: ServerWritableStream<WatchHealthRequest, HealthEvent>): void {
    if (call.cancelled || call.writableEnded) return;
    const snapshot: HealthEvent = {
      kind: HealthEvent_Kind.KIND_SNAPSHOT,
      replica: undefined,
      replicas: manager.list().map(toProtoReplica),
      replacedBy: '',
      reason: '',
      at: new Date(),
      sequence: 0,
      recent: history.recent().map(toProtoHealthEvent),
      nodeId: '',
      ejectionMs: 0,
    };
    call.write(snapshot);
    const unsubscribe = manager.onHealthChange((change) => {
      if (call.cancelled || call.writableEnded) return;
      call.write(toProtoHealthEvent(change));
    });
    call.on('cancelled', unsubscribe);
    call.on('close', unsubscribe);
    call.on('error', unsubscribe);
  }
}
