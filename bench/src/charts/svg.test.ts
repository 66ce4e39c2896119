import { describe, expect, it } from 'vitest';
import { coordinate, escapeXml, formatValue, svgDocument, text } from './svg.js';

describe('escapeXml', () => {
  it('escapes the five XML special characters', () => {
    expect(escapeXml(`a < b & c > "d" 'e'`)).toBe('a &lt; b &amp; c &gt; &quot;d&quot; &apos;e&apos;');
  });

  it('escapes an ampersand before the others, so nothing is escaped twice', () => {
    expect(escapeXml('&lt;')).toBe('&amp;lt;');
  });
});

describe('coordinate', () => {
  it('rounds to two decimals without an exponent', () => {
    expect(coordinate(1 / 3)).toBe('0.33');
    expect(coordinate(1e-9)).toBe('0');
    expect(coordinate(-0.001)).toBe('0');
  });

  it('writes 0 for a value that is not finite, never NaN', () => {
    expect(coordinate(Number.NaN)).toBe('0');
    expect(coordinate(Number.POSITIVE_INFINITY)).toBe('0');
  });
});

describe('text', () => {
  it('escapes its content and its attribute values', () => {
    expect(text({ x: 1.234, class: 'a"b' }, '<p99 & more>')).toBe(
      '<text x="1.23" class="a&quot;b">&lt;p99 &amp; more&gt;</text>',
    );
  });

  it('leaves out undefined attributes', () => {
    expect(text({ x: 1, y: undefined }, 'a')).toBe('<text x="1">a</text>');
  });
});

describe('svgDocument', () => {
  it('has a white background over the whole canvas and an escaped title', () => {
    const doc = svgDocument(300, 200, 'a & b', []);
    expect(doc).toContain('<rect x="0" y="0" width="300" height="200" fill="#ffffff"/>');
    expect(doc).toContain('<title>a &amp; b</title>');
    expect(doc).toContain('xmlns="http://www.w3.org/2000/svg"');
  });
});

describe('formatValue', () => {
  it('keeps three significant digits and drops trailing zeros', () => {
    expect(formatValue(0.029759)).toBe('0.0298');
    expect(formatValue(1.5)).toBe('1.5');
    expect(formatValue(113.5)).toBe('114');
    expect(formatValue(28979.3)).toBe('28979');
    expect(formatValue(0)).toBe('0');
  });

  it('writes a dash for a missing figure', () => {
    expect(formatValue(undefined)).toBe('–');
    expect(formatValue(Number.NaN)).toBe('–');
  });
});
