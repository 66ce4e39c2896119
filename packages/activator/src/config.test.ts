import { ConfigError, type Env, TRACING_OFF } from '@zerogate/core';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';

const REQUIRED: Env = { POD_NAME: 'activator-7d9f-abcde', POD_IP: '10.1.0.7' };

/** The problems loadConfig reports for `env`, one line per variable. */
function problems(env: Env): readonly string[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected loadConfig to reject the environment');
}

describe('loadConfig', () => {
  it('applies Knative’s defaults and ours', () => {
    expect(loadConfig(REQUIRED)).toEqual({
      podName: 'activator-7d9f-abcde',
      podIp: '10.1.0.7',
      systemNamespace: 'knative-serving',
      clusterDomain: 'cluster.local',
      probeTimeoutMs: 300,
      probeFrequencyMs: 200,
      maxIdleProxyConns: 1000,
      maxIdleProxyConnsPerHost: 100,
      bindAddress: '',
      httpPort: 8012,
      h2cPort: 8013,
      metricsPort: 9090,
      autoscalerUrl: 'ws://autoscaler.knative-serving.svc.cluster.local:8080',
      endpointsSource: 'kubernetes',
      endpointsFile: '',
      endpointsNamespace: '',
      useEndpoints: false,
      maxHeldRequests: 1000,
      maxHeldTotal: 10_000,
      maxHeldBytes: 64 * 1024 * 1024,
      drainMs: 45_000,
      upgradeGraceMs: 60_000,
      readHeaderTimeoutMs: 60_000,
      http1Relay: true,
      metricNames: 'opentelemetry',
      waitingPageTemplate: '',
      logLevel: 'info',
      logLevelFromEnv: false,
      tracing: TRACING_OFF,
      tracingFromEnv: false,
      configMaps: {
        logging: 'config-logging',
        observability: 'config-observability',
        tracing: 'config-tracing',
      },
    });
  });

  it('tells whether the environment sets the log level and tracing, and names the ConfigMaps to follow otherwise', () => {
    const config = loadConfig({
      ...REQUIRED,
      ACTIVATOR_LOG_LEVEL: 'warn',
      OTEL_SERVICE_NAME: 'edge',
      CONFIG_LOGGING_NAME: 'my-logging',
      CONFIG_OBSERVABILITY_NAME: 'my-observability',
    });
    expect(config).toMatchObject({ logLevelFromEnv: true, tracingFromEnv: true });
    expect(config.configMaps).toEqual({
      logging: 'my-logging',
      observability: 'my-observability',
      tracing: 'config-tracing',
    });
    // Empty counts as unset, as everywhere else.
    expect(loadConfig({ ...REQUIRED, ACTIVATOR_LOG_LEVEL: '', TRACING_CONFIG_BACKEND: '' })).toMatchObject({
      logLevelFromEnv: false,
      tracingFromEnv: false,
    });
  });

  it('reads tracing in either Knative era, naming a bad variable', () => {
    expect(
      loadConfig({
        ...REQUIRED,
        TRACING_CONFIG_BACKEND: 'zipkin',
        TRACING_CONFIG_ZIPKIN_ENDPOINT: 'http://zipkin.observability:9411/api/v2/spans',
        TRACING_CONFIG_SAMPLE_RATE: '0.5',
      }).tracing,
    ).toEqual({
      exporter: 'zipkin',
      endpoint: 'http://zipkin.observability:9411/api/v2/spans',
      protocol: 'http/protobuf',
      sampler: { parentBased: true, ratio: 0.5 },
      serviceName: 'activator',
    });
    expect(
      loadConfig({
        ...REQUIRED,
        OBSERVABILITY_CONFIG: '{"tracing":{"protocol":"http/json","endpoint":"http://otel:4318/v1/traces"}}',
      }).tracing,
    ).toMatchObject({ exporter: 'otlp', protocol: 'http/json', sampler: { ratio: 0 } });
    expect(problems({ ...REQUIRED, TRACING_CONFIG_BACKEND: 'zipkin' })).toEqual([
      'TRACING_CONFIG_ZIPKIN_ENDPOINT: is required when TRACING_CONFIG_BACKEND=zipkin',
    ]);
    expect(problems({ ...REQUIRED, OBSERVABILITY_CONFIG: '{' })[0]).toMatch(
      /^OBSERVABILITY_CONFIG: is not valid JSON/,
    );
  });

  it('takes Knative ≤ 1.18’s metric names when METRICS_DOMAIN is set, unless ACTIVATOR_METRIC_NAMES says otherwise', () => {
    expect(loadConfig({ ...REQUIRED, METRICS_DOMAIN: 'knative.dev/internal/serving' }).metricNames).toBe(
      'opencensus',
    );
    expect(
      loadConfig({
        ...REQUIRED,
        METRICS_DOMAIN: 'knative.dev/internal/serving',
        ACTIVATOR_METRIC_NAMES: 'opentelemetry',
      }).metricNames,
    ).toBe('opentelemetry');
    expect(loadConfig({ ...REQUIRED, ACTIVATOR_METRIC_NAMES: 'opencensus' }).metricNames).toBe('opencensus');
    expect(() => loadConfig({ ...REQUIRED, ACTIVATOR_METRIC_NAMES: 'prometheus' })).toThrow(
      /ACTIVATOR_METRIC_NAMES/,
    );
  });

  it('returns a frozen object', () => {
    expect(Object.isFrozen(loadConfig(REQUIRED))).toBe(true);
  });

  it('builds the autoscaler URL from SYSTEM_NAMESPACE and CLUSTER_DOMAIN', () => {
    const config = loadConfig({ ...REQUIRED, SYSTEM_NAMESPACE: 'serving', CLUSTER_DOMAIN: 'corp.internal' });
    expect(config.systemNamespace).toBe('serving');
    expect(config.clusterDomain).toBe('corp.internal');
    expect(config.autoscalerUrl).toBe('ws://autoscaler.serving.svc.corp.internal:8080');
  });

  it('takes AUTOSCALER_URL as given, ws or wss', () => {
    expect(loadConfig({ ...REQUIRED, AUTOSCALER_URL: 'ws://127.0.0.1:18080' }).autoscalerUrl).toBe(
      'ws://127.0.0.1:18080',
    );
    expect(loadConfig({ ...REQUIRED, AUTOSCALER_URL: 'wss://autoscaler.example/' }).autoscalerUrl).toBe(
      'wss://autoscaler.example/',
    );
  });

  it('treats empty optional variables as unset', () => {
    const config = loadConfig({
      ...REQUIRED,
      SYSTEM_NAMESPACE: '',
      PROBE_TIMEOUT: '',
      ACTIVATOR_HTTP_PORT: '',
    });
    expect(config.systemNamespace).toBe('knative-serving');
    expect(config.probeTimeoutMs).toBe(300);
    expect(config.httpPort).toBe(8012);
  });

  it.each([
    ['500ms', 500],
    ['1.5s', 1500],
    ['1m30s', 90_000],
    ['250000us', 250],
    ['2', 2000],
  ])('reads PROBE_TIMEOUT and PROBE_FREQUENCY as Go durations: %s', (text, ms) => {
    const config = loadConfig({ ...REQUIRED, PROBE_TIMEOUT: text, PROBE_FREQUENCY: text });
    expect(config.probeTimeoutMs).toBe(ms);
    expect(config.probeFrequencyMs).toBe(ms);
  });

  it('reads the rest of its variables', () => {
    const config = loadConfig({
      ...REQUIRED,
      MAX_IDLE_PROXY_CONNS: '50',
      MAX_IDLE_PROXY_CONNS_PER_HOST: '5',
      ACTIVATOR_BIND_ADDRESS: '127.0.0.1',
      ACTIVATOR_HTTP_PORT: '0',
      ACTIVATOR_METRICS_PORT: '0',
      ACTIVATOR_ENDPOINTS_SOURCE: 'file',
      ACTIVATOR_ENDPOINTS_FILE: '/etc/zerogate/endpoints.json',
      ACTIVATOR_ENDPOINTS_NAMESPACE: 'apps',
      ACTIVATOR_MAX_HELD_REQUESTS: '10',
      ACTIVATOR_MAX_HELD_TOTAL: '50',
      ACTIVATOR_MAX_HELD_BYTES: '0',
      ACTIVATOR_DRAIN_SECONDS: '0',
      ACTIVATOR_READ_HEADER_TIMEOUT_SECONDS: '5',
      ACTIVATOR_LOG_LEVEL: 'WARNING',
      ACTIVATOR_WAITING_PAGE_TEMPLATE: '/etc/zerogate/waiting-page/page.html',
    });
    expect(config).toMatchObject({
      waitingPageTemplate: '/etc/zerogate/waiting-page/page.html',
      maxIdleProxyConns: 50,
      maxIdleProxyConnsPerHost: 5,
      bindAddress: '127.0.0.1',
      httpPort: 0,
      metricsPort: 0,
      endpointsSource: 'file',
      endpointsFile: '/etc/zerogate/endpoints.json',
      endpointsNamespace: 'apps',
      maxHeldRequests: 10,
      maxHeldTotal: 50,
      maxHeldBytes: 0,
      drainMs: 0,
      readHeaderTimeoutMs: 5000,
      logLevel: 'warn',
    });
  });

  it('names POD_NAME and POD_IP when missing', () => {
    expect(problems({})).toEqual(['POD_NAME: is required but not set', 'POD_IP: is required but not set']);
    expect(problems({ POD_NAME: 'a' })).toEqual(['POD_IP: is required but not set']);
  });

  it('rejects an unknown endpoints source', () => {
    expect(problems({ ...REQUIRED, ACTIVATOR_ENDPOINTS_SOURCE: 'consul' })).toEqual([
      'ACTIVATOR_ENDPOINTS_SOURCE: must be kubernetes or file, got "consul"',
    ]);
  });

  it('requires a file for the file source', () => {
    expect(problems({ ...REQUIRED, ACTIVATOR_ENDPOINTS_SOURCE: 'file' })).toEqual([
      'ACTIVATOR_ENDPOINTS_FILE: is required when ACTIVATOR_ENDPOINTS_SOURCE=file',
    ]);
  });

  it.each([
    ['http://autoscaler:8080'],
    ['autoscaler:8080'],
    ['ws://'],
    ['ws:///path'],
  ])('rejects the autoscaler URL %j', (url) => {
    expect(problems({ ...REQUIRED, AUTOSCALER_URL: url })).toEqual([
      `AUTOSCALER_URL: must be a ws:// or wss:// URL, got ${JSON.stringify(url)}`,
    ]);
  });

  it('rejects the same port for HTTP and metrics, but not two system-chosen ports', () => {
    expect(problems({ ...REQUIRED, ACTIVATOR_HTTP_PORT: '9090' })).toEqual([
      'ACTIVATOR_METRICS_PORT: port 9090 is already used by ACTIVATOR_HTTP_PORT',
    ]);
    expect(problems({ ...REQUIRED, ACTIVATOR_METRICS_PORT: '8012' })).toEqual([
      'ACTIVATOR_METRICS_PORT: port 8012 is already used by ACTIVATOR_HTTP_PORT',
    ]);
    expect(() =>
      loadConfig({ ...REQUIRED, ACTIVATOR_HTTP_PORT: '0', ACTIVATOR_METRICS_PORT: '0' }),
    ).not.toThrow();
  });

  it('rejects a header timeout that is not a whole number of seconds from 1 to 3600', () => {
    for (const value of ['0', '1.5', '3601', 'soon']) {
      expect(problems({ ...REQUIRED, ACTIVATOR_READ_HEADER_TIMEOUT_SECONDS: value })).toHaveLength(1);
      expect(problems({ ...REQUIRED, ACTIVATOR_READ_HEADER_TIMEOUT_SECONDS: value })[0]).toMatch(
        /^ACTIVATOR_READ_HEADER_TIMEOUT_SECONDS: /,
      );
    }
  });

  it('rejects a process-wide hold cap that is not a whole number of at least 1', () => {
    for (const value of ['0', '-3', '2.5', 'many']) {
      const found = problems({ ...REQUIRED, ACTIVATOR_MAX_HELD_TOTAL: value });
      expect(found).toHaveLength(1);
      expect(found[0]).toMatch(/^ACTIVATOR_MAX_HELD_TOTAL: /);
    }
  });

  it('rejects an unknown log level', () => {
    expect(problems({ ...REQUIRED, ACTIVATOR_LOG_LEVEL: 'loud' })).toEqual([
      'ACTIVATOR_LOG_LEVEL: unknown level "loud"',
    ]);
  });

  it('rejects probe durations that are malformed or not positive', () => {
    expect(problems({ ...REQUIRED, PROBE_TIMEOUT: 'soon', PROBE_FREQUENCY: '0s' })).toEqual([
      'PROBE_TIMEOUT: must be a duration such as 300ms or 2s, got "soon"',
      'PROBE_FREQUENCY: must be greater than 0',
    ]);
    expect(problems({ ...REQUIRED, PROBE_TIMEOUT: '0', PROBE_FREQUENCY: '-1s' })).toEqual([
      'PROBE_FREQUENCY: must be a duration such as 300ms or 2s, got "-1s"',
      'PROBE_TIMEOUT: must be greater than 0',
    ]);
  });

  it('rejects bad numbers and ports, naming each', () => {
    expect(
      problems({
        ...REQUIRED,
        MAX_IDLE_PROXY_CONNS: 'many',
        ACTIVATOR_HTTP_PORT: '70000',
        ACTIVATOR_MAX_HELD_REQUESTS: '0',
        ACTIVATOR_DRAIN_SECONDS: '7200',
      }),
    ).toEqual([
      'MAX_IDLE_PROXY_CONNS: must be an integer, got "many"',
      'ACTIVATOR_HTTP_PORT: must be at most 65535, got 70000',
      'ACTIVATOR_MAX_HELD_REQUESTS: must be at least 1, got 0',
      'ACTIVATOR_DRAIN_SECONDS: must be at most 3600, got 7200',
    ]);
  });

  it('collects every problem into one error', () => {
    let error: unknown;
    try {
      loadConfig({
        ACTIVATOR_ENDPOINTS_SOURCE: 'consul',
        AUTOSCALER_URL: 'http://x',
        ACTIVATOR_HTTP_PORT: '9090',
        ACTIVATOR_LOG_LEVEL: 'loud',
        PROBE_TIMEOUT: 'soon',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const { problems: lines, message } = error as ConfigError;
    expect(lines.map((line) => line.slice(0, line.indexOf(':')))).toEqual([
      'POD_NAME',
      'POD_IP',
      'PROBE_TIMEOUT',
      'ACTIVATOR_METRICS_PORT',
      'AUTOSCALER_URL',
      'ACTIVATOR_ENDPOINTS_SOURCE',
      'ACTIVATOR_LOG_LEVEL',
    ]);
    for (const line of lines) expect(message).toContain(line);
  });
});

describe('loadConfig h2c port', () => {
  it('rejects an h2c port that clashes with the HTTP port', () => {
    expect(() =>
      loadConfig({
        POD_NAME: 'a',
        POD_IP: '10.0.0.1',
        ACTIVATOR_HTTP_PORT: '8100',
        ACTIVATOR_H2C_PORT: '8100',
      }),
    ).toThrow(/ACTIVATOR_H2C_PORT: port 8100 is already used by ACTIVATOR_HTTP_PORT/);
  });
});
