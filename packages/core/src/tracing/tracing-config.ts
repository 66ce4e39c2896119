import type { EnvReader } from '../config.js';
import type { SamplerSettings } from './sampler.js';

/** Where spans go: nowhere, Zipkin's v2 JSON API, an OTLP receiver, or stdout (for debugging). */
export type TracingExporter = 'none' | 'zipkin' | 'otlp' | 'stdout';

/** OTLP over HTTP in JSON or protobuf (OTLP's default), or over gRPC. */
export type OtlpProtocol = 'http/json' | 'http/protobuf' | 'grpc';

/** A component's tracing, read once at start ({@link readTracingConfig}). */
export interface TracingConfig {
  readonly exporter: TracingExporter;
  /** The full URL spans are POSTed to ('' with `none`); over gRPC only its origin counts. */
  readonly endpoint: string;
  /** OTLP only. */
  readonly protocol: OtlpProtocol;
  readonly sampler: SamplerSettings;
  /** `service.name` (OTLP) or `localEndpoint.serviceName` (Zipkin). */
  readonly serviceName: string;
}

/** Tracing off: what every component runs with unless configured (Knative's default too). */
export const TRACING_OFF: TracingConfig = Object.freeze({
  exporter: 'none',
  endpoint: '',
  protocol: 'http/protobuf',
  sampler: Object.freeze({ parentBased: true, ratio: 0 }),
  serviceName: '',
});

/**
 * Every variable {@link readTracingConfig} reads. All are read whatever their values, so what a
 * component reads of its environment does not depend on what it finds there.
 */
export const TRACING_VARIABLES: readonly string[] = [
  'OBSERVABILITY_CONFIG',
  'TRACING_CONFIG_BACKEND',
  'TRACING_CONFIG_ZIPKIN_ENDPOINT',
  'TRACING_CONFIG_SAMPLE_RATE',
  'TRACING_CONFIG_DEBUG',
  'OTEL_TRACES_EXPORTER',
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  'OTEL_EXPORTER_OTLP_PROTOCOL',
  'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL',
  'OTEL_EXPORTER_ZIPKIN_ENDPOINT',
  'OTEL_TRACES_SAMPLER',
  'OTEL_TRACES_SAMPLER_ARG',
  'OTEL_SERVICE_NAME',
];

/** Knative ≤ 1.18's `config-tracing` default `sample-rate`. */
const KNATIVE_SAMPLE_RATE = 0.1;

/** Options of {@link readTracingConfig}. */
export interface TracingConfigOptions {
  /** The service name when `OTEL_SERVICE_NAME` is unset. */
  readonly serviceName: string;
  /**
   * Whether this reader reports `OBSERVABILITY_CONFIG` that is not JSON (false where another reader of
   * the same variable reports it already, as the queue-proxy's contract does).
   */
  readonly reportObservabilityJson: boolean;
}

function httpUrl(r: EnvReader, name: string, value: string, field = ''): string {
  try {
    const url = new URL(value);
    if (url.protocol === 'http:' || url.protocol === 'https:') return value;
  } catch {
    // Reported below.
  }
  r.problem(
    name,
    `${field ? `${field} ` : ''}must be an http:// or https:// URL, got ${JSON.stringify(value)}`,
  );
  return '';
}

/** A sampling ratio; `field` names it inside a JSON variable. */
function ratio(r: EnvReader, name: string, value: unknown, fallback: number, field = ''): number {
  if (value === undefined || value === '') return fallback;
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : Number.NaN;
  if (!(n >= 0 && n <= 1)) {
    r.problem(name, `${field ? `${field} ` : ''}must be a number from 0 to 1, got ${JSON.stringify(value)}`);
    return fallback;
  }
  return n;
}

/** An OTLP protocol; `field` names it inside a JSON variable, whose other accepted values are `others`. */
function otlpProtocol(r: EnvReader, name: string, value: string, field = '', others = ''): OtlpProtocol {
  if (value === 'http/protobuf' || value === 'http/json' || value === 'grpc') return value;
  const accepted = others ? `http/protobuf, http/json, grpc, ${others}` : 'http/protobuf, http/json or grpc';
  r.problem(name, `${field ? `${field} ` : ''}must be ${accepted}, got ${JSON.stringify(value)}`);
  return 'http/protobuf';
}

/**
 * OpenTelemetry's OTLP traces endpoint from the environment: `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` as it
 * is, else `OTEL_EXPORTER_OTLP_ENDPOINT` with `/v1/traces` appended (the OTLP exporter spec's rule).
 */
