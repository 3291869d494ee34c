/**
 * The gRPC target for one control plane or a list of them (`--control
 * a,b,c`). A list of IP literals becomes grpc-js's static `ipv4:` / `ipv6:`
 * target, which the channel's pick_first policy walks in order: when the
 * connected control plane goes away, the next call (a ring subscriber's
 * reconnect) connects to the next address that answers. A host name stands
 * alone: give one DNS name that resolves to every control plane (on a swarm
 * overlay, tasks.<service>), which pick_first walks the same way.
 */
export function controlTarget(list: string): string {
  const addresses = list.split(',').map((a) => a.trim());
  if (addresses.length === 1) return addresses[0]!;
  if (addresses.every((a) => /^\d{1,3}(\.\d{1,3}){3}:\d+$/.test(a))) return `ipv4:${addresses.join(',')}`;
  if (addresses.every((a) => /^\[[0-9a-f:.]+\]:\d+$/i.test(a))) return `ipv6:${addresses.join(',')}`;
  throw new Error(
    `a list of control planes must be IP literals of one family (got '${list}'); for host names give one DNS name that resolves to all of them`,
  );
}
