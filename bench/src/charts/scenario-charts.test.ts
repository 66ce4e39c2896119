import { describe, expect, it } from 'vitest';
import type { RunRecord } from './chart-kinds.js';
import type { BarPanel, Figure, SpanPanel } from './figure.js';
import { renderFigure } from './figure.js';
import { CHART_KINDS, type ScenarioChart, scenarioCharts } from './scenario-charts.js';
import { xmlProblem } from './well-formed.js';

const base = {
  date: '2026-12-07T06:15:09.000Z',
  machine: { cpu: 'Test CPU', cpus: 2 },
  settings: { durationSeconds: 8, warmupSeconds: 2, connections: [1, 10] },
};

const latency = (scale: number) => ({
  p50: 0.2 * scale,
  p90: 0.3 * scale,
  p99: 0.6 * scale,
  mean: 1,
  max: 9,
});

function chart(charts: readonly ScenarioChart[], kind: string): Figure {
  const found = charts.find((c) => c.kind === kind);
  if (found === undefined) throw new Error(`no ${kind} chart among ${charts.map((c) => c.kind).join(', ')}`);
  return found.figure;
}

const barPanel = (figure: Figure, i = 0) => figure.panels[i] as BarPanel;
const spanPanel = (figure: Figure) => figure.panels[0] as SpanPanel;

function expectRenders(charts: readonly ScenarioChart[]): void {
  for (const { kind, figure } of charts) {
    expect(CHART_KINDS).toContain(kind);
    const svg = renderFigure(figure);
    expect(xmlProblem(svg), kind).toBeUndefined();
    for (const name of figure.series)
      expect(svg).toContain(name.replaceAll('&', '&amp;').replaceAll('<', '&lt;'));
  }
}

const queueProxyRow = (label: string, kind: string, cc: number | null, cpu: number) => ({
  label,
  kind,
  cc,
  cpuSecondsPer10k: cpu,
  rssIdleMiB: 70,
  rssLoadedMiB: 80,
  rssAnonLoadedMiB: 30,
  pssLoadedMiB: 45,
});

const queueProxyRecord = (withKnative: boolean): RunRecord => {
  const targets = [
    ['direct', 'direct', null],
    ['bare-proxy', 'bare', null],
    ['queue-proxy cc0', 'queue-proxy', 0],
    ...(withKnative ? [['knative cc0', 'knative', 0]] : []),
  ] as const;
  return {
    scenario: 'queue-proxy',
    ...base,
    targets: targets.map(([label], i) => ({
      label,
      cells: [1, 10].map((connections) => ({ connections, load: { latencyMs: latency(i + connections) } })),
    })),
    derived: Object.fromEntries(
      [1, 10].map((c) => [
        String(c),
        [
          { label: 'direct', kind: 'direct', cc: null, rps: 1 },
          queueProxyRow('bare-proxy', 'bare', null, 1.5 / c),
          queueProxyRow('queue-proxy cc0', 'queue-proxy', 0, 1.0 / c),
          ...(withKnative ? [queueProxyRow('knative cc0', 'knative', 0, 1.25 / c)] : []),
        ],
      ]),
    ),
  };
};

