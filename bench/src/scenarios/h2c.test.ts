import { describe, expect, it } from 'vitest';
import type { ProcessFigures } from './common.js';
import { compareWithKnative, type H2cRow, h2cVerdicts } from './h2c.js';

function qp(cpuSecondsPer10k: number, rssMiB: number, rssAnonMiB: number, pssMiB?: number): ProcessFigures {
  return {
    cpuSeconds: 1,
    cpuSecondsPer10k,
    coreUtilisation: 50,
    rssLoadedKiB: rssMiB * 1024,
    rssAnonLoadedKiB: rssAnonMiB * 1024,
    pssLoadedKiB: pssMiB === undefined ? undefined : pssMiB * 1024,
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
        queueProxy: qp(0.5, 60, 20, 30),
        queueProxyIdleMiB: 50,
      }),
      row('activator', 'activator → queue-proxy', { callsPerSecond: 100, queueProxy: qp(9, 99, 99) }),
      row('compare', 'other', { callsPerSecond: 1, queueProxy: qp(1, 1, 1) }),
      row('knative', 'knative', {
        callsPerSecond: 2000,
        queueProxy: qp(0.25, 20, 5, 6),
        queueProxyIdleMiB: 10,
      }),
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
      pssLoaded: 5,
      rssIdle: 5,
    });
    expect(only?.knative).toEqual({
      rate: 2000,
      cpuSecondsPer10k: 0.25,
      rssLoadedMiB: 20,
      rssAnonLoadedMiB: 5,
      pssLoadedMiB: 6,
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

describe('h2cVerdicts', () => {
  it('judges the h2c targets per count of calls in flight, on the first Knative path only', () => {
    const rows = (ours: number) => [
      row('queue-proxy', 'queue-proxy', { queueProxy: qp(ours, 30, 30) }),
      row('knative', 'knative', { queueProxy: qp(1, 20, 20) }),
      row('knative', 'knative-main', { queueProxy: qp(0.1, 1, 1) }),
    ];
    const verdicts = h2cVerdicts([...compareWithKnative(1, rows(0.6)), ...compareWithKnative(10, rows(0.8))]);
    expect(verdicts.map((v) => [v.target, v.load, v.verdict])).toEqual([
      ['CPU ×kn ≤ 0.7', '1 stream', 'met'],
      ['CPU ×kn ≤ 0.7', '10 streams', 'missed'],
      ['CPU ×kn ≤ 0.7', '100 streams', 'not measured'],
      ['RssAnon ×kn ≤ 2', '10 streams', 'met'],
      ['RssAnon ×kn ≤ 2', '100 streams', 'not measured'],
      ['RSS ×kn ≤ 2', '10 streams', 'met'],
      ['RSS ×kn ≤ 2', '100 streams', 'not measured'],
    ]);
  });
});
