/** The EndpointSlice fields (discovery.k8s.io/v1) the service runtime reads. */
export interface EndpointSlice {
  metadata: { name?: string; resourceVersion?: string; deletionTimestamp?: string };
  addressType?: string;
  endpoints?: {
    addresses: string[];
    conditions?: { ready?: boolean | null; serving?: boolean | null; terminating?: boolean | null };
    targetRef?: { kind?: string; name?: string };
  }[];
  ports?: { name?: string; port?: number; protocol?: string }[] | null;
}

/** One backend of a Service as ringlb routes to it. */
export interface EndpointMember {
  /** The pod's name when it is a DNS label, else one made from the address. */
  readonly hostname: string;
  /** host:port (IPv6 bracketed). */
  readonly address: string;
}

const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * The members of a Service from its EndpointSlices, as the EndpointSlice
 * conditions define them: an endpoint is routed to while it is serving and
 * not terminating. A terminating endpoint that still serves is left out of
 * the ring before its pod stops (drained: data planes finish what they sent
 * it and send nothing new), rather than cut when it vanishes. Unset
 * conditions count as true for serving (an older API server sets only ready)
 * and false for terminating, as the API documents them. The port is the
 * slice's port named `portName`, else its first TCP port; FQDN slices are
 * skipped (ringlb addresses by IP). An address listed twice (slices overlap
 * while the controller moves endpoints) counts once.
 */
export function endpointMembers(slices: readonly EndpointSlice[], portName?: string): EndpointMember[] {
  const byAddress = new Map<string, EndpointMember>();
  for (const slice of slices) {
    if (slice.metadata.deletionTimestamp || slice.addressType === 'FQDN') continue;
    const tcp = (slice.ports ?? []).filter((p) => (p.protocol ?? 'TCP') === 'TCP' && p.port);
    const port = (portName === undefined ? tcp[0] : tcp.find((p) => p.name === portName))?.port;
    if (!port) continue;
    for (const endpoint of slice.endpoints ?? []) {
      const c = endpoint.conditions ?? {};
      const serving = c.serving ?? c.ready ?? true;
      if (!serving || c.terminating === true) continue;
      const ip = endpoint.addresses[0];
      if (!ip) continue;
      const address = `${ip.includes(':') ? `[${ip}]` : ip}:${port}`;
      const pod = endpoint.targetRef?.kind === 'Pod' ? endpoint.targetRef.name : undefined;
      const hostname = pod && DNS_LABEL.test(pod) ? pod : `ep-${ip.replace(/[.:]/g, '-')}`.slice(0, 63);
      if (!byAddress.has(address)) byAddress.set(address, { hostname, address });
    }
  }
  return [...byAddress.values()].sort((a, b) => (a.hostname < b.hostname ? -1 : a.hostname > b.hostname ? 1 : 0));
}

/**
 * Server ids for a changing set of members: a member keeps the id it had
 * while it stays (so the ring moves only for members that come and go); a
 * newcomer takes the lowest id free, in name order, so the same set always
 * gets the same ids when assigned afresh.
 */
export function assignServerIds(
  previous: ReadonlyMap<string, number>,
  hostnames: readonly string[],
): Map<string, number> {
  const next = new Map<string, number>();
  for (const name of hostnames) {
    const id = previous.get(name);
    if (id !== undefined) next.set(name, id);
  }
  const used = new Set(next.values());
  let candidate = 1;
  for (const name of [...hostnames].sort()) {
    if (next.has(name)) continue;
    while (used.has(candidate)) candidate++;
    next.set(name, candidate);
    used.add(candidate);
  }
  return next;
}
