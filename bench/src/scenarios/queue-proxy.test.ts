import { describe, expect, it } from 'vitest';
import { compareWithKnative, type DerivedRow, queueProxyVerdicts } from './queue-proxy.js';

function row(kind: DerivedRow['kind'], cc: number | undefined, figures: Partial<DerivedRow>): DerivedRow {
  return {
    label: `${kind} cc${cc}`,
    kind,
    cc,
    rps: 1000,
    p50Ms: 1,
    p99Ms: 2,
    addedP50Ms: undefined,
    addedP99Ms: undefined,
    cpuSecondsPer10k: undefined,
    coreUtilisation: undefined,
    rssIdleMiB: undefined,
    rssLoadedMiB: undefined,
    rssAnonIdleMiB: undefined,
    rssAnonLoadedMiB: undefined,
    pssLoadedMiB: undefined,
    throughputVsBare: undefined,
    cpuVsBare: undefined,
    failures: 0,
    ...figures,
  };
}

describe('compareWithKnative', () => {
  it('divides ours by Knative’s at the same CC', () => {
    const rows = [
      row('direct', undefined, { rps: 5000 }),
      row('queue-proxy', 0, {
        rps: 3000,
        cpuSecondsPer10k: 0.5,
        rssLoadedMiB: 60,
        rssAnonLoadedMiB: 20,
        pssLoadedMiB: 42,
        rssIdleMiB: 50,
      }),
      row('queue-proxy', 10, { rps: 2000, cpuSecondsPer10k: 0.6, rssLoadedMiB: 66, rssAnonLoadedMiB: 24 }),
      row('knative', 10, { rps: 4000, cpuSecondsPer10k: 0.3, rssLoadedMiB: 22, rssAnonLoadedMiB: 8 }),
      row('knative', 0, {
        rps: 2000,
        cpuSecondsPer10k: 0.25,
        rssLoadedMiB: 20,
        rssAnonLoadedMiB: 5,
        pssLoadedMiB: 7,
        rssIdleMiB: 10,
      }),
    ];
    const [cc0, cc10] = compareWithKnative(100, rows);
    expect(cc0).toMatchObject({
      connections: 100,
      cc: 0,
      throughput: 1.5,
      cpuPerRequest: 2,
      rssLoaded: 3,
      rssAnonLoaded: 4,
      pssLoaded: 6,
      rssIdle: 5,
    });
    expect(cc0?.knative.label).toBe('knative cc0');
    expect(cc10).toMatchObject({
      cc: 10,
      throughput: 0.5,
      cpuPerRequest: 2,
      rssLoaded: 3,
      rssAnonLoaded: 3,
      rssIdle: undefined,
    });
  });

  it('leaves out our rows that have no Knative partner', () => {
    expect(compareWithKnative(1, [row('queue-proxy', 0, {}), row('knative', 10, {})])).toEqual([]);
    expect(compareWithKnative(1, [row('queue-proxy', 0, {}), row('compare', 0, {})])).toEqual([]);
  });
});

describe('queueProxyVerdicts', () => {
  it('judges the HTTP/1.1 targets on the comparisons at each connection count and CC', () => {
    const at = (connections: number, cc: number, ours: number) =>
      compareWithKnative(connections, [
        row('queue-proxy', cc, { rps: ours, cpuSecondsPer10k: 0.1, rssLoadedMiB: 30, rssAnonLoadedMiB: 30 }),
        row('knative', cc, { rps: 1000, cpuSecondsPer10k: 0.2, rssLoadedMiB: 20, rssAnonLoadedMiB: 10 }),
      ]);
    const verdicts = queueProxyVerdicts([...at(10, 0, 1600), ...at(10, 10, 1400)]);
    const verdict = (target: string, load: string) =>
      verdicts.find((v) => v.target === target && v.load === load)?.verdict;
    expect(verdict('CPU ×kn ≤ 0.6', '10 conns CC=0')).toBe('met');
    expect(verdict('req/s ×kn ≥ 1.5', '10 conns CC=0')).toBe('met');
    expect(verdict('req/s ×kn ≥ 1.5', '10 conns CC=10')).toBe('missed');
    expect(verdict('RSS ×kn ≤ 2', '10 conns CC=10')).toBe('met');
    expect(verdict('RssAnon ×kn ≤ 2', '10 conns CC=10')).toBe('missed');
    expect(verdict('CPU ×kn ≤ 0.6', '100 conns CC=0')).toBe('not measured');
  });
});
