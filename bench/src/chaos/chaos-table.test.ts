import { describe, expect, it } from 'vitest';
import { formatMarkdownTable } from '../table.js';
import {
  type ChaosRow,
  formatOutcomes,
  formatRecovery,
  formatRss,
  standardChecks,
  summaryTable,
  verdict,
  verdictCounts,
} from './chaos-table.js';

const row = (overrides: Partial<ChaosRow> = {}): ChaosRow => ({
  scenario: 'app-kill',
  component: 'app',
  sent: 100,
  outcomes: new Map([
    ['2xx', 98],
    ['502', 2],
  ]),
  lost: 0,
  recovery: { firstSuccessMs: 12, steadyMs: 40, targetMs: 2000 },
  peakRssKiB: 60 * 1024,
  rssCapKiB: 160 * 1024,
  cpuSeconds: 0.25,
  checks: [],
  ...overrides,
});

describe('verdict', () => {
  it('passes a row within every target', () => {
    expect(verdict(row())).toBe('pass');
  });

  it('names every failed check', () => {
    const failed = row({
      lost: 3,
      peakRssKiB: 200 * 1024,
      recovery: { firstSuccessMs: 10, steadyMs: undefined, targetMs: 2000 },
      checks: [{ name: '503+Retry-After', pass: false }],
    });
    expect(verdict(failed)).toBe('FAIL: lost, RSS cap, recovery, 503+Retry-After');
  });

  it('fails a recovery slower than its target', () => {
    expect(
      standardChecks(row({ recovery: { firstSuccessMs: 1, steadyMs: 2500, targetMs: 2000 } })),
    ).toContainEqual({
      name: 'recovery',
      pass: false,
    });
  });

  it('reports a scenario that did not finish', () => {
    expect(verdict(row({ error: 'ran past its 60 s budget' }))).toBe('error: ran past its 60 s budget');
  });

  it('counts verdicts', () => {
    expect(verdictCounts([row(), row({ lost: 1 }), row({ error: 'x' })])).toEqual({
      pass: 1,
      fail: 1,
      error: 1,
    });
  });
});

describe('cells', () => {
  it('formats outcomes, recovery and memory', () => {
    expect(
      formatOutcomes(
        new Map([
          ['2xx', 5],
          ['reset', 1],
        ]),
      ),
    ).toBe('2xx 5 · reset 1');
    expect(formatOutcomes(new Map())).toBe('–');
    expect(formatRecovery({ firstSuccessMs: 12.4, steadyMs: undefined, targetMs: 2000 })).toBe(
      '12 / never ≤ 2000',
    );
    expect(formatRecovery(undefined)).toBe('–');
    expect(formatRss(65 * 1024, 160 * 1024)).toBe('65.0 ≤ 160');
    expect(formatRss(65 * 1024, undefined)).toBe('65.0');
    expect(formatRss(undefined, 160 * 1024)).toBe('–');
  });
});

describe('summaryTable', () => {
  it('renders one row per scenario, markdown-safe', () => {
    const table = summaryTable([row(), row({ scenario: 'malformed', lost: undefined, recovery: undefined })]);
    expect(table.rows).toHaveLength(2);
    expect(table.rows[0]).toEqual([
      'app-kill',
      'app',
      '100',
      '2xx 98 · 502 2',
      '0',
      '12 / 40 ≤ 2000',
      '60.0 ≤ 160',
      '0.25',
      'pass',
    ]);
    expect(table.rows[1]![4]).toBe('–');
    const markdown = formatMarkdownTable(table);
    expect(markdown.split('\n')).toHaveLength(4);
  });
});
