/**
 * Readiness probing of the user container: parses the probes Knative hands the queue-proxy in
 * `SERVING_READINESS_PROBE` and runs them on demand for the health handler. Mirrors
 * `pkg/queue/readiness/probe.go` (aggressive polling, shared in-flight result, parallel probes) and
 * `pkg/queue/health/probe.go` (TCP, HTTP with optional h2c detection, gRPC health).
 */

import type http from 'node:http';
import type http2 from 'node:http2';
import type https from 'node:https';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { nodeHttp, nodeHttp2, nodeHttps } from '@zerogate/core';

/** One parsed user-container probe. */
export type ProbeSpec =
  | { kind: 'tcp'; host: string; port: number; timeoutMs: number; periodMs: number; successThreshold: number }
  | {
      kind: 'http';
      scheme: 'http' | 'https';
      host: string;
      port: number;
      path: string;
      headers: [string, string][];
      timeoutMs: number;
      periodMs: number;
      successThreshold: number;
    }
  | {
      kind: 'grpc';
      host: string;
      port: number;
      service: string;
      timeoutMs: number;
      periodMs: number;
      successThreshold: number;
    };

/** Time between attempts of an aggressive probe (`retryInterval` in `readiness/probe.go`). */
export const AGGRESSIVE_POLL_INTERVAL_MS = 50;
/** Timeout of one attempt of an aggressive probe (`aggressiveProbeTimeout`). */
export const AGGRESSIVE_ATTEMPT_TIMEOUT_MS = 100;
/** How long an aggressive probe keeps polling before it fails (`PollTimeout`). */
export const AGGRESSIVE_PROBE_TIMEOUT_MS = 10_000;

/** The host every probe targets unless it names one: the user container shares the pod's loopback. */
const DEFAULT_HOST = '127.0.0.1';
/** The User-Agent Knative sends; the Kubernetes major/minor versions are never filled in. */
const PROBE_USER_AGENT = 'kube-probe//';
/** Response body bytes an HTTP probe drains before closing; the kubelet reads at most 10 KiB too. */
const MAX_DRAINED_BODY_BYTES = 10 * 1024;
/** Largest gRPC health response accepted; a real HealthCheckResponse is a few bytes. */
const MAX_GRPC_RESPONSE_BYTES = 64 * 1024;
const GRPC_HEALTH_CHECK_PATH = '/grpc.health.v1.Health/Check';
/** `grpc.health.v1.HealthCheckResponse.ServingStatus.SERVING`. */
const GRPC_SERVING = 1;
/** An RFC 9110 token, which a header name must be. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** HTTP/2 forbids connection-specific headers (RFC 9113 §8.2.2); node:http2 throws on them. */
const H2_FORBIDDEN_HEADERS = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
]);

/** Thrown by {@link parseReadinessProbes}; the message lists every problem found, each naming its field. */
export class ProbeConfigError extends Error {
  /** One entry per problem, e.g. `httpGet.port must be a number`. */
  readonly problems: readonly string[];

  constructor(problems: readonly string[] | string) {
    const list = typeof problems === 'string' ? [problems] : problems;
    super(list.join('; '));
    this.name = 'ProbeConfigError';
    this.problems = list;
  }
}

/**
 * Parses `SERVING_READINESS_PROBE` (already `JSON.parse`d): one corev1.Probe object, or with `multi`
 * (`ENABLE_MULTI_CONTAINER_PROBES`) an array of them, as `readiness.DecodeProbes` reads it.
 * `undefined`, `null` and an empty array give no probes. A missing (or zero) port means `userPort` and a
 * missing host means 127.0.0.1, the values Knative's revision reconciler fills in; missing
 * `periodSeconds` means aggressive probing, as Go's zero value does.
 *
 * @throws {ProbeConfigError} listing every problem, each naming the field (`httpGet.port must be a number`).
 */
