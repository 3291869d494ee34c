import { isIPv4, isIPv6 } from 'node:net';

/**
 * Whether a bind host only accepts connections from this machine:
 * 127.0.0.0/8, ::1 (also IPv4-mapped) and 'localhost'. Wildcards (0.0.0.0, ::)
 * and every other name or address count as public.
 */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost') return true;
  if (isIPv4(h)) return h.startsWith('127.');
  if (isIPv6(h)) return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h);
  return false;
}
