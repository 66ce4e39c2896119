import { ConfigError } from '@zerogate/core';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CLUSTER_AUTOSCALER_CONFIG } from './autoscaler-config.js';
import { loadConfig } from './config.js';

describe('autoscaler loadConfig', () => {
  it('defaults to Knative’s ports and config-autoscaler defaults', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      bindAddress: '',
      port: 8080,
      metricsPort: 9090,
      actuator: 'kubernetes',
      namespace: '',
      systemNamespace: 'knative-serving',
    });
    expect(c.cluster).toEqual(DEFAULT_CLUSTER_AUTOSCALER_CONFIG);
  });

  it('reads cluster defaults under Knative’s key names: durations, percentages, booleans', () => {
    const c = loadConfig({
      AUTOSCALER_STABLE_WINDOW: '2m',
      AUTOSCALER_TARGET_BURST_CAPACITY: '-1',
      AUTOSCALER_CONTAINER_CONCURRENCY_TARGET_PERCENTAGE: '80',
      AUTOSCALER_ENABLE_SCALE_TO_ZERO: 'false',
      AUTOSCALER_SCALE_TO_ZERO_GRACE_PERIOD: '10s',
    });
    expect(c.cluster.stableWindowMs).toBe(120_000);
    expect(c.cluster.targetBurstCapacity).toBe(-1);
    expect(c.cluster.containerConcurrencyTargetFraction).toBeCloseTo(0.8);
    expect(c.cluster.enableScaleToZero).toBe(false);
    expect(c.cluster.scaleToZeroGracePeriodMs).toBe(10_000);
  });

  it('reads the namespace of the activator Service from SYSTEM_NAMESPACE, as Knative’s components do', () => {
    expect(loadConfig({ SYSTEM_NAMESPACE: 'zerogate-system' }).systemNamespace).toBe('zerogate-system');
  });

  it('drives the one-machine platform with AUTOSCALER_ACTUATOR=local, which needs the platform URL', () => {
    expect(
      loadConfig({ AUTOSCALER_ACTUATOR: 'local', AUTOSCALER_PLATFORM_URL: 'http://127.0.0.1:4000/' }),
    ).toMatchObject({ actuator: 'local', platformUrl: 'http://127.0.0.1:4000' });
    for (const [url, reason] of [
      [undefined, 'AUTOSCALER_PLATFORM_URL: is required when AUTOSCALER_ACTUATOR is local'],
      ['127.0.0.1:4000', 'AUTOSCALER_PLATFORM_URL: must be http://host:port, got "127.0.0.1:4000"'],
    ] as const) {
      expect(() =>
        loadConfig({ AUTOSCALER_ACTUATOR: 'local', ...(url ? { AUTOSCALER_PLATFORM_URL: url } : {}) }),
      ).toThrow(reason);
    }
  });

  it('names every bad variable at once', () => {
    try {
      loadConfig({
        AUTOSCALER_PORT: '70000',
        AUTOSCALER_STABLE_WINDOW: 'soon',
        AUTOSCALER_MAX_SCALE_UP_RATE: 'fast',
        AUTOSCALER_ACTUATOR: 'nomad',
        AUTOSCALER_LOG_LEVEL: 'loud',
        SYSTEM_NAMESPACE: 'Zerogate_System',
      });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const problems = (err as ConfigError).problems.join('\n');
      for (const name of [
        'AUTOSCALER_PORT',
        'AUTOSCALER_STABLE_WINDOW',
        'AUTOSCALER_MAX_SCALE_UP_RATE',
        'AUTOSCALER_ACTUATOR',
        'AUTOSCALER_LOG_LEVEL',
        'SYSTEM_NAMESPACE',
      ]) {
        expect(problems).toContain(name);
      }
    }
  });
});
