import { ProtoWriter, WIRE_VARINT } from '../proto-wire.js';
import type { AttributeValue, Span } from './span.js';

/** The resource the spans are from: OpenTelemetry's `service.name` and the rest of its attributes. */
export type ResourceAttributes = Readonly<Record<string, AttributeValue>>;

/** The instrumentation scope every span is reported under. */
const SCOPE = 'zerogate';
/** OTLP's status codes: UNSET (0) for spans that did not fail, ERROR (2) for those that did. */
const STATUS_ERROR = 2;

function nanos(ms: number): bigint {
  return BigInt(Math.round(ms * 1000)) * 1000n;
}

function jsonValue(value: AttributeValue): Record<string, unknown> {
  if (typeof value === 'string') return { stringValue: value };
  if (typeof value === 'boolean') return { boolValue: value };
  return Number.isInteger(value) ? { intValue: String(value) } : { doubleValue: value };
}

function jsonAttributes(attributes: Readonly<Record<string, AttributeValue>>): unknown[] {
  return Object.keys(attributes).map((key) => ({ key, value: jsonValue(attributes[key]!) }));
}

/**
 * Encodes spans as an OTLP `ExportTraceServiceRequest` in OTLP/JSON (`http/json`): ids in hex (not
 * base64, as the OTLP/JSON mapping says), times in nanoseconds as decimal strings, enums as numbers.
 */
export function encodeOtlpJson(spans: readonly Span[], resource: ResourceAttributes): Buffer {
  const body = {
    resourceSpans: [
      {
        resource: { attributes: jsonAttributes(resource) },
        scopeSpans: [
          {
            scope: { name: SCOPE },
            spans: spans.map((span) => ({
              traceId: span.traceId,
              spanId: span.spanId,
              ...(span.parentId === '' ? {} : { parentSpanId: span.parentId }),
              name: span.name,
              kind: span.kind,
              startTimeUnixNano: String(nanos(span.startMs)),
              endTimeUnixNano: String(nanos(span.endMs)),
              attributes: jsonAttributes(span.attributes),
              status: span.error === undefined ? {} : { code: STATUS_ERROR, message: span.error },
            })),
          },
        ],
      },
    ],
  };
  return Buffer.from(JSON.stringify(body));
}

/** `opentelemetry.proto.common.v1.AnyValue`: exactly one field set, even a false or 0 one. */
function anyValue(value: AttributeValue): Uint8Array {
  const w = new ProtoWriter();
  if (typeof value === 'string') w.bytes(1, Buffer.from(value));
  else if (typeof value === 'boolean') {
    w.tag(2, WIRE_VARINT);
    w.varint(value ? 1n : 0n);
  } else if (Number.isInteger(value)) {
    w.tag(3, WIRE_VARINT);
    w.varint(BigInt(value));
  } else {
    // Not an integer, so never 0: `double` writes it.
    w.double(4, value);
  }
  return w.finish();
}

/** `opentelemetry.proto.common.v1.KeyValue` fields, written into `w` as repeated field `field`. */
function attributes(w: ProtoWriter, field: number, attrs: Readonly<Record<string, AttributeValue>>): void {
  for (const key in attrs) {
    const kv = new ProtoWriter();
    kv.string(1, key);
    kv.bytes(2, anyValue(attrs[key]!));
    w.bytes(field, kv.finish());
  }
}

/** One `opentelemetry.proto.trace.v1.Span`. */
function spanMessage(span: Span): Uint8Array {
  const w = new ProtoWriter();
  w.bytes(1, Buffer.from(span.traceId, 'hex'));
  w.bytes(2, Buffer.from(span.spanId, 'hex'));
  if (span.parentId !== '') w.bytes(4, Buffer.from(span.parentId, 'hex'));
  w.string(5, span.name);
  w.int64(6, BigInt(span.kind));
  w.fixed64(7, nanos(span.startMs));
  w.fixed64(8, nanos(span.endMs));
  attributes(w, 9, span.attributes);
  if (span.error !== undefined) {
    const status = new ProtoWriter();
    status.string(2, span.error);
    status.int64(3, BigInt(STATUS_ERROR));
    w.bytes(15, status.finish());
  }
  return w.finish();
}

/**
 * Encodes spans as an OTLP `ExportTraceServiceRequest` in protobuf (`http/protobuf`, the OTLP
 * default and Knative ≥ 1.19's), with core's hand-written wire encoder: one resource, one scope.
 */
export function encodeOtlpProtobuf(spans: readonly Span[], resource: ResourceAttributes): Buffer {
  const res = new ProtoWriter();
  attributes(res, 1, resource);
  const scope = new ProtoWriter();
  scope.string(1, SCOPE);
  const scopeSpans = new ProtoWriter();
  scopeSpans.bytes(1, scope.finish());
  for (const span of spans) scopeSpans.bytes(2, spanMessage(span));
  const resourceSpans = new ProtoWriter();
  resourceSpans.bytes(1, res.finish());
  resourceSpans.bytes(2, scopeSpans.finish());
  const request = new ProtoWriter();
  request.bytes(1, resourceSpans.finish());
  return Buffer.from(request.finish());
}
