import { readFileSync } from 'node:fs';
import { delimiter } from 'node:path';
import { createSecureContext } from 'node:tls';
import { type CertificatePair, type Env, EnvReader } from '@zerogate/core';

/** The sidecar's compute resources, as Kubernetes quantities. */
export interface QueueProxyResources {
  readonly cpuRequest: string;
  readonly memoryRequest: string;
  readonly memoryLimit: string;
}

/** Where a Service is. */
export interface ServiceRef {
  readonly namespace: string;
  readonly name: string;
}

/** A certificate and its key, PEM. */
export type TlsFiles = CertificatePair;

/** The injector's configuration, read once from its environment. */
export interface InjectorConfig {
  /** HTTPS port of the webhook. */
  readonly port: number;
  /** Address the listener binds; '' = all interfaces. */
  readonly bindAddress: string;
  readonly tlsCertFile: string;
  readonly tlsKeyFile: string;
  /** The certificate and key as read at start (reloaded later by the server when the files change). */
  readonly tls: TlsFiles;
  /** Image of the injected queue-proxy. */
  readonly queueProxyImage: string;
  readonly queueProxyResources: QueueProxyResources;
  /** `SERVING_LOGGING_LEVEL` of the injected queue-proxy. */
  readonly queueProxyLogLevel: string;
  /** Zerogate's own namespace: its Pods are never injected; it is the queue-proxy's `SYSTEM_NAMESPACE`. */
  readonly systemNamespace: string;
  /** The activator's Service, checked when a revision is first wired; undefined = not checked. */
  readonly activatorService: ServiceRef | undefined;
  /** Bound on the Kubernetes calls one admission makes; past it the Pod is admitted with a warning. */
  readonly apiTimeoutMs: number;
  readonly logLevel: string;
}

/** Reads a file whole; tests pass their own. */
export type FileReader = (path: string) => Buffer;

/** A DNS-1123 label: a namespace or Service name. */
const DNS_1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** A Kubernetes resource quantity (`25m`, `64Mi`, `0.5`, `1e3`). */
const QUANTITY = /^(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|[KMGTPE]i|[numkMGTPE])?$/;
/**
 * Longest allowed bound on the Kubernetes calls: the API server gives a webhook at most 30 s
 * (`timeoutSeconds`), and the answer must leave with time to spare.
 */
const MAX_API_TIMEOUT_MS = 20_000;

function dnsLabel(r: EnvReader, name: string, value: string): void {
  if (value.length > 63 || !DNS_1123_LABEL.test(value)) {
    r.problem(
      name,
      `must be a DNS-1123 label (lower-case letters, digits and "-"), got ${JSON.stringify(value)}`,
    );
  }
}

function quantity(r: EnvReader, name: string, fallback: string): string {
  const v = r.string(name, fallback).trim();
  if (!QUANTITY.test(v))
    r.problem(name, `must be a Kubernetes quantity such as 25m or 64Mi, got ${JSON.stringify(v)}`);
  return v;
}

