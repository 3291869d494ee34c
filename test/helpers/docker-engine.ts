import { randomBytes } from 'node:crypto';
import Dockerode from 'dockerode';

/**
 * Whether the Docker tests can run here, decided once per test file.
 *
 * Without an engine (a laptop with no Docker) the tests skip with the reason;
 * with RINGLB_REQUIRE_DOCKER=1 (set by .ci/run) they run anyway and fail with
 * it, so CI can never pass by skipping.
 */
export interface DockerEngine {
  readonly docker: Dockerode;
  /** Why the tests cannot run, or undefined when they can. */
  readonly problem: string | undefined;
  /** For node:test's `skip` option: a message, or false to run. */
  readonly skip: string | false;
}

export const REPLICA_IMAGE = process.env.RINGLB_IMAGE || 'ringlb/replica:latest';
const REQUIRED = process.env.RINGLB_REQUIRE_DOCKER === '1';

export async function probeDockerEngine(images: readonly string[] = [REPLICA_IMAGE]): Promise<DockerEngine> {
  const docker = new Dockerode();
  let problem: string | undefined;
  try {
    await withTimeout(docker.ping(), 3_000, 'the docker engine did not answer a ping within 3 s');
    for (const image of images) {
      const found = await docker
        .getImage(image)
        .inspect()
        .then(
          () => true,
          (err: { statusCode?: number }) => {
            if (err?.statusCode === 404) return false;
            throw err;
          },
        );
      if (!found) {
        problem = `image ${image} is missing (build it: npm run images; on a host with no registry, BASE_IMAGE=ringlb/node-base:local after npm run images:base)`;
        break;
      }
    }
  } catch (err) {
    problem = `no docker engine reachable (${(err as Error).message})`;
  }
  const skip =
    problem && !REQUIRED
      ? `docker tests skipped: ${problem}; set RINGLB_REQUIRE_DOCKER=1 to make this a failure`
      : false;
  return { docker, problem, skip };
}

/** First line of every Docker test: fails it when the engine is required but not usable. */
export function assertEngineUsable(engine: DockerEngine): void {
  if (engine.problem) throw new Error(`RINGLB_REQUIRE_DOCKER=1 but ${engine.problem}`);
}

/** A label value no other test run (or engineer) shares. */
export function uniqueInstance(prefix = 'test'): string {
  return `${prefix}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

/** Force-removes every container of one ringlb instance (replicas and stored state); for t.after, so it never throws. */
export async function removeInstanceContainers(docker: Dockerode, instance: string): Promise<number> {
  try {
    const [replicas, state] = await Promise.all(
      [`ringlb.instance=${instance}`, `ringlb.state-of=${instance}`].map((label) =>
        docker.listContainers({ all: true, filters: { label: [label] } }),
      ),
    );
    const found = [...replicas!, ...state!];
    await Promise.allSettled(found.map((c) => docker.getContainer(c.Id).remove({ force: true })));
    return found.length;
  } catch {
    return 0;
  }
}

/** The instance's containers as `docker ps -a` would show them. */
export async function instanceContainers(docker: Dockerode, instance: string): Promise<Dockerode.ContainerInfo[]> {
  return docker.listContainers({
    all: true,
    filters: { label: [`ringlb.managed=true`, `ringlb.instance=${instance}`] },
  });
}

/** The engine's unix socket, as dockerode picks it (DOCKER_HOST, else the usual path). */
export function engineSocketPath(): string {
  const host = process.env.DOCKER_HOST;
  return host?.startsWith('unix://') ? host.slice('unix://'.length) : '/var/run/docker.sock';
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
      timer.unref();
    }),
  ]).finally(() => clearTimeout(timer));
}
