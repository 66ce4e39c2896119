import { describe, expect, it } from 'vitest';
import { type PodCell, type PodResult, podRows, podTable } from './in-process.js';

function cell(connections: number, p50: number, requests: number, cpuSeconds: number): PodCell {
  return {
    connections,
    load: { requests, rps: requests / 2, errors: 0, non2xx: 0, latencyMs: { p50, p99: p50 * 3 } },
    cpuSeconds,
    loaded: { rssKiB: 51_200, rssAnonKiB: 10_240 },
    otherCpuPercent: 0,
  };
}

const RESULTS: PodResult[] = [
  {
    kind: 'bare',
    label: 'bare',
    idle: { rssKiB: 40_960, rssAnonKiB: 5120 },
    cells: [cell(1, 0.1, 20_000, 1), cell(10, 0.5, 40_000, 2)],
  },
  {
    kind: 'sidecar',
    label: 'sidecar cc0',
    idle: { rssKiB: 102_400, rssAnonKiB: 20_480 },
    cells: [
      { ...cell(1, 0.25, 10_000, 1.5), loaded: { rssKiB: 112_640, rssAnonKiB: 25_600 } },
      cell(10, 1.1, 20_000, 3),
    ],
  },
  {
    kind: 'in-process',
    label: 'in-process cc0',
    idle: { rssKiB: 46_080, rssAnonKiB: 7168 },
    cells: [{ ...cell(1, 0.125, 16_000, 1.2), load: { ...cell(1, 0.125, 16_000, 1.2).load, non2xx: 3 } }],
  },
];

describe('podRows', () => {
  it('gives each Pod its p50 over bare’s, the whole Pod’s CPU per request and its memory summed', () => {
    const [bare, sidecar, inProcess] = podRows(RESULTS, 1);
    expect(bare).toMatchObject({ label: 'bare', addedP50Ms: undefined });
    expect(bare!.cpuMicrosPerRequest).toBeCloseTo(50, 6);
    expect(sidecar).toMatchObject({
      label: 'sidecar cc0',
      rps: 5000,
      p50Ms: 0.25,
      p99Ms: 0.75,
      rssIdleMiB: 100,
      rssAnonIdleMiB: 20,
      rssLoadedMiB: 110,
      rssAnonLoadedMiB: 25,
      failures: 0,
    });
    expect(sidecar!.addedP50Ms).toBeCloseTo(0.15, 10);
    expect(sidecar!.cpuMicrosPerRequest).toBeCloseTo(150, 6);
    expect(inProcess).toMatchObject({ kind: 'in-process', rssIdleMiB: 45, failures: 3 });
    expect(inProcess!.addedP50Ms).toBeCloseTo(0.025, 10);
    expect(inProcess!.cpuMicrosPerRequest).toBeCloseTo(75, 6);
  });

  it('leaves out a Pod not measured at that count, and has no added p50 without bare', () => {
    expect(podRows(RESULTS, 10).map((r) => r.label)).toEqual(['bare', 'sidecar cc0']);
    const [sidecar] = podRows(RESULTS.slice(1), 10);
    expect(sidecar).toMatchObject({ label: 'sidecar cc0', addedP50Ms: undefined });
  });

  it('has no CPU per request when no request was answered', () => {
    const idle: PodResult = { ...RESULTS[0]!, cells: [cell(1, 0, 0, 0.1)] };
    expect(podRows([idle], 1)[0]!.cpuMicrosPerRequest).toBeUndefined();
  });
});

describe('podTable', () => {
  it('formats one row per Pod under the connection count', () => {
    const table = podTable(1, podRows(RESULTS, 1));
    expect(table.title).toBe('1 connection');
    expect(table.headers).toEqual([
      'Pod',
      'req/s',
      'p50 ms',
      'p99 ms',
      '+p50 ms',
      'CPU µs/req',
      'RSS idle MiB',
      'RssAnon idle MiB',
      'RSS load MiB',
      'RssAnon load MiB',
      'errors',
    ]);
    expect(table.align).toEqual(['left', ...Array(10).fill('right')]);
    expect(table.rows).toEqual([
      ['bare', '10000', '0.100', '0.300', '–', '50.0', '40.0', '5.0', '50.0', '10.0', '0'],
      ['sidecar cc0', '5000', '0.250', '0.750', '+0.150', '150.0', '100.0', '20.0', '110.0', '25.0', '0'],
      ['in-process cc0', '8000', '0.125', '0.375', '+0.025', '75.0', '45.0', '7.0', '50.0', '10.0', '3'],
    ]);
  });
});
