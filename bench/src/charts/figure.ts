/**
 * Renders a bench chart, a {@link Figure}, as a standalone SVG document: a title, a subtitle, a
 * legend, and one or more panels side by side, each either grouped vertical bars ({@link BarPanel})
 * or horizontal spans with whiskers ({@link SpanPanel}, for waterfalls and medians with a
 * percentile). Every value axis starts at zero. Pure: data in, text out.
 */
import { linearScale } from './scale.js';
import { coordinate, empty, formatValue, group, svgDocument, text, tooltip } from './svg.js';

/** A horizontal or vertical line across a panel at a value, e.g. a target, with its legend label. */
export interface Reference {
  readonly value: number;
  readonly label: string;
}

/** Grouped vertical bars: one group per category, one bar per series in each. */
export interface BarPanel {
  readonly kind: 'bars';
  /** Shown above the panel; empty for none. */
  readonly title: string;
  /** Label of the value axis, with its unit, e.g. `latency, ms`. */
  readonly valueLabel: string;
  /** The groups along the horizontal axis. */
  readonly categories: readonly string[];
  /** `values[series][category]`; undefined leaves a gap. */
  readonly values: readonly (readonly (number | undefined)[])[];
  /** Text written above each bar (same indexing as `values`), e.g. a ratio. */
  readonly barLabels?: readonly (readonly (string | undefined)[])[];
  readonly reference?: Reference;
}

/** One bar of a {@link SpanPanel}: from `from` to `to`, with an optional whisker out to `whisker`. */
export interface Span {
  readonly label: string;
  readonly from: number;
  readonly to: number;
  readonly whisker?: number;
  /** Index into the figure's series, for the colour. */
  readonly series: number;
  /** Text after the bar, e.g. its length. */
  readonly note?: string;
  /** A bound for this row alone (e.g. a memory cap), drawn as a red tick across the row. */
  readonly limit?: number;
}

/** Horizontal bars, one row each, offset by their start: a waterfall, or medians with a whisker. */
export interface SpanPanel {
  readonly kind: 'spans';
  /** Shown above the panel; empty for none. */
  readonly title: string;
  /** Label of the value axis, with its unit. */
  readonly valueLabel: string;
  readonly rows: readonly Span[];
  /** What the whiskers show, for the legend, e.g. `p90`. */
  readonly whiskerLabel?: string;
  /** What the rows' limit ticks are, for the legend, e.g. `cap`. */
  readonly limitLabel?: string;
  readonly reference?: Reference;
}

/** One panel of a figure. */
export type Panel = BarPanel | SpanPanel;

/** A whole chart. */
export interface Figure {
  readonly title: string;
  /** A second line under the title: the run it comes from, how to read it. */
  readonly subtitle?: string;
  /** Names of the series, in colour order; shown in the legend. */
  readonly series: readonly string[];
  /**
   * The palette index of each series (default: its own index), so that one target keeps its colour
   * across a scenario's charts even where some series are left out.
   */
  readonly colors?: readonly number[];
  readonly panels: readonly Panel[];
  /** Panels per row (default: up to 3). */
  readonly columns?: number;
}

/** Colour-blind-safe series colours (Tableau 10), readable on the white background. */
export const PALETTE = [
  '#4e79a7',
  '#f28e2b',
  '#59a14f',
  '#e15759',
  '#b07aa1',
  '#76b7b2',
  '#edc948',
  '#9c755f',
  '#ff9da7',
  '#bab0ac',
] as const;

const INK = '#24292f';
const MUTED = '#57606a';
const GRID = '#d8dee4';
const REFERENCE = '#cf222e';
const MARGIN = 16;
const MIN_WIDTH = 640;
const BAR_WIDTH = 13;
const MAX_BAR_WIDTH = 26;
const BAR_GROUP_GAP = 22;
const BAR_PLOT_HEIGHT = 210;
const BAR_LEFT = 62;
const SPAN_ROW = 26;
const SPAN_BAR = 15;
const SPAN_PLOT_WIDTH = 430;
const SPAN_RIGHT = 24;
const CHAR_WIDTH = 0.6;

/** Text drawn over lines stays legible: a white halo painted under its glyphs. */
const HALO = { stroke: '#ffffff', 'stroke-width': 3, 'paint-order': 'stroke', 'stroke-linejoin': 'round' };

