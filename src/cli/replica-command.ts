import type { Command } from 'commander';
import { runReplica } from '../replica/main.js';
import { ConfigReader, opt, runAction } from './options.js';

/** `ringlb replica`: one replica server (docs/architecture.md, "The replica server"), for running by hand or in an image. */
export default function register(program: Command): void {
  const options = [
    opt('--port <port>', 'port to listen on', 'PORT', '5000'),
    opt('--host <host>', 'address to bind', 'HOST', '127.0.0.1'),
    opt('--server-id <id>', 'identity in /home answers', 'SERVER_ID', '1'),
    opt('--fault-hook', 'honour the X-Ringlb-Fault test header', 'RINGLB_FAULT_HOOK'),
  ];
  const command = program.command('replica').description('run one replica server (/home, /heartbeat)');
  for (const o of options) command.addOption(o);
  command.action(
    runAction(async (o: Record<string, unknown>) => {
      const reader = ConfigReader.forCommand(options);
      const port = reader.port('port', o.port);
      const serverId = reader.nonEmpty('serverId', o.serverId);
      reader.done();
      await runReplica({
        ...process.env,
        PORT: String(port),
        HOST: String(o.host),
        SERVER_ID: serverId,
        RINGLB_FAULT_HOOK: o.faultHook ? '1' : '0',
      });
    }),
  );
}
