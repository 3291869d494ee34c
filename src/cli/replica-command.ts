import type { Command } from 'commander';
import { runReplica } from '../replica/main.js';
import { defineCommand } from './command.js';
import { opt } from './options.js';

/** `ringlb replica`: one replica server (docs/architecture.md, "The replica server"), for running by hand or in an image. */
export default function register(program: Command): void {
  defineCommand(program, {
    name: 'replica',
    description: 'run one replica server (/home, /heartbeat)',
    options: [
      opt('--port <port>', 'port to listen on', 'PORT', '5000'),
      opt('--host <host>', 'address to bind', 'HOST', '127.0.0.1'),
      opt('--server-id <id>', 'identity in /home answers', 'SERVER_ID', '1'),
      opt('--fault-hook', 'honour the X-Ringlb-Fault test header', 'RINGLB_FAULT_HOOK'),
    ],
    read: (reader, o) => ({
      port: reader.port('port', o.port),
      host: String(o.host),
      serverId: reader.nonEmpty('serverId', o.serverId),
      faultHook: Boolean(o.faultHook),
    }),
    async run({ port, host, serverId, faultHook }) {
      await runReplica({
        ...process.env,
        PORT: String(port),
        HOST: host,
        SERVER_ID: serverId,
        RINGLB_FAULT_HOOK: faultHook ? '1' : '0',
      });
    },
  });
}
