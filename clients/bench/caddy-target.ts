import path from 'node:path';
import type { BenchTarget } from './bench-target.js';
import { startConfigProxy } from './config-proxy.js';
import { commandOutput, resolveBinary, versionLine } from './load-generator.js';
import type { BenchReplica } from './replica-fleet.js';

/**
 * Caddy doing ringlb's job. Caddy hashes on a request header (`lb_policy
 * header`, rendezvous hashing over the upstreams) but has no per-request
 * random key of its own, so the site first sets one from its request UUID
 * placeholder, as nginx hashes $request_id. Keep-alive to the replicas with
 * an idle pool as large as the other proxies'; no access log (Caddy logs
 * requests only when `log` is configured), admin endpoint off.
 */
export function caddyConfig(port: number, replicas: readonly BenchReplica[]): string {
  const upstreams = replicas.map((r) => r.address).join(' ');
  return `{
	admin off
	auto_https off
	persist_config off
}

http://127.0.0.1:${port} {
	request_header X-Ringlb-Bench-Key {http.request.uuid}
	reverse_proxy ${upstreams} {
		lb_policy header X-Ringlb-Bench-Key
		transport http {
			keepalive 30s
			keepalive_idle_conns 64
			keepalive_idle_conns_per_host 64
		}
	}
}
`;
}

/** Caddy on `cores` cores (GOMAXPROCS), one process. */
export function caddyTarget(cores: number, binary: string): BenchTarget {
  let version = 'Caddy';
  const name = `caddy-${cores}`;
  return {
    id: name,
    label: () => `${version}, GOMAXPROCS=${cores}, lb_policy header on a per-request UUID (rendezvous), keepalive 64`,
    async unavailable() {
      const found = await resolveBinary(binary);
      if (!found) return `caddy not found at '${binary}' (images/peers/build-peers.sh builds it)`;
      // A `go install` build says "unknown" to `caddy version`; its module version is in build-info.
      const number =
        /v\d+\.\d+\.\d+/.exec(await versionLine(found, ['version']))?.[0] ??
        /^mod\s+github\.com\/caddyserver\/caddy\/v2\s+(v\d+\.\d+\.\d+)/m.exec(
          await commandOutput(found, ['build-info']),
        )?.[1];
      if (number) version = `Caddy ${number}`;
      return undefined;
    },
    start: (context) =>
      startConfigProxy(
        {
          name,
          binary,
          configFile: 'Caddyfile',
          config: (port) => caddyConfig(port, context.replicas),
          args: (file) => ['run', '--config', file, '--adapter', 'caddyfile'],
          env: {
            GOMAXPROCS: String(cores),
            XDG_DATA_HOME: path.join(context.workDir, 'data'),
            XDG_CONFIG_HOME: path.join(context.workDir, 'config'),
          },
        },
        context,
      ),
  };
}