export function parseReadinessProbes(value: unknown, multi: boolean, userPort: number): ProbeSpec[] {
  if (value === undefined || value === null) return [];
  const problems: string[] = [];
  const specs: ProbeSpec[] = [];
  if (multi) {
    if (!Array.isArray(value)) {
      throw new ProbeConfigError('expected an array of probes (ENABLE_MULTI_CONTAINER_PROBES is on)');
    }
    value.forEach((item, i) => {
      const spec = parseProbe(item, `probes[${i}].`, userPort, problems);
      if (spec) specs.push(spec);
    });
  } else {
    if (Array.isArray(value)) {
      throw new ProbeConfigError(
        'expected one probe object, got an array (ENABLE_MULTI_CONTAINER_PROBES is off)',
      );
    }
    const spec = parseProbe(value, '', userPort, problems);
    if (spec) specs.push(spec);
  }
  if (problems.length > 0) throw new ProbeConfigError(problems);
  return specs;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseProbe(raw: unknown, at: string, userPort: number, problems: string[]): ProbeSpec | undefined {
  if (!isObject(raw)) {
    problems.push(`${at ? at.slice(0, -1) : 'probe'} must be an object`);
    return undefined;
  }
  const before = problems.length;
  const timeoutSeconds = nonNegativeInt(raw, 'timeoutSeconds', 0, at, problems);
  const periodSeconds = nonNegativeInt(raw, 'periodSeconds', 0, at, problems);
  let successThreshold = nonNegativeInt(raw, 'successThreshold', 1, at, problems);
  // Go's zero value: an unset threshold behaves as 1.
  if (successThreshold === 0) successThreshold = 1;
  // A probe attempt gets at least one second, as the reconciler enforces (queue.go).
  const timing = {
    timeoutMs: Math.max(timeoutSeconds, 1) * 1000,
    periodMs: periodSeconds * 1000,
    successThreshold,
  };

  const handlers = (['httpGet', 'tcpSocket', 'grpc', 'exec'] as const).filter(
    (k) => raw[k] !== undefined && raw[k] !== null,
  );
  if (handlers.length > 1) {
    problems.push(
      `${at}probe must set only one of httpGet, tcpSocket, grpc or exec, got ${handlers.join(', ')}`,
    );
    return undefined;
  }
  const kind = handlers[0];
  if (kind === undefined) {
    problems.push(`${at}probe must set one of httpGet, tcpSocket or grpc`);
    return undefined;
  }
  if (kind === 'exec') {
    problems.push(
      `${at}exec probes are not supported by the queue-proxy (Knative runs them in the user container ` +
        'and gives the queue-proxy a tcpSocket probe instead)',
    );
    return undefined;
  }
  const action = raw[kind];
  const field = `${at}${kind}`;
  if (!isObject(action)) {
    problems.push(`${field} must be an object`);
    return undefined;
  }
  const port = parsePort(action['port'], `${field}.port`, userPort, problems);

  let spec: ProbeSpec | undefined;
  if (kind === 'tcpSocket') {
    spec = { kind: 'tcp', host: parseHost(action['host'], `${field}.host`, problems), port, ...timing };
  } else if (kind === 'grpc') {
    // corev1.GRPCAction has no host: the kubelet and Knative always dial the pod's own address.
    const service = action['service'] ?? '';
    if (typeof service !== 'string') problems.push(`${field}.service must be a string`);
    spec = { kind: 'grpc', host: DEFAULT_HOST, port, service: String(service), ...timing };
  } else {
    spec = {
      kind: 'http',
      scheme: parseScheme(action['scheme'], `${field}.scheme`, problems),
      host: parseHost(action['host'], `${field}.host`, problems),
      port,
      path: parsePath(action['path'], `${field}.path`, problems),
      headers: parseHeaders(action['httpHeaders'], `${field}.httpHeaders`, problems),
      ...timing,
    };
  }
  return problems.length === before ? spec : undefined;
}

function nonNegativeInt(raw: Json, key: string, fallback: number, at: string, problems: string[]): number {
  const v = raw[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    problems.push(`${at}${key} must be a non-negative integer, got ${JSON.stringify(v)}`);
    return fallback;
  }
  return v;
}

function parsePort(v: unknown, field: string, userPort: number, problems: string[]): number {
  // Port 0 is Go's zero value for an unset intstr port, which the reconciler replaces by the user port.
  if (v === undefined || v === null || v === 0) return userPort;
  let port: number;
  if (typeof v === 'number') {
    port = v;
  } else if (typeof v === 'string' && /^\d+$/.test(v)) {
    port = Number(v);
  } else {
    const named = typeof v === 'string' ? ' (named ports are not supported)' : '';
    problems.push(`${field} must be a number${named}, got ${JSON.stringify(v)}`);
    return userPort;
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    problems.push(`${field} must be between 1 and 65535, got ${JSON.stringify(v)}`);
    return userPort;
  }
  return port;
}

function parseHost(v: unknown, field: string, problems: string[]): string {
  if (v === undefined || v === null || v === '') return DEFAULT_HOST;
  if (typeof v !== 'string' || /[\s/@]/.test(v)) {
    problems.push(`${field} must be a host name or IP address, got ${JSON.stringify(v)}`);
    return DEFAULT_HOST;
  }
  // corev1 hosts are bare, but tolerate a bracketed IPv6 literal.
  return v.startsWith('[') && v.endsWith(']') ? v.slice(1, -1) : v;
}

function parseScheme(v: unknown, field: string, problems: string[]): 'http' | 'https' {
  if (v === undefined || v === null || v === '') return 'http';
  const s = typeof v === 'string' ? v.toLowerCase() : undefined;
  if (s === 'http' || s === 'https') return s;
  problems.push(`${field} must be HTTP or HTTPS, got ${JSON.stringify(v)}`);
  return 'http';
}

function parsePath(v: unknown, field: string, problems: string[]): string {
  if (v === undefined || v === null) return '/';
  if (typeof v !== 'string') {
    problems.push(`${field} must be a string`);
    return '/';
  }
  // Knative requests "/" + path without its leading slash; escape what cannot go on a request line.
  const path = v.startsWith('/') ? v : `/${v}`;
  return path.replace(/[^\x21-\x7e]/gu, (c) => encodeURIComponent(c));
}

function parseHeaders(v: unknown, field: string, problems: string[]): [string, string][] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    problems.push(`${field} must be an array of {name, value}`);
    return [];
  }
  const headers: [string, string][] = [];
  v.forEach((h, i) => {
    const name = isObject(h) ? h['name'] : undefined;
    const value = isObject(h) ? (h['value'] ?? '') : undefined;
    if (typeof name !== 'string' || !HEADER_NAME.test(name)) {
      problems.push(`${field}[${i}].name must be a valid header name, got ${JSON.stringify(name)}`);
    } else if (typeof value !== 'string' || /[\r\n\0]/.test(value)) {
      problems.push(`${field}[${i}].value must be a string without CR, LF or NUL`);
    } else {
      headers.push([name, value]);
    }
  });
  return headers;
}

