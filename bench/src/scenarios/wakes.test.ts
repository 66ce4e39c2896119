import { describe, expect, it } from 'vitest';
import type { RunSettings } from '../scenario.js';
import {
  failureLines,
  failureStage,
  podReadyAt,
  readyToResponse,
  revisionsOfKinds,
  serverTimingDurations,
  stagesTable,
  verdict,
  type Wake,
  wakesOfKinds,
  wakesScenario,
  wakesTable,
} from './wakes.js';

/** A wake sent at 1000 whose Pod was ready at `ready`, its handler accepting at `accepting`. */
function wake(kind: Wake['kind'], ready: number, accepting: number, firstByte: number, status = 200): Wake {
  return {
    kind,
    revision: `wake-${kind}-00-00001`,
    sent: 1000,
    firstByte,
    status,
    pod: { spawnedAt: 1001, appListeningAt: accepting, readyAt: ready },
    socketOpenAt: 1100,
  };
}

describe('readyToResponse', () => {
  it('runs from the later of the Pod ready and the handler accepting to the first byte', () => {
    expect(readyToResponse(wake('hello', 1300, 1200, 1320))).toBe(20);
    expect(readyToResponse(wake('reset', 1300, 1900, 1950))).toBe(50);
    expect(readyToResponse({ kind: 'hello', revision: 'r', sent: 0, firstByte: 5 })).toBeUndefined();
  });

  it("takes the Pod as ready at the latest the activator can have sent to it, when that came before the platform's probe", () => {
    // First byte at 1320 after 60 ms from the activator's send: it sent by 1260, before the platform saw
    // the Pod ready at 1300.
    const early = { ...wake('hello', 1300, 1200, 1320), timing: { hold: 250, proxy: 60 } };
    expect(podReadyAt(early)).toBe(1260);
    expect(readyToResponse(early)).toBe(60);
    const late = { ...wake('hello', 1300, 1200, 1320), timing: { hold: 310, proxy: 5 } };
    expect(podReadyAt(late)).toBe(1300);
  });
});

describe('failureStage', () => {
  it('places a failure before the Pod was ready, between ready and the handler, or after', () => {
    expect(failureStage({ kind: 'hello', revision: 'r', sent: 0 })).toBe('no response (client error)');
    expect(failureStage(wake('hello', 1300, 1200, 1250, 503))).toBe('before the Pod was ready');
    expect(failureStage(wake('reset', 1300, 1900, 1320, 502))).toBe("Pod ready, app's handler not yet");
    expect(failureStage(wake('reset', 1300, 1900, 1950, 502))).toBe("after the app's handler was ready");
  });

  it('writes one line per failure with its status, body and stage', () => {
    const failed = { ...wake('reset', 1300, 1900, 1320, 502), body: 'upstream connection failed\n' };
    expect(failureLines([wake('hello', 1300, 1200, 1320), failed])).toEqual([
      'Failed wake: reset wake-reset-00-00001: 502 "upstream connection failed\\n", Pod ready, app\'s handler not yet',
    ]);
  });
});

describe('verdict', () => {
  it('is met at or under the target, missed over it, – with nothing measured', () => {
    expect(verdict(50, 50)).toBe('met');
    expect(verdict(50.1, 50)).toBe('missed');
    expect(verdict(undefined, 50)).toBe('–');
  });
});

describe('wakesTable', () => {
  it('counts the wakes and the non-2xx of each app and judges the 2xx ones against the targets', () => {
    const wakes = [
      ...Array.from({ length: 99 }, () => wake('hello', 1300, 1200, 1310)),
      wake('hello', 1300, 1200, 1420),
      wake('reset', 1300, 1900, 1930),
      wake('reset', 1300, 1900, 1320, 502),
    ];
    const table = wakesTable(wakes);
    expect(table.headers).toEqual(['app', 'wakes', 'non-2xx', 'p50 ms', 'p50 ≤ 50', 'p99 ms', 'p99 ≤ 100']);
    expect(table.rows).toEqual([
      ['hello', '100', '0', '10.0', 'met', '10.0', 'met'],
      ['reset', '2', '1', '30.0', 'met', '30.0', 'met'],
    ]);
    expect(wakesTable([...wakes, wake('hello', 1300, 1200, 1500)]).rows[0]).toEqual([
      'hello',
      '101',
      '0',
      '10.0',
      'met',
      '120.0',
      'missed',
    ]);
  });

  it('gives the stages of the 2xx wakes per app', () => {
    const table = stagesTable([
      wake('unattached', 1300, 1900, 1910),
      wake('unattached', 1300, 1900, 1320, 504),
    ]);
    expect(table.rows).toEqual([
      ['request sent → Pod ready', 'unattached', '300.0', '300.0'],
      ['app port open → handler ready', 'unattached', '800.0', '800.0'],
      ['Pod ready → first response byte', 'unattached', '610.0', '610.0'],
      ["app's handler ready → first response byte", 'unattached', '10.0', '10.0'],
      ['request sent → first response byte', 'unattached', '910.0', '910.0'],
    ]);
  });
});

describe('splits', () => {
  it('gives the fault-injected app as many wakes as hello, split between its faults', () => {
    expect(wakesOfKinds(1000)).toEqual({ hello: 1000, reset: 334, unattached: 333, path: 333 });
    expect(wakesOfKinds(5)).toEqual({ hello: 5, reset: 2, unattached: 2, path: 1 });
  });

  it('gives half the revisions to hello and splits the rest between the faults', () => {
    expect(revisionsOfKinds(50)).toEqual({ hello: 25, reset: 9, unattached: 8, path: 8 });
    expect(revisionsOfKinds(6)).toEqual({ hello: 3, reset: 1, unattached: 1, path: 1 });
  });
});

describe('wakesScenario options', () => {
  const settings = {} as RunSettings;
  it('takes the defaults and refuses a bad value, naming the option', () => {
    expect(wakesScenario.prepare({}, settings).budgetSeconds).toBe(1120);
    expect(() => wakesScenario.prepare({ wakes: '1' }, settings)).toThrow(/--wakes must be an integer/);
    expect(() => wakesScenario.prepare({ revisions: 'x' }, settings)).toThrow(/--revisions/);
    expect(() => wakesScenario.prepare({ parallel: '0' }, settings)).toThrow(/--parallel/);
  });
});

describe('serverTimingDurations', () => {
  it('reads each metric duration of one or many Server-Timing values', () => {
    expect(serverTimingDurations('hold;dur=812.4, throttle;dur=0.2,proxy;dur=12')).toEqual({
      hold: 812.4,
      throttle: 0.2,
      proxy: 12,
    });
    expect(serverTimingDurations(['app;desc="x";dur=3', 'queue;dur=1.5'])).toEqual({ app: 3, queue: 1.5 });
    expect(serverTimingDurations('miss, cache;desc=x')).toEqual({});
    expect(serverTimingDurations(undefined)).toEqual({});
  });
});
