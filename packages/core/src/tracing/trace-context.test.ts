import { describe, expect, it } from 'vitest';
import { B3_MULTI, B3_SINGLE, extractContext, injectContext, traceIdOf, W3C } from './trace-context.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

describe('extractContext', () => {
  it('reads traceparent and tracestate, whatever the header case', () => {
    const ctx = extractContext([
      'Host',
      'x',
      'TraceParent',
      `00-${TRACE}-${SPAN}-01`,
      'tracestate',
      'a=1',
      'TraceState',
      'b=2',
    ]);
    expect(ctx).toEqual({
      traceId: TRACE,
      spanId: SPAN,
      sampled: true,
      debug: false,
      traceState: 'a=1,b=2',
      formats: W3C,
    });
  });

  it('reads an unsampled traceparent as unsampled, and a later version by its 00 fields', () => {
    expect(extractContext(['traceparent', `00-${TRACE}-${SPAN}-00`])?.sampled).toBe(false);
    expect(extractContext(['traceparent', ` 00-${TRACE}-${SPAN}-0b `])?.sampled).toBe(true);
    expect(extractContext(['traceparent', `01-${TRACE}-${SPAN}-01-more`])).toMatchObject({
      traceId: TRACE,
      sampled: true,
    });
    expect(extractContext(['traceparent', `01-${TRACE}-${SPAN}-01more`])).toBeUndefined();
  });

  it('refuses malformed and all-zero traceparents', () => {
    for (const bad of [
      `00-${TRACE}-${SPAN}`,
      `00-${'0'.repeat(32)}-${SPAN}-01`,
      `00-${TRACE}-${'0'.repeat(16)}-01`,
      `ff-${TRACE}-${SPAN}-01`,
      `00-${TRACE.toUpperCase()}X-${SPAN}-01`,
      `00-${TRACE}-${SPAN}-01-extra`,
    ]) {
      expect(extractContext(['traceparent', bad]), bad).toBeUndefined();
    }
  });

  it('reads single b3, a 64-bit trace id padded, and debug', () => {
    expect(extractContext(['b3', `${SPAN}-${SPAN}-1`])).toMatchObject({
      traceId: `${'0'.repeat(16)}${SPAN}`,
      spanId: SPAN,
      sampled: true,
      formats: B3_SINGLE,
    });
    expect(extractContext(['b3', `${TRACE}-${SPAN}-d`])).toMatchObject({ sampled: true, debug: true });
    expect(extractContext(['b3', `${TRACE}-${SPAN}`])).toMatchObject({ sampled: undefined });
    expect(extractContext(['b3', '0'])).toMatchObject({ traceId: '', sampled: false });
    expect(extractContext(['b3', `${TRACE}-${SPAN}-x`])).toBeUndefined();
  });

  it('reads the X-B3 set', () => {
    expect(
      extractContext([
        'X-B3-TraceId',
        TRACE,
        'X-B3-SpanId',
        SPAN,
        'X-B3-Sampled',
        '0',
        'X-B3-ParentSpanId',
        SPAN,
      ]),
    ).toMatchObject({ traceId: TRACE, spanId: SPAN, sampled: false, debug: false, formats: B3_MULTI });
    expect(extractContext(['x-b3-traceid', TRACE, 'x-b3-spanid', SPAN, 'x-b3-flags', '1'])).toMatchObject({
      sampled: true,
      debug: true,
    });
    expect(extractContext(['x-b3-traceid', TRACE])).toBeUndefined();
  });

  it('prefers traceparent to B3 and names every format seen', () => {
    const ctx = extractContext([
      'x-b3-traceid',
      SPAN + SPAN,
      'x-b3-spanid',
      SPAN,
      'traceparent',
      `00-${TRACE}-${SPAN}-01`,
    ]);
    expect(ctx?.traceId).toBe(TRACE);
    expect(ctx?.formats).toBe(W3C | B3_MULTI);
  });

  it('finds nothing in a request without trace headers', () => {
    expect(extractContext(['host', 'a', 'user-agent', 'b', 'x-forwarded-for', '1.2.3.4'])).toBeUndefined();
    expect(traceIdOf(['host', 'a'])).toBe('');
    expect(traceIdOf(['X-B3-TraceId', TRACE, 'X-B3-SpanId', SPAN])).toBe(TRACE);
  });
});

describe('injectContext', () => {
  const NEW = '1111111111111111';

  it('replaces the trace headers the request came with, keeping tracestate and the rest', () => {
    const headers = [
      'host',
      'h',
      'traceparent',
      `00-${TRACE}-${SPAN}-01`,
      'tracestate',
      'a=1',
      'x-other',
      'v',
    ];
    injectContext(headers, TRACE, NEW, W3C, false);
    expect(headers).toEqual([
      'host',
      'h',
      'tracestate',
      'a=1',
      'x-other',
      'v',
      'traceparent',
      `00-${TRACE}-${NEW}-01`,
    ]);
  });

  it('writes both B3 forms as they came, and debug as debug', () => {
    const headers = [
      'X-B3-TraceId',
      TRACE,
      'X-B3-SpanId',
      SPAN,
      'X-B3-ParentSpanId',
      SPAN,
      'X-B3-Flags',
      '1',
      'b3',
      'x',
    ];
    injectContext(headers, TRACE, NEW, B3_MULTI | B3_SINGLE, true);
    expect(headers).toEqual([
      'b3',
      `${TRACE}-${NEW}-d`,
      'x-b3-traceid',
      TRACE,
      'x-b3-spanid',
      NEW,
      'x-b3-flags',
      '1',
    ]);
  });

  it('writes W3C and B3 multi for a new trace', () => {
    const headers = ['host', 'h'];
    injectContext(headers, TRACE, NEW, 0, false);
    expect(headers).toEqual([
      'host',
      'h',
      'traceparent',
      `00-${TRACE}-${NEW}-01`,
      'x-b3-traceid',
      TRACE,
      'x-b3-spanid',
      NEW,
      'x-b3-sampled',
      '1',
    ]);
  });
});
