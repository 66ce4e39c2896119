/**
 * The incremental HTTP/1.1 head state machine shared by the request and response head parsers and the
 * trailer section of a chunked body. It follows llhttp 9 as Node 24 builds and runs it (strict URL mode,
 * no lenient flags) state for state where a difference could change a verdict, so that it accepts and
 * refuses exactly what node:http does; `parser-fuzz.test.ts` checks that against node:http itself.
 */
import { ALPHA, HEADER_VALUE, LIST_TOKEN, TOKEN, URL_CHAR, URL_SERVER } from './char-classes.js';
import { type ParseVerdict, VERDICTS } from './parse-verdict.js';

/** `execute` consumed every byte and the head is not complete yet. */
export const NEED_MORE = -1;
/** `execute` refused the message; the reason is in `verdict`. */
export const FAILED = -2;

// Header facts gathered while scanning, with llhttp's flag bits (so its rules read the same here).
/** A `Connection` (or `Proxy-Connection`) token `keep-alive`. */
export const FLAG_CONNECTION_KEEP_ALIVE = 1 << 0;
/** A `Connection` (or `Proxy-Connection`) token `close`. */
export const FLAG_CONNECTION_CLOSE = 1 << 1;
/** A `Connection` (or `Proxy-Connection`) token `upgrade`. */
export const FLAG_CONNECTION_UPGRADE = 1 << 2;
/** The last transfer coding is `chunked`. */
export const FLAG_CHUNKED = 1 << 3;
/** An `Upgrade` field with a value. */
export const FLAG_UPGRADE = 1 << 4;
/** A valid `Content-Length` field. */
export const FLAG_CONTENT_LENGTH = 1 << 5;
/** A `Transfer-Encoding` field. */
export const FLAG_TRANSFER_ENCODING = 1 << 9;

/** Scan a request head. */
export const MODE_REQUEST = 1;
/** Scan a response head. */
export const MODE_RESPONSE = 2;
/** Scan the trailer fields of a chunked request, from the first field line. */
export const MODE_REQUEST_TRAILERS = 3;
/** Scan the trailer fields of a chunked response, from the first field line. */
export const MODE_RESPONSE_TRAILERS = 4;

// Methods llhttp matches in a request line (its METHODS list, HTTP and RTSP together); anything else is
// refused at the first byte that cannot continue one of them.
const HTTP_METHODS = [
  'DELETE',
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'COPY',
  'LOCK',
  'MKCOL',
  'MOVE',
  'PROPFIND',
  'PROPPATCH',
  'SEARCH',
  'UNLOCK',
  'BIND',
  'REBIND',
  'UNBIND',
  'ACL',
  'REPORT',
  'MKACTIVITY',
  'CHECKOUT',
  'MERGE',
  'M-SEARCH',
  'NOTIFY',
  'SUBSCRIBE',
  'UNSUBSCRIBE',
  'PATCH',
  'PURGE',
  'MKCALENDAR',
  'LINK',
  'UNLINK',
  'SOURCE',
  'PRI',
  'QUERY',
];
const RTSP_METHODS = [
  'OPTIONS',
  'DESCRIBE',
  'ANNOUNCE',
  'SETUP',
  'PLAY',
  'PAUSE',
  'TEARDOWN',
  'GET_PARAMETER',
  'SET_PARAMETER',
  'REDIRECT',
  'RECORD',
  'FLUSH',
  'GET',
  'POST',
];
const ALL_METHODS = new Set([...HTTP_METHODS, ...RTSP_METHODS]);
const HTTP_METHOD_SET = new Set(HTTP_METHODS);
const RTSP_METHOD_SET = new Set(RTSP_METHODS);
const METHOD_PREFIXES = new Set<string>();
for (const m of ALL_METHODS) for (let i = 1; i <= m.length; i++) METHOD_PREFIXES.add(m.slice(0, i));
/** Bytes that can appear in a method: upper-case letters, `-` and `_`. */
const METHOD_CHAR = new Uint8Array(256);
for (let b = 0x41; b <= 0x5a; b++) METHOD_CHAR[b] = 1;
METHOD_CHAR[0x2d] = 1;
METHOD_CHAR[0x5f] = 1;

const PROTOCOLS = ['HTTP', 'RTSP', 'ICE'];
const PRI_PREFACE = Buffer.from('\r\n\r\nSM\r\n\r\n', 'latin1');
const CL_MAX = '18446744073709551615';
const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');

// Header names that steer framing, with the value scanner each one uses.
const V_GENERAL = 0;
const V_CONTENT_LENGTH = 1;
const V_TRANSFER_ENCODING = 2;
const V_CONNECTION = 3;
const V_UPGRADE = 4;
const V_HOST = 5;
const V_EXPECT = 6;

