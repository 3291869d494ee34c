import { readFileSync } from 'node:fs';
import { replicaTitle } from '../shared/replica-title.js';
import { ReplicaServer } from './replica-server.js';

/**
 * Entry point of a replica process or container. Kept apart from the CLI so a
 * replica starts fast (no argument parser, no gRPC): the process driver
 * spawns this file directly. Configuration is environment only (docs/architecture.md).
 */
export async function runReplica(env: NodeJS.ProcessEnv = process.env): Promise<ReplicaServer> {
  const port = env.PORT === undefined || env.PORT === '' ? 5000 : Number(env.PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`PORT must be an integer from 0 to 65535, got '${env.PORT}'`);
  }
  const serverId = env.SERVER_ID || env.HOSTNAME || 'unknown';
  // TLS (HTTP/2 and HTTP/1.1 by ALPN) for --upstream-protocol h2: both files, or neither.
  const certFile = env.REPLICA_TLS_CERT || undefined;
  const keyFile = env.REPLICA_TLS_KEY || undefined;
  if ((certFile === undefined) !== (keyFile === undefined))
    throw new Error('REPLICA_TLS_CERT and REPLICA_TLS_KEY go together: give both files or neither');
  const hostname = env.REPLICA_HOSTNAME || env.HOSTNAME || serverId;
  const server = new ReplicaServer({
    serverId,
    hostname,
    port,
    host: env.HOST || '127.0.0.1',
    faultHook: env.RINGLB_FAULT_HOOK === '1',
    ...(certFile && keyFile ? { tls: { cert: readFileSync(certFile), key: readFileSync(keyFile) } } : {}),
  });
  const address = await server.start();
  // `ps` names the replica: "ringlb-replica server-2 127.0.0.1:41234" (see replicaTitle).
  process.title = replicaTitle(hostname, `${address.address}:${address.port}`);
  // The process driver starts replicas on port 0 and learns the port here.
  process.send?.({ type: 'listening', port: address.port });
  const stop = (): void => {
    void server.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return server;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  runReplica().catch((err: unknown) => {
    console.error(`replica: ${(err as Error).message}`);
    process.exit(1);
  });
}
