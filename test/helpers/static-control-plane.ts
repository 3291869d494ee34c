import { ControlPlaneServer } from '../../src/control/control-plane-server.js';
import { type StaticBackend, StaticDriver } from '../../src/runtime/static-driver.js';

/**
 * A control plane in its own process over static backends: argv[2] is a JSON
 * array of {hostname, serverId, address}. Prints `listening <host:port>`
 * and stops on SIGTERM. For tests that must not share an event loop with the
 * control plane (it builds rings too, to validate policies).
 */
const backends = JSON.parse(process.argv[2] ?? '[]') as StaticBackend[];
const server = new ControlPlaneServer({
  listen: '127.0.0.1:0',
  driver: new StaticDriver(backends),
  replicas: backends.length,
  maxReplicas: Math.max(50, backends.length),
  heartbeatIntervalMs: 1_000,
  heartbeatTimeoutMs: 1_000,
  // Tests here are about event loops, on machines that may be loaded: a late
  // heartbeat must not eject a replica and change the ring under them.
  fall: 1_000,
});
const { address } = await server.start();
process.stdout.write(`listening ${address}\n`);
process.once('SIGTERM', () => void server.close().then(() => process.exit(0)));
