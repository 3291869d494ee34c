import { hostnameKey, isDnsLabel } from '../control/hostnames.js';
import { parseUpstreamProtocol, parseWeight } from '../ring/index.js';
import type { StaticBackend } from '../runtime/static-driver.js';
import type { ConfigReader } from './options.js';

/** A list flag's values: repeated, or comma-separated in its environment variable. */
export function listOf(raw: unknown): string[] {
  if (raw === undefined) return [];
  const items = Array.isArray(raw) ? raw : String(raw).split(',');
  return items.map((x) => String(x).trim()).filter(Boolean);
}

/** `--backend [name=][h2c://|h2://]host:port[@weight]`, repeatable or comma-separated in RINGLB_BACKENDS. */
export function readBackends(reader: ConfigReader, raw: unknown, required: boolean): StaticBackend[] {
  const items = listOf(raw);
  if (!required) {
    if (items.length > 0) reader.fail('backend', 'is only for --runtime static');
    return [];
  }
  if (items.length === 0) reader.fail('backend', '--runtime static needs at least one --backend host:port');
  const backends: StaticBackend[] = [];
  const seen = new Set<string>();
  items.forEach((item, i) => {
    const eq = item.indexOf('=');
    const hostname = eq > 0 ? item.slice(0, eq) : `server-${i + 1}`;
    // `h2c://host:port`, `h2://host:port` (or `http1://`): this backend's own protocol, over the ring's;
    // `@W` after the port: its weight.
    const target = eq > 0 ? item.slice(eq + 1) : item;
    const scheme = /^([a-z0-9]+):\/\//.exec(target);
    const protocol = scheme === null ? undefined : parseUpstreamProtocol(scheme[1]);
    if (scheme !== null && protocol === undefined && scheme[1] !== 'http1')
      reader.fail('backend', `'${scheme[1]}://' is not a protocol: use h2c://, h2:// or http1://`);
    const rest = scheme === null ? target : target.slice(scheme[0].length);
    const at = rest.lastIndexOf('@');
    const address = reader.hostPort('backend', at >= 0 ? rest.slice(0, at) : rest).text;
    let weight: number | undefined;
    if (at >= 0) {
      try {
        weight = parseWeight(rest.slice(at + 1), `weight of '${hostname}'`);
      } catch (err) {
        reader.fail('backend', (err as Error).message.replace(/^<Error> /, ''));
      }
    }
    if (!isDnsLabel(hostname)) reader.fail('backend', `name '${hostname}' is not a DNS label`);
    else if (seen.has(hostnameKey(hostname))) reader.fail('backend', `name '${hostname}' appears twice`);
    seen.add(hostnameKey(hostname));
    backends.push({
      hostname,
      serverId: i + 1,
      address,
      ...(protocol === undefined ? {} : { protocol }),
      ...(weight !== undefined ? { weight } : {}),
    });
  });
  return backends;
}
