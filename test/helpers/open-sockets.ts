import { readFileSync } from 'node:fs';

/**
 * TCP sockets that a process still holds on a local port (accepted
 * connections, not the listener), from /proc/net/tcp and tcp6: entries whose
 * local port is `port`, not LISTEN, with an owning inode (TIME_WAIT entries
 * have none: the kernel keeps them, no process does). A connection the server
 * failed to close shows up here as ESTABLISHED or CLOSE_WAIT.
 */
export function openServerSockets(port: number): { total: number; byState: Record<string, number> } {
  const STATE: Record<string, string> = {
    '01': 'ESTABLISHED',
    '04': 'FIN_WAIT1',
    '05': 'FIN_WAIT2',
    '07': 'CLOSE',
    '08': 'CLOSE_WAIT',
    '09': 'LAST_ACK',
    '0B': 'CLOSING',
  };
  const byState: Record<string, number> = {};
  let total = 0;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const localPort = Number.parseInt(f[1]!.split(':')[1]!, 16);
      const state = f[3]!;
      const inode = f[9]!;
      if (localPort !== port || state === '0A' || inode === '0') continue;
      const name = STATE[state] ?? state;
      byState[name] = (byState[name] ?? 0) + 1;
      total++;
    }
  }
  return { total, byState };
}
