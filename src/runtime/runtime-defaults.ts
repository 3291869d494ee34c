/**
 * The defaults of the runtimes (docker, swarm, kubernetes, process), in one place: the
 * drivers fill what their caller leaves out from here, and the control
 * plane's defaults (CONTROL_DEFAULTS) take the shared ones from here too.
 */
export const RUNTIME_DEFAULTS = Object.freeze({
  /** The replica image (`npm run images` builds it). */
  image: 'ringlb/replica:latest',
  /** 'host': each replica on 127.0.0.1 with a port of its own. */
  network: 'host',
  /** Scopes what a driver sees and touches; two stacks on one engine use two values. */
  instance: 'default',
  /** SIGTERM → SIGKILL grace when a replica is stopped. */
  stopGraceMs: 5_000,
  /** Upper bound on any single engine call. */
  callTimeoutMs: 10_000,
  /** The port a replica listens on inside its own network namespace (bridge, overlay). */
  replicaPort: 5_000,
  /** The engine when neither the caller nor DOCKER_HOST names one. */
  dockerSocket: '/var/run/docker.sock',
  /** Kubernetes: replica images are imported into the nodes' containerd, not pulled. */
  imagePullPolicy: 'Never',
  /** Kubernetes: how long a new replica pod may take to be Ready (scheduling, image, start). */
  podStartTimeoutMs: 60_000,
});