/** Options of a {@link ReadinessProber}; the timings exist so tests need not wait ten seconds. */
export interface ReadinessProberOptions {
  /** Try prior-knowledge h2c before HTTP/1.1 for `http` probes (Knative's `NewProbeWithHTTP2AutoDetection`). */
  readonly http2AutoDetect?: boolean;
  /** Pause between aggressive attempts; default {@link AGGRESSIVE_POLL_INTERVAL_MS}. */
  readonly pollIntervalMs?: number;
  /** Total time an aggressive probe polls before failing; default {@link AGGRESSIVE_PROBE_TIMEOUT_MS}. */
  readonly aggressiveTimeoutMs?: number;
  /** Timeout of one aggressive attempt; default {@link AGGRESSIVE_ATTEMPT_TIMEOUT_MS}. */
  readonly attemptTimeoutMs?: number;
  /** Told why a probe failed a check (the last attempt's error), once per probe per failed check. */
  readonly onFailure?: (err: Error, probe: ProbeSpec) => void;
}

/** One attempt of one probe: resolves on success, rejects saying why not; must honour `signal`. */
type Attempt = (signal: AbortSignal) => Promise<void>;
/** Runs one probe for one check, to completion: true iff it passed. */
type ProbeRun = (signal: AbortSignal) => Promise<boolean>;
/** The timings of aggressive polling. */
interface PollTimings {
  readonly intervalMs: number;
  readonly totalMs: number;
  readonly attemptMs: number;
}

