import type { RingMember, RingPolicy } from './types.js';

/**
 * How every surface answers a ring policy change: the RingSnapshot that
 * SetRingPolicy returns over gRPC, with its members as objects. `ringlb ring
 * policy` prints it and the admin's PUT /ring/policy answers it (inside the
 * classic `{"message": …, "status": "successful"}`), so the three agree.
 */
export interface PolicyAnswer<M extends RingMember = RingMember> {
  version: number;
  policy: RingPolicy | undefined;
  /** In ascending server id, every field of the gRPC RingMember. */
  members: M[];
}

export function policyAnswer<M extends RingMember>(snapshot: {
  version: number;
  policy?: RingPolicy;
  members: readonly M[];
}): PolicyAnswer<M> {
  return { version: snapshot.version, policy: snapshot.policy, members: [...snapshot.members] };
}