describe('queue-proxy charts', () => {
  it('draws latency per connection count, a series per target, a group per percentile recorded', () => {
    const charts = scenarioCharts(queueProxyRecord(true));
    expect(charts.map((c) => c.kind)).toEqual(['latency', 'cpu', 'memory']);
    const figure = chart(charts, 'latency');
    expect(figure.series).toEqual(['direct', 'bare-proxy', 'queue-proxy cc0', 'knative cc0']);
    expect(figure.panels.map((p) => p.title)).toEqual(['1 connection', '10 connections']);
    expect(barPanel(figure).categories).toEqual(['p50', 'p90', 'p99']);
    expect(barPanel(figure, 1).values[2]).toEqual(
      [0.2 * 12, 0.3 * 12, 0.6 * 12].map((v) => expect.closeTo(v)),
    );
    expect(figure.subtitle).toContain('Run of 2026-12-07 06:15 UTC, Test CPU, 2 CPUs');
    expectRenders(charts);
  });

  it('labels our CPU per request with its ratio to Knative’s at the same CC', () => {
    const figure = chart(scenarioCharts(queueProxyRecord(true)), 'cpu');
    const panel = barPanel(figure);
    expect(figure.series).toEqual(['bare-proxy', 'queue-proxy cc0', 'knative cc0']);
    expect(panel.values[1]).toEqual([100, 10].map((v) => expect.closeTo(v)));
    expect(panel.barLabels?.[1]).toEqual(['0.80×', '0.80×']);
    expect(panel.barLabels?.[0]).toEqual([undefined, undefined]);
    expect(panel.valueLabel).toBe('CPU µs per request');
    expect(figure.subtitle).toContain('Knative');
    // Colours follow the latency chart: bare-proxy is the second target there.
    expect(figure.colors).toEqual([1, 2, 3]);
  });

  it('compares with the bare proxy when no Knative row exists', () => {
    const panel = barPanel(chart(scenarioCharts(queueProxyRecord(false)), 'cpu'));
    expect(panel.barLabels?.[1]).toEqual(['0.67×', '0.67×']);
  });

  it('draws RSS, RssAnon and PSS per proxy at the highest connection count', () => {
    const figure = chart(scenarioCharts(queueProxyRecord(true)), 'memory');
    expect(figure.series).toEqual(['RSS idle', 'RSS under load', 'RssAnon under load', 'PSS under load']);
    expect(barPanel(figure).categories).toEqual(['bare-proxy', 'queue-proxy cc0', 'knative cc0']);
    expect(figure.title).toContain('10 connections');
  });

  it('leaves out what an older run did not record', () => {
    expect(scenarioCharts({ scenario: 'queue-proxy', ...base }).map((c) => c.kind)).toEqual([]);
  });
});

describe('activator charts', () => {
  const process = (cpu: number) => ({ cpuSecondsPer10k: cpu, rssLoadedKiB: 80 * 1024 });
  const record: RunRecord = {
    scenario: 'activator',
    ...base,
    targets: { heldP99Ms: 250 },
    cells: [1, 10].flatMap((connections) => [
      { path: 'direct', connections, load: { latencyMs: latency(1) }, queueProxy: process(1) },
      {
        path: 'activator',
        connections,
        load: { latencyMs: latency(2) },
        queueProxy: process(0.9),
        activator: process(1.17),
      },
    ]),
    held: {
      trials: [10, 12, 30].map((ms) => ({
        podStartMs: ms * 10,
        readyToResponseMs: ms,
        endpointsToResponseMs: ms - 1,
      })),
    },
    memory: {
      idle: { rssKiB: 74 * 1024, rssAnonKiB: 24 * 1024, pssKiB: 49 * 1024 },
      held: { rssKiB: 118 * 1024, rssAnonKiB: 67 * 1024, pssKiB: 92 * 1024 },
      heldRequests: 10000,
    },
    holding: {
      fairness: {
        aloneSummary: { count: 200, p50: 0.4, p99: 2 },
        duringFloodSummary: { count: 200, p50: 0.5, p99: 8 },
      },
      pacedWake: {
        requests: 500,
        on: { summary: { count: 500, p50: 300, p99: 450 } },
        off: { slowStart: '0s', summary: { count: 500, p50: 900, p99: 2200 } },
      },
    },
  };

  it('draws latency, CPU with the activator ÷ queue-proxy ratio, memory, the held trials and part 4', () => {
    const charts = scenarioCharts(record);
    expect(charts.map((c) => c.kind)).toEqual(['latency', 'cpu', 'memory', 'held', 'fairness', 'wake']);
    expect(chart(charts, 'latency').series).toEqual(['queue-proxy', 'activator → queue-proxy']);
    expect(barPanel(chart(charts, 'cpu')).barLabels?.[2]).toEqual(['1.30×', '1.30×']);
    expect(barPanel(chart(charts, 'memory')).categories).toEqual([
      'idle, revision at zero',
      '10,000 requests held',
    ]);
    const held = spanPanel(chart(charts, 'held'));
    expect(held.rows[0]).toMatchObject({ label: 'Pod ready → response', from: 0, to: 12, whisker: 30 });
    expect(held.reference?.value).toBe(250);
    expect(spanPanel(chart(charts, 'fairness')).rows.map((r) => [r.label, r.to, r.whisker])).toEqual([
      ['alone', 0.4, 2],
      ['during a flood of A', 0.5, 8],
    ]);
    const wake = spanPanel(chart(charts, 'wake'));
    expect(wake.rows.map((r) => [r.label, r.to, r.whisker, r.series])).toEqual([
      ['slow start on (1s, default)', 300, 450, 0],
      ['slow start off (0s)', 900, 2200, 1],
    ]);
    expectRenders(charts);
  });

  it('leaves part 4 out of a run that did not record it', () => {
    const { holding: _, ...older } = record as RunRecord & { holding?: unknown };
    expect(scenarioCharts(older).map((c) => c.kind)).toEqual(['latency', 'cpu', 'memory', 'held']);
  });
});

