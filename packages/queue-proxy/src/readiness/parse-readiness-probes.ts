/**
 * Parsing of `SERVING_READINESS_PROBE`, the serialized corev1.Probe (or list of them) Knative's revision
 * reconciler hands the queue-proxy. Mirrors `pkg/queue/readiness/probe_encoding.go` (`DecodeProbes`) and
 * fills in the defaults the reconciler and Go's zero values imply.
 */

import { ProbeConfigError } from './probe-config-error.js';
import type { ProbeSpec } from './probe-spec.js';

/** The app's address unless `QUEUE_USER_HOST` says otherwise: the user container shares the pod's loopback. */
const DEFAULT_USER_HOST = '127.0.0.1';
/** An RFC 9110 token, which a header name must be. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Parses `SERVING_READINESS_PROBE` (already `JSON.parse`d): one corev1.Probe object, or with `multi`
 * (`ENABLE_MULTI_CONTAINER_PROBES`) an array of them, as `readiness.DecodeProbes` reads it.
 * `undefined`, `null` and an empty array give no probes. A missing (or zero) port means `userPort` and a
 * missing host (and every gRPC probe, which names none) means `userHost`, where the app listens: 127.0.0.1
 * in a Pod, the values Knative's revision reconciler fills in; missing `periodSeconds` means aggressive
 * probing, as Go's zero value does.
 *
 * @throws {ProbeConfigError} listing every problem, each naming the field (`httpGet.port must be a number`).
 */
export function parseReadinessProbes(
  value: unknown,
  multi: boolean,
  userPort: number,
  userHost = DEFAULT_USER_HOST,
): ProbeSpec[] {
  if (value === undefined || value === null) return [];
  const problems: string[] = [];
  const specs: ProbeSpec[] = [];
  if (multi) {
    if (!Array.isArray(value)) {
      throw new ProbeConfigError('expected an array of probes (ENABLE_MULTI_CONTAINER_PROBES is on)');
    }
    value.forEach((item, i) => {
      const spec = parseProbe(item, `probes[${i}].`, { userPort, userHost }, problems);
      if (spec) specs.push(spec);
    });
  } else {
    if (Array.isArray(value)) {
      throw new ProbeConfigError(
        'expected one probe object, got an array (ENABLE_MULTI_CONTAINER_PROBES is off)',
      );
    }
    const spec = parseProbe(value, '', { userPort, userHost }, problems);
    if (spec) specs.push(spec);
  }
  if (problems.length > 0) throw new ProbeConfigError(problems);
  return specs;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Where a probe goes when it does not say: the app's port and address. */
interface ProbeTarget {
  readonly userPort: number;
  readonly userHost: string;
}

function parseProbe(
  raw: unknown,
  at: string,
  { userPort, userHost }: ProbeTarget,
  problems: string[],
): ProbeSpec | undefined {
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
    spec = {
      kind: 'tcp',
      host: parseHost(action['host'], `${field}.host`, userHost, problems),
      port,
      ...timing,
    };
  } else if (kind === 'grpc') {
    // corev1.GRPCAction has no host: the kubelet and Knative always dial the pod's own address, where
    // the app listens.
    const service = action['service'] ?? '';
    if (typeof service !== 'string') problems.push(`${field}.service must be a string`);
    spec = { kind: 'grpc', host: userHost, port, service: String(service), ...timing };
  } else {
    spec = {
      kind: 'http',
      scheme: parseScheme(action['scheme'], `${field}.scheme`, problems),
      host: parseHost(action['host'], `${field}.host`, userHost, problems),
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

function parseHost(v: unknown, field: string, userHost: string, problems: string[]): string {
  if (v === undefined || v === null || v === '') return userHost;
  if (typeof v !== 'string' || /[\s/@]/.test(v)) {
    problems.push(`${field} must be a host name or IP address, got ${JSON.stringify(v)}`);
    return userHost;
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