// States. Request line.
const S_START = 0;
const S_METHOD = 1;
const S_SPACES_BEFORE_TARGET = 2;
const S_URL_START = 3;
const S_URL_SCHEMA = 4;
const S_URL_SLASH1 = 5;
const S_URL_SLASH2 = 6;
const S_URL_SERVER = 7;
const S_URL_PATH = 8;
const S_URL_QUERY = 9;
const S_URL_FRAGMENT = 10;
const S_URL_LF09 = 11;
const S_SPACES_BEFORE_VERSION = 12;
const S_PROTOCOL = 13;
const S_SLASH = 14;
const S_MAJOR = 15;
const S_DOT = 16;
const S_MINOR = 17;
const S_REQ_CR = 18;
const S_REQ_LF = 19;
const S_PRI = 20;
// Status line.
const S_RES_SPACE = 21;
const S_STATUS_1 = 22;
const S_STATUS_2 = 23;
const S_STATUS_3 = 24;
const S_STATUS_AFTER = 25;
const S_STATUS_TEXT = 26;
const S_RES_LF = 27;
// Header section.
const S_HEADERS_START = 30;
const S_FIELD_START = 31;
const S_FIELD = 32;
const S_VALUE_WS = 33;
const S_VALUE_WS_LF = 34;
const S_EMPTY_VALUE_LWS = 35;
const S_VALUE = 36;
const S_VALUE_LF = 37;
const S_VALUE_LWS = 38;
const S_HEADERS_LF = 39;
const S_DONE = 40;
const S_FAILED = 41;
/** States inside a token whose bytes must be kept when a piece ends. */
const TOKEN_STATES = new Uint8Array(64);
for (const s of [S_METHOD, S_URL_START, S_URL_SCHEMA, S_URL_SLASH1, S_URL_SLASH2, S_URL_SERVER, S_URL_PATH]) {
  TOKEN_STATES[s] = 1;
}
for (const s of [S_URL_QUERY, S_URL_FRAGMENT, S_PROTOCOL, S_STATUS_TEXT, S_FIELD, S_VALUE])
  TOKEN_STATES[s] = 1;

// Sub-states of the Content-Length, Transfer-Encoding and Connection value scanners.
const CL_DIGITS = 0;
const CL_WS = 1;
const TE_CHUNKED = 0;
const TE_LAST = 1;
const TE_TOKEN = 2;
const TE_OWS = 3;
const TE_GENERAL = 4;
const C_START = 0;
const C_WS = 1;
const C_TOKEN = 2;
const C_GENERAL = 3;
const CONN_TOKENS = ['close', 'upgrade', 'keep-alive'];
const CONN_FLAGS = [FLAG_CONNECTION_CLOSE, FLAG_CONNECTION_UPGRADE, FLAG_CONNECTION_KEEP_ALIVE];

/** A string of `buffer[start, end)` as Latin-1 (one byte per char), as node builds header strings. */
const latin1 = (buffer: Buffer, start: number, end: number): string =>
  (buffer as unknown as { latin1Slice(start: number, end: number): string }).latin1Slice(start, end);
/** Bytes outside an origin-form target after its `/`: anything but visible ASCII. */
const NOT_TARGET = /[^\x21-\x7e]/;
/** A Content-Length small enough to be exact as a double, the only kind the fast path takes. */
const SMALL_DIGITS = /^[0-9]{1,15}$/;

function lowerByte(b: number): number {
  return b >= 0x41 && b <= 0x5a ? b | 0x20 : b;
}

function classify(name: string): number {
  // Length and first letter rule out almost every name before it is lower-cased.
  const len = name.length;
  const first = name.charCodeAt(0) | 0x20;
  switch (len) {
    case 4:
      if (first !== 0x68) return V_GENERAL;
      break;
    case 6:
      if (first !== 0x65) return V_GENERAL;
      break;
    case 7:
      if (first !== 0x75) return V_GENERAL;
      break;
    case 10:
    case 14:
      if (first !== 0x63) return V_GENERAL;
      break;
    case 16:
      if (first !== 0x70) return V_GENERAL;
      break;
    case 17:
      if (first !== 0x74) return V_GENERAL;
      break;
    default:
      return V_GENERAL;
  }
  switch (name.toLowerCase()) {
    case 'content-length':
      return V_CONTENT_LENGTH;
    case 'transfer-encoding':
      return V_TRANSFER_ENCODING;
    case 'connection':
    case 'proxy-connection':
      return V_CONNECTION;
    case 'upgrade':
      return V_UPGRADE;
    case 'host':
      return V_HOST;
    case 'expect':
      return V_EXPECT;
    default:
      return V_GENERAL;
  }
}

/**
 * Scans one head (or trailer section) from Buffers arriving in pieces, split anywhere. When a piece ends
 * inside a token (target, name, value) it keeps that token's bytes only, so memory stays below the maximum
 * head size however much whitespace a client sends; a head that arrives in one piece is scanned in place.
 * Reuse it for the next message with `reset`.
 */
/**
 * A scanner for `mode` with a parser's limits, checked: `maxHeadSize` (default `defaultHeadSize`) a positive
 * integer, `maxHeaderCount` (default `defaultHeaderCount`, 0 for none) a non-negative one.
 */
export function scannerWithLimits(
  mode: number,
  options: { maxHeadSize?: number; maxHeaderCount?: number },
  defaultHeadSize: number,
  defaultHeaderCount: number,
): HeadScanner {
  const max = options.maxHeadSize ?? defaultHeadSize;
  if (!Number.isInteger(max) || max < 1)
    throw new RangeError(`maxHeadSize must be a positive integer, got ${max}`);
  const count = options.maxHeaderCount ?? defaultHeaderCount;
  if (!Number.isInteger(count) || count < 0) {
    throw new RangeError(`maxHeaderCount must be a non-negative integer, got ${count}`);
  }
  return new HeadScanner(mode, max, count);
}

export class HeadScanner {
  /** The refusal, once `execute` returned `FAILED`. */
  verdict: ParseVerdict | null = null;
  /** Flag bits (`FLAG_*`) gathered from the header fields. */
  flags = 0;
  method = '';
  target = '';
  /** `HTTP`, `RTSP` or `ICE`. */
  protocol = 'HTTP';
  versionMajor = 1;
  versionMinor = 1;
  statusCode = 0;
  statusText = '';
  /** Names and values in arrival order, as node's `rawHeaders` (values without trailing whitespace). */
  rawHeaders: string[] = [];
  /** Parsed `Content-Length`; -1 when absent. Exact below 2^53. */
  contentLength = -1;
  /** First `Host` value; undefined when absent. */
  host: string | undefined = undefined;
  /** `Expect` values joined with `, ` as node joins them; undefined when absent. */
  expect: string | undefined = undefined;

