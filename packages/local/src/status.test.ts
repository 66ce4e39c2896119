import { describe, expect, it } from 'vitest';
import { humanLine } from './log-sink.js';
import { statusTable } from './status.js';

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
