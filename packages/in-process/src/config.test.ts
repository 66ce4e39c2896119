import { ConfigError } from '@zerogate/core';
import { describe, expect, it } from 'vitest';
import { checkConfig, loadConfig } from './config.js';

describe('loadConfig', () => {
  it('defaults every setting as the queue-proxy does, with no breaker', () => {
    const config = loadConfig({ SERVING_POD: 'p' });
    expect(config).toMatchObject({
      containerConcurrency: 0,
      revisionTimeoutMs: 300_000,
      responseStartTimeoutMs: 0,
      idleTimeoutMs: 0,
      adminPort: 8022,
      statsPort: 9090,
      metricsPort: 9091,
      drainQuietMs: 30_000,
      pod: 'p',
      requestMetrics: false,
      logLevel: 'info',
    });
  });

  it('reads the queue-proxy variables and ignores those of the sidecar alone', () => {
    const config = loadConfig({
      CONTAINER_CONCURRENCY: '4',
      REVISION_TIMEOUT_SECONDS: '60',
      REVISION_RESPONSE_START_TIMEOUT_SECONDS: '5',
      REVISION_IDLE_TIMEOUT_SECONDS: '7',
      QUEUE_STATS_PORT: '0',
      QUEUE_DRAIN_QUIET_SECONDS: '2',
      QUEUE_SERVING_PORT: 'not read',
      USER_PORT: 'not read',
      OBSERVABILITY_CONFIG: '{"requestMetrics":{"protocol":"prometheus"},"enableRequestLog":true}',
      SERVING_LOGGING_LEVEL: 'warning',
    });
    expect(config).toMatchObject({
      containerConcurrency: 4,
      revisionTimeoutMs: 60_000,
      responseStartTimeoutMs: 5000,
      idleTimeoutMs: 7000,
      statsPort: 0,
      drainQuietMs: 2000,
      requestMetrics: true,
      requestLog: true,
      logLevel: 'warn',
    });
  });

  it("takes the revision's identity from SERVING_* first, else the K_* variables of every user container", () => {
    const k = loadConfig({ K_SERVICE: 's', K_CONFIGURATION: 'c', K_REVISION: 'r' });
    expect([k.service, k.configuration, k.revision]).toEqual(['s', 'c', 'r']);
    const serving = loadConfig({ K_REVISION: 'r', SERVING_REVISION: 'r2', SERVING_NAMESPACE: 'ns' });
    expect([serving.revision, serving.namespace]).toEqual(['r2', 'ns']);
  });

  it('throws one ConfigError naming every bad variable', () => {
    let error: unknown;
    try {
      loadConfig({
        CONTAINER_CONCURRENCY: '-1',
        REVISION_TIMEOUT_SECONDS: 'ten',
        QUEUE_STATS_PORT: '70000',
        QUEUE_ADMIN_PORT: '9090',
        OBSERVABILITY_CONFIG: '[',
        SERVING_LOGGING_LEVEL: 'loud',
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const names = (error as ConfigError).problems.map((p) => p.split(':')[0]);
    expect(names).toEqual([
      'CONTAINER_CONCURRENCY',
      'REVISION_TIMEOUT_SECONDS',
      'QUEUE_STATS_PORT',
      'SERVING_LOGGING_LEVEL',
      'OBSERVABILITY_CONFIG',
    ]);
  });

  it('refuses two side listeners on one port', () => {
    expect(() => loadConfig({ QUEUE_ADMIN_PORT: '9000', QUEUE_STATS_PORT: '9000' })).toThrow(
      /QUEUE_STATS_PORT: port 9000 is already used by QUEUE_ADMIN_PORT/,
    );
  });
});

describe('checkConfig', () => {
  it('names the option that is out of range', () => {
    const config = loadConfig({});
    expect(() => checkConfig({ ...config, containerConcurrency: 1.5 })).toThrow(/containerConcurrency/);
    expect(() => checkConfig({ ...config, statsPort: 70_000 })).toThrow(/statsPort/);
    expect(() => checkConfig(config)).not.toThrow();
  });
});
