import { describe, expect, it } from 'vitest';
import type { KnativeRatios } from './compare.js';
import {
  H2C_TARGETS,
  judge,
  QUEUE_PROXY_TARGETS,
  type ScenarioTargets,
  targetsNote,
  targetsTable,
  targetVerdicts,
} from './targets.js';

function ratios(figures: Partial<KnativeRatios>): KnativeRatios {
  return {
    throughput: undefined,
    cpuPerRequest: undefined,
    rssLoaded: undefined,
    rssAnonLoaded: undefined,
    pssLoaded: undefined,
    rssIdle: undefined,
    ...figures,
  };
}

describe('judge', () => {
  it('meets an upper bound at or below it and a lower bound at or above it', () => {
    expect(judge({ bound: 'max', limit: 0.6 }, 0.52)).toBe('met');
    expect(judge({ bound: 'max', limit: 0.6 }, 0.6)).toBe('met');
    expect(judge({ bound: 'max', limit: 0.6 }, 0.61)).toBe('missed');
    expect(judge({ bound: 'min', limit: 1.5 }, 1.5)).toBe('met');
    expect(judge({ bound: 'min', limit: 1.5 }, 1.2)).toBe('missed');
  });

  it('judges the ratio as printed, to two decimals', () => {
    expect(judge({ bound: 'max', limit: 0.6 }, 0.6049)).toBe('met');
    expect(judge({ bound: 'max', limit: 0.6 }, 0.6051)).toBe('missed');
    expect(judge({ bound: 'min', limit: 1.5 }, 1.4951)).toBe('met');
  });

  it('has no verdict on a ratio that was not measured', () => {
    expect(judge({ bound: 'max', limit: 2 }, undefined)).toBe('not measured');
    expect(judge({ bound: 'max', limit: 2 }, Number.NaN)).toBe('not measured');
  });
});

