import type { RingMember, RingPolicy } from './types.js';

/**
 * How every surface answers a ring policy change: the RingSnapshot that
 * SetRingPolicy returns over gRPC, with its members as objects. `ringlb ring
 * policy` prints it and the admin's PUT /ring/policy answers it (inside the
 * classic `{"message": …, "status": "successful"}`), so the three agree.
 */
/** What every member has on every surface (the gRPC RingMember, the ring's own). */
type MemberLike = Pick<RingMember, 'hostname' | 'serverId' | 'address'>;

export interface PolicyAnswer<M extends MemberLike = RingMember, P = RingPolicy> {
  version: number;
  policy: P | undefined;
  /** In ascending server id, every field of the gRPC RingMember. */
  members: M[];
}

export function policyAnswer<M extends MemberLike, P = RingPolicy>(snapshot: {
  version: number;
  policy?: P;
  members: readonly M[];
}): PolicyAnswer<M, P> {
  return { version: snapshot.version, policy: snapshot.policy, members: [...snapshot.members] };
}
