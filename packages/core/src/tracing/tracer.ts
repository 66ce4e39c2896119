import type { Sampler } from './sampler.js';
import { type AttributeValue, nowMs, Span, type SpanKind } from './span.js';
import { newSpanId, newTraceId } from './span-ids.js';
import { extractContext, injectContext } from './trace-context.js';

/** Where finished spans go (a {@link BatchExporter}). */
export interface SpanSink {
  push(span: Span): void;
}

/**
 * Starts the trace of each request: reads the caller's context, asks the sampler, and for a sampled
 * request hands out a {@link RequestTrace}; for the rest nothing, so their headers pass as they came and
 * nothing is allocated.
 */
export class Tracer {
  constructor(
    private readonly sampler: Sampler,
    private readonly sink: SpanSink,
  ) {}

  /** The trace of a request with these raw headers, or undefined when it is not sampled. */
  start(rawHeaders: readonly string[]): RequestTrace | undefined {
    if (this.sampler.never) return undefined;
    const parent = extractContext(rawHeaders);
    if (!this.sampler.sample(parent)) return undefined;
    if (parent === undefined || parent.traceId === '')
      return new RequestTrace(this.sink, newTraceId(), '', parent?.formats ?? 0, parent?.debug ?? false);
    return new RequestTrace(this.sink, parent.traceId, parent.spanId, parent.formats, parent.debug);
  }
}

/**
 * One sampled request's spans, all children of the caller's span (or roots of a new trace): begun, ended
 * once with the response's status and error, and one of them written as the parent of the next hop.
 */
export class RequestTrace {
  constructor(
    private readonly sink: SpanSink,
    /** 32 hex digits. */
    readonly traceId: string,
    /** The caller's span id, '' when this request began the trace. */
    readonly parentId: string,
    /** The header formats the request came with (0: none). */
    private readonly formats: number,
    private readonly debug: boolean,
  ) {}

  /** Starts a span now. */
  begin(name: string, kind: SpanKind, attributes: Record<string, AttributeValue>): Span {
    return new Span(name, kind, this.traceId, newSpanId(), this.parentId, nowMs(), attributes, this.debug);
  }

  /**
   * Ends `span` now and hands it to the exporter: `status` is the HTTP status answered (0 when none was),
   * `error` what went wrong; a status of 500 or more without an error is an error of its own.
   */
  end(span: Span, status: number, error?: string): void {
    if (span.endMs !== 0) return;
    span.endMs = nowMs();
    if (status !== 0) span.attributes['http.response.status_code'] = status;
    if (error !== undefined) span.error = error;
    else if (status >= 500) span.error = `HTTP ${status}`;
    this.sink.push(span);
  }

  /** Writes `span` as the parent in a forwarded header list, in the formats the request came with. */
  inject(headers: string[], span: Span): void {
    injectContext(headers, this.traceId, span.spanId, this.formats, this.debug);
  }
}
