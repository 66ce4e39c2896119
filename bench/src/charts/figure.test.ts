import { describe, expect, it } from 'vitest';
import { type Figure, PALETTE, renderFigure } from './figure.js';
import { xmlProblem } from './well-formed.js';

const bars: Figure = {
  title: 'latency <percentiles> & more',
  subtitle: 'Run of "today"',
  series: ['direct', 'queue-proxy <cc0>', 'knative & co'],
  panels: [
    {
      kind: 'bars',
      title: '1 connection',
      valueLabel: 'latency, ms',
      categories: ['p50', 'p90', 'p99'],
      values: [
        [0.03, 0.032, 0.083],
        [0.2, 0.3, 0.59],
        [0.22, undefined, Number.NaN],
      ],
      barLabels: [
        [undefined, undefined, undefined],
        ['0.74×', '0.8×', '0.7×'],
        [undefined, undefined, undefined],
      ],
      reference: { value: 0.5, label: 'target ≤ 0.5 ms' },
    },
    {
      kind: 'bars',
      title: '100 connections',
      valueLabel: 'latency, ms',
      categories: ['p50', 'p90', 'p99'],
      values: [
        [2.5, 3.7, 5.8],
        [2.9, 4, 6.7],
        [4.3, 7.8, 37.5],
      ],
    },
  ],
};

const spans: Figure = {
  title: 'cold start',
  series: ['stage', 'total'],
  panels: [
    {
      kind: 'spans',
      title: '',
      valueLabel: 'ms since sent',
      whiskerLabel: 'p99',
      rows: [
        { label: 'sent → held', from: 0, to: 2, whisker: 7, series: 0, note: '2 ms' },
        { label: 'held → poked', from: 2, to: 2, series: 0, note: '0 ms' },
        { label: 'app start', from: 2, to: 105, whisker: 140, series: 0, note: '103 ms' },
        { label: 'total', from: 0, to: 197, whisker: 288, series: 1, note: '197 ms' },
        { label: 'unknown', from: 0, to: Number.NaN, series: 0 },
      ],
      reference: { value: 100, label: 'target 100 ms' },
    },
  ],
};

/** The numbers in every `attribute="…"` of `svg` named `name`. */
function numbers(svg: string, name: string): number[] {
  return [...svg.matchAll(new RegExp(` ${name}="([^"]*)"`, 'g'))].map((m) => Number(m[1]));
}

describe('renderFigure', () => {
  it.each([
    ['bars', bars],
    ['spans', spans],
  ])('writes well-formed SVG with no NaN (%s)', (_, figure) => {
    const svg = renderFigure(figure);
    expect(xmlProblem(svg)).toBeUndefined();
    for (const name of ['x', 'y', 'width', 'height', 'x1', 'x2', 'y1', 'y2']) {
      for (const value of numbers(svg, name)) expect(Number.isFinite(value)).toBe(true);
    }
  });

  it('has a white background, the title, the subtitle and the axis labels', () => {
    const svg = renderFigure(bars);
    expect(svg).toMatch(/<rect x="0" y="0" width="\d+" height="\d+" fill="#ffffff"\/>/);
    expect(svg).toContain('<title>latency &lt;percentiles&gt; &amp; more</title>');
    expect(svg).toContain('>Run of &quot;today&quot;</text>');
    expect(svg.match(/>latency, ms<\/text>/g)).toHaveLength(2);
    for (const category of ['p50', 'p90', 'p99']) expect(svg).toContain(`>${category}</text>`);
    expect(renderFigure(spans)).toContain('>ms since sent</text>');
  });

  it('puts every series in the legend, escaped, in its colour', () => {
    const svg = renderFigure(bars);
    expect(svg).toContain('>direct</text>');
    expect(svg).toContain('>queue-proxy &lt;cc0&gt;</text>');
    expect(svg).toContain('>knative &amp; co</text>');
    expect(svg).not.toContain('<cc0>');
    for (const color of PALETTE.slice(0, 3)) expect(svg).toContain(`fill="${color}"`);
  });

  it('draws a bar for every value present and none for a missing one', () => {
    const svg = renderFigure(bars);
    // 9 values in the first panel less 2 missing, 9 in the second.
    expect(svg.match(/<rect [^>]*fill="#(4e79a7|f28e2b|59a14f)">/g)).toHaveLength(16);
    expect(svg).toContain('queue-proxy &lt;cc0&gt;, p99: 0.59');
  });

  it('scales bars from zero: a value twice another is drawn twice as tall', () => {
    const svg = renderFigure({
      title: 't',
      series: ['a'],
      panels: [{ kind: 'bars', title: 'p', valueLabel: 'v', categories: ['x', 'y'], values: [[10, 20]] }],
    });
    const heights = [...svg.matchAll(/<rect [^>]*height="([\d.]+)" fill="#4e79a7">/g)].map((m) =>
      Number(m[1]),
    );
    expect(heights).toHaveLength(2);
    expect(heights[1]! / heights[0]!).toBeCloseTo(2, 2);
  });

  it('writes the bar labels and the reference line with its label', () => {
    const svg = renderFigure(bars);
    expect(svg).toContain('>0.74×</text>');
    expect(svg).toContain('stroke-dasharray="6 4"');
    expect(svg).toContain('>target ≤ 0.5 ms</text>');
  });

  it('offsets each span by its start and draws whiskers and notes', () => {
    const svg = renderFigure(spans);
    const rects = [...svg.matchAll(/<rect x="([\d.]+)" y="[\d.]+" width="([\d.]+)" height="15"/g)].map(
      (m) => ({
        x: Number(m[1]),
        width: Number(m[2]),
      }),
    );
    // The unknown row draws no bar.
    expect(rects).toHaveLength(4);
    const [sent, poked, app, total] = rects as [
      (typeof rects)[0],
      (typeof rects)[0],
      (typeof rects)[0],
      (typeof rects)[0],
    ];
    expect(poked.x).toBeCloseTo(sent.x + sent.width, 0);
    expect(app.x).toBeCloseTo(poked.x, 0);
    expect(total.x).toBe(sent.x);
    expect(app.x + app.width).toBeCloseTo(sent.x + (total.width * 105) / 197, 0);
    expect(svg).toContain('>103 ms</text>');
    expect(svg).toContain('>p99</text>');
    expect(svg).toContain('>target 100 ms</text>');
  });

  it('draws a row’s limit as a red tick, with its legend entry, and scales the axis to reach it', () => {
    const svg = renderFigure({
      title: 'memory',
      series: ['queue-proxy'],
      panels: [
        {
          kind: 'spans',
          title: '',
          valueLabel: 'MiB',
          limitLabel: 'cap',
          rows: [{ label: 'flood', from: 0, to: 135, limit: 160, series: 0 }],
        },
      ],
    });
    expect(svg.match(/stroke="#cf222e" stroke-width="2.5"/g)).toHaveLength(2);
    expect(svg).toContain('>cap</text>');
    // Without the limit the axis would stop at 150.
    expect(svg).toContain('>200</text>');
  });

  it('keeps the given colour of a series', () => {
    const svg = renderFigure({ ...bars, colors: [5, 6, 7] });
    expect(svg).toContain(`fill="${PALETTE[5]}"`);
    expect(svg).not.toContain(`fill="${PALETTE[0]}"`);
  });
});
