import * as grpc from '@grpc/grpc-js';
import { ControlPlaneClient } from '../gen/ringlb/v1/ringlb.js';
import { controlTarget } from '../shared/control-target.js';
import { type ControlClientSecurity, controlChannel } from '../shared/tls-credentials.js';

/**
 * Runs `fn` with a client of the control plane at `address` (closed after),
 * turning a failed call into a message for the terminal: "control plane
 * unavailable at …", or the control plane's own message.
 */
export async function withClient(
  address: string,
  security: ControlClientSecurity,
  fn: (client: ControlPlaneClient) => Promise<void>,
): Promise<void> {
  const channel = controlChannel(security);
  const client = new ControlPlaneClient(controlTarget(address), channel.credentials, channel.options);
  try {
    await fn(client);
  } catch (err) {
    const e = err as grpc.ServiceError;
    throw new Error(
      e.code === grpc.status.UNAVAILABLE
        ? `control plane unavailable at ${address}`
        : String(e.details || e.message).replace(/^<Error> /, ''),
    );
  } finally {
    client.close();
  }
}

export function unary<T>(start: (cb: (err: grpc.ServiceError | null, res: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => start((err, res) => (err ? reject(err) : resolve(res))));
}
