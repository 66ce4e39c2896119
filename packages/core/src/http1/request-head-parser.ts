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
  MODE_REQUEST,
  NEED_MORE,
} from './head-scanner.js';
import { type ParseVerdict, VERDICTS } from './parse-verdict.js';

/** node's default `--max-http-header-size`: the request-target, names and values must stay below it. */
export const DEFAULT_MAX_HEAD_SIZE = 16 * 1024;

/** node:http's default `maxHeadersCount` as Node 24 applies it: the 1001st header field is refused (431). */
export const DEFAULT_MAX_HEADER_COUNT = 1000;

/** How the body of a message is framed. `upgrade`: the connection leaves HTTP after the head. */
export type BodyFraming = 'none' | 'length' | 'chunked' | 'eof' | 'upgrade';

/** A parsed request head and the facts a relay needs, computed in the same pass. */
export interface RequestHead {
  /** One of the methods llhttp knows, as sent (upper case). */
  method: string;
  /** The request-target exactly as sent. */
  target: string;
  /** `HTTP` (or `RTSP`/`ICE`, which llhttp and so node:http accept too). */
  protocol: string;
  /** 1 for HTTP/1.x; 0 for an HTTP/0.9 request line; 2 for `HTTP/2.0`. */
  versionMajor: number;
  versionMinor: number;
  /** Names and values in arrival order, as node's `req.rawHeaders`. */
  rawHeaders: string[];
  /** `Content-Length`, -1 when absent. */
  contentLength: number;
  /** The last transfer coding is `chunked`. */
  chunked: boolean;
  /** A `Transfer-Encoding` field is present. */
  transferEncoding: boolean;
  /** `Connection` (or `Proxy-Connection`) tokens. */
  connectionClose: boolean;
  connectionKeepAlive: boolean;
  connectionUpgrade: boolean;
  /** An `Upgrade` field with a value is present. */
  upgradeHeader: boolean;
  /** The connection switches protocols after this head: CONNECT, or `Upgrade` with `Connection: upgrade`. */
  upgrade: boolean;
  /** `Expect: 100-continue` (node answers `100 Continue` before the body). */
  expectContinue: boolean;
  /** First `Host` value; undefined when absent. */
  host: string | undefined;
  /** The connection may carry another request after this one (llhttp's `should_keep_alive`). */
  keepAlive: boolean;
  /** How the body is framed: `length` (Content-Length > 0), `chunked`, `none`, or `upgrade`. */
  body: BodyFraming;
  /** `FLAG_*` bits of `head-scanner` (pass them to `ChunkedDecoder.reset`). */
  flags: number;
}

/** Options of {@link RequestHeadParser}. */
export interface RequestHeadParserOptions {
  /** Limit on the request-target, header names and values together, as node's `--max-http-header-size`. */
  maxHeadSize?: number;
  /** Most header fields accepted, as node:http's `maxHeadersCount` (default 1000; 0: no limit). */
  maxHeaderCount?: number;
}

const CONTINUE = /(?:^|\W)100-continue(?:$|\W)/i;

/**
 * Parses an HTTP/1.1 request head from Buffers arriving in pieces and refuses exactly what node:http's
 * server refuses, with the status it would answer (see `VERDICTS`): llhttp's strict grammar, plus the two
 * checks node's server adds after the head (an HTTP/1.1 request needs a Host; an `Expect` other than
 * 100-continue is answered 417). Upgrade and CONNECT requests skip those checks, as node:http does when an
 * `upgrade` listener exists. HTTP/0.9 request lines, `HTTP/2.0` and RTSP/ICE are accepted because node
 * accepts them; a relay should hand anything but HTTP/1.0 and 1.1 to node:http.
 */
export class RequestHeadParser {
  /** The head, once `execute` returned its end; also set for a 417 or missing-Host refusal. */
  head: RequestHead | null = null;
  /** The refusal, once `execute` returned `FAILED`. */
  verdict: ParseVerdict | null = null;
  private readonly scanner: HeadScanner;

  constructor(options: RequestHeadParserOptions = {}) {
    const max = options.maxHeadSize ?? DEFAULT_MAX_HEAD_SIZE;
    if (!Number.isInteger(max) || max < 1)
      throw new RangeError(`maxHeadSize must be a positive integer, got ${max}`);
    const count = options.maxHeaderCount ?? DEFAULT_MAX_HEADER_COUNT;
    if (!Number.isInteger(count) || count < 0) {
      throw new RangeError(`maxHeaderCount must be a non-negative integer, got ${count}`);
    }
    this.scanner = new HeadScanner(MODE_REQUEST, max, count);
  }

  /** Forgets the previous request (keep-alive). */
  reset(): void {
    this.head = null;
    this.verdict = null;
    this.scanner.reset();
  }

  /**
   * Parses `chunk` from `start`. Returns the index in `chunk` where the body (or the next request) starts,
   * `NEED_MORE` (-1) when every byte was consumed, or `FAILED` (-2) with `verdict` set.
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
    const chunked = (flags & FLAG_CHUNKED) !== 0;
    const upgrade =
      ((flags & FLAG_UPGRADE) !== 0 && (flags & FLAG_CONNECTION_UPGRADE) !== 0) || s.method === 'CONNECT';
    const http11 = s.versionMajor > 0 && s.versionMinor > 0;
    const expect = s.expect;
    const head: RequestHead = {
      method: s.method,
      target: s.target,
      protocol: s.protocol,
      versionMajor: s.versionMajor,
      versionMinor: s.versionMinor,
      rawHeaders: s.rawHeaders,
      contentLength: s.contentLength,
      chunked,
      transferEncoding: (flags & FLAG_TRANSFER_ENCODING) !== 0,
      connectionClose: (flags & FLAG_CONNECTION_CLOSE) !== 0,
      connectionKeepAlive: (flags & FLAG_CONNECTION_KEEP_ALIVE) !== 0,
      connectionUpgrade: (flags & FLAG_CONNECTION_UPGRADE) !== 0,
      upgradeHeader: (flags & FLAG_UPGRADE) !== 0,
      upgrade,
      expectContinue: expect !== undefined && CONTINUE.test(expect),
      host: s.host,
      keepAlive: http11 ? (flags & FLAG_CONNECTION_CLOSE) === 0 : (flags & FLAG_CONNECTION_KEEP_ALIVE) !== 0,
      body: upgrade
        ? 'upgrade'
        : chunked
          ? 'chunked'
          : (flags & FLAG_CONTENT_LENGTH) !== 0 && s.contentLength > 0
            ? 'length'
            : 'none',
      flags,
    };
    this.head = head;
    if (!upgrade) {
      // node's server, after the head: Host, then Expect, for HTTP/1.1 exactly (lib/_http_server.js).
      if (s.versionMajor === 1 && s.versionMinor === 1) {
        if (s.host === undefined) return this.refuse(VERDICTS.MISSING_HOST);
        if (expect !== undefined && !head.expectContinue) return this.refuse(VERDICTS.EXPECTATION_FAILED);
      }
      // A request body framed by a coding other than chunked has no length: llhttp refuses it.
      if (!chunked && (flags & FLAG_TRANSFER_ENCODING) !== 0)
        return this.refuse(VERDICTS.INVALID_TRANSFER_ENCODING);
    }
    return end;
  }

  private refuse(verdict: ParseVerdict): number {
    this.verdict = verdict;
    return FAILED;
  }
}
