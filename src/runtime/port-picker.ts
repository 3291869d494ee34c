import net from 'node:net';

/**
 * Picks ports for host-networked replicas: one free on 127.0.0.1 now (the
 * replica binds it moments later), never one handed out in the last 30 s nor
 * one the caller knows is taken (another node's replica, on a swarm whose
 * nodes share this address space).
 */
export class PortPicker {
  readonly #recent = new Set<number>();

  async pick(taken: ReadonlySet<number> = new Set()): Promise<number> {
    for (let tries = 0; ; tries++) {
      const port = await freePort();
      if ((!this.#recent.has(port) && !taken.has(port)) || tries >= 20) {
        this.#recent.add(port);
        setTimeout(() => this.#recent.delete(port), 30_000).unref();
        return port;
      }
    }
  }
}

function freePort(): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
