import net from 'node:net';

/** Keep-alive connections held open, idle, beside the load. */
export interface IdleConnections {
  /** How many are still open (a proxy may close idle ones). */
  open(): number;
  close(): void;
}

/** Connections opened at once; more would only queue in the listen backlog. */
const BATCH = 256;
/** A connection whose response head has not come by then is counted as not open. */
const ANSWER_TIMEOUT_MS = 10_000;

/**
 * Opens `count` connections to `url`'s host and port, makes one keep-alive
 * GET on each (so each is a client that has been served, as a browser's idle
 * connection is, not a half-open one a header timeout would cut) and leaves
 * them idle until close(). Raw sockets, not an http.Agent: an agent would
 * reuse its free sockets instead of opening new ones.
 */
export async function holdIdleConnections(url: string, count: number): Promise<IdleConnections> {
  const { hostname, port, pathname } = new URL(url);
  const request = `GET ${pathname} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nConnection: keep-alive\r\n\r\n`;
  const sockets = new Set<net.Socket>();
  const openOne = (): Promise<void> =>
    new Promise((resolve) => {
      const socket = net.connect({ host: hostname, port: Number(port) });
      const done = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        socket.destroy();
        done();
      }, ANSWER_TIMEOUT_MS);
      socket.on('error', () => undefined);
      socket.once('close', () => {
        sockets.delete(socket);
        done();
      });
      socket.once('connect', () => socket.write(request));
      let head = '';
      const onData = (chunk: Buffer): void => {
        head += chunk.toString('latin1');
        if (head.includes('\r\n\r\n')) {
          // The rest of a small body may follow; it is read and dropped.
          socket.off('data', onData);
          socket.resume();
          sockets.add(socket);
          done();
        }
      };
      socket.on('data', onData);
    });
  for (let done = 0; done < count; done += BATCH) {
    await Promise.all(Array.from({ length: Math.min(BATCH, count - done) }, openOne));
  }
  return {
    open: () => sockets.size,
    close: () => {
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
  };
}