function otelEndpoint(r: EnvReader): string | undefined {
  const traces = r.raw('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT');
  if (traces !== undefined) return httpUrl(r, 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', traces);
  const base = r.raw('OTEL_EXPORTER_OTLP_ENDPOINT');
  if (base === undefined) return undefined;
  const url = httpUrl(r, 'OTEL_EXPORTER_OTLP_ENDPOINT', base);
  return url === '' ? '' : `${url.replace(/\/+$/, '')}/v1/traces`;
}

/** `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG`, or undefined when unset. */
function otelSampler(r: EnvReader): SamplerSettings | undefined {
  const name = r.raw('OTEL_TRACES_SAMPLER');
  if (name === undefined) return undefined;
  const arg = () => ratio(r, 'OTEL_TRACES_SAMPLER_ARG', r.raw('OTEL_TRACES_SAMPLER_ARG'), 1);
  switch (name) {
    case 'always_on':
      return { parentBased: false, ratio: 1 };
    case 'always_off':
      return { parentBased: false, ratio: 0 };
    case 'traceidratio':
      return { parentBased: false, ratio: arg() };
    case 'parentbased_always_on':
      return { parentBased: true, ratio: 1 };
    case 'parentbased_always_off':
      return { parentBased: true, ratio: 0 };
    case 'parentbased_traceidratio':
      return { parentBased: true, ratio: arg() };
    default:
      r.problem(
        'OTEL_TRACES_SAMPLER',
        `must be always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio, got ${JSON.stringify(name)}`,
      );
      return undefined;
  }
}

/** `OBSERVABILITY_CONFIG`'s `tracing` object (Knative ≥ 1.19), or undefined. */
function observabilityTracing(r: EnvReader, report: boolean): Record<string, unknown> | undefined {
  const text = r.raw('OBSERVABILITY_CONFIG');
  if (text === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    if (report) r.problem('OBSERVABILITY_CONFIG', `is not valid JSON: ${(err as Error).message}`);
    return undefined;
  }
  const tracing = (parsed as { tracing?: unknown } | null)?.tracing;
  if (tracing === undefined || tracing === null) return undefined;
  if (typeof tracing !== 'object' || Array.isArray(tracing)) {
    r.problem('OBSERVABILITY_CONFIG', 'tracing must be a JSON object');
    return undefined;
  }
  return tracing as Record<string, unknown>;
}

/**
 * Reads a component's tracing from the environment, in the first of these forms that turns it on:
 *
 * 1. Knative ≥ 1.19's `OBSERVABILITY_CONFIG` `tracing` (`protocol` `http/protobuf`, `http/json` or `grpc`,
 *    `endpoint`, `samplingRate`; `stdout` writes spans to stdout; `none` is off). Without an `endpoint`, OpenTelemetry's variables give it.
 * 2. Knative ≤ 1.18's `TRACING_CONFIG_BACKEND` (`none` or `zipkin`), `TRACING_CONFIG_ZIPKIN_ENDPOINT`,
 *    `TRACING_CONFIG_SAMPLE_RATE` (default 0.1) and `TRACING_CONFIG_DEBUG` (sample everything).
 * 3. OpenTelemetry's own: `OTEL_TRACES_EXPORTER` (`otlp`, `zipkin`, `console` or `none`; `otlp` when unset and an
 *    endpoint is), `OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT`, `OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL`,
 *    `OTEL_EXPORTER_ZIPKIN_ENDPOINT`.
 *
 * `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG` override the sampler of every form, and
 * `OTEL_SERVICE_NAME` the service name. Problems go to `r`, each naming its variable.
 */
export function readTracingConfig(r: EnvReader, options: TracingConfigOptions): TracingConfig {
  for (const name of TRACING_VARIABLES) r.isSet(name);
  const serviceName = r.string('OTEL_SERVICE_NAME', options.serviceName);
  const samplerOverride = otelSampler(r);
  const protocolVar = r.raw('OTEL_EXPORTER_OTLP_TRACES_PROTOCOL')
    ? 'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'
    : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  const envProtocol = r.raw(protocolVar);
  const protocolFromEnv =
    envProtocol === undefined ? 'http/protobuf' : otlpProtocol(r, protocolVar, envProtocol);
  const done = (
    exporter: TracingExporter,
    endpoint: string,
    protocol: OtlpProtocol,
    sampler: SamplerSettings,
  ) => Object.freeze({ exporter, endpoint, protocol, sampler: samplerOverride ?? sampler, serviceName });

  // 1. Knative ≥ 1.19
  const obs = observabilityTracing(r, options.reportObservabilityJson);
  const obsProtocol = obs?.['protocol'];
  if (obs !== undefined && obsProtocol === 'stdout') {
    const rate = ratio(r, 'OBSERVABILITY_CONFIG', obs['samplingRate'], 0, 'tracing.samplingRate');
    return done('stdout', '', 'http/json', { parentBased: true, ratio: rate });
  }
  if (obs !== undefined && obsProtocol !== undefined && obsProtocol !== '' && obsProtocol !== 'none') {
    const protocol =
      typeof obsProtocol === 'string'
        ? otlpProtocol(r, 'OBSERVABILITY_CONFIG', obsProtocol, 'tracing.protocol', 'stdout or none')
        : 'http/protobuf';
    if (typeof obsProtocol !== 'string')
      r.problem('OBSERVABILITY_CONFIG', 'tracing.protocol must be a string');
    const rawEndpoint = obs['endpoint'];
    let endpoint: string | undefined;
    if (typeof rawEndpoint === 'string' && rawEndpoint !== '')
      endpoint = httpUrl(r, 'OBSERVABILITY_CONFIG', rawEndpoint, 'tracing.endpoint');
    else endpoint = otelEndpoint(r);
    if (endpoint === undefined)
      r.problem(
        'OBSERVABILITY_CONFIG',
        'tracing.endpoint is required (or OTEL_EXPORTER_OTLP_ENDPOINT) when tracing.protocol is set',
      );
    const rate = ratio(r, 'OBSERVABILITY_CONFIG', obs['samplingRate'], 0, 'tracing.samplingRate');
    return done('otlp', endpoint ?? '', protocol, { parentBased: true, ratio: rate });
  }

  // 2. Knative ≤ 1.18
  const backend = r.raw('TRACING_CONFIG_BACKEND');
  if (backend !== undefined && backend !== 'none') {
    if (backend !== 'zipkin') {
      r.problem('TRACING_CONFIG_BACKEND', `must be none or zipkin, got ${JSON.stringify(backend)}`);
      return TRACING_OFF;
    }
    const raw = r.raw('TRACING_CONFIG_ZIPKIN_ENDPOINT');
    if (raw === undefined)
      r.problem('TRACING_CONFIG_ZIPKIN_ENDPOINT', 'is required when TRACING_CONFIG_BACKEND=zipkin');
    const endpoint = raw === undefined ? '' : httpUrl(r, 'TRACING_CONFIG_ZIPKIN_ENDPOINT', raw);
    const debug = r.bool('TRACING_CONFIG_DEBUG', false);
    const rate = ratio(
      r,
      'TRACING_CONFIG_SAMPLE_RATE',
      r.raw('TRACING_CONFIG_SAMPLE_RATE'),
      KNATIVE_SAMPLE_RATE,
    );
    return done('zipkin', endpoint, 'http/protobuf', { parentBased: true, ratio: debug ? 1 : rate });
  }
  if (backend === undefined && r.isSet('TRACING_CONFIG_SAMPLE_RATE')) {
    // Checked even with tracing off, so a typo is not found only when tracing is turned on.
    ratio(r, 'TRACING_CONFIG_SAMPLE_RATE', r.raw('TRACING_CONFIG_SAMPLE_RATE'), KNATIVE_SAMPLE_RATE);
  }

  // 3. OpenTelemetry's variables
  const exporter = r.raw('OTEL_TRACES_EXPORTER');
  const otlpEndpoint = otelEndpoint(r);
  const parentBasedAll = { parentBased: true, ratio: 1 };
  if (exporter === 'zipkin') {
    const raw = r.raw('OTEL_EXPORTER_ZIPKIN_ENDPOINT') ?? 'http://localhost:9411/api/v2/spans';
    return done('zipkin', httpUrl(r, 'OTEL_EXPORTER_ZIPKIN_ENDPOINT', raw), 'http/protobuf', parentBasedAll);
  }
  if (exporter === 'console') return done('stdout', '', 'http/json', parentBasedAll);
  if (exporter === 'otlp' || (exporter === undefined && otlpEndpoint !== undefined)) {
    if (otlpEndpoint === undefined)
      r.problem(
        'OTEL_EXPORTER_OTLP_ENDPOINT',
        'is required (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) when OTEL_TRACES_EXPORTER=otlp',
      );
    return done('otlp', otlpEndpoint ?? '', protocolFromEnv, parentBasedAll);
  }
  if (exporter !== undefined && exporter !== 'none')
    r.problem(
      'OTEL_TRACES_EXPORTER',
      `must be otlp, zipkin, console or none, got ${JSON.stringify(exporter)}`,
    );
  return TRACING_OFF;
}