  private readonly mode: number;
  private readonly maxHeadSize: number;
  private readonly maxHeaderCount: number;
  /** Header fields begun so far (node refuses the one past `maxHeaderCount` once its name is read). */
  private fieldCount = 0;
  private state: number;
  /** Bytes of an unfinished head from its first byte, or null when nothing is pending. */
  private pending: Buffer | null = null;
  /** Start of the method, target, status text, name or value being scanned (index in the working data). */
  private tokenStart = 0;
  /** First byte of the open span not yet counted against `maxHeadSize`. */
  private spanMark = 0;
  private spanOpen = false;
  /** Target, name and value bytes counted so far, as node's `header_nread_`. */
  private counted = 0;
  private sub = 0;
  private subIndex = 0;
  private valueKind = V_GENERAL;
  private connToken = -1;
  private clDigitStart = -1;
  private name = '';
  private pendingValue = '';
  /** Latin-1 text of the Buffer being scanned, from `textBase` to `textEnd`: tokens are cut from it. */
  private text = '';
  private textData: Buffer | null = null;
  private textBase = 0;
  private textEnd = 0;

  /**
   * @param mode `MODE_REQUEST`, `MODE_RESPONSE`, or a trailer mode (starts at the first field line).
   * @param maxHeadSize node's `--max-http-header-size`: target, names and values together must stay below it.
   * @param maxHeaderCount node:http's `maxHeadersCount`: more fields than this are refused as too large; 0: no limit.
   */
  constructor(mode: number, maxHeadSize: number, maxHeaderCount: number) {
    this.mode = mode;
    this.maxHeadSize = maxHeadSize;
    this.maxHeaderCount = maxHeaderCount === 0 ? Number.POSITIVE_INFINITY : maxHeaderCount;
    this.state = this.initialState();
  }

  /** Forgets the previous message so the scanner can read the next one; `flags` seeds trailer scans. */
  reset(flags = 0): void {
    this.verdict = null;
    this.flags = flags;
    this.method = '';
    this.target = '';
    this.protocol = 'HTTP';
    this.versionMajor = 1;
    this.versionMinor = 1;
    this.statusCode = 0;
    this.statusText = '';
    this.rawHeaders = [];
    this.contentLength = -1;
    this.host = undefined;
    this.expect = undefined;
    this.state = this.initialState();
    this.pending = null;
    this.spanOpen = false;
    this.counted = 0;
    this.fieldCount = 0;
  }

  private initialState(): number {
    return this.mode === MODE_REQUEST || this.mode === MODE_RESPONSE ? S_START : S_FIELD_START;
  }

  /**
   * Scans `chunk` from `start`. Returns the index in `chunk` just past the head (where the body starts),
   * `NEED_MORE` when every byte was consumed and the head goes on, or `FAILED` (see `verdict`).
   */
  execute(chunk: Buffer, start = 0): number {
    if (this.state === S_DONE || this.state === S_FAILED) throw new Error('HeadScanner: reset before reuse');
    // The caller may refill the same Buffer between calls: text cut from an earlier call is stale.
    this.textData = null;
    let data = chunk;
    let base = start;
    if (this.pending !== null) {
      base = this.pending.length;
      data = Buffer.concat([this.pending, start === 0 ? chunk : chunk.subarray(start)]);
      this.pending = null;
    } else if (this.state === S_START && this.mode <= MODE_RESPONSE) {
      const fast =
        this.mode === MODE_REQUEST ? this.fastRequest(chunk, start) : this.fastResponse(chunk, start);
      if (fast >= 0) return fast;
    }
    const end = this.scan(data, base);
    if (end >= 0) return end - base + start;
    if (end === FAILED) return FAILED;
    // Every byte consumed: count the open span as llparse does at the end of each buffer, keep the head.
    if (this.spanOpen) {
      this.counted += data.length - this.spanMark;
      this.spanMark = data.length;
      if (this.counted >= this.maxHeadSize) return this.fail(VERDICTS.HEAD_TOO_LARGE);
      if (this.state === S_FIELD && this.fieldCount > this.maxHeaderCount)
        return this.fail(VERDICTS.HEAD_TOO_LARGE);
    }
    // Only the token being scanned is kept: finished names and values are strings already.
    const from = TOKEN_STATES[this.state] === 1 ? this.tokenStart : data.length;
    if (from < data.length) this.pending = Buffer.from(data.subarray(from));
    this.tokenStart -= from;
    this.spanMark -= from;
    if (this.clDigitStart >= 0) this.clDigitStart -= from;
    return NEED_MORE;
  }

  /**
   * The common case in one pass over a head that arrived whole: an HTTP/1.0 or 1.1 origin-form request with
   * well-formed fields. It only accepts; on anything else (a refusal, an unusual form, a head split across
   * pieces) it returns -1 having changed nothing, and the byte-by-byte state machine decides.
   */
  private fastRequest(data: Buffer, start: number): number {
    // One Latin-1 string for the whole head, then substrings: far cheaper than a native call per field.
    const headEnd = data.indexOf(HEAD_END, start);
    if (headEnd < 0) return -1;
    const text = latin1(data, start, headEnd + 4);
    // Bytes are read from the Buffer (typed-array loads), strings cut from `text`.
    const bytes = start === 0 ? data : data.subarray(start, headEnd + 4);
    const len = text.length;
    let p = 0;
    while (p < len && METHOD_CHAR[bytes[p]!] === 1) p++;
    if (bytes[p]! !== 0x20 || bytes[p + 1]! !== 0x2f) return -1;
    const method = text.slice(0, p);
    if (!HTTP_METHOD_SET.has(method) || method === 'CONNECT' || method === 'PRI') return -1;
    const targetStart = p + 1;
    const sp = text.indexOf(' ', targetStart);
    if (sp < 0 || sp + 10 >= len) return -1;
    const target = text.slice(targetStart, sp);
    if (NOT_TARGET.test(target)) return -1;
    const version = text.slice(sp + 1, sp + 11);
    const minor = version === 'HTTP/1.1\r\n' ? 1 : version === 'HTTP/1.0\r\n' ? 0 : -1;
    if (minor < 0) return -1;
    const end = this.fastFields(bytes, text, sp + 11, sp - targetStart);
    if (end < 0) return -1;
    this.method = method;
    this.target = target;
    this.versionMajor = 1;
    this.versionMinor = minor;
    return start + end;
  }