/** The palette colour at `index`, wrapping around. */
export function seriesColor(index: number): string {
  return PALETTE[((index % PALETTE.length) + PALETTE.length) % PALETTE.length]!;
}

/** Estimated width of `content` in pixels at `size` (no font metrics here; good enough to lay out). */
function textWidth(content: string, size: number): number {
  return content.length * size * CHAR_WIDTH;
}

/** Splits `content` at spaces into lines of at most `width` pixels at `size`. */
function wrap(content: string, width: number, size: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of content.split(' ')) {
    const next = line === '' ? word : `${line} ${word}`;
    if (line !== '' && textWidth(next, size) > width) {
      lines.push(line);
      line = word;
    } else line = next;
  }
  if (line !== '') lines.push(line);
  return lines;
}

/** A finite value or undefined. */
function finite(value: number | undefined): number | undefined {
  return value !== undefined && Number.isFinite(value) ? value : undefined;
}

interface Laid {
  readonly width: number;
  readonly height: number;
  render(x: number, y: number): string;
}

/**
 * Lays out a bar panel at its natural width, or stretched to `stretchTo` when that is wider (a lone
 * panel fills its figure), its bars growing up to {@link MAX_BAR_WIDTH}.
 */
function layBars(
  panel: BarPanel,
  series: readonly string[],
  color: (s: number) => string,
  stretchTo = 0,
): Laid {
  const seriesCount = Math.max(1, panel.values.length);
  const categoryCount = Math.max(1, panel.categories.length);
  const natural = Math.max(200, categoryCount * (seriesCount * BAR_WIDTH + BAR_GROUP_GAP));
  const plotWidth = Math.max(natural, stretchTo - BAR_LEFT - MARGIN);
  const barWidth = Math.min(MAX_BAR_WIDTH, (plotWidth / categoryCount - BAR_GROUP_GAP) / seriesCount);
  const groupWidth = plotWidth / categoryCount;
  const labelLines = panel.categories.map((c) => wrap(c, groupWidth - 4, 11));
  const categoryHeight = Math.max(1, ...labelLines.map((l) => l.length)) * 13 + 8;
  const hasBarLabels = panel.barLabels?.some((row) => row.some((l) => l !== undefined && l !== '')) ?? false;
  const barLabelRoom = hasBarLabels
    ? Math.max(...(panel.barLabels ?? []).flat().map((l) => textWidth(l ?? '', 10))) + 8
    : 6;
  const top = 24 + barLabelRoom;
  const width = BAR_LEFT + plotWidth + MARGIN;
  const height = top + BAR_PLOT_HEIGHT + categoryHeight;
  const scale = linearScale([...panel.values.flat(), panel.reference?.value]);
  return {
    width,
    height,
    render(x, y) {
      const left = x + BAR_LEFT;
      const bottom = y + top + BAR_PLOT_HEIGHT;
      const yOf = (v: number) => bottom - (v / scale.max) * BAR_PLOT_HEIGHT;
      const out: string[] = [
        text(
          { x: left + plotWidth / 2, y: y + 15, 'text-anchor': 'middle', 'font-weight': 600 },
          panel.title,
        ),
      ];
      for (const tick of scale.ticks) {
        out.push(
          empty('line', { x1: left, x2: left + plotWidth, y1: yOf(tick), y2: yOf(tick), stroke: GRID }),
          text(
            { x: left - 6, y: yOf(tick) + 4, 'text-anchor': 'end', fill: MUTED, 'font-size': 11 },
            formatValue(tick),
          ),
        );
      }
      const midY = y + top + BAR_PLOT_HEIGHT / 2;
      out.push(
        text(
          {
            x: x + 14,
            y: midY,
            'text-anchor': 'middle',
            transform: `rotate(-90 ${coordinate(x + 14)} ${coordinate(midY)})`,
            fill: MUTED,
          },
          panel.valueLabel,
        ),
      );
      const slot = plotWidth / Math.max(1, panel.categories.length);
      panel.categories.forEach((category, c) => {
        const start = left + c * slot + (slot - seriesCount * barWidth) / 2;
        panel.values.forEach((row, s) => {
          const value = finite(row[c]);
          const barX = start + s * barWidth;
          if (value === undefined) return;
          const barTop = yOf(Math.max(0, value));
          out.push(
            `<rect x="${coordinate(barX + 0.5)}" y="${coordinate(barTop)}" width="${coordinate(barWidth - 1)}" ` +
              `height="${coordinate(bottom - barTop)}" fill="${color(s)}">` +
              tooltip(`${series[s] ?? `series ${s + 1}`}, ${category}: ${formatValue(value)}`) +
              '</rect>',
          );
          const label = panel.barLabels?.[s]?.[c];
          if (label !== undefined && label !== '') {
            const lx = barX + barWidth / 2 + 3.5;
            const ly = barTop - 4;
            out.push(
              text(
                {
                  x: lx,
                  y: ly,
                  transform: `rotate(-90 ${coordinate(lx)} ${coordinate(ly)})`,
                  'font-size': 10,
                  ...HALO,
                  fill: INK,
                },
                label,
              ),
            );
          }
        });
        labelLines[c]!.forEach((line, i) => {
          out.push(
            text(
              {
                x: left + c * slot + slot / 2,
                y: bottom + 15 + i * 13,
                'text-anchor': 'middle',
                'font-size': 11,
              },
              line,
            ),
          );
        });
      });
      out.push(empty('line', { x1: left, x2: left + plotWidth, y1: bottom, y2: bottom, stroke: MUTED }));
      out.push(empty('line', { x1: left, x2: left, y1: y + top, y2: bottom, stroke: MUTED }));
      if (panel.reference !== undefined) {
        const ry = yOf(panel.reference.value);
        out.push(
          empty('line', {
            x1: left,
            x2: left + plotWidth,
            y1: ry,
            y2: ry,
            stroke: REFERENCE,
            'stroke-width': 1.5,
            'stroke-dasharray': '6 4',
          }),
          text(
            { x: left + plotWidth - 2, y: ry - 4, 'text-anchor': 'end', fill: REFERENCE, 'font-size': 11 },
            panel.reference.label,
          ),
        );
      }
      return group({}, out);
    },
  };
}

