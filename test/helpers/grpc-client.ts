import type { TestContext } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import {
  type AckRingRequest,
  type AckRingResponse,
  type AddReplicasRequest,
  ControlPlaneClient,
  type ListReplicasRequest,
  type RemoveReplicasRequest,
  type ReplicaSet,
  type ReportFailureRequest,
  type ReportFailureResponse,
  type RingSnapshot,
  type SetReplicaWeightRequest,
  type SetRingPolicyRequest,
  type SimulateChangeRequest,
  type SimulateChangeResponse,
} from '../../src/gen/ringlb/v1/ringlb.js';
import { defer } from './cleanup.js';

interface Unary {
  ackRing: [AckRingRequest, AckRingResponse];
  addReplicas: [AddReplicasRequest, ReplicaSet];
  removeReplicas: [RemoveReplicasRequest, ReplicaSet];
  listReplicas: [ListReplicasRequest, ReplicaSet];
  reportFailure: [ReportFailureRequest, ReportFailureResponse];
  setRingPolicy: [SetRingPolicyRequest, RingSnapshot];
  setReplicaWeight: [SetReplicaWeightRequest, ReplicaSet];
  simulateChange: [SimulateChangeRequest, SimulateChangeResponse];
}
type UnaryMethods = keyof Unary;
type RequestOf<M extends UnaryMethods> = Unary[M][0];
type ResponseOf<M extends UnaryMethods> = Unary[M][1];

/** The generated client, closed when the test ends. */
export function controlClient(t: TestContext, address: string): ControlPlaneClient {
  const client = new ControlPlaneClient(address, grpc.credentials.createInsecure());
  defer(t, () => client.close());
  return client;
}

/** Promise form of a unary call on the generated client. */
export function call<M extends UnaryMethods>(
  client: ControlPlaneClient,
  method: M,
  request: RequestOf<M>,
): Promise<ResponseOf<M>> {
  return new Promise((resolve, reject) => {
    (client[method] as (req: unknown, cb: (err: grpc.ServiceError | null, res: unknown) => void) => void)(
      request,
      (err, res) => (err ? reject(err) : resolve(res as ResponseOf<M>)),
    );
  });
}

/** Resolves with the gRPC error a call fails with; fails the test if it succeeds. */
export async function callError<M extends UnaryMethods>(
  client: ControlPlaneClient,
  method: M,
  request: RequestOf<M>,
): Promise<grpc.ServiceError> {
  try {
    await call(client, method, request);
  } catch (err) {
    return err as grpc.ServiceError;
  }
  throw new Error(`${method} succeeded but was expected to fail`);
}

/** Collects a server stream's messages; cancelled when the test ends. */
export function collect<T>(
  t: TestContext,
  stream: grpc.ClientReadableStream<T>,
): { messages: T[]; next: (pred: (m: T) => boolean, timeoutMs?: number) => Promise<T> } {
  const messages: T[] = [];
  const waiters = new Set<() => void>();
  stream.on('data', (m: T) => {
    messages.push(m);
    for (const w of waiters) w();
  });
  stream.on('error', () => undefined);
  defer(t, () => stream.cancel());
  return {
    messages,
    next(pred, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const found = messages.find(pred);
          if (found) {
            waiters.delete(check as () => void);
            clearTimeout(timer);
            resolve(found);
            return true;
          }
          return false;
        };
        const timer = setTimeout(() => {
          waiters.delete(check as () => void);
          reject(new Error(`no matching stream message within ${timeoutMs} ms (got ${messages.length})`));
        }, timeoutMs);
        if (!check()) waiters.add(check as () => void);
      });
    },
  };
}
