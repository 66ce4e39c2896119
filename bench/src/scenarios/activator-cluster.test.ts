import { describe, expect, it } from 'vitest';
import { activatorClusterTables } from './activator-cluster.js';

/** A cell with the given p50 and the activator's CPU seconds per 10k requests. */
function cell(plane: 'ours' | 'knative', path: 'direct' | 'activator', p50Ms: number, actPer10k: number) {
  const usage = {
    cpuSeconds: 1,
    cpuSecondsPer10k: actPer10k,
    coreUtilisation: 50,
    rssLoadedKiB: 40 * 1024,
    rssAnonLoadedKiB: 0,
  };
  return {
    plane,
    path,
    load: {
      connections: 1,
      seconds: 1,
      requests: 1000,
      rps: 1000,
      latencyMs: { p50: p50Ms, p90: p50Ms, p99: p50Ms * 2, mean: p50Ms, max: p50Ms * 3 },
      autocannon: { p50Ms: 0, p99Ms: 0, rpsAverage: 0 },
      errors: 0,
      timeouts: 0,
      non2xx: 0,
    },
    activator: usage,
    queueProxy: { ...usage, cpuSecondsPer10k: 1 },
    otherCpuPercent: 0,
  } as const;
}

describe('activator-cluster tables', () => {
  it('gives each data plane’s added p50 against its own direct path, and ours over Knative’s', () => {
    const tables = activatorClusterTables(
      [
        cell('ours', 'direct', 0.5, 0),
        cell('ours', 'activator', 0.7, 2),
        cell('knative', 'direct', 0.4, 0),
        cell('knative', 'activator', 0.8, 4),
      ],
      [1],
    );
    expect(tables.map((t) => t.title)).toEqual(['1 connection', 'Our activator over Knative’s']);
    const [, ratios] = tables;
    // Added p50: ours 0.2 ms, Knative's 0.4 ms; activator CPU per request 2 over 4; RSS equal.
    expect(ratios!.rows).toEqual([['1', '0.200', '0.400', '0.50×', '1.00×']]);
    const ours = tables[0]!.rows.find((r) => r[0] === 'ours: activator → queue-proxy');
    expect(ours?.[4]).toBe('+0.200');
    // µs per request from CPU seconds per 10k: 2 s / 10k = 200 µs.
    expect(ours?.[5]).toBe('200.0');
  });
});
