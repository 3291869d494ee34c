import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { BenchTarget } from './bench-target.js';
import { startConfigProxy } from './config-proxy.js';
import { resolveBinary, versionLine } from './load-generator.js';
import type { BenchReplica } from './replica-fleet.js';

/**
 * Traefik doing ringlb's job as closely as it can. Its only hashing strategy,
 * `hrw`, hashes the client's IP: a bench's single load generator would land
 * on one replica, so it runs its default `wrr` (weighted round robin) and
 * the table says so. Keep-alive to the replicas with an idle pool of 64 per
 * host; access log, metrics, API and dashboard off (Traefik's defaults,
 * stated anyway), no version check.
 */
export function traefikStaticConfig(port: number, dynamicFile: string): string {
  return `global:
  checkNewVersion: false
  sendAnonymousUsage: false
entryPoints:
  web:
    address: "127.0.0.1:${port}"
serversTransport:
  maxIdleConnsPerHost: 64
providers:
  file:
    filename: "${dynamicFile}"
    watch: false
log:
  level: ERROR
`;
}

export function traefikDynamicConfig(replicas: readonly BenchReplica[]): string {
  const servers = replicas.map((r) => `          - url: "http://${r.address}"`).join('\n');
  return `http:
  routers:
    all:
      entryPoints: [web]
      rule: "PathPrefix(\`/\`)"
      service: replicas
  services:
    replicas:
      loadBalancer:
        strategy: wrr
        servers:
${servers}
`;
}

/** Traefik on `cores` cores (GOMAXPROCS), one process. */
export function traefikTarget(cores: number, binary: string): BenchTarget {
  let version = 'Traefik';
  const name = `traefik-${cores}`;
  return {
    id: name,
    label: () => `${version}, GOMAXPROCS=${cores}, wrr (its hrw hashes the client IP), maxIdleConnsPerHost 64`,
    async unavailable() {
      const found = await resolveBinary(binary);
      if (!found) return `traefik not found at '${binary}' (images/peers/build-peers.sh builds it)`;
      const number = /v?\d+\.\d+\.\d+/.exec(await versionLine(found, ['version']))?.[0];
      if (number) version = `Traefik ${number}`;
      return undefined;
    },
    async start(context) {
      const dynamicFile = path.join(context.workDir, 'dynamic.yml');
      return startConfigProxy(
        {
          name,
          binary,
          configFile: 'traefik.yml',
          config: (port) => traefikStaticConfig(port, dynamicFile),
          prepare: () => writeFile(dynamicFile, traefikDynamicConfig(context.replicas)),
          args: (file) => [`--configFile=${file}`],
          env: { GOMAXPROCS: String(cores) },
        },
        context,
      );
    },
  };
}