/**
 * Runs the user container's readiness probes on demand. {@link ReadinessProber.check} resolves true iff
 * every probe passes; the probes run in parallel and the first failure cancels the rest. Concurrent
 * checks share one in-flight run, and nothing is cached between runs (`readiness/probe.go`'s gateValue).
 */
export class ReadinessProber {
  private readonly runs: readonly ProbeRun[];
  private readonly lifetime = new AbortController();
  private inFlight: Promise<boolean> | undefined;

  constructor(probes: readonly ProbeSpec[], options: ReadinessProberOptions = {}) {
    const poll: PollTimings = {
      intervalMs: positive(options.pollIntervalMs, AGGRESSIVE_POLL_INTERVAL_MS, 'pollIntervalMs'),
      totalMs: positive(options.aggressiveTimeoutMs, AGGRESSIVE_PROBE_TIMEOUT_MS, 'aggressiveTimeoutMs'),
      attemptMs: positive(options.attemptTimeoutMs, AGGRESSIVE_ATTEMPT_TIMEOUT_MS, 'attemptTimeoutMs'),
    };
    const http2AutoDetect = options.http2AutoDetect ?? false;
    const onFailure = options.onFailure;
    this.runs = probes.map((spec): ProbeRun => {
      const attempt = buildAttempt(spec, http2AutoDetect);
      const report = (err: Error): void => onFailure?.(err, spec);
      return spec.periodMs === 0
        ? (signal) => pollAggressively(attempt, spec.successThreshold, poll, signal, report)
        : (signal) => attemptOnce(attempt, spec.timeoutMs, signal, report);
    });
  }

  /** Probes the user container; resolves true iff every probe passes (always true with no probes). */
  check(): Promise<boolean> {
    if (this.lifetime.signal.aborted) return Promise.resolve(false);
    if (this.runs.length === 0) return Promise.resolve(true);
    if (this.inFlight) return this.inFlight;
    const run = this.runAll().finally(() => {
      this.inFlight = undefined;
    });
    this.inFlight = run;
    return run;
  }

  /** Cancels any in-flight check (it resolves false), closing its sockets and timers; later checks fail. */
  close(): void {
    this.lifetime.abort(new Error('readiness prober closed'));
  }

  private async runAll(): Promise<boolean> {
    // Knative waits for every probe; once one has failed the answer is known, so cancel the others.
    const check = new AbortController();
    const unlink = link(this.lifetime.signal, check);
    try {
      const results = await Promise.all(
        this.runs.map(async (run) => {
          const ok = await run(check.signal);
          if (!ok) check.abort(new Error('another probe failed'));
          return ok;
        }),
      );
      return results.every(Boolean) && !this.lifetime.signal.aborted;
    } finally {
      unlink();
    }
  }
}

function positive(v: number | undefined, fallback: number, name: string): number {
  if (v === undefined) return fallback;
  if (!Number.isFinite(v) || v <= 0) {
    throw new RangeError(`ReadinessProber option ${name} must be > 0, got ${v}`);
  }
  return v;
}

/** Aborts `child` when `parent` aborts; returns the function that undoes the link. */
function link(parent: AbortSignal, child: AbortController): () => void {
  if (parent.aborted) {
    child.abort(parent.reason);
    return () => {};
  }
  const onAbort = (): void => child.abort(parent.reason);
  parent.addEventListener('abort', onAbort, { once: true });
  return () => parent.removeEventListener('abort', onAbort);
}

