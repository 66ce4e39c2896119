import { SPAN_CLIENT, SPAN_SERVER, type Span } from './span.js';

/** Where spans come from, as Zipkin's `localEndpoint` names it. */
export interface LocalEndpoint {
  readonly serviceName: string;
  /** The process's IPv4 address, when it has one to give. */
  readonly ipv4?: string;
}

/**
 * Encodes spans as Zipkin's v2 JSON (`POST /api/v2/spans`, the format Knative ≤ 1.18's OpenCensus
 * exporter sent): ids in hex, times in whole microseconds, attributes as string tags, a failed span
 * tagged `error`. Zipkin has no internal kind: such spans leave `kind` out, as Zipkin's own clients do.
 */
export function encodeZipkin(spans: readonly Span[], local: LocalEndpoint): Buffer {
  const out = spans.map((span) => {
    const tags: Record<string, string> = {};
    for (const key in span.attributes) tags[key] = String(span.attributes[key]);
    if (span.error !== undefined) tags['error'] = span.error;
    const timestamp = Math.round(span.startMs * 1000);
    return {
      traceId: span.traceId,
      id: span.spanId,
      ...(span.parentId === '' ? {} : { parentId: span.parentId }),
      name: span.name,
      ...(span.kind === SPAN_SERVER
        ? { kind: 'SERVER' }
        : span.kind === SPAN_CLIENT
          ? { kind: 'CLIENT' }
          : {}),
      timestamp,
      // Zipkin takes 1 µs as the least duration it shows; 0 reads as unknown.
      duration: Math.max(1, Math.round(span.endMs * 1000) - timestamp),
      localEndpoint: local,
      tags,
      ...(span.debug ? { debug: true } : {}),
    };
  });
  return Buffer.from(JSON.stringify(out));
}
