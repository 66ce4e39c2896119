import { describe, expect, it } from 'vitest';
import { ProtoReader } from '../proto-wire.js';
import { encodeOtlpJson, encodeOtlpProtobuf } from './otlp-encoding.js';
import { SPAN_CLIENT, SPAN_INTERNAL, Span } from './span.js';

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

/** Reads every field of a message into a map of field number → values. */
function fields(bytes: Uint8Array): Map<number, (bigint | Uint8Array)[]> {
  const r = new ProtoReader(bytes);
  const out = new Map<number, (bigint | Uint8Array)[]>();
  while (!r.done) {
    const key = Number(r.varint());
    const field = key >> 3;
    const wire = key & 7;
    const v = wire === 0 ? r.varint() : wire === 1 ? r.fixed64() : wire === 2 ? r.bytes() : undefined;
    if (v === undefined) throw new Error(`wire ${wire}`);
    out.set(field, [...(out.get(field) ?? []), v]);
  }
  return out;
}
const one = (m: Map<number, (bigint | Uint8Array)[]>, f: number) => m.get(f)?.[0];
const text = (v: unknown) => Buffer.from(v as Uint8Array).toString();

describe('OTLP', () => {
  it('JSON: hex ids, nanosecond strings, typed attributes, error status', () => {
    const out = JSON.parse(encodeOtlpJson(spans(), { 'service.name': 'queue-proxy' }).toString());
    const rs = out.resourceSpans[0];
    expect(rs.resource.attributes).toEqual([{ key: 'service.name', value: { stringValue: 'queue-proxy' } }]);
    const [a, b] = rs.scopeSpans[0].spans;
    expect(a).toMatchObject({
      traceId: TRACE,
      spanId: '1111111111111111',
      parentSpanId: '00f067aa0ba902b7',
      kind: 3,
      startTimeUnixNano: '1000500000',
      endTimeUnixNano: '1002250000',
      status: {},
    });
    expect(a.attributes).toContainEqual({ key: 'http.response.status_code', value: { intValue: '200' } });
    expect(a.attributes).toContainEqual({ key: 'kn.activator.poked', value: { boolValue: false } });
    expect(b.status).toEqual({ code: 2, message: 'boom' });
    expect(b.parentSpanId).toBeUndefined();
  });

  it('protobuf: an ExportTraceServiceRequest of one resource and scope', () => {
    const req = fields(encodeOtlpProtobuf(spans(), { 'service.name': 'queue-proxy' }));
    const rs = fields(one(req, 1) as Uint8Array);
    const resource = fields(one(rs, 1) as Uint8Array);
    const kv = fields(one(resource, 1) as Uint8Array);
    expect(text(one(kv, 1))).toBe('service.name');
    expect(text(one(fields(one(kv, 2) as Uint8Array), 1))).toBe('queue-proxy');
    const scope = fields(one(rs, 2) as Uint8Array);
    expect(text(one(fields(one(scope, 1) as Uint8Array), 1))).toBe('zerogate');
    const [a, b] = scope.get(2)!.map((s) => fields(s as Uint8Array));
    expect(Buffer.from(one(a!, 1) as Uint8Array).toString('hex')).toBe(TRACE);
    expect(Buffer.from(one(a!, 2) as Uint8Array).toString('hex')).toBe('1111111111111111');
    expect(Buffer.from(one(a!, 4) as Uint8Array).toString('hex')).toBe('00f067aa0ba902b7');
    expect(text(one(a!, 5))).toBe('proxy');
    expect(one(a!, 6)).toBe(3n);
    expect(one(a!, 7)).toBe(1000500000n);
    expect(one(a!, 8)).toBe(1002250000n);
    const attrs = a!.get(9)!.map((x) => fields(x as Uint8Array));
    const byKey = new Map(attrs.map((m) => [text(one(m, 1)), fields(one(m, 2) as Uint8Array)]));
    expect(one(byKey.get('http.response.status_code')!, 3)).toBe(200n);
    // A false bool is written, not left out (AnyValue is a oneof).
    expect(one(byKey.get('kn.activator.poked')!, 2)).toBe(0n);
    expect(b!.get(4)).toBeUndefined();
    const status = fields(one(b!, 15) as Uint8Array);
    expect(text(one(status, 2))).toBe('boom');
    expect(one(status, 3)).toBe(2n);
  });
});