describe('targetVerdicts', () => {
  it('gives the queue-proxy targets one row per target, count and CC, in declared order', () => {
    const measured = [1, 10, 100].flatMap((count) =>
      [0, 10].map((cc) => ({
        count,
        cc,
        ratios: ratios({ cpuPerRequest: 0.5, throughput: 1.6, rssLoaded: 1.9, rssAnonLoaded: 1.8 }),
      })),
    );
    const verdicts = targetVerdicts(QUEUE_PROXY_TARGETS, measured);
    expect(verdicts.map((v) => [v.target, v.load])).toEqual([
      ['CPU ×kn ≤ 0.6', '1 conn CC=0'],
      ['CPU ×kn ≤ 0.6', '1 conn CC=10'],
      ['CPU ×kn ≤ 0.6', '10 conns CC=0'],
      ['CPU ×kn ≤ 0.6', '10 conns CC=10'],
      ['CPU ×kn ≤ 0.6', '100 conns CC=0'],
      ['CPU ×kn ≤ 0.6', '100 conns CC=10'],
      ['req/s ×kn ≥ 1.5', '10 conns CC=0'],
      ['req/s ×kn ≥ 1.5', '10 conns CC=10'],
      ['RssAnon ×kn ≤ 2', '10 conns CC=0'],
      ['RssAnon ×kn ≤ 2', '10 conns CC=10'],
      ['RssAnon ×kn ≤ 2', '100 conns CC=0'],
      ['RssAnon ×kn ≤ 2', '100 conns CC=10'],
      ['RSS ×kn ≤ 2', '10 conns CC=0'],
      ['RSS ×kn ≤ 2', '10 conns CC=10'],
      ['RSS ×kn ≤ 2', '100 conns CC=0'],
      ['RSS ×kn ≤ 2', '100 conns CC=10'],
    ]);
    expect(verdicts.every((v) => v.verdict === 'met')).toBe(true);
  });

  it('judges each load on its own ratios and marks loads the run did not measure', () => {
    const verdicts = targetVerdicts(QUEUE_PROXY_TARGETS, [
      { count: 10, cc: 0, ratios: ratios({ cpuPerRequest: 0.52, throughput: 1.2 }) },
      { count: 10, cc: 10, ratios: ratios({ cpuPerRequest: 0.75, throughput: 1.7 }) },
    ]);
    const at = (target: string, load: string) => verdicts.find((v) => v.target === target && v.load === load);
    expect(at('CPU ×kn ≤ 0.6', '10 conns CC=0')).toMatchObject({
      value: 0.52,
      limit: 0.6,
      bound: 'max',
      count: 10,
      cc: 0,
      verdict: 'met',
    });
    expect(at('CPU ×kn ≤ 0.6', '10 conns CC=10')?.verdict).toBe('missed');
    expect(at('req/s ×kn ≥ 1.5', '10 conns CC=0')?.verdict).toBe('missed');
    expect(at('req/s ×kn ≥ 1.5', '10 conns CC=10')?.verdict).toBe('met');
    expect(at('CPU ×kn ≤ 0.6', '1 conn CC=0')).toMatchObject({ value: null, verdict: 'not measured' });
    expect(at('RSS ×kn ≤ 2', '10 conns CC=0')).toMatchObject({ value: null, verdict: 'not measured' });
  });

  it('names the h2c loads in streams, without CC, and per call', () => {
    const verdicts = targetVerdicts(H2C_TARGETS, [
      { count: 1, ratios: ratios({ cpuPerRequest: 0.69 }) },
      { count: 10, ratios: ratios({ cpuPerRequest: 0.71, rssLoaded: 2.4, rssAnonLoaded: 1.1 }) },
    ]);
    expect(verdicts.slice(0, 3).map((v) => [v.target, v.load, v.cc, v.verdict])).toEqual([
      ['CPU ×kn ≤ 0.7', '1 stream', null, 'met'],
      ['CPU ×kn ≤ 0.7', '10 streams', null, 'missed'],
      ['CPU ×kn ≤ 0.7', '100 streams', null, 'not measured'],
    ]);
    expect(verdicts.find((v) => v.target === 'RSS ×kn ≤ 2' && v.count === 10)?.verdict).toBe('missed');
    expect(verdicts.find((v) => v.target === 'RssAnon ×kn ≤ 2' && v.count === 10)?.verdict).toBe('met');
    expect(verdicts).toHaveLength(7);
  });

  it('names throughput per call in a scenario that counts calls', () => {
    const spec: ScenarioTargets = {
      countUnit: 'stream',
      unit: 'call',
      targets: [{ ratio: 'throughput', bound: 'min', limit: 2, counts: [4] }],
    };
    expect(targetVerdicts(spec, [{ count: 4, ratios: ratios({ throughput: 2.5 }) }])).toEqual([
      {
        target: 'calls/s ×kn ≥ 2',
        load: '4 streams',
        ratio: 'throughput',
        bound: 'min',
        limit: 2,
        count: 4,
        cc: null,
        value: 2.5,
        verdict: 'met',
      },
    ]);
  });
});

describe('targetsTable and targetsNote', () => {
  const verdicts = targetVerdicts(QUEUE_PROXY_TARGETS, [
    { count: 10, cc: 0, ratios: ratios({ cpuPerRequest: 0.5234, throughput: 1.2 }) },
  ]);

  it('prints one row per target and load with the ratio and the verdict', () => {
    const table = targetsTable(verdicts);
    expect(table.headers).toEqual(['target', 'load', 'ours ÷ kn', 'verdict']);
    expect(table.rows).toContainEqual(['CPU ×kn ≤ 0.6', '10 conns CC=0', '0.52×', 'met']);
    expect(table.rows).toContainEqual(['req/s ×kn ≥ 1.5', '10 conns CC=0', '1.20×', 'missed']);
    expect(table.rows).toContainEqual(['CPU ×kn ≤ 0.6', '1 conn CC=0', '–', 'not measured']);
    expect(table.rows).toHaveLength(verdicts.length);
  });

  it('counts the verdicts', () => {
    expect(targetsNote(verdicts)).toMatch(
      /^Targets: 1 of 16 met, 1 missed, 14 not measured at this run's loads;/,
    );
    const all = targetVerdicts(
      H2C_TARGETS,
      [1, 10, 100].map((count) => ({
        count,
        ratios: ratios({ cpuPerRequest: 0.8, rssLoaded: 1, rssAnonLoaded: 1 }),
      })),
    );
    expect(targetsNote(all)).toMatch(/^Targets: 4 of 7 met, 3 missed; each ratio/);
  });
});
