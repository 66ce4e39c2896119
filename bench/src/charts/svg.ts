/**
 * The SVG text layer of the bench charts: escaping, number formatting and element building. Every
 * string that reaches the document goes through {@link escapeXml}, and every number through
 * {@link coordinate}, so a label can never break the markup and a missing figure never writes `NaN`.
 */

/** Escapes text for an XML text node or a double-quoted attribute value. */
export function escapeXml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&apos;');
}

/**
 * A coordinate or length as SVG text: at most two decimals, no exponent; a value that is not
 * finite (a missing figure that slipped through) becomes 0 rather than `NaN` in the document.
 */
export function coordinate(value: number): string {
  if (!Number.isFinite(value)) return '0';
  const rounded = Math.round(value * 100) / 100;
  return String(Object.is(rounded, -0) ? 0 : rounded);
}

/** Attribute values of an element; undefined ones are left out. */
export type Attributes = Readonly<Record<string, string | number | undefined>>;

function attributes(attrs: Attributes): string {
  let text = '';
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined) continue;
    text += ` ${name}="${typeof value === 'number' ? coordinate(value) : escapeXml(value)}"`;
  }
  return text;
}

/** An element with no content, e.g. `<rect x="1"/>`. */
export function empty(tag: string, attrs: Attributes): string {
  return `<${tag}${attributes(attrs)}/>`;
}

/** An element holding escaped text, e.g. `<text x="1">a &lt; b</text>`. */
export function text(attrs: Attributes, content: string): string {
  return `<text${attributes(attrs)}>${escapeXml(content)}</text>`;
}

/** A `<title>` child: the text a viewer shows when the pointer rests on its parent. */
export function tooltip(content: string): string {
  return `<title>${escapeXml(content)}</title>`;
}

/** An element wrapping already rendered children. */
export function group(attrs: Attributes, children: readonly string[]): string {
  return `<g${attributes(attrs)}>\n${children.join('\n')}\n</g>`;
}

/**
 * A whole SVG document of the given size with a white background, so the chart reads the same on
 * GitHub's light and dark themes (a transparent one would put black text on a dark page).
 */
export function svgDocument(
  width: number,
  height: number,
  title: string,
  children: readonly string[],
): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${coordinate(width)}" height="${coordinate(height)}" ` +
      `viewBox="0 0 ${coordinate(width)} ${coordinate(height)}" role="img" ` +
      `font-family="-apple-system, 'Segoe UI', Helvetica, Arial, sans-serif" font-size="12">`,
    `<title>${escapeXml(title)}</title>`,
    empty('rect', { x: 0, y: 0, width, height, fill: '#ffffff' }),
    ...children,
    '</svg>',
    '',
  ].join('\n');
}

/**
 * A short label for a figure: three significant digits, without trailing zeros past the point
 * (`0.0298` → `0.0298`, `28979` → `28979`, `1.50` → `1.5`); `–` for a missing one.
 */
export function formatValue(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '–';
  if (value === 0) return '0';
  const magnitude = Math.abs(value);
  const decimals = magnitude >= 100 ? 0 : Math.min(6, 2 - Math.floor(Math.log10(magnitude)));
  return String(Number(value.toFixed(decimals)));
}