function laySpans(panel: SpanPanel, color: (s: number) => string): Laid {
  const labelWidth = Math.min(330, Math.max(60, ...panel.rows.map((r) => textWidth(r.label, 12)))) + 12;
  const labelLines = panel.rows.map((r) => wrap(r.label, labelWidth - 12, 12));
  const rowHeights = labelLines.map((lines) => Math.max(SPAN_ROW, lines.length * 14 + 10));
  const top = (panel.title === '' ? 6 : 26) + (panel.reference === undefined ? 0 : 14);
  const plotHeight = rowHeights.reduce((a, b) => a + b, 0);
  // Room on the right for the longest note, written past the end of its bar (at worst the plot's edge).
  const right = Math.max(SPAN_RIGHT, ...panel.rows.map((r) => textWidth(r.note ?? '', 11) + 14));
  const width = labelWidth + SPAN_PLOT_WIDTH + right;
  const height = top + plotHeight + 40;
  const scale = linearScale(
    panel.rows.flatMap((r) => [r.to, r.whisker, r.limit]).concat(panel.reference?.value),
  );
  return {
    width,
    height,
    render(x, y) {
      const left = x + labelWidth;
      const plotTop = y + top;
      const bottom = plotTop + plotHeight;
      const xOf = (v: number) => left + (v / scale.max) * SPAN_PLOT_WIDTH;
      const out: string[] = [];
      if (panel.title !== '')
        out.push(
          text(
            { x: left + SPAN_PLOT_WIDTH / 2, y: y + 15, 'text-anchor': 'middle', 'font-weight': 600 },
            panel.title,
          ),
        );
      for (const tick of scale.ticks) {
        out.push(
          empty('line', { x1: xOf(tick), x2: xOf(tick), y1: plotTop, y2: bottom, stroke: GRID }),
          text(
            { x: xOf(tick), y: bottom + 14, 'text-anchor': 'middle', fill: MUTED, 'font-size': 11 },
            formatValue(tick),
          ),
        );
      }
      out.push(
        text(
          { x: left + SPAN_PLOT_WIDTH / 2, y: bottom + 32, 'text-anchor': 'middle', fill: MUTED },
          panel.valueLabel,
        ),
      );
      let rowTop = plotTop;
      panel.rows.forEach((row, i) => {
        const rowHeight = rowHeights[i]!;
        const mid = rowTop + rowHeight / 2;
        const lines = labelLines[i]!;
        lines.forEach((line, j) => {
          out.push(
            text({ x: left - 8, y: mid + 4 + (j - (lines.length - 1) / 2) * 14, 'text-anchor': 'end' }, line),
          );
        });
        const from = Math.max(0, finite(row.from) ?? 0);
        const to = finite(row.to);
        if (to !== undefined) {
          const x1 = xOf(from);
          const x2 = xOf(Math.max(from, to));
          out.push(
            `<rect x="${coordinate(x1)}" y="${coordinate(mid - SPAN_BAR / 2)}" width="${coordinate(Math.max(1, x2 - x1))}" ` +
              `height="${SPAN_BAR}" fill="${color(row.series)}">` +
              `${tooltip(`${row.label}: ${formatValue(from)} → ${formatValue(to)}`)}</rect>`,
          );
        }
        const limit = finite(row.limit);
        if (limit !== undefined) {
          out.push(
            empty('line', {
              x1: xOf(limit),
              x2: xOf(limit),
              y1: mid - SPAN_BAR / 2 - 3,
              y2: mid + SPAN_BAR / 2 + 3,
              stroke: REFERENCE,
              'stroke-width': 2.5,
            }),
          );
        }
        const whisker = finite(row.whisker);
        if (whisker !== undefined && to !== undefined && whisker > to) {
          out.push(
            empty('line', {
              x1: xOf(to),
              x2: xOf(whisker),
              y1: mid,
              y2: mid,
              stroke: INK,
              'stroke-width': 1.5,
            }),
            empty('line', {
              x1: xOf(whisker),
              x2: xOf(whisker),
              y1: mid - 5,
              y2: mid + 5,
              stroke: INK,
              'stroke-width': 1.5,
            }),
          );
        }
        if (row.note !== undefined) {
          const end = Math.max(to ?? 0, whisker ?? 0);
          out.push(text({ x: xOf(end) + 6, y: mid + 4, 'font-size': 11, fill: INK, ...HALO }, row.note));
        }
        rowTop += rowHeight;
      });
      out.push(empty('line', { x1: left, x2: left, y1: plotTop, y2: bottom, stroke: MUTED }));
      out.push(
        empty('line', { x1: left, x2: left + SPAN_PLOT_WIDTH, y1: bottom, y2: bottom, stroke: MUTED }),
      );
      if (panel.reference !== undefined) {
        const rx = xOf(panel.reference.value);
        out.push(
          empty('line', {
            x1: rx,
            x2: rx,
            y1: plotTop - 4,
            y2: bottom,
            stroke: REFERENCE,
            'stroke-width': 1.5,
            'stroke-dasharray': '6 4',
          }),
          // Written beside the line, on the side with room, so it is never cut at the edge.
          text(
            {
              x: rx > left + SPAN_PLOT_WIDTH / 2 ? rx - 4 : rx + 4,
              y: plotTop - 7,
              'text-anchor': rx > left + SPAN_PLOT_WIDTH / 2 ? 'end' : 'start',
              fill: REFERENCE,
              'font-size': 11,
            },
            panel.reference.label,
          ),
        );
      }
      return group({}, out);
    },
  };
}

