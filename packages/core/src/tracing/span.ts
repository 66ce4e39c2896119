/** What a span did for the request: OpenTelemetry's SpanKind, which Zipkin also has (but `internal`). */
export const SPAN_INTERNAL = 1;
export const SPAN_SERVER = 2;
export const SPAN_CLIENT = 3;
export type SpanKind = typeof SPAN_INTERNAL | typeof SPAN_SERVER | typeof SPAN_CLIENT;

/** An attribute's value (OTLP's string, bool, int and double; Zipkin's tags are their text). */
export type AttributeValue = string | number | boolean;

/** The clock of spans: wall time in milliseconds with a fraction, monotonic within the process. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** One timed operation of a request, finished and handed to an exporter once. */
export class Span {
  /** When it ended (ms, {@link nowMs}); 0 while it runs. */
  endMs = 0;
  /** Set when it failed: the error's text (OTLP's status message, Zipkin's `error` tag). */
  error: string | undefined = undefined;
  readonly attributes: Record<string, AttributeValue>;

  constructor(
    readonly name: string,
    readonly kind: SpanKind,
    readonly traceId: string,
    readonly spanId: string,
    /** The parent's span id, '' for a root. */
    readonly parentId: string,
    readonly startMs: number,
    attributes: Record<string, AttributeValue>,
    /** B3's debug flag: Zipkin keeps the trace whatever its own sampling says. */
    readonly debug: boolean,
  ) {
    this.attributes = attributes;
  }
}