  /** The fast path for a whole response head with an HTTP/1.0 or 1.1 status line; see `fastRequest`. */
  private fastResponse(data: Buffer, start: number): number {
    const headEnd = data.indexOf(HEAD_END, start);
    if (headEnd < 0) return -1;
    const text = latin1(data, start, headEnd + 4);
    const bytes = start === 0 ? data : data.subarray(start, headEnd + 4);
    const version = text.slice(0, 9);
    const minor = version === 'HTTP/1.1 ' ? 1 : version === 'HTTP/1.0 ' ? 0 : -1;
    if (minor < 0) return -1;
    let status = 0;
    for (let i = 9; i < 12; i++) {
      const d = bytes[i]! - 0x30;
      if (!(d >= 0 && d <= 9)) return -1;
      status = status * 10 + d;
    }
    if (bytes[12] !== 0x20) return -1;
    let p = 13;
    while (HEADER_VALUE[bytes[p]!] === 1) p++;
    if (bytes[p] !== 0x0d || bytes[p + 1] !== 0x0a) return -1;
    const end = this.fastFields(bytes, text, p + 2, p - 13);
    if (end < 0) return -1;
    this.statusCode = status;
    this.statusText = text.slice(13, p);
    this.versionMajor = 1;
    this.versionMinor = minor;
    return start + end;
  }

  /**
   * The field lines of a fast-path head from `p` (after the start line) to the empty line; `counted` is the
   * start line's share of the head size. Returns the end of the head in `bytes`, or -1 having changed
   * nothing; on success sets the header results and ends the scan.
   */
  private fastFields(bytes: Buffer, text: string, p: number, counted: number): number {
    const len = text.length;
    let flags = 0;
    let contentLength = -1;
    let host: string | undefined;
    let expect: string | undefined;
    const raw: string[] = [];
    for (;;) {
      if (p >= len) return -1;
      if (bytes[p]! === 0x0d) {
        // The first CRLFCRLF ends the head: a lone CR here would have been refused by a value check.
        if (p + 2 !== len) return -1;
        break;
      }
      const nameStart = p;
      while (p < len && TOKEN[bytes[p]!] === 1) p++;
      if (bytes[p]! !== 0x3a || p === nameStart) return -1;
      const name = text.slice(nameStart, p);
      const nameLength = p - nameStart;
      p++;
      let c = bytes[p]!;
      while (c === 0x20 || c === 0x09) c = bytes[++p]!;
      const valueStart = p;
      while (HEADER_VALUE[c] === 1) c = bytes[++p]!;
      const cr = p;
      if (cr === valueStart || c !== 0x0d || bytes[cr + 1]! !== 0x0a) return -1;
      const next = bytes[cr + 2]!;
      if (next === 0x20 || next === 0x09) return -1;
      let e = cr;
      for (c = bytes[e - 1]!; c === 0x20 || c === 0x09; c = bytes[--e - 1]!);
      const value = text.slice(valueStart, e);
      // node counts the name and the value up to CR, trailing whitespace included.
      counted += nameLength + (cr - valueStart);
      if (raw.length >= this.maxHeaderCount * 2) return -1;
      raw.push(name, value);
      p = cr + 2;
      switch (classify(name)) {
        case V_GENERAL:
          break;
        case V_CONTENT_LENGTH:
          if ((flags & (FLAG_CONTENT_LENGTH | FLAG_TRANSFER_ENCODING)) !== 0 || !SMALL_DIGITS.test(value))
            return -1;
          flags |= FLAG_CONTENT_LENGTH;
          contentLength = Number(value);
          break;
        case V_TRANSFER_ENCODING:
          if ((flags & (FLAG_CONTENT_LENGTH | FLAG_TRANSFER_ENCODING)) !== 0) return -1;
          if (cr - valueStart !== 7 || value.toLowerCase() !== 'chunked') return -1;
          flags |= FLAG_TRANSFER_ENCODING | FLAG_CHUNKED;
          break;
        case V_CONNECTION: {
          const token = value.length <= 10 ? value.toLowerCase() : '';
          if (token === 'keep-alive') flags |= FLAG_CONNECTION_KEEP_ALIVE;
          else if (token === 'close') flags |= FLAG_CONNECTION_CLOSE;
          else if (token === 'upgrade') flags |= FLAG_CONNECTION_UPGRADE;
          else if (value.includes(',') || /^[ \t]*(?:close|upgrade|keep-alive)/i.test(value)) return -1;
          break;
        }
        case V_UPGRADE:
          flags |= FLAG_UPGRADE;
          break;
        case V_HOST:
          host ??= value;
          break;
        default:
          expect = expect === undefined ? value : `${expect}, ${value}`;
      }
    }
    if (counted >= this.maxHeadSize) return -1;
    this.rawHeaders = raw;
    this.flags = flags;
    this.contentLength = contentLength;
    this.host = host;
    this.expect = expect;
    this.state = S_DONE;
    return len;
  }

