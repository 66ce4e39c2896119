/**
 * What the activator takes from Knative's ConfigMaps in its own namespace, as Knative's activator does
 * (docs/activator.md §2.1): its log level from `config-logging`, its request log from
 * `config-observability`, and tracing from `config-tracing` (Knative ≤ 1.18) or `config-observability`'s
 * `tracing-*` keys (≥ 1.19). The tracing keys are read by the same parser as the variables Knative's
 * controller gives the queue-proxy, so both accept the same values.
 */
import {
  ConfigError,
  DEFAULT_REQUEST_LOG_TEMPLATE,
  EnvReader,
  type GoTemplate,
  parseRequestLogTemplate,
  pinoLevel,
  readTracingConfig,
  TRACING_OFF,
  type TracingConfig,
} from '@zerogate/core';

/** A ConfigMap's `data`, or undefined when the ConfigMap does not exist. */
export type ConfigMapData = Readonly<Record<string, string>> | undefined;

/** The names of the ConfigMaps read; Knative's activator takes the first two from its environment. */
export interface KnativeConfigMapNames {
  /** `CONFIG_LOGGING_NAME`, default `config-logging`. */
  readonly logging: string;
  /** `CONFIG_OBSERVABILITY_NAME`, default `config-observability`. */
  readonly observability: string;
  /** Knative ≤ 1.18's `config-tracing`, a fixed name. */
  readonly tracing: string;
}

/** A value read from ConfigMaps, or the problems that keep it from being used, each naming its key. */
export type Read<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly problems: string[] };

/** The component whose `loglevel.<component>` key of `config-logging` applies. */
const COMPONENT = 'activator';

/**
 * The log level `config-logging` asks for: `loglevel.activator`, else `zap-logger-config`'s `level`,
 * else `info` (also when the ConfigMap does not exist). Zap's names are taken (`warn`, `dpanic`, …).
 */
export function readLogLevel(name: string, data: ConfigMapData): Read<string> {
  const key = `loglevel.${COMPONENT}`;
  const own = data?.[key]?.trim();
  if (own) {
    const level = pinoLevel(own);
    return level
      ? { ok: true, value: level }
      : { ok: false, problems: [`${name} ${key}: unknown level ${JSON.stringify(own)}`] };
  }
  const zap = data?.['zap-logger-config']?.trim();
  if (!zap) return { ok: true, value: 'info' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(zap);
  } catch (err) {
    return {
      ok: false,
      problems: [`${name} zap-logger-config: is not valid JSON: ${(err as Error).message}`],
    };
  }
  const text = (parsed as { level?: unknown } | null)?.level;
  if (text === undefined || text === '') return { ok: true, value: 'info' };
  const level = typeof text === 'string' ? pinoLevel(text) : undefined;
  return level
    ? { ok: true, value: level }
    : { ok: false, problems: [`${name} zap-logger-config: unknown level ${JSON.stringify(text)}`] };
}

/** Knative ≤ 1.18's `config-tracing` keys, by the variable the queue-proxy gets each as. */
const TRACING_KEYS: Readonly<Record<string, string>> = {
  TRACING_CONFIG_BACKEND: 'backend',
  TRACING_CONFIG_ZIPKIN_ENDPOINT: 'zipkin-endpoint',
  TRACING_CONFIG_SAMPLE_RATE: 'sample-rate',
  TRACING_CONFIG_DEBUG: 'debug',
};

/**
 * The tracing the ConfigMaps ask for: `config-observability`'s `tracing-protocol` (`http/protobuf`,
 * `http/json`, `grpc` or `stdout`), `tracing-endpoint` and `tracing-sampling-rate` when its protocol is
 * set and not `none`,
 * else `config-tracing`'s `backend` (`zipkin`), `zipkin-endpoint`, `sample-rate` and `debug`, else off.
 */
export function readTracing(
  names: KnativeConfigMapNames,
  tracing: ConfigMapData,
  observability: ConfigMapData,
): Read<TracingConfig> {
  const env: Record<string, string> = {};
  for (const [variable, key] of Object.entries(TRACING_KEYS)) {
    const value = tracing?.[key];
    if (value !== undefined) env[variable] = value;
  }
  const obs = {
    protocol: observability?.['tracing-protocol'],
    endpoint: observability?.['tracing-endpoint'],
    samplingRate: observability?.['tracing-sampling-rate'],
  };
  if (obs.protocol !== undefined) env['OBSERVABILITY_CONFIG'] = JSON.stringify({ tracing: obs });
  if (Object.keys(env).length === 0) return { ok: true, value: TRACING_OFF };
  const reader = new EnvReader(env);
  const value = readTracingConfig(reader, { serviceName: COMPONENT, reportObservabilityJson: true });
  try {
    reader.finish();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return { ok: false, problems: err.problems.map((p) => renameProblem(names, p)) };
  }
  return { ok: true, value };
}

/** A problem the variables' parser reported, named by the ConfigMap key it came from. */
function renameProblem(names: KnativeConfigMapNames, problem: string): string {
  const colon = problem.indexOf(':');
  const variable = problem.slice(0, colon);
  const key = TRACING_KEYS[variable];
  if (key !== undefined)
    return `${names.tracing} ${key}${problem.slice(colon).replace('TRACING_CONFIG_BACKEND=zipkin', 'backend is zipkin')}`;
  // The observability object's fields are its ConfigMap's `tracing-*` keys.
  const message = problem
    .slice(colon)
    .replaceAll('tracing.protocol', 'tracing-protocol')
    .replaceAll('tracing.endpoint', 'tracing-endpoint')
    .replaceAll('tracing.samplingRate', 'tracing-sampling-rate')
    .replace(' (or OTEL_EXPORTER_OTLP_ENDPOINT)', '');
  return `${names.observability}${message}`;
}

/** The request log `config-observability` asks for: its parsed template, or undefined when off. */
export interface RequestLogSetting {
  /** The template's text ('' when off), to tell a change. */
  readonly source: string;
  readonly template: GoTemplate | undefined;
}

/**
 * `logging.enable-request-log` (a Go boolean, default false) with `logging.request-log-template`
 * (Knative's default template when the key is absent): on, a line per request. As Knative's validation,
 * on with a template set empty is a problem.
 */
export function readRequestLog(name: string, observability: ConfigMapData): Read<RequestLogSetting> {
  const reader = new EnvReader(observability ?? {});
  const enabled = reader.bool(ENABLE_REQUEST_LOG, false);
  const source = observability?.[REQUEST_LOG_TEMPLATE] ?? DEFAULT_REQUEST_LOG_TEMPLATE;
  if (enabled && source === '')
    reader.problem(REQUEST_LOG_TEMPLATE, `is empty while ${ENABLE_REQUEST_LOG} is true`);
  try {
    reader.finish();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return { ok: false, problems: err.problems.map((p) => `${name} ${p}`) };
  }
  if (!enabled) return { ok: true, value: { source: '', template: undefined } };
  try {
    return { ok: true, value: { source, template: parseRequestLogTemplate(source) } };
  } catch (err) {
    return { ok: false, problems: [`${name} ${REQUEST_LOG_TEMPLATE}: ${(err as Error).message}`] };
  }
}

const ENABLE_REQUEST_LOG = 'logging.enable-request-log';
const REQUEST_LOG_TEMPLATE = 'logging.request-log-template';
