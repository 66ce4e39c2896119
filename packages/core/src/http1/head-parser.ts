import { FAILED, type HeadScanner, NEED_MORE, scannerWithLimits } from './head-scanner.js';
import type { ParseVerdict } from './parse-verdict.js';

/** How the body of a message is framed. `upgrade`: the connection leaves HTTP after the head. */
export type BodyFraming = 'none' | 'length' | 'chunked' | 'eof' | 'upgrade';

/** What a parsed request or response head says of itself and its framing, computed in the same pass. */
export interface MessageHead {
  /** 1 for HTTP/1.x (llhttp also takes 0.9 and 2.0 lines). */
  versionMajor: number;
  versionMinor: number;
  /** Names and values in arrival order, as node's `rawHeaders`. */
  rawHeaders: string[];
  /** `Content-Length`, -1 when absent. */
  contentLength: number;
  /** The last transfer coding is `chunked`. */
  chunked: boolean;
  /** A `Transfer-Encoding` field is present. */
  transferEncoding: boolean;
  /** `Connection` (for requests also `Proxy-Connection`) tokens. */
  connectionClose: boolean;
  connectionKeepAlive: boolean;
  /** The connection switches protocols after this head. */
  upgrade: boolean;
  /** The connection may carry another exchange after this one (llhttp's `should_keep_alive`). */
  keepAlive: boolean;
  /** How the body is framed. */
  body: BodyFraming;
  /** `FLAG_*` bits of `head-scanner` (pass them to `ChunkedDecoder.reset`). */
  flags: number;
}

/** Limits of a head parser; each left out takes node:http's default. */
export interface HeadParserOptions {
  /** Limit on the start line's variable part, header names and values together (node's `--max-http-header-size`). */
  maxHeadSize?: number;
  /** Most header fields accepted (node:http's `maxHeadersCount`, 1000 by default; 0: no limit). */
  maxHeaderCount?: number;
}

/** node's default `--max-http-header-size`: the request-target, names and values must stay below it. */
export const DEFAULT_MAX_HEAD_SIZE = 16 * 1024;

/** node:http's default `maxHeadersCount` as Node 24 applies it: the 1001st header field is refused (431). */
export const DEFAULT_MAX_HEADER_COUNT = 1000;

/**
 * What the request and the response head parsers share: a {@link HeadScanner} fed Buffers in pieces, the
 * refusal it reports, and `head` once the scanner found the end, built by the subclass's `complete`.
 */
export abstract class HeadParser<Head> {
  /** The head, once `execute` returned its end. */
  head: Head | null = null;
  /** The refusal, once `execute` returned `FAILED`. */
  verdict: ParseVerdict | null = null;
  protected readonly scanner: HeadScanner;

  protected constructor(mode: number, options: HeadParserOptions) {
    this.scanner = scannerWithLimits(mode, options, DEFAULT_MAX_HEAD_SIZE, DEFAULT_MAX_HEADER_COUNT);
  }

  /** Forgets the previous message (keep-alive). */
  protected clear(): void {
    this.head = null;
    this.verdict = null;
    this.scanner.reset();
  }

  /**
   * Parses `chunk` from `start`. Returns the index in `chunk` where what follows the head starts,
   * `NEED_MORE` (-1) when every byte was consumed, or `FAILED` (-2) with `verdict` set.
   */
  execute(chunk: Buffer, start = 0): number {
    const end = this.scanner.execute(chunk, start);
    if (end === NEED_MORE) return NEED_MORE;
    if (end === FAILED) {
      this.verdict = this.scanner.verdict;
      return FAILED;
    }
    return this.complete(end);
  }

  /** The scanner found the head's end at `end`: sets `head`, and returns `end` or `FAILED` (a late refusal). */
  protected abstract complete(end: number): number;

  /** Refuses the head after the scanner accepted it. */
  protected refuse(verdict: ParseVerdict): number {
    this.verdict = verdict;
    return FAILED;
  }
}
