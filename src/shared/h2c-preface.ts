import type http from 'node:http';
import type http2 from 'node:http2';
import type { Socket } from 'node:net';

/** The client connection preface of HTTP/2 (RFC 9113 §3.4), which h2c with prior knowledge starts with. */
const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/**
 * Serves h2c with prior knowledge and HTTP/1.1 on one plaintext port: the
 * first bytes of each connection are the HTTP/2 preface or not, and the
 * connection goes to the HTTP/2 server or to the HTTP/1.1 one accordingly.
 * (No HTTP/1.1 request line starts with "PRI * HTTP/2.0".)
 */
export function splitByPreface(server: http.Server, h2: http2.Http2Server): void {
  const http1 = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    socket.once('data', (chunk: Buffer) => {
      socket.pause();
      socket.unshift(chunk);
      const n = Math.min(chunk.length, H2_PREFACE.length);
      // Both servers read what is already buffered before the socket's next bytes.
      if (chunk.subarray(0, n).equals(H2_PREFACE.subarray(0, n))) h2.emit('connection', socket);
      else {
        for (const listener of http1) listener.call(server, socket);
        socket.resume();
      }
    });
  });
}
