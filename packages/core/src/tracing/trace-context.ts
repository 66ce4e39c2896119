/**
 * The trace context a request carries, in the two header formats Knative has used: W3C Trace Context
 * (`traceparent`, `tracestate`; Knative ≥ 1.19's OpenTelemetry) and Zipkin's B3, single (`b3`) and multi
 * (`X-B3-TraceId`, `X-B3-SpanId`, `X-B3-Sampled`, `X-B3-Flags`, `X-B3-ParentSpanId`; Knative ≤ 1.18's
 * OpenCensus with Zipkin). Read from Node's flat `rawHeaders` and written into a flat forwarded list.
 */

/** Which header formats a request carried its context in. */
export const W3C = 1;
export const B3_SINGLE = 2;
export const B3_MULTI = 4;

/** A trace context read from a request: the caller's span, and whether the caller sampled it. */
export interface SpanContext {
  /** 32 lower-case hex digits (a 16-digit B3 id is left-padded with zeros, as Zipkin does). */
  readonly traceId: string;
  /** 16 lower-case hex digits. */
  readonly spanId: string;
  /** The caller's decision: true or false, or undefined when it deferred (B3 without a sampling state). */
  readonly sampled: boolean | undefined;
  /** B3's debug flag (`X-B3-Flags: 1`, `b3: …-d`): always sampled. */
  readonly debug: boolean;
  /** `tracestate`, passed on unchanged. */
  readonly traceState: string | undefined;
  /** The formats the request carried ({@link W3C}, {@link B3_SINGLE}, {@link B3_MULTI}, or'ed). */
  readonly formats: number;
}

const HEX16 = /^[0-9a-f]{16}$/;
const B3_ID = /^(?:[0-9a-f]{16}|[0-9a-f]{32})$/;
const ZERO32 = '0'.repeat(32);
const ZERO16 = '0'.repeat(16);

/** Lower-case names of every header this module reads or writes. */
const TRACE_HEADERS = new Set([
  'traceparent',
  'tracestate',
  'b3',
  'x-b3-traceid',
  'x-b3-spanid',
  'x-b3-parentspanid',
  'x-b3-sampled',
  'x-b3-flags',
]);

/**
 * Whether `name` may be a trace header, from its length and first letter alone: most headers are ruled
 * out without lower-casing them, so the scan of a request without trace headers allocates nothing.
 */
function mayBeTraceHeader(name: string): boolean {
  const c = name.charCodeAt(0) | 0x20;
  switch (name.length) {
    case 2:
      return c === 0x62; // b3
    case 10: // tracestate, x-b3-flags
    case 11: // traceparent, x-b3-spanid
      return c === 0x74 || c === 0x78;
    case 12: // x-b3-traceid, x-b3-sampled
    case 17: // x-b3-parentspanid
      return c === 0x78;
    default:
      return false;
  }
}

/** `name` lower-cased, without a copy when it already is (as most clients send trace headers). */
function lowerName(name: string): string {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) return name.toLowerCase();
  }
  return name;
}

/** Whether `c` is a lower-case hex digit's code. */
function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66);
}

/**
 * Whether `v[from, to)` is lower-case hex and not all zeros. Checked by character codes, with no regular
 * expression or copy: every request of a traced component with a `traceparent` pays this.
 */
function isHexId(v: string, from: number, to: number): boolean {
  let nonZero = false;
  for (let i = from; i < to; i++) {
    const c = v.charCodeAt(i);
    if (!isHex(c)) return false;
    if (c !== 0x30) nonZero = true;
  }
  return nonZero;
}

/**
 * Parses `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`; a later version is read as 00, with anything
 * after its fields): undefined when malformed or an id is all zeros.
 */
function parseTraceparent(value: string): { traceId: string; spanId: string; sampled: boolean } | undefined {
  let v = value;
  if (v.length === 0) return undefined;
  if (v.charCodeAt(0) <= 0x20 || v.charCodeAt(v.length - 1) <= 0x20) v = v.trim();
  if (v.length < 55) return undefined;
  const v0 = v.charCodeAt(0);
  const v1 = v.charCodeAt(1);
  if (!isHex(v0) || !isHex(v1) || (v0 === 0x66 && v1 === 0x66)) return undefined;
  const version00 = v0 === 0x30 && v1 === 0x30;
  if (version00 ? v.length !== 55 : v.length > 55 && v.charCodeAt(55) !== 0x2d) return undefined;
  if (v.charCodeAt(2) !== 0x2d || v.charCodeAt(35) !== 0x2d || v.charCodeAt(52) !== 0x2d) return undefined;
  const f0 = v.charCodeAt(53);
  const f1 = v.charCodeAt(54);
  if (!isHex(f0) || !isHex(f1) || !isHexId(v, 3, 35) || !isHexId(v, 36, 52)) return undefined;
  // The sampled flag is bit 0 of the last hex digit.
  const sampled = ((f1 <= 0x39 ? f1 - 0x30 : f1 - 0x57) & 1) === 1;
  return { traceId: v.slice(3, 35), spanId: v.slice(36, 52), sampled };
}

/** A B3 id padded to 32 hex digits, or undefined when malformed. */
function b3TraceId(value: string): string | undefined {
  const v = value.trim().toLowerCase();
  if (!B3_ID.test(v)) return undefined;
  const id = v.length === 16 ? ZERO16 + v : v;
  return id === ZERO32 ? undefined : id;
}

function b3SpanId(value: string): string | undefined {
  const v = value.trim().toLowerCase();
  return HEX16.test(v) && v !== ZERO16 ? v : undefined;
}