describe('h2c charts', () => {
  const qp = (cpu: number, rss: number) => ({ cpuSecondsPer10k: cpu, rssLoadedKiB: rss * 1024 });
  const rows = [
    { label: 'direct', kind: 'direct' },
    { label: 'queue-proxy', kind: 'queue-proxy', queueProxy: qp(3, 115) },
    { label: 'activator → queue-proxy', kind: 'activator', queueProxy: qp(4, 116), activator: qp(5, 105) },
    { label: 'knative', kind: 'knative', queueProxy: qp(2, 26) },
  ];
  const paths = ['direct', 'queue-proxy', 'activator', 'compare:knative'];
  const record: RunRecord = {
    scenario: 'h2c',
    ...base,
    cells: [1, 10].flatMap((inFlight) =>
      paths.map((path, i) => ({ path, inFlight, load: { latencyMs: latency(i + 1) } })),
    ),
    derived: { '1': rows, '10': rows },
  };

  it('draws every path, and labels the queue-proxy ÷ Knative’s and the activator ÷ its queue-proxy', () => {
    const charts = scenarioCharts(record);
    const latencyChart = chart(charts, 'latency');
    expect(latencyChart.series).toEqual(rows.map((r) => r.label));
    expect(latencyChart.panels[1]?.title).toBe('10 calls in flight');
    expect(barPanel(latencyChart).values[3]?.[0]).toBeCloseTo(0.8);
    const cpu = chart(charts, 'cpu');
    expect(cpu.series).toEqual(['queue-proxy', 'queue-proxy, behind the activator', 'activator', 'knative']);
    expect(barPanel(cpu).barLabels?.[0]).toEqual(['1.50×', '1.50×']);
    expect(barPanel(cpu).barLabels?.[2]).toEqual(['1.25×', '1.25×']);
    expect(cpu.colors).toEqual([1, 4, 2, 3]);
    expect(barPanel(chart(charts, 'memory')).categories).toEqual(['queue-proxy', 'activator', 'knative']);
    expectRenders(charts);
  });
});

describe('wakes chart', () => {
  const wake = (kind: string, ready: number, accepting: number, firstByte: number, status = 200) => ({
    kind,
    revision: `wake-${kind}-00-00001`,
    sent: 0,
    firstByte,
    status,
    pod: { spawnedAt: 1, appListeningAt: accepting, readyAt: ready },
  });

  it('draws the ready → response median and p99 of each app against the p50 target', () => {
    const charts = scenarioCharts({
      scenario: 'wakes',
      ...base,
      wakes: [
        wake('hello', 300, 200, 310),
        wake('hello', 300, 200, 330),
        wake('reset', 300, 900, 940),
        wake('reset', 300, 900, 320, 502),
      ],
    });
    expect(charts.map((c) => c.kind)).toEqual(['wake']);
    const figure = chart(charts, 'wake');
    expect(figure.title).toContain('4 wakes at zero, 1 non-2xx');
    const panel = spanPanel(figure);
    expect(panel.rows.map((r) => [r.label, r.to, r.whisker])).toEqual([
      ['hello', 10, 30],
      ['reset', 40, 40],
    ]);
    expect(panel.reference).toMatchObject({ value: 50 });
    expectRenders(charts);
  });
});

