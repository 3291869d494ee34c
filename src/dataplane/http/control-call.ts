import { Metadata, type ServiceError } from '@grpc/grpc-js';
import type { ControlPlaneClient } from '../../gen/ringlb/v1/ringlb.js';
import { fromGrpcError } from './classic-errors.js';

/** A unary control-plane method as grpc-js generates it on the client. */
export type UnaryMethod<Req, Res> = (
  req: Req,
  md: Metadata,
  options: { deadline: number },
  cb: (err: ServiceError | null, res: Res) => void,
) => unknown;

/** How the data plane's own routes reach the control plane. */
export interface ControlLink {
  /** The configured control plane (possibly a follower behind a Service or VIP). */
  readonly client: ControlPlaneClient;
  /** Its address, for error messages. */
  readonly address: string;
  /** Where a follower's refusal is resent; none: the refusal is the answer. */
  readonly leaders?: LeaderHop;
}

/** What controlCall needs of LeaderClients (src/dataplane/control-link/leader-clients.ts). */
export interface LeaderHop {
  /**
   * The leader a failed call from `from` names, and a client to it; undefined
   * when the failure names none. Throws a RinglbError when the name is unusable.
   */
  follow(err: unknown, from: string): { address: string; client: ControlPlaneClient } | undefined;
}

/**
 * One unary call to the control plane with a deadline, for the routes the
 * data plane answers itself (REST shims, admin): a failure rejects with the
 * classic error fromGrpcError makes of it, so every route renders it alike.
 *
 * A follower refuses changes naming the leader (the ringlb-leader trailer):
 * the call is then sent once to that leader (LeaderHop checks the address
 * first), within the same deadline, and whatever the leader answers is final.
 * One hop at most, so two control planes that name each other cannot loop;
 * the follower refused before doing anything, so the resend is not a repeat.
 * `method` is the generated client's prototype method: it runs on either client.
 */
export async function controlCall<Req, Res>(
  link: ControlLink,
  method: UnaryMethod<Req, Res>,
  request: Req,
  timeoutMs: number,
): Promise<Res> {
  const deadline = Date.now() + timeoutMs;
  try {
    return await unary(link.client, method, request, deadline);
  } catch (err) {
    const leader = link.leaders?.follow(err, link.address);
    if (!leader) throw fromGrpcError(err, link.address);
    return unary(leader.client, method, request, deadline).catch((e: unknown) => {
      throw fromGrpcError(e, `${leader.address} (the leader named by ${link.address})`);
    });
  }
}

function unary<Req, Res>(
  client: ControlPlaneClient,
  method: UnaryMethod<Req, Res>,
  request: Req,
  deadline: number,
): Promise<Res> {
  return new Promise((resolve, reject: (err: ServiceError) => void) => {
    method.call(client, request, new Metadata(), { deadline }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}
