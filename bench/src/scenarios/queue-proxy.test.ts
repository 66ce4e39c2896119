import { describe, expect, it } from 'vitest';
import { compareWithKnative, type DerivedRow } from './queue-proxy.js';

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
        rssIdleMiB: 50,
      }),
      row('queue-proxy', 10, { rps: 2000, cpuSecondsPer10k: 0.6, rssLoadedMiB: 66, rssAnonLoadedMiB: 24 }),
      row('knative', 10, { rps: 4000, cpuSecondsPer10k: 0.3, rssLoadedMiB: 22, rssAnonLoadedMiB: 8 }),
      row('knative', 0, {
        rps: 2000,
        cpuSecondsPer10k: 0.25,
        rssLoadedMiB: 20,
        rssAnonLoadedMiB: 5,
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
