import { ControlPlaneService, RingSnapshot } from '../gen/ringlb/v1/ringlb.js';
import { toProtoSnapshot } from './proto-conversions.js';
import type { VersionedRing } from './ring-store.js';

/**
 * One ring version goes to every WatchRing stream at the same moment, and
 * grpc-js serialises each write on its own: with N data planes, converting
 * and encoding the snapshot per stream repeats the same work N times while
 * the later streams wait. Here both happen once per version: snapshotOf
 * returns one frozen RingSnapshot per VersionedRing, and the WatchRing
 * serialiser of CONTROL_PLANE_SERVICE keeps the bytes of each snapshot object
 * it encoded, so every other stream's write reuses them. Sharing the bytes is
 * safe: grpc-js copies them into each stream's frame (serializeMessage in
 * @grpc/grpc-js server-interceptors). The maps are weak, so a superseded
 * version's object and bytes go with it. The wire format is unchanged.
 */
const snapshots = new WeakMap<VersionedRing, RingSnapshot>();
const encoded = new WeakMap<RingSnapshot, Buffer>();

/** The proto snapshot of `state`, built once and shared by every stream (never mutate it). */
export function snapshotOf(state: VersionedRing): RingSnapshot {
  let snapshot = snapshots.get(state);
  if (snapshot === undefined) {
    const proto = toProtoSnapshot(state);
    snapshot = Object.freeze({ ...proto, members: Object.freeze(proto.members) as RingSnapshot['members'] });
    snapshots.set(state, snapshot);
  }
  return snapshot;
}

/** RingSnapshot's encoding, kept per object: a snapshot from snapshotOf is encoded once. */
export function encodeSnapshot(snapshot: RingSnapshot): Buffer {
  let bytes = encoded.get(snapshot);
  if (bytes === undefined) {
    bytes = Buffer.from(RingSnapshot.encode(snapshot).finish());
    // Only frozen snapshots (snapshotOf's) are kept: another object could change after its first write.
    if (Object.isFrozen(snapshot)) encoded.set(snapshot, bytes);
  }
  return bytes;
}

/** The ControlPlane service definition the server registers: generated, with WatchRing's serialiser above. */
export const CONTROL_PLANE_SERVICE = Object.freeze({
  ...ControlPlaneService,
  watchRing: { ...ControlPlaneService.watchRing, responseSerialize: encodeSnapshot },
});
