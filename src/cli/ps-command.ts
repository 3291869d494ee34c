import * as grpc from '@grpc/grpc-js';
import type { Command } from 'commander';
import type { Replica, ReplicaSet } from '../gen/ringlb/v1/ringlb.js';
import { defineCommand } from './command.js';
import { unary, withClient } from './control-client.js';
import { healthWord } from './events-command.js';
import { opt } from './options.js';
import {
  controlAddressOption,
  controlClientOptions,
  readControlClientSecurity,
  tokenFileOption,
} from './security-config.js';

/** How long `ringlb ps` waits for ListReplicas. */
const LIST_TIMEOUT_MS = 10_000;

/** One replica as `ringlb ps --json` prints it. */
export interface ReplicaRow {
  hostname: string;
  serverId: number;
  address: string;
  /** The Replica's instance_id: a pid (process), a container id (docker), `<service id>/<task start>` (swarm), a pod uid (kubernetes). */
  runtimeId: string;
  health: string;
  /** When it entered its current health state (ISO 8601). */
  since: string | null;
}

export function replicaRow(r: Replica): ReplicaRow {
  return {
    hostname: r.hostname,
    serverId: r.serverId,
    address: r.address,
    runtimeId: r.instanceId,
    health: healthWord(r.health),
    since: r.since?.toISOString() ?? null,
  };
}

const COLUMNS: [string, (r: ReplicaRow) => string][] = [
  ['HOSTNAME', (r) => r.hostname],
  ['ID', (r) => String(r.serverId)],
  ['ADDRESS', (r) => r.address],
  ['RUNTIME ID', (r) => r.runtimeId || '-'],
  ['HEALTH', (r) => r.health],
];

/** The replicas as a table, columns padded to their widest cell (as `docker ps`). */
export function replicaTable(rows: readonly ReplicaRow[]): string {
  const cells = [COLUMNS.map(([title]) => title), ...rows.map((r) => COLUMNS.map(([, cell]) => cell(r)))];
  const widths = COLUMNS.map((_, i) => Math.max(...cells.map((line) => line[i].length)));
  return cells
    .map((line) =>
      line
        .map((cell, i) => (i === line.length - 1 ? cell : cell.padEnd(widths[i])))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/**
 * `ringlb ps` (alias `ringlb replicas`): the replicas a control plane runs
 * (ListReplicas), with the runtime's id for each, so `kill -9 <pid>` or
 * `docker rm -f <id>` can name one.
 */
export default function register(program: Command): void {
  defineCommand(program, {
    name: 'ps',
    description: 'list the replicas: hostname, server id, address, runtime id (pid, container, task, pod), health',
    options: [
      controlAddressOption(),
      ...controlClientOptions(),
      tokenFileOption(),
      opt('--json', 'a JSON array instead of the table', 'RINGLB_PS_JSON'),
    ],
    read: (reader, o) => ({
      address: reader.controlList('control', o.control),
      security: readControlClientSecurity(reader, o),
      json: Boolean(o.json),
    }),
    async run({ address, security, json }) {
      await withClient(address, security, async (client) => {
        const set = await unary<ReplicaSet>((cb) =>
          client.listReplicas({}, new grpc.Metadata(), { deadline: Date.now() + LIST_TIMEOUT_MS }, cb),
        );
        const rows = set.replicas.map(replicaRow);
        process.stdout.write(`${json ? JSON.stringify(rows, null, 2) : replicaTable(rows)}\n`);
      });
    },
  }).alias('replicas');
}
