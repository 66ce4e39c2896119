import { describe, expect, it } from 'vitest';
import { SPAN_CLIENT, SPAN_INTERNAL, Span } from './span.js';
import { encodeZipkin } from './zipkin-encoding.js';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

function spans(): Span[] {
  const a = new Span(
    'proxy',
    SPAN_CLIENT,
    TRACE,
    '1111111111111111',
    '00f067aa0ba902b7',
    1000.5,
    {
      'kn.revision.name': 'rev',
      'http.response.status_code': 200,
      'kn.activator.poked': false,
    },
    false,
  );
  a.endMs = 1002.25;
  const b = new Span('hold', SPAN_INTERNAL, TRACE, '2222222222222222', '', 1000, {}, true);
  b.endMs = 1000;
  b.error = 'boom';
  return [a, b];
}

describe('Zipkin v2 JSON', () => {
  it('writes ids, microseconds, kinds, string tags and the error tag', () => {
    const out = JSON.parse(encodeZipkin(spans(), { serviceName: 'activator' }).toString());
    expect(out[0]).toEqual({
      traceId: TRACE,
      id: '1111111111111111',
      parentId: '00f067aa0ba902b7',
      name: 'proxy',
      kind: 'CLIENT',
      timestamp: 1000500,
      duration: 1750,
      localEndpoint: { serviceName: 'activator' },
      tags: { 'kn.revision.name': 'rev', 'http.response.status_code': '200', 'kn.activator.poked': 'false' },
    });
    expect(out[1]).toMatchObject({ name: 'hold', duration: 1, tags: { error: 'boom' }, debug: true });
    expect(out[1].kind).toBeUndefined();
    expect(out[1].parentId).toBeUndefined();
  });
});
