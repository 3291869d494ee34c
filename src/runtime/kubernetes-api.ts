import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { GrpcStatus, RinglbError } from '../shared/errors.js';
import { RUNTIME_DEFAULTS } from './runtime-defaults.js';

export interface KubernetesApiOptions {
  /** A kubeconfig file; default: KUBECONFIG, else the pod's service account, else ~/.kube/config. */
  kubeconfig?: string;
  /** Upper bound on any single call (not on watches). Default RUNTIME_DEFAULTS.callTimeoutMs. */
  callTimeoutMs?: number;
}

/** What the API server answers a failed call with (a meta/v1 Status). */
interface StatusBody {
  reason?: string;
  message?: string;
}

/** A watch stream's event (`watch=1`): ADDED, MODIFIED, DELETED, BOOKMARK or ERROR. */
export interface WatchEvent {
  readonly type: string;
  readonly object: { metadata?: { resourceVersion?: string }; code?: number; message?: string };
}

export interface WatchHandle {
  /** Resolves when the stream ends: `gone` when the server said 410 (the resourceVersion is too old: list again). */
  readonly ended: Promise<{ gone: boolean; error?: string }>;
  close(): void;
}

const SERVICE_ACCOUNT = '/var/run/secrets/kubernetes.io/serviceaccount';
/** How long TLS material and the bearer token are reused: the kubelet rotates projected tokens far less often. */
const CREDENTIALS_TTL_MS = 60_000;

/**
 * The Kubernetes API as ringlb uses it: JSON over HTTPS, one deadline and one
 * status mapping on every call (as src/runtime/docker-call.ts does for the
 * Docker engine), and raw watch streams whose resourceVersion the caller
 * owns. @kubernetes/client-node supplies only what is hard to get right
 * alone: reading kubeconfig files (certificates, tokens, exec plugins) and
 * the in-cluster service account. Its generated clients are not used: they
 * take no deadline per call, and their watch helper hides the 410 that tells
 * a watcher to list again.
 */
export class KubernetesApi {
  /** The API server's URL, for messages. */
  readonly server: string;
  /** The namespace to use when none is given: the pod's own, or the kubeconfig context's. */
  readonly defaultNamespace: string;
  readonly #kc: KubeConfig;
  readonly #timeoutMs: number;
  #credentials: { options: https.RequestOptions; at: number } | undefined;

  private constructor(kc: KubeConfig, defaultNamespace: string, timeoutMs: number) {
    this.#kc = kc;
    this.server = kc.getCurrentCluster()?.server ?? '';
    this.defaultNamespace = defaultNamespace;
    this.#timeoutMs = timeoutMs;
  }

  /** Loads the configuration (no call is made yet). Throws FAILED_PRECONDITION when there is none. */
  static async load(options: KubernetesApiOptions = {}): Promise<KubernetesApi> {
    const { KubeConfig } = await import('@kubernetes/client-node');
    const kc = new KubeConfig();
    const inPod = !!process.env.KUBERNETES_SERVICE_HOST && fs.existsSync(`${SERVICE_ACCOUNT}/token`);
    try {
      if (options.kubeconfig) kc.loadFromFile(options.kubeconfig);
      else if (!process.env.KUBECONFIG && inPod) kc.loadFromCluster();
      else kc.loadFromDefault();
    } catch (err) {
      throw RinglbError.failedPrecondition(
        `cannot read the kubeconfig ${options.kubeconfig ?? process.env.KUBECONFIG ?? ''}: ${(err as Error).message}`,
      );
    }
    if (!kc.getCurrentCluster()?.server)
      throw RinglbError.failedPrecondition(
        'no Kubernetes cluster configured: give --kubeconfig, set KUBECONFIG, or run in a pod with a service account',
      );
    const context = kc.getContextObject(kc.getCurrentContext());
    const podNamespace = inPod && !options.kubeconfig ? readTrimmed(`${SERVICE_ACCOUNT}/namespace`) : undefined;
    return new KubernetesApi(
      kc,
      podNamespace ?? context?.namespace ?? 'default',
      options.callTimeoutMs ?? RUNTIME_DEFAULTS.callTimeoutMs,
    );
  }

