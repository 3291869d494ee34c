import type { ControlPlaneServer } from '../../src/control/control-plane-server.js';
import { waitFor } from './wait.js';

/**
 * Kills a process-runtime replica from outside (SIGKILL, as a crash) and
 * waits until the control plane has replaced it: `count` healthy replicas,
 * none of them the victim.
 */
export async function killReplicaAndWaitReplaced(
  server: ControlPlaneServer,
  hostname: string,
  count: number,
  timeoutMs = 15_000,
): Promise<void> {
  const victim = server.manager.list().find((r) => r.hostname === hostname);
  if (!victim) throw new Error(`no replica ${hostname}`);
  process.kill(Number(victim.instanceId), 'SIGKILL');
  await waitFor(
    `${hostname} replaced`,
    () => {
      const list = server.manager.list();
      return list.length === count && list.every((r) => r.health === 'healthy' && r.hostname !== hostname);
    },
    timeoutMs,
  );
}