  private fail(verdict: ParseVerdict): number {
    this.verdict = verdict;
    this.state = S_FAILED;
    this.pending = null;
    return FAILED;
  }

  /** Closes the open span at `p`, counting it; false when that reached the maximum head size. */
  private endSpan(p: number): boolean {
    this.spanOpen = false;
    this.counted += p - this.spanMark;
    return this.counted < this.maxHeadSize;
  }

  /** Closes a header name's span: counted as any span, and one field more against `maxHeaderCount`. */
  private endFieldSpan(p: number): boolean {
    return this.endSpan(p) && this.fieldCount <= this.maxHeaderCount;
  }

  private openSpan(p: number): void {
    this.spanOpen = true;
    this.spanMark = p;
    this.tokenStart = p;
  }

  private scan(data: Buffer, from: number): number {
    const len = data.length;
    let p = from;
    let state = this.state;
    while (p < len) {
      const b = data[p]!;
      switch (state) {
        case S_START:
          if (b === 0x0d || b === 0x0a) {
            p++;
            continue;
          }
          this.tokenStart = p;
          state = this.mode === MODE_REQUEST ? S_METHOD : S_PROTOCOL;
          this.subIndex = 0;
          continue;

        case S_METHOD: {
          let q = p;
          while (q < len && METHOD_CHAR[data[q]!] === 1) q++;
          if (q === len) {
            if (!METHOD_PREFIXES.has(this.str(data, this.tokenStart, q)))
              return this.fail(VERDICTS.INVALID_METHOD);
            p = q;
            continue;
          }
          const method = this.str(data, this.tokenStart, q);
          if (data[q] !== 0x20 || !ALL_METHODS.has(method)) return this.fail(VERDICTS.INVALID_METHOD);
          this.method = method;
          p = q + 1;
          state = S_SPACES_BEFORE_TARGET;
          continue;
        }

        case S_SPACES_BEFORE_TARGET:
          if (b === 0x20) {
            p++;
            continue;
          }
          this.openSpan(p);
          state = this.method === 'CONNECT' ? S_URL_SERVER : S_URL_START;
          continue;

        case S_URL_START:
          if (b === 0x2f || b === 0x2a) state = S_URL_PATH;
          else if (ALPHA[b] === 1) state = S_URL_SCHEMA;
          else return this.fail(VERDICTS.INVALID_TARGET);
          p++;
          continue;

        case S_URL_SCHEMA:
          if (ALPHA[b] === 1) p++;
          else if (b === 0x3a) {
            p++;
            state = S_URL_SLASH1;
          } else return this.fail(VERDICTS.INVALID_TARGET);
          continue;

        case S_URL_SLASH1:
        case S_URL_SLASH2:
          if (b !== 0x2f) return this.fail(VERDICTS.INVALID_TARGET);
          p++;
          state = state === S_URL_SLASH1 ? S_URL_SLASH2 : S_URL_SERVER;
          continue;

        case S_URL_SERVER:
          if (b === 0x2f) state = S_URL_PATH;
          else if (b === 0x3f) state = S_URL_QUERY;
          else if (URL_SERVER[b] !== 1) {
            const r = this.endTarget(data, p, b);
            if (r < 0) return r;
            state = r;
            p++;
            continue;
          }
          p++;
          continue;

        case S_URL_PATH:
        case S_URL_QUERY:
        case S_URL_FRAGMENT: {
          let q = p;
          while (q < len && URL_CHAR[data[q]!] === 1) q++;
          p = q;
          if (q === len) continue;
          const c = data[q]!;
          if (c === 0x3f) {
            if (state === S_URL_PATH) state = S_URL_QUERY;
            p++;
            continue;
          }
          if (c === 0x23) {
            state = S_URL_FRAGMENT;
            p++;
            continue;
          }
          const r = this.endTarget(data, p, c);
          if (r < 0) return r;
          state = r;
          p++;
          continue;
        }

        case S_URL_LF09:
          if (b !== 0x0a) return this.fail(VERDICTS.INVALID_TARGET);
          this.versionMajor = 0;
          this.versionMinor = 9;
          p++;
          state = S_HEADERS_START;
          continue;

        case S_SPACES_BEFORE_VERSION:
          if (b === 0x20) {
            p++;
            continue;
          }
          this.tokenStart = p;
          this.subIndex = 0;
          state = S_PROTOCOL;
          continue;

        case S_PROTOCOL: {
          // Matches HTTP, RTSP or ICE byte by byte: subIndex is the protocol, offset the byte in it.
          const offset = p - this.tokenStart;
          if (offset === 0) {
            this.subIndex = b === 0x48 ? 0 : b === 0x52 ? 1 : b === 0x49 ? 2 : -1;
            if (this.subIndex < 0) return this.fail(VERDICTS.INVALID_VERSION);
          } else if (PROTOCOLS[this.subIndex]!.charCodeAt(offset) !== b) {
            return this.fail(VERDICTS.INVALID_VERSION);
          }
          p++;
          if (offset + 1 === PROTOCOLS[this.subIndex]!.length) {
            this.protocol = PROTOCOLS[this.subIndex]!;
            if (this.mode === MODE_REQUEST) {
              const allowed =
                this.subIndex === 0
                  ? HTTP_METHOD_SET.has(this.method)
                  : this.subIndex === 1
                    ? RTSP_METHOD_SET.has(this.method)
                    : this.method === 'SOURCE';
              if (!allowed) return this.fail(VERDICTS.INVALID_METHOD);
            }
            state = S_SLASH;
          }
          continue;
        }

        case S_SLASH:
          if (b !== 0x2f) return this.fail(VERDICTS.INVALID_VERSION);
          p++;
          state = S_MAJOR;
          continue;

        case S_MAJOR:
          if (b < 0x30 || b > 0x39) return this.fail(VERDICTS.INVALID_VERSION);
          this.versionMajor = b - 0x30;
          p++;
          state = S_DOT;
          continue;

        case S_DOT:
          if (b !== 0x2e) return this.fail(VERDICTS.INVALID_VERSION);
          p++;
          state = S_MINOR;
          continue;

        case S_MINOR: {
          if (b < 0x30 || b > 0x39) return this.fail(VERDICTS.INVALID_VERSION);
          const major = this.versionMajor;
          const minor = b - 0x30;
          this.versionMinor = minor;
          // llhttp accepts 0.9, 1.0, 1.1 and 2.0 only.
          const ok =
            (major === 0 && minor === 9) || (major === 1 && minor <= 1) || (major === 2 && minor === 0);
          if (!ok) return this.fail(VERDICTS.INVALID_VERSION);
          p++;
          if (this.mode === MODE_REQUEST) {
            state = this.method === 'PRI' ? S_PRI : S_REQ_CR;
            this.subIndex = 0;
          } else state = S_RES_SPACE;
          continue;
        }

        case S_PRI:
          // node refuses the HTTP/2 preface on an HTTP/1.1 server once it has all of it, or a mismatch.
          if (b !== PRI_PREFACE[this.subIndex]) return this.fail(VERDICTS.INVALID_VERSION);
          p++;
          if (++this.subIndex === PRI_PREFACE.length) return this.fail(VERDICTS.H2_PREFACE);
          continue;

        case S_REQ_CR:
          if (b !== 0x0d) return this.fail(VERDICTS.INVALID_VERSION);
          p++;
          state = S_REQ_LF;
          continue;

        case S_REQ_LF:
          if (b !== 0x0a) return this.fail(VERDICTS.INVALID_LINE_ENDING);
          p++;
          state = S_HEADERS_START;
          continue;

        case S_RES_SPACE:
          if (b !== 0x20) return this.fail(VERDICTS.INVALID_VERSION);
          p++;
          this.statusCode = 0;
          state = S_STATUS_1;
          continue;

        case S_STATUS_1:
        case S_STATUS_2:
        case S_STATUS_3:
          if (b < 0x30 || b > 0x39) return this.fail(VERDICTS.INVALID_STATUS);
          this.statusCode = this.statusCode * 10 + (b - 0x30);
          p++;
          state++;
          continue;

        case S_STATUS_AFTER:
          if (b === 0x20) {
            p++;
            this.openSpan(p);
            state = S_STATUS_TEXT;
          } else if (b === 0x0d) {
            p++;
            state = S_RES_LF;
          } else return this.fail(VERDICTS.INVALID_STATUS);
          continue;

        case S_STATUS_TEXT: {
          let q = p;
          while (q < len && data[q] !== 0x0d && data[q] !== 0x0a) q++;
          p = q;
          if (q === len) continue;
          if (!this.endSpan(q)) return this.fail(VERDICTS.HEAD_TOO_LARGE);
          if (data[q] === 0x0a) return this.fail(VERDICTS.INVALID_LINE_ENDING);
          this.statusText = this.str(data, this.tokenStart, q);
          p++;
          state = S_RES_LF;
          continue;
        }

        case S_RES_LF:
          if (b !== 0x0a) return this.fail(VERDICTS.INVALID_LINE_ENDING);
          p++;
          state = S_HEADERS_START;
          continue;

        case S_HEADERS_START:
          if (b === 0x20) return this.fail(VERDICTS.OBS_FOLD);
          state = S_FIELD_START;
          continue;

        case S_FIELD_START:
          if (b === 0x0d) {
            p++;
            state = S_HEADERS_LF;
            continue;
          }
          if (b === 0x0a) return this.fail(VERDICTS.INVALID_LINE_ENDING);
          if (b === 0x3a) return this.fail(VERDICTS.INVALID_HEADER_NAME);
          this.openSpan(p);
          this.fieldCount++;
          state = S_FIELD;
          continue;

        case S_FIELD: {
          let q = p;
          while (q < len && TOKEN[data[q]!] === 1) q++;
          p = q;
          if (q === len) continue;
          const c = data[q]!;
          if (c !== 0x3a) {
            // A space after a name llhttp tracks ends its span (and may overflow) before the refusal.
            if (c === 0x20) {
              const kind = classify(this.str(data, this.tokenStart, q));
              if (kind !== V_GENERAL && kind <= V_UPGRADE && !this.endFieldSpan(q)) {
                return this.fail(VERDICTS.HEAD_TOO_LARGE);
              }
            }
            return this.fail(VERDICTS.INVALID_HEADER_NAME);
          }
          if (!this.endFieldSpan(q)) return this.fail(VERDICTS.HEAD_TOO_LARGE);
          this.name = this.str(data, this.tokenStart, q);
          const kind = classify(this.name);
          this.valueKind = kind;
          if (kind === V_TRANSFER_ENCODING && (this.flags & FLAG_CONTENT_LENGTH) !== 0) {
            return this.fail(VERDICTS.INVALID_TRANSFER_ENCODING);
          }
          if (kind === V_CONTENT_LENGTH && (this.flags & FLAG_TRANSFER_ENCODING) !== 0) {
            return this.fail(VERDICTS.INVALID_CONTENT_LENGTH);
          }
          p = q + 1;
          state = S_VALUE_WS;
          continue;
        }

        case S_VALUE_WS:
          if (b === 0x20 || b === 0x09) {
            p++;
            continue;
          }
          if (b === 0x0d) {
            p++;
            state = S_VALUE_WS_LF;
            continue;
          }
          if (b === 0x0a) return this.fail(VERDICTS.INVALID_HEADER_VALUE);
          {
            const r = this.startValue(p);
            if (r < 0) return r;
          }
          state = S_VALUE;
          continue;

        case S_VALUE_WS_LF:
          if (b !== 0x0a) return this.fail(VERDICTS.INVALID_LINE_ENDING);
          p++;
          state = S_EMPTY_VALUE_LWS;
          continue;

        case S_EMPTY_VALUE_LWS:
          if (b === 0x20 || b === 0x09) return this.fail(VERDICTS.OBS_FOLD);
          if (this.valueKind === V_CONTENT_LENGTH) return this.fail(VERDICTS.INVALID_CONTENT_LENGTH);
          if (this.valueKind === V_TRANSFER_ENCODING) return this.fail(VERDICTS.INVALID_TRANSFER_ENCODING);
          this.commitHeader('');
          state = S_FIELD_START;
          continue;

        case S_VALUE: {
          let q = p;
          if (this.valueKind === V_GENERAL || this.valueKind >= V_UPGRADE) {
            while (q < len && HEADER_VALUE[data[q]!] === 1) q++;
          } else {
            const r = this.scanSpecialValue(data, q, len);
            if (r < 0) return r;
            q = r;
          }
          p = q;
          if (q === len) continue;
          const c = data[q]!;
          if (!this.endSpan(q)) return this.fail(VERDICTS.HEAD_TOO_LARGE);
          if (c === 0x0a) return this.fail(VERDICTS.INVALID_LINE_ENDING);
          if (c !== 0x0d) return this.fail(VERDICTS.INVALID_HEADER_VALUE);
          let e = q;
          while (e > this.tokenStart && (data[e - 1] === 0x20 || data[e - 1] === 0x09)) e--;
          this.pendingValue = this.str(data, this.tokenStart, e);
          p++;
          state = S_VALUE_LF;
          continue;
        }

        case S_VALUE_LF:
          if (b !== 0x0a) return this.fail(VERDICTS.INVALID_LINE_ENDING);
          p++;
          state = S_VALUE_LWS;
          continue;

        case S_VALUE_LWS:
          if (b === 0x20 || b === 0x09) return this.fail(VERDICTS.OBS_FOLD);
          this.finishValue();
          this.commitHeader(this.pendingValue);
          state = S_FIELD_START;
          continue;

        case S_HEADERS_LF:
          if (b !== 0x0a) return this.fail(VERDICTS.INVALID_LINE_ENDING);
          this.state = S_DONE;
          this.pending = null;
          return p + 1;

        default:
          throw new Error(`HeadScanner: unexpected state ${state}`);
      }
    }
    this.state = state;
    return NEED_MORE;
  }

