import net from 'node:net';

/**
 * A TCP port on 127.0.0.1 that was free a moment ago, for programs that need
 * a port number in their configuration (nginx, HAProxy) and cannot report
 * the one they got from port 0. The race with other programs is accepted.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
