import { describe, expect, it } from 'vitest';
import { optedIn, readRevisionIdentity, readRevisionSettings } from './revision-settings.js';

describe('opt-in', () => {
  it('injects only on zerogate.dev/inject: enabled', () => {
    expect(optedIn({ 'zerogate.dev/inject': 'enabled' })).toBe(true);
    expect(optedIn({ 'zerogate.dev/inject': 'true' })).toBe(false);
    expect(optedIn({ 'zerogate.dev/inject': 'disabled' })).toBe(false);
    expect(optedIn({})).toBe(false);
    expect(optedIn(undefined)).toBe(false);
  });
});

describe('revision identity', () => {
  it('prefers serving.knative.dev/revision, then zerogate.dev/revision, then app', () => {
    const all = {
      'serving.knative.dev/revision': 'a-00001',
      'zerogate.dev/revision': 'b-00001',
      app: 'c',
      'serving.knative.dev/service': 'svc',
      'serving.knative.dev/configuration': 'cfg',
    };
    expect(readRevisionIdentity(all)).toEqual({
      name: 'a-00001',
      source: 'serving.knative.dev/revision',
      service: 'svc',
      configuration: 'cfg',
    });
    expect(readRevisionIdentity({ 'zerogate.dev/revision': 'b-00001', app: 'c' })).toEqual({
      name: 'b-00001',
      source: 'zerogate.dev/revision',
      service: '',
      configuration: '',
    });
    expect(readRevisionIdentity({ app: 'c' })).toMatchObject({ name: 'c', source: 'app' });
    // An empty label counts as absent.
    expect(readRevisionIdentity({ 'serving.knative.dev/revision': '', app: 'c' })).toMatchObject({
      name: 'c',
    });
  });

  it('reports a missing label or a name that cannot name a Service', () => {
    expect(readRevisionIdentity({})).toEqual({
      problem: 'no revision label: set serving.knative.dev/revision, zerogate.dev/revision or app',
    });
    expect(readRevisionIdentity({ app: 'Hello.World' })).toMatchObject({
      problem: expect.stringContaining('DNS-1035'),
    });
    expect(readRevisionIdentity({ app: '1hello' })).toHaveProperty('problem');
    expect(readRevisionIdentity({ app: 'x'.repeat(64) })).toMatchObject({
      problem: expect.stringContaining('longer than 63'),
    });
  });
});

describe('revision settings', () => {
  it("takes Knative's defaults", () => {
    expect(readRevisionSettings(undefined)).toEqual({
      containerConcurrency: 0,
      timeoutSeconds: 300,
      responseStartTimeoutSeconds: 0,
      idleTimeoutSeconds: 0,
      queueProxy: 'sidecar',
      revisionAnnotations: {},
    });
  });

  it('reads the annotations and passes the autoscaling and activator ones through', () => {
    expect(
      readRevisionSettings({
        'zerogate.dev/container-concurrency': '10',
        'zerogate.dev/timeout-seconds': '60',
        'zerogate.dev/response-start-timeout-seconds': '20',
        'zerogate.dev/idle-timeout-seconds': '60',
        'autoscaling.knative.dev/min-scale': '1',
        'autoscaling.knative.dev/target': '70',
        'zerogate.dev/slow-start': '0s',
        'other.example.com/x': 'y',
      }),
    ).toEqual({
      containerConcurrency: 10,
      timeoutSeconds: 60,
      responseStartTimeoutSeconds: 20,
      idleTimeoutSeconds: 60,
      queueProxy: 'sidecar',
      revisionAnnotations: {
        'autoscaling.knative.dev/min-scale': '1',
        'autoscaling.knative.dev/target': '70',
        'zerogate.dev/slow-start': '0s',
      },
    });
    // 0 means no total timeout; the per-phase ones are then bounded by the queue-proxy's cap only.
    expect(
      readRevisionSettings({
        'zerogate.dev/timeout-seconds': '0',
        'zerogate.dev/idle-timeout-seconds': '900',
      }),
    ).toMatchObject({ timeoutSeconds: 0, idleTimeoutSeconds: 900 });
  });

  it.each([
    ['zerogate.dev/container-concurrency', 'ten'],
    ['zerogate.dev/container-concurrency', '-1'],
    ['zerogate.dev/container-concurrency', '1001'],
    ['zerogate.dev/container-concurrency', ' 5'],
    ['zerogate.dev/timeout-seconds', '1.5'],
    ['zerogate.dev/timeout-seconds', '3601'],
    ['zerogate.dev/timeout-seconds', ''],
    ['zerogate.dev/response-start-timeout-seconds', '1e2'],
    ['zerogate.dev/idle-timeout-seconds', '+3'],
  ])('rejects %s: %j, naming the annotation', (key, value) => {
    const result = readRevisionSettings({ [key]: value });
    expect(result).toEqual({
      problems: [expect.stringContaining(`annotation ${key} must be a whole number`)],
    });
  });

  it('reads the queue-proxy mode: sidecar (the default) or in-process; any other value is a problem naming it', () => {
    expect(readRevisionSettings({ 'zerogate.dev/queue-proxy': 'in-process' })).toMatchObject({
      queueProxy: 'in-process',
    });
    expect(readRevisionSettings({ 'zerogate.dev/queue-proxy': 'sidecar' })).toMatchObject({
      queueProxy: 'sidecar',
    });
    for (const value of ['inprocess', 'In-Process', '']) {
      expect(readRevisionSettings({ 'zerogate.dev/queue-proxy': value })).toEqual({
        problems: [
          `annotation zerogate.dev/queue-proxy must be one of sidecar, in-process, got ${JSON.stringify(value)}`,
        ],
      });
    }
  });

  it('rejects per-phase timeouts longer than the total, and lists every problem', () => {
    const result = readRevisionSettings({
      'zerogate.dev/timeout-seconds': '30',
      'zerogate.dev/response-start-timeout-seconds': '31',
      'zerogate.dev/idle-timeout-seconds': '45',
      'zerogate.dev/container-concurrency': 'x',
    });
    expect(result).toHaveProperty('problems');
    const problems = (result as { problems: string[] }).problems;
    expect(problems).toHaveLength(3);
    expect(problems[1]).toContain('zerogate.dev/response-start-timeout-seconds (31) must not exceed');
    expect(problems[2]).toContain('zerogate.dev/idle-timeout-seconds (45) must not exceed');
  });
});