  /**
   * `data[a, b)` as a Latin-1 string. One native conversion covers the rest of the head in `data` (up to
   * its blank line when there is one) and later tokens are substrings of it: far cheaper than a native
   * call per token.
   */
  private str(data: Buffer, a: number, b: number): string {
    if (this.textData !== data || a < this.textBase || b > this.textEnd) {
      const blank = data.indexOf(HEAD_END, a);
      const end = blank < 0 ? data.length : Math.max(b, blank + 4);
      this.text = latin1(data, a, end);
      this.textData = data;
      this.textBase = a;
      this.textEnd = end;
    }
    return this.text.slice(a - this.textBase, b - this.textBase);
  }

  /** Ends the request-target at byte `c` (index `p`); returns the next state or `FAILED`. */
  private endTarget(data: Buffer, p: number, c: number): number {
    if (c !== 0x20 && c !== 0x0d && c !== 0x0a) return this.fail(VERDICTS.INVALID_TARGET);
    if (!this.endSpan(p)) return this.fail(VERDICTS.HEAD_TOO_LARGE);
    this.target = this.str(data, this.tokenStart, p);
    if (c === 0x20) return S_SPACES_BEFORE_VERSION;
    if (c === 0x0d) return S_URL_LF09;
    // A bare LF after the target: llhttp takes it as an HTTP/0.9 request line.
    this.versionMajor = 0;
    this.versionMinor = 9;
    return S_HEADERS_START;
  }

