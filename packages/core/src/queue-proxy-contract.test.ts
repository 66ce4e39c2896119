import { describe, expect, it } from 'vitest';
import { configErrorVariables } from '../../../test/support/config-errors.js';
import { type Env, EnvReader } from './config.js';
import { type QueueProxyContractFallback, readQueueProxyContract } from './queue-proxy-contract.js';

function read(env: Env, fallback: QueueProxyContractFallback) {
  const r = new EnvReader(env);
  const contract = readQueueProxyContract(r, fallback);
  r.finish();
  return contract;
}

const badVariables = (env: Env, fallback: QueueProxyContractFallback) =>
  configErrorVariables(() => read(env, fallback));

describe('readQueueProxyContract', () => {
  it("requires the variables Knative always sets on the sidecar, as Knative's queue-proxy does", () => {
    expect(badVariables({}, 'required')).toEqual([
      'CONTAINER_CONCURRENCY',
      'REVISION_TIMEOUT_SECONDS',
      'SERVING_NAMESPACE',
      'SERVING_CONFIGURATION',
      'SERVING_REVISION',
      'SERVING_POD',
      'SERVING_LOGGING_LEVEL',
    ]);
  });

  it('falls back for an app that carries the contract itself: no breaker, the default timeout, K_* identity', () => {
    expect(read({ K_SERVICE: 's', K_CONFIGURATION: 'c', K_REVISION: 'r' }, { pod: 'host-1' })).toEqual({
      containerConcurrency: 0,
      revisionTimeoutMs: 300_000,
      responseStartTimeoutMs: 0,
      idleTimeoutMs: 0,
      bindAddress: '',
      adminPort: 8022,
      statsPort: 9090,
      metricsPort: 9091,
      drainQuietMs: 30_000,
      sigtermWaitMs: 10_000,
      namespace: '',
      service: 's',
      configuration: 'c',
      revision: 'r',
      pod: 'host-1',
      requestMetrics: false,
      requestLog: false,
      probeRequestLog: false,
      requestLogTemplate: undefined,
      metricNames: 'opentelemetry',
      logLevel: 'info',
      serverTiming: true,
    });
  });

  it('parses the request log template of either era once, and names the variable of one that does not parse', () => {
    const full = {
      SERVING_NAMESPACE: 'n',
      SERVING_CONFIGURATION: 'c',
      SERVING_REVISION: 'r',
      SERVING_POD: 'p',
    };
    const legacy = read({ ...full, SERVING_REQUEST_LOG_TEMPLATE: '{{.Request.Method}}' }, { pod: 'x' });
    expect(legacy.requestLogTemplate?.execute({ Request: { Method: 'GET' } })).toBe('GET');
    expect(legacy.metricNames).toBe('opencensus');
    const current = read(
      { ...full, OBSERVABILITY_CONFIG: JSON.stringify({ requestLogTemplate: '{{.Response.Code}}' }) },
      { pod: 'x' },
    );
    expect(current.requestLogTemplate?.execute({ Response: { Code: 204 } })).toBe('204');
    expect(current.metricNames).toBe('opentelemetry');
    expect(() => read({ SERVING_REQUEST_LOG_TEMPLATE: '{{if .X}}' }, { pod: 'x' })).toThrow(
      /SERVING_REQUEST_LOG_TEMPLATE: request log template does not parse: template: requestLog:1: unexpected EOF/,
    );
    expect(() =>
      read({ OBSERVABILITY_CONFIG: JSON.stringify({ requestLogTemplate: '{{.A | 3}}' }) }, { pod: 'x' }),
    ).toThrow(/OBSERVABILITY_CONFIG: request log template does not parse/);
  });

  it('reads each shared variable alike in both modes', () => {
    const env = {
      CONTAINER_CONCURRENCY: '3',
      REVISION_TIMEOUT_SECONDS: '60',
      REVISION_RESPONSE_START_TIMEOUT_SECONDS: '5',
      REVISION_IDLE_TIMEOUT_SECONDS: '7',
      QUEUE_BIND_ADDRESS: '127.0.0.1',
      QUEUE_ADMIN_PORT: '1',
      QUEUE_STATS_PORT: '2',
      QUEUE_METRICS_PORT: '3',
      QUEUE_DRAIN_QUIET_SECONDS: '4',
      QUEUE_NATIVE_SIDECAR_SIGTERM_SECONDS: '5',
      SERVING_NAMESPACE: 'ns',
      SERVING_SERVICE: 'svc',
      SERVING_CONFIGURATION: 'cfg',
      SERVING_REVISION: 'rev',
      SERVING_POD: 'pod',
      SERVING_LOGGING_LEVEL: 'warning',
      OBSERVABILITY_CONFIG: '{"requestMetrics":{"protocol":"prometheus"},"enableRequestLog":true}',
      SERVING_ENABLE_PROBE_REQUEST_LOG: 'true',
      QUEUE_SERVER_TIMING: 'false',
    };
    const sidecar = read(env, 'required');
    expect(read(env, { pod: 'ignored' })).toEqual(sidecar);
    expect([sidecar.containerConcurrency, sidecar.revisionTimeoutMs, sidecar.sigtermWaitMs]).toEqual([
      3, 60_000, 5000,
    ]);
    expect([sidecar.requestMetrics, sidecar.requestLog, sidecar.probeRequestLog]).toEqual([true, true, true]);
    expect([sidecar.pod, sidecar.logLevel, sidecar.serverTiming]).toEqual(['pod', 'warn', false]);
  });

  it('names each bad shared variable in both modes', () => {
    const bad = [
      ['REVISION_IDLE_TIMEOUT_SECONDS', '3601'],
      ['QUEUE_STATS_PORT', '70000'],
      ['QUEUE_NATIVE_SIDECAR_SIGTERM_SECONDS', '0'],
      ['SERVING_LOGGING_LEVEL', 'loud'],
      ['OBSERVABILITY_CONFIG', '42'],
      ['QUEUE_SERVER_TIMING', 'maybe'],
    ] as const;
    const env = Object.fromEntries(bad);
    const names = bad.map(([name]) => name);
    expect(badVariables(env, { pod: 'p' })).toEqual(names);
    expect(badVariables(env, 'required')).toEqual(expect.arrayContaining(names));
  });
});
