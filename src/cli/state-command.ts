import type { Command } from 'commander';
import { defineCommand } from './command.js';
import { controlOptions, createStateStore, readStateScope } from './control-config.js';
import { describePolicy } from './desired-state.js';

/** The flags that find an instance's state, as `ringlb control` and `ringlb up` define them. */
const SCOPE_FLAGS = new Set(['runtime', 'instance', 'stateDir', 'dockerHost', 'kubeconfig', 'namespace']);

/**
 * `ringlb state reset`: discards an instance's stored desired state (N,
 * replica names, ring policy), so that its next control plane starts from its
 * flags, as `--fresh` does at start-up. Meant for a stopped instance: a
 * control plane still running writes its state again on its next change.
 */
export default function register(program: Command): void {
  const state = program.command('state').description("an instance's stored desired state (N, names, ring policy)");
  defineCommand(state, {
    name: 'reset',
    description: 'discard the stored desired state: the next start uses the flags (stop the instance first)',
    options: controlOptions('--listen').filter((o) => SCOPE_FLAGS.has(o.attributeName())),
    read: readStateScope,
    async run(scope) {
      const store = await createStateStore(scope);
      if (!store) {
        process.stdout.write('the static runtime stores no desired state: its flags are its whole truth\n');
        return;
      }
      const stored = await store.load().catch(() => undefined);
      await store.clear();
      process.stdout.write(
        stored
          ? `discarded the stored desired state of instance '${scope.instance}' (N=${stored.desired}, ` +
              `policy ${describePolicy(stored.policy)}) from ${store.where}\n`
          : `instance '${scope.instance}' has no stored desired state (${store.where})\n`,
      );
    },
  });
}
