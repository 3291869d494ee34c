import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Metadata, type ServiceError } from '@grpc/grpc-js';
import { LeaderClients, leaderOf } from '../../../src/dataplane/control-link/leader-clients.js';
import { controlCall, type UnaryMethod } from '../../../src/dataplane/http/control-call.js';
import type { ControlPlaneClient } from '../../../src/gen/ringlb/v1/ringlb.js';
import { GrpcStatus, LEADER_METADATA_KEY, RinglbError } from '../../../src/shared/errors.js';

/** A follower's refusal as a grpc-js client sees it, with `values` in the ringlb-leader trailer. */
function refusal(...values: string[]): ServiceError {
  const metadata = new Metadata();
  for (const v of values) metadata.add(LEADER_METADATA_KEY, v);
  return Object.assign(new Error('14 UNAVAILABLE'), {
    code: GrpcStatus.UNAVAILABLE,
    details: '<Error> This control plane is a follower; send changes to the leader at …',
    metadata,
  });
}

test('leaderOf: host:port with a DNS name, an IPv4 or a bracketed IPv6 address is followed', () => {
  for (const good of [
    '10.0.0.2:50051',
    'ringlb-control-1.ringlb-control.prod.svc.cluster.local:7051',
    'stack_control:50051',
    'localhost:1',
    '[::1]:65535',
    '[fd00::2]:7051',
  ])
    assert.equal(leaderOf(refusal(good), 'vip:50051'), good, good);
});

test('leaderOf: no hint, or another failure, is not a hop', () => {
  assert.equal(leaderOf(refusal(), 'vip:50051'), undefined);
  const other = Object.assign(refusal('10.0.0.2:50051'), { code: GrpcStatus.NOT_FOUND });
  assert.equal(leaderOf(other, 'vip:50051'), undefined, 'only UNAVAILABLE is a refusal to follow');
  assert.equal(leaderOf(new Error('boom'), 'vip:50051'), undefined);
  assert.equal(leaderOf({ code: GrpcStatus.UNAVAILABLE }, 'vip:50051'), undefined, 'no metadata at all');
});

// grpc-js itself refuses control characters in metadata values, so none can arrive.
test('leaderOf: a bad hint is a clear UNAVAILABLE naming the value and what is wrong, never a crash', () => {
  const cases: [string[], RegExp][] = [
    [['10.0.0.2'], /no port/],
    [['10.0.0.2:0'], /port must be a number from 1 to 65535/],
    [['10.0.0.2:65536'], /port must be/],
    [['10.0.0.2:050051'], /port must be/],
    [['10.0.0.2:+1'], /port must be/],
    [['10.0.0.2:80 '], /port must be/],
    [['999.0.0.1:80'], /not an IPv4 address/],
    [['1.2.3:80'], /not an IPv4 address/],
    [['0.0.0.0:7051'], /unspecified address: give the control planes --advertise/],
    [['[::]:50051'], /unspecified/],
    [['[::1:80'], /not a DNS name/],
    [['[fe80::1%eth0]:80'], /not an IPv6 address/],
    [['[zz]:80'], /not an IPv6 address/],
    [[':80'], /not a DNS name/],
    [['dns:///leader:80'], /not a DNS name/],
    [['unix:/var/run/x.sock'], /port must be/],
    [['a,b:80'], /not a DNS name/],
    [['-bad.example:80'], /not a DNS name/],
    [['evil host;rm -rf:80'], /not a DNS name/],
    [['"quoted":80'], /not a DNS name/],
    [[`${'a'.repeat(64)}:80`], /not a DNS name/],
    [[`${'a.'.repeat(140)}b:80`], /longer than 261/],
    [['10.0.0.2:50051', '10.0.0.3:50051'], /2 values/],
  ];
  for (const [values, why] of cases) {
    assert.throws(
      () => leaderOf(refusal(...values), 'vip:50051'),
      (err: unknown) => {
        assert.ok(err instanceof RinglbError, String(err));
        assert.equal(err.code, GrpcStatus.UNAVAILABLE);
        assert.match(
          err.message,
          /^<Error> The control plane at vip:50051 is a follower and names its leader as ringlb-leader/,
        );
        assert.match(err.message, why, values.join());
        assert.match(err.message, /the change was not made/);
        assert.ok(err.message.length < 400, 'a long value is cut');
        return true;
      },
      values.join(),
    );
  }
});

