import { describe, expect, it } from 'vitest';
import { parseChaosOptions, renderReport } from './chaos-report.js';
import type { ChaosScenario } from './chaos-scenario.js';
import { errorRow, scenarioBudgetSeconds } from './runner.js';

const names = ['app-kill', 'slowloris'];

describe('parseChaosOptions', () => {
  it('runs everything by default', () => {
    expect(parseChaosOptions({}, names)).toEqual({ only: undefined, quick: false, summary: true });
  });

  it('takes --only repeated or comma-separated', () => {
    expect(parseChaosOptions({ only: ['app-kill,slowloris'], quick: true, summary: false }, names)).toEqual({
      only: ['app-kill', 'slowloris'],
      quick: true,
      summary: false,
    });
  });

  it('names an unknown scenario and the known ones', () => {
    expect(() => parseChaosOptions({ only: ['nope'] }, names)).toThrow(
      /unknown scenario "nope"; known: app-kill, slowloris/,
    );
  });
});

describe('renderReport', () => {
  const scenario: ChaosScenario = {
    name: 'app-kill',
    description: 'd',
    lossDefinition: 'failed requests sent after the SIGKILL',
    budgetSeconds: 60,
    run: async () => ({ rows: [] }),
  };

  it('puts the summary first and defines each scenario’s loss in the notes', () => {
    const report = renderReport(
      { rows: [errorRow('app-kill', 'boom')], details: ['app-kill: detail'], tables: [] },
      [scenario],
      { machine: 'm', node: 'v24', quick: true, seconds: 12.3 },
    );
    expect(report.tables[0]!.rows[0]!.at(-1)).toBe('error: boom');
    expect(report.notes).toContain('Lost in `app-kill`: failed requests sent after the SIGKILL.');
    expect(report.notes.at(-1)).toBe('app-kill: detail');
    expect(report.setup).toContainEqual(['Verdicts', '0 pass, 0 fail, 1 did not finish']);
  });

  it('gives a quick run a smaller budget', () => {
    expect(scenarioBudgetSeconds(scenario, false)).toBe(60);
    expect(scenarioBudgetSeconds(scenario, true)).toBe(36);
  });
});
