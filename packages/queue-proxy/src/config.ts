import { isIP } from 'node:net';
import { join } from 'node:path';
import {
  type CertificatePair,
  DEFAULT_HEADER_TIMEOUT_MS,
  type Env,
  EnvReader,
  nodeFs,
  nodeTls,
  type QueueProxyContract,
  readQueueProxyContract,
  readTlsSettings,
  readTracingConfig,
  type TlsSettings,
  type TracingConfig,
} from '@zerogate/core';
import { type ProbeSpec, parseReadinessProbes } from './readiness/index.js';

/** Internal TLS when the certificate and key were there at start. */
export interface ServedTls {
  readonly served: true;
  readonly certFile: string;
  readonly keyFile: string;
  /** The pair read at start; the listener reloads it when the files change. */
  readonly pair: CertificatePair;
  /** From `QUEUE_PROXY_TLS_*`. */
  readonly settings: TlsSettings;
}

/** Internal TLS when the certificate or key was missing at start. */
export interface UnservedTls {
  readonly served: false;
  /** Which file is missing, for the startup log. */
  readonly reason: string;
  /**
   * Problems with `QUEUE_PROXY_TLS_*`, only warned about: Knative reads those variables only when it
   * serves TLS, so they cannot stop a queue-proxy that does not.
   */
  readonly ignoredProblems: readonly string[];
}

/**
 * Internal TLS on `QUEUE_SERVING_TLS_PORT` (docs/queue-proxy.md §9): served when the certificate and key were
 * in the certificate folder at start, as Knative's queue-proxy decides (`sharedmain/main.go`, `tlsEnabled`).
 */
export type InternalTlsConfig = ServedTls | UnservedTls;

/**
 * The queue-proxy's configuration, read once from the environment Knative gives the sidecar
 * (docs/queue-proxy.md §2): the contract's settings it shares with the in-process mode, and its own.
 */
export interface QueueProxyConfig extends Omit<QueueProxyContract, 'sigtermWaitMs'> {
  readonly servingPort: number;
  /** The internal TLS port (Knative's 8112), served only as {@link internalTls} says. */
  readonly tlsPort: number;
  /** Where `tls.crt` and `tls.key` are looked for (`QUEUE_CERTS_DIR`, default Knative's folder). */
  readonly certsDir: string;
  readonly internalTls: InternalTlsConfig;
  readonly userPort: number;
  /**
   * Address the user container is reached at (`QUEUE_USER_HOST`): 127.0.0.1 in a Pod; the one-machine
   * platform gives each Pod its own loopback address and sets it.
   */
  readonly userHost: string;
  readonly podIp: string;
  readonly readinessProbes: readonly ProbeSpec[];
  readonly http2AutoDetection: boolean;
  /**
   * How long websockets and other upgraded connections may stay open once the drain is done and the
   * requests in flight finished (`QUEUE_UPGRADE_GRACE_SECONDS`); undefined: until the termination grace
   * period runs out (the default when {@link terminationGraceMs} is set, 60 s otherwise).
   */
  readonly upgradeGraceMs: number | undefined;
  /**
   * The Pod's `terminationGracePeriodSeconds` (`QUEUE_TERMINATION_GRACE_SECONDS`): after a drain starts,
   * requests in flight and upgraded connections may run until this is nearly over, then are closed and
   * the process exits before the kubelet's SIGKILL. Undefined (unset): requests in flight are waited for
   * however long they take, upgraded connections for {@link upgradeGraceMs}.
   */
  readonly terminationGraceMs: number | undefined;
  /**
   * How long a client may take to send a request head on the serving ports before it is answered 408
   * (Go's ReadHeaderTimeout, which Knative sets to a minute).
   */
  readonly readHeaderTimeoutMs: number;
  /**
   * Relays plain HTTP/1.1 requests on raw sockets (`QUEUE_HTTP1_RELAY`, default on): see
   * docs/queue-proxy.md §3.5. Off, every request goes through node:http and undici.
   */
  readonly http1Relay: boolean;
  /**
   * Runs as a Kubernetes native sidecar, signalled only after the app containers exit: `/wait-for-drain`
   * starts the drain itself (see `wait-for-drain.ts`).
   */
  readonly nativeSidecar: boolean;
  /**
   * Native sidecar only: a drain that no SIGTERM follows within this time is taken for an app container
   * restart and reset (the contract's `sigtermWaitMs`).
   */
  readonly nativeSidecarSigtermMs: number;
  /**
   * Distributed tracing (docs/tracing.md): Knative ≤ 1.18's `TRACING_CONFIG_*`, ≥ 1.19's
   * `OBSERVABILITY_CONFIG` `tracing`, or OpenTelemetry's `OTEL_*` variables; off by default.
   */
  readonly tracing: TracingConfig;
}