describe('cold-start chart', () => {
  const trial = (sent: number, app: number) => ({
    sent,
    held: sent + 2,
    poked: sent + 2,
    pod: { spawnedAt: sent + 3, appListeningAt: sent + 3 + app, readyAt: sent + 63 + app },
    forwarded: sent + 65 + app,
    firstByte: sent + 88 + app,
    status: 200,
  });

  it('draws the stages as a waterfall, each bar starting where the one before ends, and the total', () => {
    const charts = scenarioCharts({
      scenario: 'cold-start',
      ...base,
      trials: [trial(0, 100), trial(1000, 90)],
    });
    expect(charts.map((c) => c.kind)).toEqual(['stages']);
    const rows = spanPanel(chart(charts, 'stages')).rows;
    expect(rows).toHaveLength(8);
    for (let i = 1; i < 7; i++) expect(rows[i]!.from).toBe(rows[i - 1]!.to);
    expect(rows[3]).toMatchObject({
      label: "spawned → app listening (the app's own start)",
      from: 3,
      to: 93,
    });
    expect(rows[7]).toMatchObject({ label: 'total', from: 0, to: 178, whisker: 188, series: 1 });
    expectRenders(charts);
  });
});

describe('startup chart', () => {
  it('draws each process’s median with its p90 and the target line', () => {
    const startsMs = { 'queue-proxy': [100, 110, 120, 130, 200], activator: [150, 160, 170, 180, 190] };
    const charts = scenarioCharts({ scenario: 'startup', ...base, targetMs: 50, startsMs });
    const panel = spanPanel(chart(charts, 'starts'));
    expect(panel.rows.map((r) => [r.label, r.to, r.whisker])).toEqual([
      ['queue-proxy', 120, 200],
      ['activator', 170, 190],
    ]);
    expect(panel.reference).toEqual({ value: 50, label: 'target ≤ 50 ms' });
    expect(panel.rows[0]?.note).toBe('120.0 ms (p90 200.0)');
    expectRenders(charts);
  });
});

describe('responsiveness chart', () => {
  it('draws each measure’s median with its p99', () => {
    const charts = scenarioCharts({
      scenario: 'responsiveness',
      ...base,
      trials: 20,
      measures: [{ label: 'breaker full → 503', summaryMs: { median: 0.996, p99: 17.528 } }],
    });
    expect(spanPanel(chart(charts, 'trials')).rows[0]).toMatchObject({ to: 0.996, whisker: 17.528 });
    expectRenders(charts);
  });
});

describe('in-process charts', () => {
  const row = (label: string, kind: string, cpu: number) => ({
    label,
    kind,
    cpuMicrosPerRequest: cpu,
    rssIdleMiB: 60,
    rssAnonIdleMiB: 15,
    rssLoadedMiB: 80,
    rssAnonLoadedMiB: 30,
  });
  const rows = [
    row('bare', 'bare', 40),
    row('sidecar cc0', 'sidecar', 100),
    row('in-process cc0', 'in-process', 50),
  ];
  it('labels each Pod’s CPU per request with its ratio to the bare app', () => {
    const charts = scenarioCharts({
      scenario: 'in-process',
      ...base,
      pods: rows.map((r, i) => ({
        label: r.label,
        cells: [1, 10].map((connections) => ({ connections, load: { latencyMs: latency(i + 1) } })),
      })),
      rows: { '1': rows, '10': rows },
    });
    expect(charts.map((c) => c.kind)).toEqual(['latency', 'cpu', 'memory']);
    expect(barPanel(chart(charts, 'cpu')).barLabels).toEqual([
      [undefined, undefined],
      ['2.50×', '2.50×'],
      ['1.25×', '1.25×'],
    ]);
    expect(chart(charts, 'memory').series).toEqual([
      'RSS idle',
      'RssAnon idle',
      'RSS under load',
      'RssAnon under load',
    ]);
    expectRenders(charts);
  });
});

