import type http from 'node:http';
import { DATAPLANE_DEFAULTS } from '../core/defaults.js';

/**
 * The client-side timeouts of the traffic server, like nginx's: the whole
 * request head within `headerTimeoutMs` (node checks it every 30 s or so,
 * so it fires up to that much late), and no overall request deadline:
 * bodies are bounded by the gap between two reads instead (ProxyHandler,
 * clientBodyTimeoutMs), so a large upload at a steady pace is never cut.
 */
export function applyClientTimeouts(
  server: http.Server,
  headerTimeoutMs: number = DATAPLANE_DEFAULTS.clientHeaderTimeoutMs,
): void {
  server.requestTimeout = 0;
  server.headersTimeout = headerTimeoutMs;
}