/** `QUEUE_UPGRADE_GRACE_SECONDS` when neither it nor `QUEUE_TERMINATION_GRACE_SECONDS` is set. */
const DEFAULT_UPGRADE_GRACE_SECONDS = 60;
/** Largest `QUEUE_TERMINATION_GRACE_SECONDS`: a day (Kubernetes sets no bound). */
const MAX_TERMINATION_GRACE_SECONDS = 86_400;

/** Where Knative mounts the queue-proxy's certificate (`pkg/queue/constants.go` `CertDirectory`). */
export const KNATIVE_CERTS_DIR = '/var/lib/knative/certs';
/** The certificate and key file names (knative.dev/networking `certificates.CertName`, `PrivateKeyName`). */
const CERT_NAME = 'tls.crt';
const KEY_NAME = 'tls.key';

/** The file access {@link loadConfig} needs for the certificate; tests pass their own. */
export interface CertificateFiles {
  /** Whether `path` exists; throws on any error but its absence (Knative's `exists` then exits). */
  exists(path: string): boolean;
  read(path: string): Buffer;
}

const DISK: CertificateFiles = {
  exists: (path) => {
    // Not statSync's throwIfNoEntry: it also takes ENOTDIR for absence, which Go's os.IsNotExist does not.
    try {
      nodeFs.statSync(path);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  },
  read: (path) => nodeFs.readFileSync(path),
};

function errorText(err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err as Error).message;
}

/**
 * Decides whether internal TLS is served and reads what it needs: the `QUEUE_PROXY_TLS_*` settings
 * (Knative ≥ 1.22; TLS 1.3 only by default, as every Knative) and the certificate and key, which must
 * form a usable pair. Problems go to `r` only when TLS is served.
 */
function readInternalTls(r: EnvReader, certsDir: string, files: CertificateFiles): InternalTlsConfig {
  const certFile = join(certsDir, CERT_NAME);
  const keyFile = join(certsDir, KEY_NAME);
  /** `use(path)`, or undefined with the failure noted against `QUEUE_CERTS_DIR`. */
  const attempt = <T>(verb: string, path: string, use: (path: string) => T): T | undefined => {
    try {
      return use(path);
    } catch (err) {
      r.problem('QUEUE_CERTS_DIR', `cannot ${verb} ${path}: ${errorText(err)}`);
      return undefined;
    }
  };
  const exists = (path: string) => attempt('check', path, (p) => files.exists(p));
  const hasCert = exists(certFile);
  const hasKey = exists(keyFile);
  if (hasCert === false || hasKey === false) {
    const ignoredProblems: string[] = [];
    readTlsSettings(
      'QUEUE_PROXY_',
      (name) => r.raw(name),
      (name, message) => {
        ignoredProblems.push(`${name}: ${message}`);
      },
    );
    const missing = [hasCert ? undefined : CERT_NAME, hasKey ? undefined : KEY_NAME].filter(Boolean);
    return { served: false, reason: `no ${missing.join(' and ')} in ${certsDir}`, ignoredProblems };
  }
  const settings = readTlsSettings(
    'QUEUE_PROXY_',
    (name) => r.raw(name),
    (name, message) => r.problem(name, message),
  );
  const read = (path: string) => attempt('read', path, (p) => files.read(p));
  const cert = hasCert ? read(certFile) : undefined;
  const key = hasKey ? read(keyFile) : undefined;
  const pair = { cert: cert ?? Buffer.alloc(0), key: key ?? Buffer.alloc(0) };
  try {
    nodeTls().createSecureContext(settings);
  } catch (err) {
    // The names are checked already; only an OpenSSL without a group (the post-quantum one) gets here.
    const name = settings.ecdhCurve ? 'QUEUE_PROXY_TLS_CURVE_PREFERENCES' : 'QUEUE_PROXY_TLS_CIPHER_SUITES';
    r.problem(name, `not supported by this OpenSSL: ${(err as Error).message}`);
    return { served: true, certFile, keyFile, pair, settings };
  }
  if (cert && key) {
    try {
      // Fails on malformed PEM and on a key that does not belong to the certificate.
      nodeTls().createSecureContext({ ...settings, ...pair });
    } catch (err) {
      r.problem(
        'QUEUE_CERTS_DIR',
        `${certFile} and ${keyFile} are not a usable certificate and key: ${(err as Error).message}`,
      );
    }
  }
  return { served: true, certFile, keyFile, pair, settings };
}

