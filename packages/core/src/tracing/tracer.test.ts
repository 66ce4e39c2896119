import { describe, expect, it } from 'vitest';
import { Sampler } from './sampler.js';
import { SPAN_CLIENT, SPAN_INTERNAL, type Span } from './span.js';
import { Tracer } from './tracer.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

function tracer(ratio: number, parentBased = true) {
  const spans: Span[] = [];
  return { spans, tracer: new Tracer(new Sampler({ parentBased, ratio }), { push: (s) => spans.push(s) }) };
}

describe('Tracer', () => {
  it('parents spans on the caller and writes the proxy span as the next parent', () => {
    const { spans, tracer: t } = tracer(0);
    const trace = t.start(['traceparent', `00-${TRACE}-${SPAN}-01`])!;
    expect(trace.traceId).toBe(TRACE);
    const wait = trace.begin('queue', SPAN_INTERNAL, { 'kn.revision.name': 'r' });
    trace.end(wait, 0);
    const proxy = trace.begin('proxy', SPAN_CLIENT, {});
    const headers = ['host', 'h', 'traceparent', `00-${TRACE}-${SPAN}-01`];
    trace.inject(headers, proxy);
    expect(headers).toEqual(['host', 'h', 'traceparent', `00-${TRACE}-${proxy.spanId}-01`]);
    trace.end(proxy, 502, 'connection refused');
    trace.end(proxy, 200);
    expect(spans.map((s) => [s.name, s.parentId, s.traceId])).toEqual([
      ['queue', SPAN, TRACE],
      ['proxy', SPAN, TRACE],
    ]);
    expect(spans[1]!.attributes['http.response.status_code']).toBe(502);
    expect(spans[1]!.error).toBe('connection refused');
    expect(spans[1]!.endMs).toBeGreaterThanOrEqual(spans[1]!.startMs);
  });

  it('starts nothing for a request sampled out, so its headers pass as they came', () => {
    const { tracer: t } = tracer(1);
    expect(t.start(['traceparent', `00-${TRACE}-${SPAN}-00`])).toBeUndefined();
    expect(t.start(['x-b3-sampled', '0'])).toBeUndefined();
    expect(tracer(0).tracer.start([])).toBeUndefined();
    expect(tracer(0, false).tracer.start(['traceparent', `00-${TRACE}-${SPAN}-01`])).toBeUndefined();
  });

  it('starts a new trace for a sampled request without context', () => {
    const { spans, tracer: t } = tracer(1);
    const trace = t.start(['host', 'h'])!;
    expect(trace.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(trace.parentId).toBe('');
    const s = trace.begin('hold', SPAN_INTERNAL, {});
    trace.end(s, 503);
    expect(spans[0]!.error).toBe('HTTP 503');
    expect(spans[0]!.parentId).toBe('');
  });
});