/** The colour of series `index` of `figure`. */
function colorOf(figure: Figure, index: number): string {
  return seriesColor(figure.colors?.[index] ?? index);
}

/** Legend entries: a box per series, then a whisker, a dashed line and a limit tick when any panel draws them. */
function legendEntries(figure: Figure): { label: string; mark: string }[] {
  const entries = figure.series.map((name, i) => ({ label: name, mark: `box:${colorOf(figure, i)}` }));
  const whiskers = new Set<string>();
  const references = new Set<string>();
  const limits = new Set<string>();
  for (const panel of figure.panels) {
    if (
      panel.kind === 'spans' &&
      panel.limitLabel !== undefined &&
      panel.rows.some((r) => r.limit !== undefined)
    )
      limits.add(panel.limitLabel);
    if (
      panel.kind === 'spans' &&
      panel.whiskerLabel !== undefined &&
      panel.rows.some((r) => r.whisker !== undefined)
    )
      whiskers.add(panel.whiskerLabel);
    if (panel.reference !== undefined) references.add(panel.reference.label);
  }
  for (const label of whiskers) entries.push({ label, mark: 'whisker' });
  for (const label of references) entries.push({ label, mark: 'reference' });
  for (const label of limits) entries.push({ label, mark: 'limit' });
  return entries;
}

