import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { latestSummarisedRuns, readRun, writeScenarioCharts } from './chart-files.js';
import { xmlProblem } from './well-formed.js';

const startup = (date: string, extra: Record<string, unknown> = {}) => ({
  scenario: 'startup',
  date,
  targetMs: 50,
  startsMs: { 'queue-proxy': [100, 120, 140], activator: [150, 160, 170] },
  ...extra,
});

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'bench-charts-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('writeScenarioCharts', () => {
  it('writes each chart as <scenario>-<kind>.svg and returns links relative to RESULTS.md', () => {
    const links = writeScenarioCharts(join(dir, 'charts'), startup('2026-12-07T06:08:15.000Z'));
    expect(links).toEqual([
      { title: 'startup: process spawned → ready (3 starts each)', path: 'charts/startup-starts.svg' },
    ]);
    const svg = readFileSync(join(dir, 'charts', 'startup-starts.svg'), 'utf8');
    expect(xmlProblem(svg)).toBeUndefined();
    expect(svg).toContain('>queue-proxy</text>');
  });

  it('removes the scenario’s charts a newer run no longer draws, and no other scenario’s', () => {
    for (const file of ['activator-held.svg', 'activator-cluster-held.svg', 'activator-notes.svg'])
      writeFileSync(join(dir, file), '<svg/>');
    const links = writeScenarioCharts(dir, { scenario: 'activator', settings: { connections: [1] } }, '.');
    expect(links).toEqual([]);
    expect(readdirSync(dir).sort()).toEqual(['activator-cluster-held.svg', 'activator-notes.svg']);
  });
});

describe('latestSummarisedRuns', () => {
  it('picks the newest run of each scenario that regenerated RESULTS.md', () => {
    const write = (name: string, record: unknown) => writeFileSync(join(dir, name), JSON.stringify(record));
    write('startup-a.json', startup('2026-12-07T06:08:15.000Z', { summary: true }));
    write('startup-b.json', startup('2026-12-07T07:45:19.000Z', { summary: false }));
    write('startup-c.json', startup('2026-12-07T05:00:00.000Z', { summary: true }));
    // Written before runs recorded whether they regenerated RESULTS.md.
    write('startup-d.json', startup('2026-12-07T08:00:00.000Z'));
    write('cold-start-a.json', { scenario: 'cold-start', date: '2026-12-07T06:09:40.000Z', summary: true });
    write('broken.json', '{');
    writeFileSync(join(dir, 'notes.txt'), 'not a result');
    const latest = latestSummarisedRuns(dir);
    expect([...latest.keys()].sort()).toEqual(['cold-start', 'startup']);
    expect(latest.get('startup')?.file).toBe(join(dir, 'startup-a.json'));
  });

  it('finds nothing in a directory that does not exist', () => {
    expect(latestSummarisedRuns(join(dir, 'missing')).size).toBe(0);
  });
});

describe('readRun', () => {
  it('names the file when it is not a bench result', () => {
    writeFileSync(join(dir, 'x.json'), '{"a":1}');
    expect(() => readRun(join(dir, 'x.json'))).toThrow(`${join(dir, 'x.json')}: no "scenario" field`);
    expect(() => readRun(join(dir, 'none.json'))).toThrow('not a readable JSON file');
    expect(existsSync(join(dir, 'none.json'))).toBe(false);
  });
});
