import { CONTROL_DEFAULTS } from '../control/control-defaults.js';
import { controlTarget } from '../shared/control-target.js';
import * as grpc from '@grpc/grpc-js';
import type { Command, Option } from 'commander';
import { ControlPlaneClient, type Balance, type RingPolicy, type RingSnapshot } from '../gen/ringlb/v1/ringlb.js';
import { controlChannel, type ControlClientSecurity } from '../shared/tls-credentials.js';
import { ConfigReader, opt, runAction } from './options.js';
import {
  controlClientOptions,
  readControlClientSecurity,
  tokenFileOption,
  controlAddressOption,
} from './security-config.js';

/**
 * `ringlb ring show | policy | simulate`: the ring over gRPC, for scripts
 * and experiments. `policy` switches the strategy live (every data plane
 * follows on the next ring version); `simulate` is the dry run.
 */
export default function register(program: Command): void {
  const ring = program.command('ring').description('show the ring, switch its strategy live, or dry-run a change');
  const control = (): Option[] => [controlAddressOption(), ...controlClientOptions(), tokenFileOption()];
  const policyOptions = (): Option[] => [
    opt('--strategy <name>', 'classic | custom | ketama | maglev | rendezvous', 'RINGLB_STRATEGY'),
    opt(
      '--ring-option <name=value...>',
      'strategy option, repeatable (e.g. vnodes=160, table=65537, h=i*i+3)',
      'RINGLB_RING_OPTIONS',
    ),
    opt(
      '--load-bound <c>',
      'bounded-loads factor c (> 1); 0 turns it off',
      'RINGLB_LOAD_BOUND',
      String(CONTROL_DEFAULTS.loadBound),
    ),
  ];

  const show = ring.command('show').description('print the current ring snapshot as JSON');
  const showOptions = control();
  for (const o of showOptions) show.addOption(o);
  show.action(
    runAction(async (o: Record<string, unknown>) => {
      const reader = ConfigReader.forCommand(showOptions);
      const address = reader.controlList('control', o.control);
      const security = readControlClientSecurity(reader, o);
      reader.done();
      await withClient(address, security, async (client) => print(await firstSnapshot(client)));
    }),
  );

  const policy = ring.command('policy').description('switch the ring strategy live (SetRingPolicy)');
  const policyOpts = [...control(), ...policyOptions()];
  for (const o of policyOpts) policy.addOption(o);
  policy.action(
    runAction(async (o: Record<string, unknown>) => {
      const reader = ConfigReader.forCommand(policyOpts);
      const address = reader.controlList('control', o.control);
      const security = readControlClientSecurity(reader, o);
      const wanted = readPolicy(reader, o, true)!;
      reader.done();
      await withClient(address, security, async (client) => {
        const snapshot = await unary<RingSnapshot>((cb) => client.setRingPolicy({ policy: wanted }, cb));
        print({ version: snapshot.version, policy: snapshot.policy, members: snapshot.members.map((m) => m.hostname) });
      });
    }),
  );

  const simulate = ring
    .command('simulate')
    .description('dry run: keys moved and balance for a proposed change (SimulateChange)');
  const simulateOpts = [
    ...control(),
    opt('--add <n>', 'replicas to add (generated names)', 'RINGLB_SIMULATE_ADD', '0'),
    opt('--add-hostname <name...>', 'named replicas to add', 'RINGLB_SIMULATE_ADD_HOSTNAMES'),
    opt('--remove <name...>', 'replicas to remove', 'RINGLB_SIMULATE_REMOVE'),
    opt('--samples <n>', 'keys sampled', 'RINGLB_SIMULATE_SAMPLES', String(CONTROL_DEFAULTS.sampleKeys)),
    ...policyOptions(),
  ];
  for (const o of simulateOpts) simulate.addOption(o);
  simulate.action(
    runAction(async (o: Record<string, unknown>) => {
      const reader = ConfigReader.forCommand(simulateOpts);
      const address = reader.controlList('control', o.control);
      const security = readControlClientSecurity(reader, o);
      const addCount = reader.int('add', o.add, 0, 1000);
      const sampleKeys = reader.int('samples', o.samples, 1, CONTROL_DEFAULTS.maxSampleKeys);
      const proposed = readPolicy(reader, o, false);
      reader.done();
      const list = (x: unknown): string[] => (Array.isArray(x) ? x.map(String) : x ? String(x).split(',') : []);
      await withClient(address, security, async (client) => {
        const res = await unary<import('../gen/ringlb/v1/ringlb.js').SimulateChangeResponse>((cb) =>
          client.simulateChange(
            {
              addHostnames: list(o.addHostname),
              addCount,
              removeHostnames: list(o.remove),
              policy: proposed,
              sampleKeys,
            },
            cb,
          ),
        );
        const fmt = (b: Balance | undefined): string =>
          b ? `max/mean ${b.maxOverMean.toFixed(3)}, std dev ${(b.stdDev * 100).toFixed(2)} pts` : '-';
        process.stdout.write(
          `keys moved: ${(res.movedFraction * 100).toFixed(2)}% (ideal ${(res.idealMovedFraction * 100).toFixed(2)}%)\n` +
            `before: ${fmt(res.before)}\nafter:  ${fmt(res.after)}\n` +
            `members after: ${res.members.map((m) => m.hostname).join(', ')}\n`,
        );
      });
    }),
  );
}

function readPolicy(reader: ConfigReader, o: Record<string, unknown>, required: boolean): RingPolicy | undefined {
  if (!o.strategy) {
    if (required) reader.fail('strategy', 'is required');
    return undefined;
  }
  return {
    strategy: String(o.strategy),
    options: reader.pairs('ringOption', o.ringOption),
    loadBound: reader.number('loadBound', o.loadBound, 0, 100),
  };
}

async function withClient(
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

function unary<T>(start: (cb: (err: grpc.ServiceError | null, res: T) => void) => void): Promise<T> {
  return new Promise((resolve, reject) => start((err, res) => (err ? reject(err) : resolve(res))));
}

function firstSnapshot(client: ControlPlaneClient): Promise<RingSnapshot> {
  return new Promise((resolve, reject) => {
    const stream = client.watchRing({ nodeId: 'ringlb-ring-show', watchId: '' }, { deadline: Date.now() + 10_000 });
    stream.once('data', (snapshot: RingSnapshot) => {
      resolve(snapshot);
      stream.cancel();
    });
    stream.once('error', (err) => reject(err));
  });
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