function layLegend(figure: Figure, width: number): Laid {
  const entries = legendEntries(figure);
  const rows: { label: string; mark: string; x: number }[][] = [[]];
  let cursor = 0;
  for (const entry of entries) {
    const entryWidth = 22 + textWidth(entry.label, 12) + 18;
    if (cursor > 0 && cursor + entryWidth > width - 2 * MARGIN) {
      rows.push([]);
      cursor = 0;
    }
    rows[rows.length - 1]!.push({ ...entry, x: cursor });
    cursor += entryWidth;
  }
  return {
    width,
    height: entries.length === 0 ? 0 : rows.length * 20 + 6,
    render(x, y) {
      const out: string[] = [];
      rows.forEach((row, r) => {
        const mid = y + r * 20 + 10;
        for (const entry of row) {
          const ex = x + entry.x;
          if (entry.mark.startsWith('box:')) {
            out.push(empty('rect', { x: ex, y: mid - 6, width: 16, height: 12, fill: entry.mark.slice(4) }));
          } else if (entry.mark === 'whisker') {
            out.push(
              empty('line', { x1: ex, x2: ex + 16, y1: mid, y2: mid, stroke: INK, 'stroke-width': 1.5 }),
              empty('line', {
                x1: ex + 16,
                x2: ex + 16,
                y1: mid - 5,
                y2: mid + 5,
                stroke: INK,
                'stroke-width': 1.5,
              }),
            );
          } else if (entry.mark === 'limit') {
            out.push(
              empty('line', {
                x1: ex + 8,
                x2: ex + 8,
                y1: mid - 7,
                y2: mid + 7,
                stroke: REFERENCE,
                'stroke-width': 2.5,
              }),
            );
          } else {
            out.push(
              empty('line', {
                x1: ex,
                x2: ex + 16,
                y1: mid,
                y2: mid,
                stroke: REFERENCE,
                'stroke-width': 1.5,
                'stroke-dasharray': '6 4',
              }),
            );
          }
          out.push(text({ x: ex + 22, y: mid + 4 }, entry.label));
        }
      });
      return group({}, out);
    },
  };
}

/** Renders `figure` as a standalone SVG document. */
export function renderFigure(figure: Figure): string {
  const color = (s: number) => colorOf(figure, s);
  const lay = (width?: number) =>
    figure.panels.map((panel) =>
      panel.kind === 'bars' ? layBars(panel, figure.series, color, width) : laySpans(panel, color),
    );
  const natural = lay();
  const columns = Math.max(1, Math.min(natural.length, figure.columns ?? 3));
  const naturalCell = Math.max(0, ...natural.map((p) => p.width));
  const titleWidth = textWidth(figure.title, 16);
  const width = Math.ceil(Math.max(MIN_WIDTH, columns * naturalCell + 2 * MARGIN, titleWidth + 2 * MARGIN));
  // Bar panels then share out the whole width, so a narrow chart does not leave half its canvas empty.
  const cellWidth = (width - 2 * MARGIN) / columns;
  const panels = lay(cellWidth);
  const subtitleLines = figure.subtitle === undefined ? [] : wrap(figure.subtitle, width - 2 * MARGIN, 12);
  const legend = layLegend(figure, width);
  const out: string[] = [
    text({ x: MARGIN, y: MARGIN + 14, 'font-size': 16, 'font-weight': 600, fill: INK }, figure.title),
    ...subtitleLines.map((line, i) => text({ x: MARGIN, y: MARGIN + 34 + i * 16, fill: MUTED }, line)),
  ];
  let y = MARGIN + 24 + subtitleLines.length * 16 + 6;
  out.push(legend.render(MARGIN, y));
  y += legend.height + 6;
  for (let start = 0; start < panels.length; start += columns) {
    const row = panels.slice(start, start + columns);
    row.forEach((panel, i) => {
      out.push(panel.render(MARGIN + i * cellWidth, y));
    });
    y += Math.max(...row.map((p) => p.height)) + 10;
  }
  return svgDocument(width, Math.ceil(y + MARGIN - 10), figure.title, [group({ fill: INK }, out)]);
}
