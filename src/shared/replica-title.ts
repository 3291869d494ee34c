/**
 * How a replica process names itself in `ps`: "ringlb-replica server-2
 * 127.0.0.1:41234". On Linux node writes process.title over the process's
 * argument strings and cuts it to their total length, so the process driver
 * spawns a replica with `titleArgument(hostname)` after its entry point: the
 * arguments then leave room for the whole title (the node binary and entry
 * paths are longer than any address).
 */
export function replicaTitle(hostname: string, address: string): string {
  return `${titleArgument(hostname)} ${address}`;
}

/** The argument a replica is spawned with, and the start of its title. */
export function titleArgument(hostname: string): string {
  return `ringlb-replica ${hostname}`;
}

/**
 * Whether a process's command line (/proc/<pid>/cmdline) is replica
 * `hostname` run from `entry`: its arguments before the title is set, its
 * title after.
 */
export function isReplicaCommandLine(cmdline: string, entry: string, hostname: string): boolean {
  const args = cmdline.split('\0');
  return args.includes(entry) || args[0].startsWith(`${titleArgument(hostname)} `);
}