describe('activator-cluster charts', () => {
  const cell = (plane: string, path: string, connections: number, cpu: number) => ({
    plane,
    path,
    load: { connections, latencyMs: latency(1) },
    activator: { cpuSecondsPer10k: cpu, rssLoadedKiB: 160 * 1024 },
    queueProxy: { cpuSecondsPer10k: cpu / 2, rssLoadedKiB: 100 * 1024 },
  });
  it('draws both data planes and labels ours ÷ Knative’s', () => {
    const charts = scenarioCharts({
      scenario: 'activator-cluster',
      ...base,
      cells: [1, 10].flatMap((c) => [
        cell('ours', 'direct', c, 1),
        cell('ours', 'activator', c, 2),
        cell('knative', 'direct', c, 2),
        cell('knative', 'activator', c, 4),
      ]),
    });
    expect(chart(charts, 'latency').series).toEqual([
      'ours: queue-proxy',
      'ours: activator → queue-proxy',
      'Knative: queue-proxy',
      'Knative: activator → queue-proxy',
    ]);
    const cpu = barPanel(chart(charts, 'cpu'));
    expect(cpu.barLabels?.[0]).toEqual(['0.50×', '0.50×']);
    expect(cpu.barLabels?.[1]).toEqual(['0.50×', '0.50×']);
    expect(cpu.barLabels?.[2]).toEqual([undefined, undefined]);
    expectRenders(charts);
  });
});

describe('chaos charts', () => {
  const rows = [
    {
      scenario: 'app-kill',
      component: 'app (killed)',
      recovery: { firstSuccessMs: 24, steadyMs: 0, targetMs: 2000 },
      peakRssKiB: 74.8 * 1024,
    },
    {
      scenario: 'activator-kill',
      component: 'activator (killed)',
      recovery: { firstSuccessMs: 735, steadyMs: 900, targetMs: 2000 },
      peakRssKiB: 96.8 * 1024,
      rssCapKiB: 256 * 1024,
    },
    { scenario: 'malformed → queue-proxy', component: 'queue-proxy' },
    {
      scenario: 'h2 stream flood',
      component: 'queue-proxy',
      peakRssKiB: 135.5 * 1024,
      rssCapKiB: 160 * 1024,
    },
  ];

  it('draws each fault’s recovery against its target and each component’s peak RSS with its cap', () => {
    const charts = scenarioCharts({ scenario: 'chaos', date: base.date, rows });
    expect(charts.map((c) => c.kind)).toEqual(['recovery', 'memory']);
    const recovery = spanPanel(chart(charts, 'recovery'));
    expect(recovery.rows.map((r) => [r.label, r.to, r.whisker])).toEqual([
      ['app-kill', 24, undefined],
      ['activator-kill', 735, 900],
    ]);
    expect(recovery.reference).toEqual({ value: 2000, label: 'target ≤ 2000 ms' });
    const memory = chart(charts, 'memory');
    expect(memory.series).toEqual(['app', 'activator', 'queue-proxy']);
    expect(spanPanel(memory).rows.map((r) => [r.label, r.series, r.note, r.limit])).toEqual([
      ['app-kill', 0, '74.8 MiB', undefined],
      ['activator-kill', 1, '96.8 MiB (cap 256)', 256],
      ['h2 stream flood', 2, '135.5 MiB (cap 160)', 160],
    ]);
    expectRenders(charts);
  });

  it('draws no target line when the faults’ targets differ', () => {
    const mixed = [
      ...rows,
      { scenario: 'cluster', recovery: { firstSuccessMs: 13, steadyMs: 0, targetMs: 10000 } },
    ];
    expect(
      spanPanel(chart(scenarioCharts({ scenario: 'chaos', rows: mixed }), 'recovery')).reference,
    ).toBeUndefined();
  });
});

describe('scenarioCharts', () => {
  it('draws nothing for a scenario without charts', () => {
    expect(scenarioCharts({ scenario: 'no-such-scenario', ...base })).toEqual([]);
  });
});
