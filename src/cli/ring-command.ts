import type { Command, Option } from 'commander';
import { CONTROL_DEFAULTS } from '../control/control-defaults.js';
import type {
  Balance,
  ControlPlaneClient,
  ReplicaSet,
  RingPolicy,
  RingSnapshot,
  SimulateChangeResponse,
} from '../gen/ringlb/v1/ringlb.js';
import { MAX_SLOW_START_SECONDS, parseWeight, policyAnswer } from '../ring/index.js';
import type { ControlClientSecurity } from '../shared/tls-credentials.js';
import { defineCommand } from './command.js';
import { unary, withClient } from './control-client.js';
import { type ConfigReader, opt, slowStartOption } from './options.js';
import {
  controlAddressOption,
  controlClientOptions,
  readControlClientSecurity,
  tokenFileOption,
} from './security-config.js';
import { readTraffic, trafficOptions } from './traffic-options.js';

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
    slowStartOption(),
  ];
  // Traffic settings only where they apply (policy): a flag left out keeps its current value.
  const trafficPolicyOptions = (): Option[] => trafficOptions(false);

  defineCommand(ring, {
    name: 'show',
    description: 'print the current ring snapshot as JSON',
    options: control(),
    read: readClient,
    async run({ address, security }) {
      await withClient(address, security, async (client) => print(await firstSnapshot(client)));
    },
  });

  defineCommand(ring, {
    name: 'policy',
    description:
      'switch the ring strategy or traffic settings live (SetRingPolicy); without --strategy, the strategy stays',
    options: [...control(), ...policyOptions(), ...trafficPolicyOptions()],
    read: (reader, o) => ({ ...readClient(reader, o), wanted: readPolicy(reader, o, true)! }),
    async run({ address, security, wanted }) {
      await withClient(address, security, async (client) => {
        const snapshot = await unary<RingSnapshot>((cb) => client.setRingPolicy({ policy: wanted }, cb));
        print(policyAnswer(snapshot));
      });
    },
  });

  defineCommand(ring, {
    name: 'weight',
    description: "change a replica's weight live (SetReplicaWeight): its share of keys is weight / Σ weights",
    arguments: ['<hostname>', '<weight>'],
    options: control(),
    read: (reader, o, args) => {
      let weight = 1;
      try {
        weight = parseWeight(args[1], '<weight>');
      } catch (err) {
        reader.fail('weight', (err as Error).message.replace(/^<Error> <weight> /, ''));
      }
      return { ...readClient(reader, o), hostname: String(args[0]), weight };
    },
    async run({ address, security, hostname, weight }) {
      await withClient(address, security, async (client) => {
        const set = await unary<ReplicaSet>((cb) => client.setReplicaWeight({ hostname, weight }, cb));
        print({
          ringVersion: set.ringVersion,
          replicas: Object.fromEntries(set.replicas.map((r) => [r.hostname, r.weight ?? 1])),
        });
      });
    },
  });

  const list = (x: unknown): string[] => (Array.isArray(x) ? x.map(String) : x ? String(x).split(',') : []);
  defineCommand(ring, {
    name: 'simulate',
    description: 'dry run: keys moved and balance for a proposed change (SimulateChange)',
    options: [
      ...control(),
      opt('--add <n>', 'replicas to add (generated names)', 'RINGLB_SIMULATE_ADD', '0'),
      opt('--add-hostname <name...>', 'named replicas to add', 'RINGLB_SIMULATE_ADD_HOSTNAMES'),
      opt('--remove <name...>', 'replicas to remove', 'RINGLB_SIMULATE_REMOVE'),
      opt('--samples <n>', 'keys sampled', 'RINGLB_SIMULATE_SAMPLES', String(CONTROL_DEFAULTS.sampleKeys)),
      ...policyOptions(),
    ],
    read: (reader, o) => ({
      ...readClient(reader, o),
      request: {
        addCount: reader.int('add', o.add, 0, 1000),
        sampleKeys: reader.int('samples', o.samples, 1, CONTROL_DEFAULTS.maxSampleKeys),
        policy: readPolicy(reader, o, false),
        addHostnames: list(o.addHostname),
        removeHostnames: list(o.remove),
      },
    }),
    async run({ address, security, request }) {
      await withClient(address, security, async (client) => {
        const res = await unary<SimulateChangeResponse>((cb) => client.simulateChange(request, cb));
        const fmt = (b: Balance | undefined): string =>
          b ? `max/mean ${b.maxOverMean.toFixed(3)}, std dev ${(b.stdDev * 100).toFixed(2)} pts` : '-';
        process.stdout.write(
          `keys moved: ${(res.movedFraction * 100).toFixed(2)}% (ideal ${(res.idealMovedFraction * 100).toFixed(2)}%)\n` +
            `before: ${fmt(res.before)}\nafter:  ${fmt(res.after)}\n` +
            `members after: ${res.members.map((m) => m.hostname).join(', ')}\n`,
        );
      });
    },
  });
}

/** The control plane address and client security every `ring` subcommand reads. */
function readClient(
  reader: ConfigReader,
  o: Record<string, unknown>,
): { address: string; security: ControlClientSecurity } {
  return { address: reader.controlList('control', o.control), security: readControlClientSecurity(reader, o) };
}

function readPolicy(reader: ConfigReader, o: Record<string, unknown>, required: boolean): RingPolicy | undefined {
  const traffic = required ? readTraffic(reader, o) : undefined;
  if (!o.strategy) {
    if (traffic) return { strategy: '', options: {}, loadBound: 0, traffic };
    if (required) reader.fail('strategy', 'is required (or a traffic setting, e.g. --rate-limit 100/s)');
    return undefined;
  }
  return {
    strategy: String(o.strategy),
    options: reader.pairs('ringOption', o.ringOption),
    loadBound: reader.number('loadBound', o.loadBound, 0, 100),
    slowStartSeconds: reader.number('slowStart', o.slowStart, 0, MAX_SLOW_START_SECONDS),
    ...(traffic ? { traffic } : {}),
  };
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