  /** Opens a value at `p` (its first byte after whitespace): the checks llhttp makes there. */
  private startValue(p: number): number {
    this.openSpan(p);
    this.sub = 0;
    this.subIndex = 0;
    switch (this.valueKind) {
      case V_UPGRADE:
        this.flags |= FLAG_UPGRADE;
        break;
      case V_TRANSFER_ENCODING:
        if ((this.flags & FLAG_CHUNKED) !== 0 && this.isRequest()) {
          return this.fail(VERDICTS.INVALID_TRANSFER_ENCODING);
        }
        this.flags = (this.flags | FLAG_TRANSFER_ENCODING) & ~FLAG_CHUNKED;
        this.sub = TE_CHUNKED;
        break;
      case V_CONTENT_LENGTH:
        if ((this.flags & FLAG_CONTENT_LENGTH) !== 0) return this.fail(VERDICTS.DUPLICATE_CONTENT_LENGTH);
        this.sub = CL_DIGITS;
        this.contentLength = 0;
        this.clDigitStart = -1;
        break;
      case V_CONNECTION:
        this.sub = C_START;
        this.connToken = -1;
        break;
    }
    return 0;
  }

  private isRequest(): boolean {
    return this.mode === MODE_REQUEST || this.mode === MODE_REQUEST_TRAILERS;
  }