function readTls(r: EnvReader, certFile: string, keyFile: string, readFile: FileReader): TlsFiles {
  const read = (name: string, path: string): Buffer | undefined => {
    try {
      return readFile(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      r.problem(name, `cannot read ${path}: ${code}`);
      return undefined;
    }
  };
  const cert = read('INJECTOR_TLS_CERT_FILE', certFile);
  const key = read('INJECTOR_TLS_KEY_FILE', keyFile);
  if (!cert || !key) return { cert: Buffer.alloc(0), key: Buffer.alloc(0) };
  try {
    // Fails on malformed PEM and on a key that does not belong to the certificate.
    createSecureContext({ cert, key });
  } catch (err) {
    r.problem(
      'INJECTOR_TLS_CERT_FILE',
      `with INJECTOR_TLS_KEY_FILE, not a usable certificate and key: ${(err as Error).message}`,
    );
  }
  return { cert, key };
}

/**
 * Reads and validates the environment, and the TLS certificate and key it names (through `readFile`,
 * so the rest stays pure). Throws a ConfigError naming every bad variable.
 */
export function loadConfig(
  env: Env,
  readFile: FileReader = (p) => readFileSync(p),
): Readonly<InjectorConfig> {
  const r = new EnvReader(env);
  const port = r.listenPort('INJECTOR_PORT', 8443);
  const bindAddress = r.string('INJECTOR_BIND_ADDRESS', '');
  const tlsCertFile = r.string('INJECTOR_TLS_CERT_FILE', '/etc/zerogate/injector-tls/tls.crt');
  const tlsKeyFile = r.string('INJECTOR_TLS_KEY_FILE', '/etc/zerogate/injector-tls/tls.key');

  const queueProxyImage = (r.raw('INJECTOR_QUEUE_PROXY_IMAGE') ?? '').trim();
  if (queueProxyImage === '') r.problem('INJECTOR_QUEUE_PROXY_IMAGE', 'is required but not set');
  else if (/\s/.test(queueProxyImage)) {
    r.problem(
      'INJECTOR_QUEUE_PROXY_IMAGE',
      `must be an image reference, got ${JSON.stringify(queueProxyImage)}`,
    );
  }

  const queueProxyResources: QueueProxyResources = {
    cpuRequest: quantity(r, 'INJECTOR_QUEUE_PROXY_CPU_REQUEST', '25m'),
    memoryRequest: quantity(r, 'INJECTOR_QUEUE_PROXY_MEMORY_REQUEST', '64Mi'),
    memoryLimit: quantity(r, 'INJECTOR_QUEUE_PROXY_MEMORY_LIMIT', '512Mi'),
  };

  const logLevel = r.logLevel('INJECTOR_LOG_LEVEL');
  // The queue-proxy takes zap's names and maps them itself: passed on as written, once known to be a level.
  r.logLevel('INJECTOR_QUEUE_PROXY_LOG_LEVEL');
  const queueProxyLogLevel = r.string('INJECTOR_QUEUE_PROXY_LOG_LEVEL', 'info');

  const systemNamespace = r.string('INJECTOR_SYSTEM_NAMESPACE', 'zerogate-system');
  dnsLabel(r, 'INJECTOR_SYSTEM_NAMESPACE', systemNamespace);

  // `name` (in the system namespace) or `namespace/name`; `-` turns the check off.
  const activatorText = r.string('INJECTOR_ACTIVATOR_SERVICE', 'activator-service');
  let activatorService: ServiceRef | undefined;
  if (activatorText !== '-') {
    const parts = activatorText.split('/');
    const [namespace, name] = parts.length === 2 ? parts : [systemNamespace, parts[0]];
    if (parts.length > 2 || !namespace || !name) {
      r.problem(
        'INJECTOR_ACTIVATOR_SERVICE',
        `must be "name" or "namespace/name", got ${JSON.stringify(activatorText)}`,
      );
    } else {
      dnsLabel(r, 'INJECTOR_ACTIVATOR_SERVICE', namespace);
      dnsLabel(r, 'INJECTOR_ACTIVATOR_SERVICE', name);
      activatorService = { namespace, name };
    }
  }

  const apiTimeoutMs = r.durationMs('INJECTOR_API_TIMEOUT', 2000);
  if (!(apiTimeoutMs > 0 && apiTimeoutMs <= MAX_API_TIMEOUT_MS)) {
    r.problem('INJECTOR_API_TIMEOUT', `must be more than 0 and at most ${MAX_API_TIMEOUT_MS / 1000}s`);
  }

  const tls = readTls(r, tlsCertFile, tlsKeyFile, readFile);

  // The Kubernetes client reads these files when the server starts and throws on a missing one.
  for (const file of (r.raw('KUBECONFIG') ?? '').split(delimiter).filter((f) => f !== '')) {
    try {
      readFile(file);
    } catch (err) {
      r.problem(
        'KUBECONFIG',
        `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
  }

  r.finish();
  return Object.freeze({
    port,
    bindAddress,
    tlsCertFile,
    tlsKeyFile,
    tls,
    queueProxyImage,
    queueProxyResources,
    queueProxyLogLevel,
    systemNamespace,
    activatorService,
    apiTimeoutMs,
    logLevel,
  });
}