/** Runs one attempt bounded by `timeoutMs`, clearing its timer whatever happens. */
async function attemptWithin(attempt: Attempt, timeoutMs: number, parent: AbortSignal): Promise<void> {
  const ac = new AbortController();
  const unlink = link(parent, ac);
  const timer = setTimeout(() => ac.abort(new Error(`probe timed out after ${timeoutMs} ms`)), timeoutMs);
  try {
    await attempt(ac.signal);
  } finally {
    clearTimeout(timer);
    unlink();
  }
}

/** Non-aggressive mode: a single attempt with the probe's own timeout. */
async function attemptOnce(
  attempt: Attempt,
  timeoutMs: number,
  signal: AbortSignal,
  report: (err: Error) => void,
): Promise<boolean> {
  try {
    await attemptWithin(attempt, timeoutMs, signal);
    return true;
  } catch (err) {
    if (!signal.aborted) report(asError(err));
    return false;
  }
}

/**
 * Aggressive mode (periodSeconds 0): poll until `threshold` consecutive successes or `totalMs` pass.
 * The count starts from zero on every check; Knative keeps it across checks, so after one ready check a
 * single success would pass every later one whatever the threshold.
 */
async function pollAggressively(
  attempt: Attempt,
  threshold: number,
  { intervalMs, totalMs, attemptMs }: PollTimings,
  signal: AbortSignal,
  report: (err: Error) => void,
): Promise<boolean> {
  const deadline = performance.now() + totalMs;
  let consecutive = 0;
  let failures = 0;
  let lastError: unknown;
  for (;;) {
    const remaining = deadline - performance.now();
    if (remaining <= 0) break;
    try {
      await attemptWithin(attempt, Math.min(attemptMs, remaining), signal);
      consecutive++;
      if (consecutive >= threshold) return true;
    } catch (err) {
      if (signal.aborted) return false;
      consecutive = 0;
      failures++;
      lastError = err;
    }
    const pause = Math.min(intervalMs, deadline - performance.now());
    if (pause <= 0) break;
    try {
      await sleep(pause, undefined, { signal });
    } catch {
      return false;
    }
  }
  report(
    new Error(
      `aggressive probe failed ${failures} times in ${totalMs} ms`,
      lastError ? { cause: lastError } : {},
    ),
  );
  return false;
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** Builds the attempt function of a probe once, with its request headers precomputed. */
function buildAttempt(spec: ProbeSpec, http2AutoDetect: boolean): Attempt {
  switch (spec.kind) {
    case 'tcp':
      return (signal) => tcpAttempt(spec.host, spec.port, signal);
    case 'grpc':
      return grpcAttempt(spec);
    case 'http':
      return httpAttempt(spec, http2AutoDetect);
  }
}

function hostPort(host: string, port: number): string {
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Settles a callback-style exchange exactly once and always disposes its resources. `open` starts the
 * exchange and returns how to dispose it and, optionally, a result to salvage when `signal` aborts.
 */
function exchange<T>(
  signal: AbortSignal,
  open: (
    resolve: (value: T) => void,
    reject: (err: unknown) => void,
  ) => { dispose(): void; salvage?(): T | undefined },
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    let settled = false;
    let handle: { dispose(): void; salvage?(): T | undefined } | undefined;
    const finish = (err: unknown, value?: T): void => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      handle?.dispose();
      if (err === undefined) resolve(value as T);
      else reject(err);
    };
    const onAbort = (): void => {
      const salvaged = handle?.salvage?.();
      if (salvaged === undefined) finish(signal.reason);
      else finish(undefined, salvaged);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      handle = open(
        (value) => finish(undefined, value),
        (err) => finish(err ?? new Error('probe failed')),
      );
    } catch (err) {
      finish(err);
    }
    // `open` may have settled before `handle` was assigned.
    if (settled) handle?.dispose();
  });
}

/** TCP probe: a plain connect, closed at once (`health.TCPProbe`). */
function tcpAttempt(host: string, port: number, signal: AbortSignal): Promise<void> {
  return exchange<void>(signal, (resolve, reject) => {
    const socket = net.connect({ host, port });
    socket.once('connect', () => resolve());
    socket.on('error', reject);
    return { dispose: () => socket.destroy() };
  });
}

