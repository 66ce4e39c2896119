import { describe, expect, it } from 'vitest';
import type { ProcessFigures } from './common.js';
import { compareWithKnative, type H2cRow } from './h2c.js';

function qp(cpuSecondsPer10k: number, rssMiB: number, rssAnonMiB: number): ProcessFigures {
  return {
    cpuSeconds: 1,
    cpuSecondsPer10k,
    coreUtilisation: 50,
    rssLoadedKiB: rssMiB * 1024,
    rssAnonLoadedKiB: rssAnonMiB * 1024,
  };
}

function row(kind: H2cRow['kind'], label: string, figures: Partial<H2cRow>): H2cRow {
  return {
    label,
    kind,
    callsPerSecond: 1000,
    p50Ms: 1,
    p99Ms: 2,
    addedP50Ms: undefined,
    throughputVsDirect: undefined,
    throughputVsQueueProxy: undefined,
    queueProxy: undefined,
    queueProxyIdleMiB: undefined,
    activator: undefined,
    cpuRatio: undefined,
    failures: 0,
    ...figures,
  };
}

describe('compareWithKnative', () => {
  it('divides our queue-proxy path by the Knative path at the same count', () => {
    const rows = [
      row('direct', 'direct', { callsPerSecond: 5000 }),
      row('queue-proxy', 'queue-proxy', {
        callsPerSecond: 3000,
        queueProxy: qp(0.5, 60, 20),
        queueProxyIdleMiB: 50,
      }),
      row('activator', 'activator → queue-proxy', { callsPerSecond: 100, queueProxy: qp(9, 99, 99) }),
      row('compare', 'other', { callsPerSecond: 1, queueProxy: qp(1, 1, 1) }),
      row('knative', 'knative', { callsPerSecond: 2000, queueProxy: qp(0.25, 20, 5), queueProxyIdleMiB: 10 }),
    ];
    const [only, ...rest] = compareWithKnative(10, rows);
    expect(rest).toEqual([]);
    expect(only).toMatchObject({
      inFlight: 10,
      oursLabel: 'queue-proxy',
      knativeLabel: 'knative',
      throughput: 1.5,
      cpuPerRequest: 2,
      rssLoaded: 3,
      rssAnonLoaded: 4,
      rssIdle: 5,
    });
    expect(only?.knative).toEqual({
      rate: 2000,
      cpuSecondsPer10k: 0.25,
      rssLoadedMiB: 20,
      rssAnonLoadedMiB: 5,
      rssIdleMiB: 10,
    });
  });

  it('compares nothing without both our queue-proxy path and a Knative one', () => {
    expect(compareWithKnative(1, [row('queue-proxy', 'queue-proxy', {}), row('compare', 'x', {})])).toEqual(
      [],
    );
    expect(compareWithKnative(1, [row('knative', 'knative', {})])).toEqual([]);
  });
});
