/**
 * Renders result tables as fixed-width text for the terminal and as Markdown for RESULTS.md.
 */

/** Column alignment: text left, numbers right. */
export type Align = 'left' | 'right';

/** A table of already formatted cells. */
export interface Table {
  readonly title: string;
  readonly headers: readonly string[];
  readonly align: readonly Align[];
  readonly rows: readonly (readonly string[])[];
}

/** Placeholder for a figure that does not apply or could not be measured. */
export const NONE = '–';

/** Formats a number with fixed decimals, or {@link NONE} when it is missing or not finite. */
export function fixed(value: number | undefined, decimals: number): string {
  return value === undefined || !Number.isFinite(value) ? NONE : value.toFixed(decimals);
}

/** Like {@link fixed}, with an explicit sign (for deltas). */
export function signed(value: number | undefined, decimals: number): string {
  if (value === undefined || !Number.isFinite(value)) return NONE;
  const text = value.toFixed(decimals);
  return value >= 0 && !text.startsWith('-') ? `+${text}` : text;
}

/** Formats a ratio as e.g. `0.85×`. */
export function times(value: number | undefined): string {
  const text = fixed(value, 2);
  return text === NONE ? text : `${text}×`;
}

function widths(table: Table): number[] {
  return table.headers.map((header, i) =>
    Math.max(header.length, ...table.rows.map((row) => (row[i] ?? '').length)),
  );
}

function pad(text: string, width: number, align: Align | undefined): string {
  return align === 'right' ? text.padStart(width) : text.padEnd(width);
}

/** Renders a fixed-width text table: a title line, a header, a rule, then the rows. */
export function formatTextTable(table: Table): string {
  const w = widths(table);
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => pad(cell, w[i]!, table.align[i]))
      .join('  ')
      .trimEnd();
  return [
    table.title,
    line(table.headers),
    w.map((n) => '─'.repeat(n)).join('  '),
    ...table.rows.map((row) => line(row)),
  ].join('\n');
}

/** Renders a GitHub-flavoured Markdown table, aligned so the source reads well too. */
export function formatMarkdownTable(table: Table): string {
  const w = widths(table).map((n) => Math.max(n, 3));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, i) => pad(cell.replaceAll('|', '\\|'), w[i]!, table.align[i])).join(' | ')} |`;
  // The delimiter row as Biome formats it, so a regenerated RESULTS.md passes `biome check`.
  const rule = `| ${w.map((n, i) => (table.align[i] === 'right' ? `${'-'.repeat(n - 1)}:` : '-'.repeat(n))).join(' | ')} |`;
  return [line(table.headers), rule, ...table.rows.map((row) => line(row))].join('\n');
}
