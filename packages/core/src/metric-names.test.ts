import { describe, expect, it } from 'vitest';
import { ConfigError, EnvReader } from './config.js';
import {
  activatorMetricNames,
  OPENCENSUS_QUEUE_PROXY_VARIABLES,
  queueProxyMetricNames,
} from './metric-names.js';

const names = (read: (r: EnvReader) => string, env: Record<string, string>): string => {
  const r = new EnvReader(env);
  const result = read(r);
  r.finish();
  return result;
};

describe('queueProxyMetricNames', () => {
  it('takes OpenTelemetry’s names with OBSERVABILITY_CONFIG (Knative ≥ 1.19) and when nothing tells', () => {
    expect(names(queueProxyMetricNames, {})).toBe('opentelemetry');
    expect(names(queueProxyMetricNames, { OBSERVABILITY_CONFIG: '{}' })).toBe('opentelemetry');
    // ≥ 1.19 wins when both are there: it ignores the separate variables.
    expect(names(queueProxyMetricNames, { OBSERVABILITY_CONFIG: '{}', METRICS_DOMAIN: 'x' })).toBe(
      'opentelemetry',
    );
  });

  it('takes OpenCensus’s names when any variable only Knative ≤ 1.18 sets is there, even empty', () => {
    for (const variable of OPENCENSUS_QUEUE_PROXY_VARIABLES) {
      expect(names(queueProxyMetricNames, { [variable]: '' }), variable).toBe('opencensus');
    }
  });

  it('follows QUEUE_METRIC_NAMES over the rule, and refuses a value it does not know', () => {
    expect(
      names(queueProxyMetricNames, { QUEUE_METRIC_NAMES: 'opencensus', OBSERVABILITY_CONFIG: '{}' }),
    ).toBe('opencensus');
    expect(() => names(queueProxyMetricNames, { QUEUE_METRIC_NAMES: 'otel' })).toThrow(ConfigError);
  });
});

describe('activatorMetricNames', () => {
  it('takes OpenCensus’s names with METRICS_DOMAIN, else OpenTelemetry’s; ACTIVATOR_METRIC_NAMES overrides', () => {
    expect(names(activatorMetricNames, {})).toBe('opentelemetry');
    expect(names(activatorMetricNames, { METRICS_DOMAIN: 'knative.dev/internal/serving' })).toBe(
      'opencensus',
    );
    expect(
      names(activatorMetricNames, { METRICS_DOMAIN: 'x', ACTIVATOR_METRIC_NAMES: 'opentelemetry' }),
    ).toBe('opentelemetry');
  });
});
