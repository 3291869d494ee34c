import { readFileSync } from 'node:fs';
import {
  type ChannelCredentials,
  type ClientOptions,
  credentials,
  InterceptingCall,
  type Interceptor,
  ServerCredentials,
} from '@grpc/grpc-js';
import type { BearerToken } from './bearer-token.js';
import { RinglbError } from './errors.js';

/** The control plane's listener: TLS when cert and key are set, mutual TLS when clientCa is too. */
export interface ServerTlsFiles {
  cert: string;
  key: string;
  /** CA bundle that client certificates must chain to; set = client certificates required. */
  clientCa?: string;
}

/** How a data plane or the CLI reaches the control plane. */
export interface ControlClientSecurity {
  /** CA bundle the server certificate must chain to. Set (or cert set) = TLS. */
  ca?: string;
  /** Client certificate and key, for mutual TLS. */
  cert?: string;
  key?: string;
  /** Name the server certificate must carry when it differs from the address (grpcurl -servername). */
  serverName?: string;
  /** Sent as `authorization: Bearer …` on every call. */
  token?: BearerToken;
}

function read(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw RinglbError.invalidArgument(`cannot read ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? err}`);
  }
}

/** Insecure without files; TLS (checking client certificates against clientCa when set) with them. */
export function serverCredentials(tls: ServerTlsFiles | undefined): ServerCredentials {
  if (!tls) return ServerCredentials.createInsecure();
  const clientCa = tls.clientCa ? read(tls.clientCa, 'client CA') : null;
  return ServerCredentials.createSsl(
    clientCa,
    [{ cert_chain: read(tls.cert, 'TLS certificate'), private_key: read(tls.key, 'TLS key') }],
    clientCa !== null,
  );
}

/** True when the client side speaks TLS. */
export function usesTls(security: ControlClientSecurity | undefined): boolean {
  return Boolean(security?.ca || security?.cert);
}

/**
 * Channel credentials and options for a control-plane client. The token rides
 * in an interceptor rather than call credentials because grpc-js refuses call
 * credentials on a plaintext channel, and a token over loopback plaintext is
 * a supported set-up.
 */
export function controlChannel(security: ControlClientSecurity | undefined): {
  credentials: ChannelCredentials;
  options: ClientOptions;
} {
  const options: ClientOptions = {};
  const token = security?.token;
  if (token) options.interceptors = [bearerInterceptor(token)];
  if (!security || !usesTls(security)) return { credentials: credentials.createInsecure(), options };
  if (Boolean(security.cert) !== Boolean(security.key))
    throw RinglbError.invalidArgument('a client certificate needs its key (and the key its certificate)');
  if (security.serverName) {
    options['grpc.ssl_target_name_override'] = security.serverName;
    options['grpc.default_authority'] = security.serverName;
  }
  return {
    credentials: credentials.createSsl(
      security.ca ? read(security.ca, 'control-plane CA') : null,
      security.key ? read(security.key, 'client key') : null,
      security.cert ? read(security.cert, 'client certificate') : null,
    ),
    options,
  };
}

function bearerInterceptor(token: BearerToken): Interceptor {
  return (options, nextCall) =>
    new InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set('authorization', token.header());
        next(metadata, listener);
      },
    });
}