  /**
   * Runs the Content-Length, Transfer-Encoding or Connection value scanner from `q`; returns the index of
   * the byte that ends or breaks the value (or `len`), or `FAILED`.
   */
  private scanSpecialValue(data: Buffer, q: number, len: number): number {
    const kind = this.valueKind;
    for (; q < len; q++) {
      const c = data[q]!;
      if (kind === V_CONTENT_LENGTH) {
        if (this.sub === CL_DIGITS && c >= 0x30 && c <= 0x39) {
          if (this.clDigitStart < 0 && c !== 0x30) this.clDigitStart = q;
          if (this.clDigitStart >= 0) {
            const digits = q - this.clDigitStart + 1;
            if (digits > 20 || (digits === 20 && this.str(data, this.clDigitStart, q + 1) > CL_MAX)) {
              if (!this.endSpan(q + 1)) return this.fail(VERDICTS.HEAD_TOO_LARGE);
              return this.fail(VERDICTS.INVALID_CONTENT_LENGTH);
            }
          }
          this.contentLength = this.contentLength * 10 + (c - 0x30);
          continue;
        }
        if (c === 0x20 || c === 0x09) {
          this.sub = CL_WS;
          continue;
        }
        if (c === 0x0d || c === 0x0a) return q;
        if (!this.endSpan(q)) return this.fail(VERDICTS.HEAD_TOO_LARGE);
        return this.fail(VERDICTS.INVALID_CONTENT_LENGTH);
      }
      if (kind === V_TRANSFER_ENCODING) {
        switch (this.sub) {
          case TE_CHUNKED:
            if (lowerByte(c) === 'chunked'.charCodeAt(this.subIndex)) {
              if (++this.subIndex === 7) this.sub = TE_LAST;
              continue;
            }
            this.sub = TE_TOKEN;
            q--;
            continue;
          case TE_LAST:
            if (c === 0x20) continue;
            if (c === 0x0d || c === 0x0a) return q;
            if (c === 0x2c && this.isRequest()) {
              if (!this.endSpan(q)) return this.fail(VERDICTS.HEAD_TOO_LARGE);
              return this.fail(VERDICTS.INVALID_TRANSFER_ENCODING);
            }
            this.sub = TE_TOKEN;
            q--;
            continue;
          case TE_TOKEN:
            if (c === 0x2c) this.sub = TE_OWS;
            else if (LIST_TOKEN[c] !== 1) this.sub = TE_GENERAL;
            if (this.sub === TE_GENERAL) return this.scanGeneral(data, q, len);
            continue;
          case TE_OWS:
            if (c === 0x20 || c === 0x09) continue;
            this.sub = TE_CHUNKED;
            this.subIndex = 0;
            q--;
            continue;
          default:
            return this.scanGeneral(data, q, len);
        }
      }
      // Connection and Proxy-Connection: a list of tokens; close, upgrade and keep-alive set flags.
      switch (this.sub) {
        case C_START:
          if (this.subIndex === 0 && (c === 0x20 || c === 0x09)) continue;
          if (this.matchConnToken(lowerByte(c))) continue;
          this.sub = C_TOKEN;
          q--;
          continue;
        case C_WS:
          if (c === 0x2c) {
            this.flags |= CONN_FLAGS[this.connToken]!;
            this.connToken = -1;
            this.sub = C_START;
            this.subIndex = 0;
            continue;
          }
          if (c === 0x20 || c === 0x09) continue;
          if (c === 0x0d || c === 0x0a) return q;
          this.connToken = -1;
          this.sub = C_TOKEN;
          q--;
          continue;
        case C_TOKEN:
          if (c === 0x2c) {
            this.sub = C_START;
            this.subIndex = 0;
            this.connToken = -1;
            continue;
          }
          if (LIST_TOKEN[c] === 1) continue;
          this.sub = C_GENERAL;
          return this.scanGeneral(data, q, len);
        default:
          return this.scanGeneral(data, q, len);
      }
    }
    return q;
  }

  /** Advances the Connection token match by one lower-cased byte; false on a mismatch. */
  private matchConnToken(c: number): boolean {
    // subIndex counts matched bytes; connToken is the candidate once the first byte chose one.
    const i = this.subIndex;
    if (i === 0) {
      const t = c === 0x63 ? 0 : c === 0x75 ? 1 : c === 0x6b ? 2 : -1;
      if (t < 0) return false;
      this.connToken = t;
      this.subIndex = 1;
      return true;
    }
    const token = CONN_TOKENS[this.connToken]!;
    if (token.charCodeAt(i) !== c) {
      this.connToken = -1;
      return false;
    }
    this.subIndex = i + 1;
    if (this.subIndex === token.length) this.sub = C_WS;
    return true;
  }

  private scanGeneral(data: Buffer, q: number, len: number): number {
    while (q < len && HEADER_VALUE[data[q]!] === 1) q++;
    return q;
  }

  /** Applies what a complete special value means, at the end of its line. */
  private finishValue(): void {
    switch (this.valueKind) {
      case V_CONTENT_LENGTH:
        this.flags |= FLAG_CONTENT_LENGTH;
        break;
      case V_TRANSFER_ENCODING:
        if (this.sub === TE_LAST) this.flags |= FLAG_CHUNKED;
        break;
      case V_CONNECTION:
        if (this.sub === C_WS && this.connToken >= 0) this.flags |= CONN_FLAGS[this.connToken]!;
        break;
    }
  }

  private commitHeader(value: string): void {
    this.rawHeaders.push(this.name, value);
    if (this.valueKind === V_HOST) this.host ??= value;
    else if (this.valueKind === V_EXPECT)
      this.expect = this.expect === undefined ? value : `${this.expect}, ${value}`;
  }
}