type HttpSpec = Extract<ProbeSpec, { kind: 'http' }>;

/** Thrown when an h2c attempt reached the server but the HTTP/2 exchange failed, so HTTP/1.1 is worth a try. */
class H2ProtocolError extends Error {}

function isReadyStatus(status: number): boolean {
  // The kubelet and Knative treat every 2xx and 3xx as ready; redirects are not followed.
  return status >= 200 && status < 400;
}

function notReady(status: number): Error {
  return new Error(`HTTP probe did not respond Ready, got status code: ${status}`);
}

/** HTTP probe: GET the path; with auto-detection try h2c first and fall back to HTTP/1.1. */
function httpAttempt(spec: HttpSpec, http2AutoDetect: boolean): Attempt {
  // Like the kubelet, the probe's own User-Agent replaces the default and its Host names the authority.
  let hostHeader: string | undefined;
  let userAgentSet = false;
  const h1: Record<string, string | string[]> = {};
  const h2: http2.OutgoingHttpHeaders = {};
  for (const [rawName, value] of spec.headers) {
    const name = rawName.toLowerCase();
    if (name === 'host') {
      hostHeader = value;
      continue;
    }
    if (name === 'user-agent') userAgentSet = true;
    appendHeader(h1, name, value);
    // HTTP/2 allows `te` only as `trailers`.
    if (!H2_FORBIDDEN_HEADERS.has(name) && (name !== 'te' || value === 'trailers')) {
      appendHeader(h2, name, value);
    }
  }
  if (!userAgentSet) {
    h1['user-agent'] = PROBE_USER_AGENT;
    h2['user-agent'] = PROBE_USER_AGENT;
  }
  if (hostHeader !== undefined) h1['host'] = hostHeader;
  // Keep-alive off, as Knative's prober transport: every attempt gets a fresh connection.
  h1['connection'] = 'close';

  const h1Options: https.RequestOptions = {
    host: spec.host,
    port: spec.port,
    path: spec.path,
    method: 'GET',
    headers: h1,
    agent: false,
    // The kubelet does not verify the user container's certificate; neither does Knative.
    rejectUnauthorized: false,
  };
  const request: Requester = spec.scheme === 'https' ? nodeHttps.request : nodeHttp.request;
  const viaH1: Attempt = async (signal) => {
    const status = await http1Get(request, h1Options, signal);
    if (!isReadyStatus(status)) throw notReady(status);
  };

  // h2c is cleartext only; over TLS the protocol would be negotiated by ALPN instead.
  if (!http2AutoDetect || spec.scheme !== 'http') return viaH1;

  const authority = hostPort(spec.host, spec.port);
  const h2Headers: http2.OutgoingHttpHeaders = {
    ...h2,
    ':method': 'GET',
    ':path': spec.path,
    ':scheme': 'http',
    ':authority': hostHeader ?? authority,
  };
  const url = `http://${authority}`;
  return async (signal) => {
    let status: number;
    try {
      ({ status } = await h2Exchange(url, h2Headers, undefined, 'drain', signal));
    } catch (err) {
      // Only a server that answered in something other than HTTP/2 earns an HTTP/1.1 retry; a refused
      // connection or a timeout would fail the same way again.
      if (err instanceof H2ProtocolError && !signal.aborted) return viaH1(signal);
      throw err;
    }
    if (!isReadyStatus(status)) throw notReady(status);
  };
}

function appendHeader(
  headers: Record<string, string | string[] | number | undefined>,
  name: string,
  value: string,
): void {
  const prev = headers[name];
  if (prev === undefined) headers[name] = value;
  else headers[name] = Array.isArray(prev) ? [...prev, value] : [String(prev), value];
}

/** Sends an HTTP/1.1 request; `http.request` or `https.request`. */
type Requester = (
  options: https.RequestOptions,
  onResponse: (res: http.IncomingMessage) => void,
) => http.ClientRequest;

/**
 * One HTTP/1.1 GET on a fresh connection; resolves with the status once the body is drained (up to a
 * cap) or, if the timeout comes first, with the status already received.
 */
