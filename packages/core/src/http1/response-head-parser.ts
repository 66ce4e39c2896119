import {
  FAILED,
  FLAG_CHUNKED,
  FLAG_CONNECTION_CLOSE,
  FLAG_CONNECTION_KEEP_ALIVE,
  FLAG_CONNECTION_UPGRADE,
  FLAG_CONTENT_LENGTH,
  FLAG_TRANSFER_ENCODING,
  FLAG_UPGRADE,
  HeadScanner,
  MODE_RESPONSE,
  NEED_MORE,
} from './head-scanner.js';
import type { ParseVerdict } from './parse-verdict.js';
import { type BodyFraming, DEFAULT_MAX_HEAD_SIZE, DEFAULT_MAX_HEADER_COUNT } from './request-head-parser.js';

/** A parsed response head and its framing. */
export interface ResponseHead {
  /** Three digits, as sent. */
  statusCode: number;
  /** The reason phrase as sent (may be empty). */
  statusText: string;
  /** 1 for HTTP/1.x (llhttp also takes 0.9 and 2.0 status lines). */
  versionMajor: number;
  versionMinor: number;
  /** Names and values in arrival order, as node's `res.rawHeaders`. */
  rawHeaders: string[];
  /** `Content-Length`, -1 when absent. */
  contentLength: number;
  /** The last transfer coding is `chunked`. */
  chunked: boolean;
  /** A `Transfer-Encoding` field is present. */
  transferEncoding: boolean;
  /** `Connection` tokens. */
  connectionClose: boolean;
  connectionKeepAlive: boolean;
  /** A 101 with `Upgrade` and `Connection: upgrade`: the connection leaves HTTP after this head. */
  upgrade: boolean;
  /** The connection may carry another exchange after this response. */
  keepAlive: boolean;
  /** `eof`: the body runs until the app closes the connection. */
  body: BodyFraming;
  /** `FLAG_*` bits of `head-scanner` (pass them to `ChunkedDecoder.reset`). */
  flags: number;
}

/** Options of {@link ResponseHeadParser}. */
export interface ResponseHeadParserOptions {
  /** Limit on the reason phrase, header names and values together (node's `--max-http-header-size`). */
  maxHeadSize?: number;
  /** Most header fields accepted (default 1000, as node:http; 0: no limit). */
  maxHeaderCount?: number;
}

/**
 * Parses an HTTP/1.1 response head from the app, split anywhere, with llhttp's strict grammar (what
 * node:http's client refuses, this refuses). Framing follows RFC 9112 section 6.3: responses to HEAD (say
 * so in `reset`), 1xx, 204 and 304 have no body whatever their headers say; then chunked; then another
 * Transfer-Encoding or no length at all means the body runs until close; then Content-Length.
 */
export class ResponseHeadParser {
  /** The head, once `execute` returned its end. */
  head: ResponseHead | null = null;
  /** The refusal, once `execute` returned `FAILED`. */
  verdict: ParseVerdict | null = null;
  private readonly scanner: HeadScanner;
  private headRequest = false;

  constructor(options: ResponseHeadParserOptions = {}) {
    const max = options.maxHeadSize ?? DEFAULT_MAX_HEAD_SIZE;
    if (!Number.isInteger(max) || max < 1)
      throw new RangeError(`maxHeadSize must be a positive integer, got ${max}`);
    const count = options.maxHeaderCount ?? DEFAULT_MAX_HEADER_COUNT;
    if (!Number.isInteger(count) || count < 0) {
      throw new RangeError(`maxHeaderCount must be a non-negative integer, got ${count}`);
    }
    this.scanner = new HeadScanner(MODE_RESPONSE, max, count);
  }

  /** Prepares for the next response; `headRequest`: it answers a HEAD request, so it has no body. */
  reset(headRequest = false): void {
    this.head = null;
    this.verdict = null;
    this.headRequest = headRequest;
    this.scanner.reset();
  }

  /**
   * Parses `chunk` from `start`. Returns the index in `chunk` where the body starts, `NEED_MORE` (-1), or
   * `FAILED` (-2) with `verdict` set.
   */
  execute(chunk: Buffer, start = 0): number {
    const s = this.scanner;
    const end = s.execute(chunk, start);
    if (end === NEED_MORE) return NEED_MORE;
    if (end === FAILED) {
      this.verdict = s.verdict;
      return FAILED;
    }
    const flags = s.flags;
    const status = s.statusCode;
    const chunked = (flags & FLAG_CHUNKED) !== 0;
    const upgrade = status === 101 && (flags & FLAG_UPGRADE) !== 0 && (flags & FLAG_CONNECTION_UPGRADE) !== 0;
    let body: BodyFraming;
    if (upgrade) body = 'upgrade';
    else if (this.headRequest || (status >= 100 && status < 200) || status === 204 || status === 304)
      body = 'none';
    else if (chunked) body = 'chunked';
    else if ((flags & FLAG_TRANSFER_ENCODING) !== 0) body = 'eof';
    else if ((flags & FLAG_CONTENT_LENGTH) !== 0) body = s.contentLength > 0 ? 'length' : 'none';
    else body = 'eof';
    const http11 = s.versionMajor > 0 && s.versionMinor > 0;
    const persistent = http11
      ? (flags & FLAG_CONNECTION_CLOSE) === 0
      : (flags & FLAG_CONNECTION_KEEP_ALIVE) !== 0;
    this.head = {
      statusCode: status,
      statusText: s.statusText,
      versionMajor: s.versionMajor,
      versionMinor: s.versionMinor,
      rawHeaders: s.rawHeaders,
      contentLength: s.contentLength,
      chunked,
      transferEncoding: (flags & FLAG_TRANSFER_ENCODING) !== 0,
      connectionClose: (flags & FLAG_CONNECTION_CLOSE) !== 0,
      connectionKeepAlive: (flags & FLAG_CONNECTION_KEEP_ALIVE) !== 0,
      upgrade,
      keepAlive: persistent && body !== 'eof' && !upgrade,
      body,
      flags,
    };
    return end;
  }
}
