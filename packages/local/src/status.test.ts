import { describe, expect, it } from 'vitest';
import { humanLine } from './log-sink.js';
import type { Pod } from './pod.js';
import type { RevisionPods } from './revision-pods.js';
import { parseAutoscalerMetrics, podStatus, revisionReason, statusTable } from './status.js';

describe('statusTable', () => {
  it('aligns one line a revision under its header, names left and numbers right', () => {
    const lines = statusTable({
      maxPods: 40,
      pods: 15,
      revisions: [
        {
          namespace: 'default',
          service: 'hello',
          name: 'hello-00001',
          mode: 'Serve',
          desiredPods: 12,
          wantedPods: 12,
          readyPods: 3,
          inFlight: 140,
          held: 0,
          rps: 1234.56,
        },
        {
          namespace: 'b',
          service: 's',
          name: 's-1',
          mode: 'Proxy',
          desiredPods: 0,
          wantedPods: 0,
          readyPods: 0,
          inFlight: 0,
          held: 7,
          rps: 0,
        },
      ],
    });
    expect(lines).toEqual([
      'REVISION             MODE   DESIRED  READY  IN-FLIGHT  HELD   REQ/S',
      'default/hello-00001  Serve       12      3        140     0  1234.6',
      'b/s-1                Proxy        0      0          0     7     0.0',
      'pods: 15 of at most 40',
    ]);
  });

  it('names the revisions the Pod limit holds back', () => {
    const revision = {
      namespace: 'default',
      service: 'app',
      name: 'app-00001',
      mode: 'Proxy' as const,
      desiredPods: 2,
      wantedPods: 143,
      readyPods: 2,
      inFlight: 0,
      held: 0,
      rps: 0,
    };
    expect(statusTable({ maxPods: 2, pods: 2, revisions: [revision] }).at(-1)).toBe(
      'pods: 2 of at most 2 (held back by the limit: default/app-00001 wants 143)',
    );
  });
});

describe('statusTable reasons', () => {
  it('adds a line for each revision with a reason', () => {
    const revision = {
      namespace: 'default',
      service: 'app',
      name: 'app-00001',
      mode: 'Proxy' as const,
      desiredPods: 1,
      wantedPods: 1,
      readyPods: 0,
      inFlight: 0,
      held: 0,
      rps: 0,
      reason: 'CrashLoopBackOff: 3 Pods failed in a row',
    };
    expect(statusTable({ maxPods: 2, pods: 0, revisions: [revision] }).at(-1)).toBe(
      'default/app-00001: CrashLoopBackOff: 3 Pods failed in a row',
    );
  });
});

describe('parseAutoscalerMetrics', () => {
  it("reads the stable and panic averages and panic mode per revision from the autoscaler's Prometheus text", () => {
    const text = [
      '# HELP autoscaler_stable_request_concurrency Average scaling metric',
      '# TYPE autoscaler_stable_request_concurrency gauge',
      'autoscaler_stable_request_concurrency{namespace="default",revision="a-00001"} 3.25',
      'autoscaler_stable_request_concurrency{namespace="b",revision="b-1"} 0',
      'autoscaler_panic_request_concurrency{namespace="default",revision="a-00001"} 7.5',
      'autoscaler_panic_mode{namespace="default",revision="a-00001"} 1',
      'autoscaler_panic_mode{namespace="b",revision="b-1"} 0',
      'autoscaler_desired_pods{namespace="default",revision="a-00001"} 4',
    ].join('\n');
    expect(Object.fromEntries(parseAutoscalerMetrics(text))).toEqual({
      'default/a-00001': { stable: 3.25, panic: 7.5, panicMode: true },
      'b/b-1': { stable: 0, panicMode: false },
    });
  });
});

describe('Pod and revision reasons', () => {
  const pod = (fields: Partial<Pod>) =>
    ({
      name: 'app-00001-3',
      phase: 'failed',
      restarts: 2,
      reason: 'app exited (code 1)',
      failure: 'app exited (code 1)',
      exit: { container: 'app', code: 1, signal: null },
      containers: ['app', 'queue-proxy'],
      timeline: { spawnedAt: 10_000, endedAt: 14_000 },
      ...fields,
    }) as unknown as Pod;

  it("shows a Pod's state, age until it ended, restarts, reason, exit and log names", () => {
    expect(podStatus(pod({}), 20_000)).toEqual({
      name: 'app-00001-3',
      state: 'failed',
      ageSeconds: 4,
      restarts: 2,
      reason: 'app exited (code 1)',
      exit: { container: 'app', code: 1, signal: null },
      endedSecondsAgo: 6,
      logs: ['app-00001-3.app', 'app-00001-3.queue-proxy'],
    });
    const running = podStatus(
      pod({ phase: 'ready', reason: undefined, exit: undefined, timeline: { spawnedAt: 10_000 } }),
      70_000,
    );
    expect(running).toMatchObject({ state: 'ready', ageSeconds: 60, reason: null, endedSecondsAgo: null });
  });

  it('names a crash loop with its count, the last failure and the next start', () => {
    const revision = {
      crashLooping: true,
      consecutiveFailures: 3,
      nextStartAt: 24_500,
      ended: [pod({})],
    } as unknown as RevisionPods;
    expect(revisionReason(revision, 20_000)).toBe(
      'CrashLoopBackOff: 3 Pods failed in a row (last: app exited (code 1)); next start in 5 s',
    );
    expect(revisionReason({ ...revision, crashLooping: false } as RevisionPods, 20_000)).toBeNull();
  });
});

describe('humanLine', () => {
  it('turns a pino line into time, level, message and fields', () => {
    expect(
      humanLine(
        '{"level":"warn","time":"2026-01-02T03:04:05.678Z","component":"platform","msg":"pod failed","pod":"a-1","err":{"message":"boom","stack":"…"}}',
      ),
    ).toBe('03:04:05 WARN  pod failed pod=a-1 err="boom"');
    expect(humanLine('not json\n')).toBe('not json');
  });
});