function http1Get(request: Requester, options: https.RequestOptions, signal: AbortSignal): Promise<number> {
  return exchange<number>(signal, (resolve, reject) => {
    let status: number | undefined;
    const settle = (): void => {
      if (status !== undefined) resolve(status);
    };
    const req = request(options, (res) => {
      status = res.statusCode ?? 0;
      let drained = 0;
      res.on('data', (chunk: Buffer) => {
        drained += chunk.length;
        if (drained > MAX_DRAINED_BODY_BYTES) settle();
      });
      res.once('end', settle);
      res.on('error', settle);
    });
    req.on('error', reject);
    req.once('close', () => {
      if (status === undefined) reject(new Error('connection closed before a response'));
      else settle();
    });
    req.end();
    return { dispose: () => req.destroy(), salvage: () => status };
  });
}

interface H2Result {
  readonly status: number;
  readonly headers: http2.IncomingHttpHeaders;
  readonly trailers: http2.IncomingHttpHeaders | undefined;
  readonly body: Buffer;
}

/**
 * One request on a fresh prior-knowledge h2c session, closed afterwards. `body: 'drain'` discards the
 * response body (up to a cap), `'collect'` keeps it (up to a cap). Rejects with {@link H2ProtocolError}
 * when the connection was made but the HTTP/2 exchange failed.
 */
function h2Exchange(
  url: string,
  headers: http2.OutgoingHttpHeaders,
  payload: Uint8Array | undefined,
  body: 'drain' | 'collect',
  signal: AbortSignal,
): Promise<H2Result> {
  return exchange<H2Result>(signal, (resolve, reject) => {
    let connected = false;
    let responseHeaders: http2.IncomingHttpHeaders | undefined;
    let trailers: http2.IncomingHttpHeaders | undefined;
    const chunks: Buffer[] = [];
    let received = 0;
    const result = (): H2Result | undefined =>
      responseHeaders && {
        status: Number(responseHeaders[':status']),
        headers: responseHeaders,
        trailers,
        body: Buffer.concat(chunks),
      };
    const fail = (err: unknown): void => {
      const e = asError(err);
      reject(connected ? new H2ProtocolError(`h2c exchange failed: ${e.message}`, { cause: e }) : e);
    };
    const done = (): void => {
      const r = result();
      if (r) resolve(r);
      else fail(new Error(`stream closed before a response (code ${stream.rstCode})`));
    };

    const session = nodeHttp2.connect(url, { settings: { enablePush: false } });
    session.once('connect', () => {
      connected = true;
    });
    session.on('error', fail);
    session.once('close', () => fail(new Error('session closed before a response')));
    const stream = session.request(headers, { endStream: payload === undefined });
    stream.once('response', (h) => {
      responseHeaders = h;
    });
    stream.once('trailers', (t) => {
      trailers = t;
    });
    stream.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (body === 'collect') {
        if (received <= MAX_GRPC_RESPONSE_BYTES) chunks.push(chunk);
        else fail(new Error(`response larger than ${MAX_GRPC_RESPONSE_BYTES} bytes`));
      } else if (received > MAX_DRAINED_BODY_BYTES) {
        done();
      }
    });
    stream.once('end', done);
    stream.on('error', fail);
    stream.once('close', done);
    if (payload !== undefined) stream.end(payload);
    return {
      dispose: () => session.destroy(),
      // Only a drained HTTP response can be judged by its status alone.
      salvage: () => (body === 'drain' ? result() : undefined),
    };
  });
}