  /**
   * One call. A 2xx answer resolves with its JSON body; a status listed in
   * `byStatus` resolves with (or throws, when a RinglbError) its mapping;
   * 401 is UNAUTHENTICATED, 403 PERMISSION_DENIED (RBAC), anything else or
   * no answer within the deadline UNAVAILABLE.
   */
  async call<T, R = never>(
    what: string,
    method: string,
    path: string,
    body?: unknown,
    byStatus: Record<number, (reason: string) => R | RinglbError> = {},
    contentType = 'application/json',
  ): Promise<T | Exclude<R, RinglbError>> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), this.#timeoutMs).unref();
    let res: { status: number; text: string };
    try {
      res = await this.#send(method, path, body, contentType, abort.signal);
    } catch (err) {
      throw RinglbError.unavailable(
        abort.signal.aborted
          ? `the Kubernetes API at ${this.server} did not answer '${what}' within ${this.#timeoutMs} ms`
          : `the Kubernetes API is not reachable at ${this.server} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
        err,
      );
    } finally {
      clearTimeout(timer);
    }
    if (res.status >= 200 && res.status < 300) return (res.text ? JSON.parse(res.text) : {}) as T;
    const reason = statusReason(res.status, res.text);
    const mapped = byStatus[res.status]?.(reason);
    if (mapped instanceof RinglbError) throw mapped;
    if (res.status in byStatus) return mapped as Exclude<R, RinglbError>;
    if (res.status === 401)
      throw RinglbError.unauthenticated(`the Kubernetes API refused '${what}': not authenticated (${reason})`);
    if (res.status === 403)
      throw new RinglbError(
        GrpcStatus.PERMISSION_DENIED,
        `the Kubernetes API refused '${what}': ${reason} (does the control plane's identity have ringlb's Role?)`,
      );
    throw RinglbError.unavailable(`the Kubernetes API refused '${what}': ${reason}`);
  }

  /**
   * Opens a watch on a collection path from `resourceVersion`. Events are
   * handed over one by one; an ERROR event with code 410 (or an HTTP 410)
   * ends the watch with gone = true.
   */
  watch(path: string, query: Record<string, string>, onEvent: (event: WatchEvent) => void): WatchHandle {
    const abort = new AbortController();
    const params = new URLSearchParams({ ...query, watch: '1', allowWatchBookmarks: 'true' });
    const ended = (async () => {
      const options = await this.#requestOptions('GET', `${path}?${params}`, abort.signal);
      return new Promise<{ gone: boolean; error?: string }>((resolve) => {
        const req = requester(this.server)(options, (res) => {
          if (res.statusCode !== 200) {
            let text = '';
            res.setEncoding('utf8').on('data', (c: string) => (text += c));
            res.on('end', () =>
              resolve({ gone: res.statusCode === 410, error: statusReason(res.statusCode ?? 0, text) }),
            );
            return;
          }
          let buffered = '';
          let gone = false;
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            buffered += chunk;
            for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
              const line = buffered.slice(0, nl).trim();
              buffered = buffered.slice(nl + 1);
              if (!line) continue;
              let event: WatchEvent;
              try {
                event = JSON.parse(line) as WatchEvent;
              } catch {
                res.destroy();
                return resolve({ gone, error: `a watch event that is not JSON: ${line.slice(0, 100)}` });
              }
              if (event.type === 'ERROR' && event.object.code === 410) gone = true;
              else onEvent(event);
            }
          });
          res.on('end', () => resolve({ gone }));
          res.on('error', (err) => resolve({ gone, error: err.message }));
        });
        req.on('error', (err) => resolve({ gone: false, error: err.message }));
        req.end();
      });
    })().catch((err: unknown) => ({ gone: false, error: (err as Error).message }));
    return { ended, close: () => abort.abort() };
  }

  async #send(
    method: string,
    path: string,
    body: unknown,
    contentType: string,
    signal: AbortSignal,
  ): Promise<{ status: number; text: string }> {
    const options = await this.#requestOptions(method, path, signal);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    options.headers = {
      ...options.headers,
      ...(payload === undefined ? {} : { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(payload) }),
    };
    return new Promise((resolve, reject) => {
      const req = requester(this.server)(options, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(payload);
    });
  }

  /**
   * TLS material and the agent are set up once; the headers (a bearer token
   * the kubelet rotates, an exec plugin's token) are refreshed every minute.
   */
  async #requestOptions(method: string, path: string, signal: AbortSignal): Promise<https.RequestOptions> {
    const now = Date.now();
    if (!this.#credentials || now - this.#credentials.at > CREDENTIALS_TTL_MS) {
      const options: https.RequestOptions = {};
      await this.#kc.applyToHTTPSOptions(options);
      const agent = this.#credentials?.options.agent ?? keepAlive(options);
      this.#credentials = { options: { ...options, agent }, at: now };
    }
    const base = new URL(this.server);
    const { options } = this.#credentials;
    return {
      ...options,
      protocol: base.protocol,
      hostname: base.hostname.replace(/^\[|\]$/g, ''),
      port: base.port || (base.protocol === 'https:' ? 443 : 80),
      method,
      path: `${base.pathname.replace(/\/$/, '')}${path}`,
      headers: { ...options.headers, Accept: 'application/json' },
      signal,
    };
  }
}

/**
 * The library makes a new agent without keep-alive on every call: one TLS
 * handshake per lease renewal. A plain HTTPS agent is made again with
 * keep-alive; a proxy agent is kept as it is.
 */
function keepAlive(options: https.RequestOptions): https.RequestOptions['agent'] {
  if (options.agent?.constructor !== https.Agent) return options.agent;
  const { ca, cert, key, pfx, passphrase, rejectUnauthorized, servername } = options as https.AgentOptions;
  return new https.Agent({ ca, cert, key, pfx, passphrase, rejectUnauthorized, servername, keepAlive: true });
}

function requester(server: string): typeof https.request {
  return (server.startsWith('http:') ? http.request : https.request) as typeof https.request;
}

/** The Status message of an error body, else the HTTP status. */
function statusReason(status: number, text: string): string {
  try {
    const body = JSON.parse(text) as StatusBody;
    if (body.message) return body.message;
  } catch {
    // not JSON: fall through
  }
  return `HTTP ${status}${text ? `: ${text.slice(0, 200)}` : ''}`;
}

function readTrimmed(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}