/** B3's sampling state: `1`/`true`, `0`/`false`, `d` (debug), else undefined. */
function b3Sampled(value: string): boolean | 'd' | undefined {
  const v = value.trim().toLowerCase();
  if (v === '1' || v === 'true') return true;
  if (v === '0' || v === 'false') return false;
  if (v === 'd') return 'd';
  return undefined;
}

/**
 * Reads the trace context from a request's raw headers: W3C first (Knative ≥ 1.19 propagates it), then
 * single `b3`, then the `X-B3-*` set. Returns undefined when none is there or valid; a lone sampling
 * state (`b3: 0`, `X-B3-Sampled: 0` without ids) is returned with empty ids, as it still decides sampling.
 */
export function extractContext(raw: readonly string[]): SpanContext | undefined {
  let traceparent: string | undefined;
  let tracestate: string | undefined;
  let b3: string | undefined;
  let xTrace: string | undefined;
  let xSpan: string | undefined;
  let xSampled: string | undefined;
  let xFlags: string | undefined;
  let found = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (!mayBeTraceHeader(name)) continue;
    const lower = lowerName(name);
    const value = raw[i + 1]!;
    switch (lower) {
      case 'traceparent':
        traceparent ??= value;
        break;
      case 'tracestate':
        tracestate = tracestate === undefined ? value : `${tracestate},${value}`;
        break;
      case 'b3':
        b3 ??= value;
        break;
      case 'x-b3-traceid':
        xTrace ??= value;
        break;
      case 'x-b3-spanid':
        xSpan ??= value;
        break;
      case 'x-b3-sampled':
        xSampled ??= value;
        break;
      case 'x-b3-flags':
        xFlags ??= value;
        break;
      default:
        continue;
    }
    found = true;
  }
  if (!found) return undefined;
  const formats = (traceparent ? W3C : 0) | (b3 ? B3_SINGLE : 0) | (xTrace || xSampled ? B3_MULTI : 0);
  if (traceparent !== undefined) {
    const parsed = parseTraceparent(traceparent);
    if (parsed) {
      const { traceId, spanId, sampled } = parsed;
      return { traceId, spanId, sampled, debug: false, traceState: tracestate, formats };
    }
  }
  if (b3 !== undefined) {
    const parsed = parseB3Single(b3);
    if (parsed) return { ...parsed, traceState: undefined, formats };
  }
  if (xTrace !== undefined || xSampled !== undefined || xFlags !== undefined) {
    const debug = xFlags?.trim() === '1';
    const state = xSampled === undefined ? undefined : b3Sampled(xSampled);
    const sampled = debug || state === 'd' ? true : state;
    const traceId = xTrace === undefined ? undefined : b3TraceId(xTrace);
    const spanId = xSpan === undefined ? undefined : b3SpanId(xSpan);
    if (traceId && spanId) return { traceId, spanId, sampled, debug, traceState: undefined, formats };
    if (xTrace === undefined && sampled !== undefined)
      return { traceId: '', spanId: '', sampled, debug, traceState: undefined, formats };
  }
  return undefined;
}

/** Parses the single `b3` header: `{trace}-{span}[-{sampled}[-{parent}]]`, or a lone sampling state. */
function parseB3Single(value: string): Omit<SpanContext, 'traceState' | 'formats'> | undefined {
  const parts = value.trim().split('-');
  if (parts.length === 1) {
    const state = b3Sampled(parts[0]!);
    if (state === undefined) return undefined;
    return { traceId: '', spanId: '', sampled: state !== false, debug: state === 'd' };
  }
  if (parts.length > 4) return undefined;
  const traceId = b3TraceId(parts[0]!);
  const spanId = b3SpanId(parts[1]!);
  if (!traceId || !spanId) return undefined;
  const state = parts[2] === undefined ? undefined : b3Sampled(parts[2]);
  if (parts[2] !== undefined && state === undefined) return undefined;
  if (parts[3] !== undefined && b3SpanId(parts[3]) === undefined) return undefined;
  return {
    traceId,
    spanId,
    sampled: state === undefined ? undefined : state !== false,
    debug: state === 'd',
  };
}

/**
 * The trace id a request carries, for the request log's `.TraceID` (Knative reads `traceparent`, then
 * `X-B3-TraceId`): 32 hex digits, or '' when there is none.
 */
export function traceIdOf(raw: readonly string[]): string {
  return extractContext(raw)?.traceId ?? '';
}

/**
 * Replaces the trace headers of a forwarded header list (`[name, value, …]`) with `traceId`/`spanId`
 * as the new parent, in the formats the request came with (`formats`; 0, a new root: W3C and B3 multi,
 * so both eras of Knative and any app read it). `tracestate` is kept; a sampled context is written
 * sampled (only sampled requests are rewritten: the rest pass as they came).
 */
export function injectContext(
  headers: string[],
  traceId: string,
  spanId: string,
  formats: number,
  debug: boolean,
): void {
  let w = 0;
  for (let r = 0; r < headers.length; r += 2) {
    const name = headers[r]!;
    const lower = mayBeTraceHeader(name) ? lowerName(name) : '';
    if (lower !== '' && lower !== 'tracestate' && TRACE_HEADERS.has(lower)) continue;
    headers[w++] = name;
    headers[w++] = headers[r + 1]!;
  }
  headers.length = w;
  const f = formats === 0 ? W3C | B3_MULTI : formats;
  if (f & W3C) headers.push('traceparent', `00-${traceId}-${spanId}-01`);
  if (f & B3_SINGLE) headers.push('b3', `${traceId}-${spanId}-${debug ? 'd' : '1'}`);
  if (f & B3_MULTI) {
    headers.push('x-b3-traceid', traceId, 'x-b3-spanid', spanId);
    if (debug) headers.push('x-b3-flags', '1');
    else headers.push('x-b3-sampled', '1');
  }
}