/** gRPC probe: `grpc.health.v1.Health/Check` over prior-knowledge h2c, which must say SERVING. */
function grpcAttempt(spec: Extract<ProbeSpec, { kind: 'grpc' }>): Attempt {
  const authority = hostPort(spec.host, spec.port);
  const url = `http://${authority}`;
  const frame = grpcFrame(encodeHealthCheckRequest(spec.service));
  return async (signal) => {
    const headers: http2.OutgoingHttpHeaders = {
      ':method': 'POST',
      ':path': GRPC_HEALTH_CHECK_PATH,
      ':scheme': 'http',
      ':authority': authority,
      'content-type': 'application/grpc',
      // Required by gRPC over HTTP/2 to detect proxies that would drop the trailers carrying the status.
      te: 'trailers',
      'user-agent': PROBE_USER_AGENT,
    };
    let r: H2Result;
    try {
      r = await h2Exchange(url, headers, frame, 'collect', signal);
    } catch (err) {
      throw new Error(`gRPC health check of ${authority} failed: ${asError(err).message}`, { cause: err });
    }
    if (r.status !== 200) throw new Error(`gRPC health check got HTTP status ${r.status}`);
    // A "trailers-only" response carries grpc-status in its headers.
    const meta = r.trailers?.['grpc-status'] !== undefined ? r.trailers : r.headers;
    const grpcStatus = meta['grpc-status'];
    if (grpcStatus !== '0') {
      const message = meta['grpc-message'];
      const code = grpcStatus ?? 'missing';
      const hint = grpcStatus === '12' ? ' (the server does not implement grpc.health.v1.Health)' : '';
      throw new Error(`gRPC health check failed: grpc-status ${code}${message ? ` ${message}` : ''}${hint}`);
    }
    const status = decodeHealthCheckResponse(r.body);
    if (status !== GRPC_SERVING) throw new Error(`gRPC service unhealthy: serving status ${status}`);
  };
}

/** Encodes `HealthCheckRequest { string service = 1; }` by hand: one length-delimited field, or nothing. */
function encodeHealthCheckRequest(service: string): Uint8Array {
  if (service === '') return new Uint8Array(0);
  const text = Buffer.from(service, 'utf8');
  // Tag: field 1, wire type 2 (length-delimited).
  return Buffer.concat([Buffer.from([0x0a]), encodeVarint(text.length), text]);
}

/** Wraps a message in a gRPC length-prefixed frame: uncompressed flag, then the length as uint32 BE. */
function grpcFrame(message: Uint8Array): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt8(0, 0);
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  return frame;
}

function encodeVarint(n: number): Buffer {
  const bytes: number[] = [];
  let v = n;
  while (v > 0x7f) {
    bytes.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  bytes.push(v);
  return Buffer.from(bytes);
}

/** Reads a varint at `offset`; returns the value and the offset after it. */
function readVarint(buf: Buffer, offset: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (let i = offset; i < buf.length && i < offset + 10; i++) {
    const byte = buf[i]!;
    value += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) return [value, i + 1];
    scale *= 128;
  }
  throw new Error('malformed gRPC health response: truncated varint');
}

/**
 * Decodes the first gRPC frame of a response as `HealthCheckResponse { ServingStatus status = 1; }` and
 * returns the status (0, UNKNOWN, when absent, as proto3 omits default values). Unknown fields are skipped.
 */
function decodeHealthCheckResponse(body: Buffer): number {
  if (body.length < 5) throw new Error('malformed gRPC health response: no message');
  if (body[0] !== 0) throw new Error('gRPC health response is compressed, which was not asked for');
  const length = body.readUInt32BE(1);
  if (body.length < 5 + length) throw new Error('malformed gRPC health response: truncated message');
  const msg = body.subarray(5, 5 + length);
  let status = 0;
  let at = 0;
  while (at < msg.length) {
    const [tag, afterTag] = readVarint(msg, at);
    const fieldNumber = Math.floor(tag / 8);
    const wireType = tag % 8;
    at = afterTag;
    if (wireType === 0) {
      const [value, next] = readVarint(msg, at);
      if (fieldNumber === 1) status = value;
      at = next;
    } else if (wireType === 1) {
      at += 8;
    } else if (wireType === 2) {
      const [len, next] = readVarint(msg, at);
      at = next + len;
    } else if (wireType === 5) {
      at += 4;
    } else {
      throw new Error(`malformed gRPC health response: wire type ${wireType}`);
    }
  }
  if (at > msg.length) throw new Error('malformed gRPC health response: truncated field');
  return status;
}