/** A fake generated client: `calls` counts what reached it; `answer` decides. */
class FakeClient {
  calls = 0;
  deadlines: number[] = [];
  closed = false;
  constructor(readonly answer: () => ServiceError | null) {}
  close(): void {
    this.closed = true;
  }
}

/** Like a generated prototype method: runs on whichever client it is called on. */
const addReplicas: UnaryMethod<{ n: number }, { n: number }> = function (this: FakeClient, req, _md, options, cb) {
  this.calls++;
  this.deadlines.push(options.deadline);
  const err = this.answer();
  setImmediate(() => (err ? cb(err, undefined as never) : cb(null, { n: req.n })));
};

function leadersOver(clients: Record<string, FakeClient>, max?: number): { leaders: LeaderClients; opened: string[] } {
  const opened: string[] = [];
  const leaders = new LeaderClients({
    connect: (address) => {
      opened.push(address);
      const client = clients[address] ?? new FakeClient(() => null);
      clients[address] = client;
      return client as unknown as ControlPlaneClient;
    },
    ...(max ? { max } : {}),
  });
  return { leaders, opened };
}

test('controlCall: a refusal naming the leader is resent there once, within the same deadline', async () => {
  const follower = new FakeClient(() => refusal('10.0.0.2:50051'));
  const leader = new FakeClient(() => null);
  const { leaders, opened } = leadersOver({ '10.0.0.2:50051': leader });
  const link = { client: follower as unknown as ControlPlaneClient, address: 'vip:50051', leaders };
  assert.deepEqual(await controlCall(link, addReplicas, { n: 2 }, 5_000), { n: 2 });
  assert.deepEqual([follower.calls, leader.calls], [1, 1]);
  assert.equal(leader.deadlines[0], follower.deadlines[0], 'one deadline for both');
  await controlCall(link, addReplicas, { n: 1 }, 5_000);
  assert.deepEqual(opened, ['10.0.0.2:50051'], 'the client to the leader is kept');
  leaders.close();
  assert.equal(leader.closed, true);
  await assert.rejects(controlCall(link, addReplicas, { n: 1 }, 5_000), /closing/);
});

test('controlCall: one hop at most; the second refusal is the answer', async () => {
  const a = new FakeClient(() => refusal('b:1'));
  const b = new FakeClient(() => refusal('a:1'));
  const { leaders } = leadersOver({ 'b:1': b, 'a:1': a });
  const link = { client: a as unknown as ControlPlaneClient, address: 'a:1', leaders };
  await assert.rejects(controlCall(link, addReplicas, { n: 1 }, 5_000), (err: RinglbError) => {
    assert.equal(err.code, GrpcStatus.UNAVAILABLE);
    assert.match(err.message, /follower/);
    return true;
  });
  assert.deepEqual([a.calls, b.calls], [1, 1]);
  leaders.close();
});

test('controlCall: without leader clients, or with a bad hint, nothing is resent', async () => {
  const follower = new FakeClient(() => refusal('0.0.0.0:7051'));
  const client = follower as unknown as ControlPlaneClient;
  await assert.rejects(controlCall({ client, address: 'vip:1' }, addReplicas, { n: 1 }, 5_000), /follower; send/);
  const { leaders, opened } = leadersOver({});
  await assert.rejects(controlCall({ client, address: 'vip:1', leaders }, addReplicas, { n: 1 }, 5_000), /--advertise/);
  assert.deepEqual(opened, [], 'nothing dialled');
  leaders.close();
});

test('LeaderClients: at most `max` open, the least recently used closed first; close() is idempotent', () => {
  const clients: Record<string, FakeClient> = {};
  const { leaders } = leadersOver(clients, 2);
  leaders.get('a:1');
  leaders.get('b:1');
  leaders.get('a:1');
  leaders.get('c:1');
  assert.equal(leaders.size, 2);
  assert.deepEqual(
    Object.entries(clients).map(([k, c]) => [k, c.closed]),
    [
      ['a:1', false],
      ['b:1', true],
      ['c:1', false],
    ],
  );
  leaders.close();
  leaders.close();
  assert.ok(Object.values(clients).every((c) => c.closed));
  assert.throws(() => leaders.get('a:1'), /closing/);
});
