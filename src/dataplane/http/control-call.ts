import { Metadata, type ServiceError } from '@grpc/grpc-js';
import type { RinglbError } from '../../shared/errors.js';
import { fromGrpcError } from './classic-errors.js';

/** A unary control-plane method as grpc-js generates it on the client. */
export type UnaryMethod<Req, Res> = (
  req: Req,
  md: Metadata,
  options: { deadline: number },
  cb: (err: ServiceError | null, res: Res) => void,
) => unknown;

/**
 * One unary call to the control plane with a deadline, for the routes the
 * data plane answers itself (REST shims, admin): a failure rejects with the
 * classic error fromGrpcError makes of it, so every route renders it alike.
 */
export function controlCall<Req, Res>(
  client: object,
  method: UnaryMethod<Req, Res>,
  request: Req,
  timeoutMs: number,
  controlAddress: string,
): Promise<Res> {
  return new Promise((resolve, reject: (err: RinglbError) => void) => {
    method.call(client, request, new Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) =>
      err ? reject(fromGrpcError(err, controlAddress)) : resolve(res),
    );
  });
}