/**
 * Reads and validates the environment, and the internal TLS certificate when there is one (through
 * `files`, so the rest stays pure). The settings shared with the in-process mode come from core's
 * `readQueueProxyContract` (both Knative config eras of observability), with Knative's required variables
 * required. Throws a ConfigError naming every bad variable.
 */
export function loadConfig(env: Env, files: CertificateFiles = DISK): Readonly<QueueProxyConfig> {
  const r = new EnvReader(env);
  const { sigtermWaitMs, ...contract } = readQueueProxyContract(r, 'required');
  const servingPort = r.listenPort('QUEUE_SERVING_PORT', undefined);
  const tlsPort = r.listenPort('QUEUE_SERVING_TLS_PORT', undefined);
  const certsDir = r.string('QUEUE_CERTS_DIR', KNATIVE_CERTS_DIR);
  const internalTls = readInternalTls(r, certsDir, files);
  const userPort = r.port('USER_PORT', undefined);
  r.required('SERVING_LOGGING_CONFIG');
  const podIp = r.required('SERVING_POD_IP');

  const userHost = r.string('QUEUE_USER_HOST', '127.0.0.1');
  if (isIP(userHost) === 0)
    r.problem('QUEUE_USER_HOST', `must be an IP address, got ${JSON.stringify(userHost)}`);

  const multiProbes = r.bool('ENABLE_MULTI_CONTAINER_PROBES', false);
  const probeJson = r.json('SERVING_READINESS_PROBE');
  let readinessProbes: ProbeSpec[] = [];
  try {
    readinessProbes = parseReadinessProbes(probeJson, multiProbes, userPort, userHost);
  } catch (err) {
    r.problem('SERVING_READINESS_PROBE', (err as Error).message);
  }
  const terminationGraceSeconds =
    r.raw('QUEUE_TERMINATION_GRACE_SECONDS') === undefined
      ? undefined
      : r.int('QUEUE_TERMINATION_GRACE_SECONDS', 0, { min: 0, max: MAX_TERMINATION_GRACE_SECONDS });
  const upgradeGraceSeconds =
    terminationGraceSeconds !== undefined && r.raw('QUEUE_UPGRADE_GRACE_SECONDS') === undefined
      ? undefined
      : r.int('QUEUE_UPGRADE_GRACE_SECONDS', DEFAULT_UPGRADE_GRACE_SECONDS, { min: 0, max: 3600 });
  const readHeaderTimeoutSeconds = r.int(
    'QUEUE_READ_HEADER_TIMEOUT_SECONDS',
    DEFAULT_HEADER_TIMEOUT_MS / 1000,
    { min: 1, max: 3600 },
  );
  const nativeSidecar = r.bool('QUEUE_NATIVE_SIDECAR', false);
  const http1Relay = r.bool('QUEUE_HTTP1_RELAY', true);

  r.distinctPorts([
    ['QUEUE_SERVING_PORT', servingPort],
    // Knative sets the TLS port whether or not it is served: only a served one may clash.
    ...(internalTls.served ? [['QUEUE_SERVING_TLS_PORT', tlsPort] as const] : []),
    ['QUEUE_ADMIN_PORT', contract.adminPort],
    ['QUEUE_STATS_PORT', contract.statsPort],
    ['QUEUE_METRICS_PORT', contract.metricsPort],
  ]);

  if (userPort === servingPort) r.problem('USER_PORT', `port ${userPort} is also QUEUE_SERVING_PORT`);

  const http2AutoDetection = r.bool('ENABLE_HTTP2_AUTO_DETECTION', false);
  // The contract reports an OBSERVABILITY_CONFIG that is not JSON; tracing reads its `tracing` object.
  const tracing = readTracingConfig(r, { serviceName: 'queue-proxy', reportObservabilityJson: false });

  r.finish();
  return Object.freeze({
    ...contract,
    servingPort,
    tlsPort,
    certsDir,
    internalTls,
    userPort,
    userHost,
    podIp,
    readinessProbes,
    http2AutoDetection,
    upgradeGraceMs: upgradeGraceSeconds === undefined ? undefined : upgradeGraceSeconds * 1000,
    terminationGraceMs: terminationGraceSeconds === undefined ? undefined : terminationGraceSeconds * 1000,
    readHeaderTimeoutMs: readHeaderTimeoutSeconds * 1000,
    http1Relay,
    nativeSidecar,
    nativeSidecarSigtermMs: sigtermWaitMs,
    tracing,
  });
}
