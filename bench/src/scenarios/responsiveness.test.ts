import { describe, expect, it } from 'vitest';
import {
  DEFAULT_TRIALS,
  eventStamp,
  MAX_TRIALS,
  MEASURES,
  nanosToMs,
  parseResponsivenessOptions,
  queueDepth,
} from './responsiveness.js';

describe('parseResponsivenessOptions', () => {
  it('defaults to 20 trials and takes a whole number', () => {
    expect(parseResponsivenessOptions({})).toEqual({ trials: DEFAULT_TRIALS });
    expect(DEFAULT_TRIALS).toBe(20);
    expect(parseResponsivenessOptions({ trials: '5' })).toEqual({ trials: 5 });
    expect(parseResponsivenessOptions({ trials: String(MAX_TRIALS) })).toEqual({ trials: MAX_TRIALS });
  });

  it('names the option when the value is wrong', () => {
    for (const bad of ['0', '-3', '2.5', '1e2', 'many', '', String(MAX_TRIALS + 1)]) {
      expect(() => parseResponsivenessOptions({ trials: bad }), bad).toThrow(/--trials/);
    }
  });
});

describe('queueDepth', () => {
  it('reads the kn_serving_queue_depth gauge', () => {
    const exposition = [
      '# HELP kn_serving_queue_depth Requests admitted to the breaker.',
      '# TYPE kn_serving_queue_depth gauge',
      'kn_serving_queue_depth_other 4',
      'kn_serving_queue_depth{k8s_namespace_name="bench",kn_revision_name="hello-00001"} 11',
      'kn_serving_request_count_total 3',
      '',
    ].join('\n');
    expect(queueDepth(exposition)).toBe(11);
    expect(queueDepth('kn_serving_queue_depth 0\n')).toBe(0);
  });

  it('is undefined when the gauge is absent', () => {
    expect(queueDepth('kn_serving_request_count_total 3\n')).toBeUndefined();
    expect(queueDepth('')).toBeUndefined();
  });
});

describe('eventStamp', () => {
  it('reads the clock the app wrote into the first event', () => {
    expect(eventStamp('data: 123456789012345\n\n')).toBe(123456789012345n);
    expect(eventStamp('data: 5\n\ndata: 6\n\n')).toBe(5n);
  });

  it('is undefined for anything that is not such an event', () => {
    expect(eventStamp('hello')).toBeUndefined();
    expect(eventStamp('data: soon\n\n')).toBeUndefined();
  });
});

describe('nanosToMs', () => {
  it('turns a difference of nanosecond readings into milliseconds', () => {
    expect(nanosToMs(10_001_500_000n, 10_000_000_000n)).toBe(1.5);
    expect(nanosToMs(1n, 1n)).toBe(0);
  });
});

describe('MEASURES', () => {
  it('gives every measure a key of its own', () => {
    const keys = MEASURES.map((m) => m.key);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('starts each queue-proxy with the shared environment plus only its own setting', () => {
    const ports = { serving: 1, tls: 2, admin: 3, stats: 4, metrics: 5 };
    const envs = Object.fromEntries(MEASURES.map((m) => [m.key, m.env(8080, ports)]));
    expect(envs['breaker-rejection']).toMatchObject({
      CONTAINER_CONCURRENCY: '1',
      SERVING_REQUEST_METRICS_BACKEND: 'prometheus',
      USER_PORT: '8080',
    });
    expect(envs['event-delivery']).toMatchObject({
      CONTAINER_CONCURRENCY: '0',
      REVISION_TIMEOUT_SECONDS: '300',
    });
    expect(envs['revision-timeout-overshoot']).toMatchObject({
      REVISION_TIMEOUT_SECONDS: '1',
      REVISION_RESPONSE_START_TIMEOUT_SECONDS: '0',
    });
    expect(envs['response-start-timeout-overshoot']).toMatchObject({
      REVISION_TIMEOUT_SECONDS: '300',
      REVISION_RESPONSE_START_TIMEOUT_SECONDS: '1',
    });
  });
});
