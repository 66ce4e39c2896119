import { HEX_VALUE, QDTEXT, QUOTED_PAIR, TOKEN } from './char-classes.js';
import { DEFAULT_MAX_HEAD_SIZE, DEFAULT_MAX_HEADER_COUNT } from './head-parser.js';
import {
  FAILED,
  FLAG_CHUNKED,
  FLAG_TRANSFER_ENCODING,
  HeadScanner,
  MODE_REQUEST_TRAILERS,
  MODE_RESPONSE_TRAILERS,
  NEED_MORE,
} from './head-scanner.js';
import { type ParseVerdict, VERDICTS } from './parse-verdict.js';

/** node:http's limit on the extensions of one chunk (`kMaxChunkExtensionsSize`, 16 KiB). */
export const DEFAULT_MAX_CHUNK_EXTENSIONS_SIZE = 16 * 1024;

/** Options of {@link ChunkedDecoder}. */
export interface ChunkedDecoderOptions {
  /** Trailer rules differ for requests (a second Transfer-Encoding is refused). Default true. */
  request?: boolean;
  /** Limit on trailer names and values together, as node's header limit (default 16 KiB). */
  maxTrailerSize?: number;
  /** Limit on the extension names and values of one chunk (default 16 KiB, as node). */
  maxExtensionsSize?: number;
  /** Called with each run of payload bytes, as a range of the Buffer given to `execute` (never copied). */
  onData?: (chunk: Buffer, start: number, end: number) => void;
}

const SIZE_START = 0;
const SIZE = 1;
const EXT = 2;
const EXT_NAME = 3;
const EXT_VALUE = 4;
const EXT_QUOTED = 5;
const EXT_QUOTED_PAIR = 6;
const EXT_QUOTED_DONE = 7;
const SIZE_LF = 8;
const DATA = 9;
const DATA_CR = 10;
const DATA_LF = 11;
const TRAILERS = 12;
const DONE = 13;
const FAILED_STATE = 14;

/**
 * Validates a chunked body as it streams, with llhttp's strict rules (no whitespace around the size, sizes
 * up to 2^64-1, well-formed extensions, CRLF after every size line and every chunk's data, trailer fields
 * with the same rules as header fields), and reports where the body ends without copying payload bytes:
 * a relay forwards the raw bytes it was given, framing included.
 */
export class ChunkedDecoder {
  /** The refusal, once `execute` returned `FAILED`. */
  verdict: ParseVerdict | null = null;
  private readonly trailers: HeadScanner;
  private readonly maxExtensionsSize: number;
  private readonly onData: ((chunk: Buffer, start: number, end: number) => void) | undefined;
  private state = SIZE_START;
  private size = 0;
  private sizeDigits = 0;
  private remaining = 0;
  private extensionBytes = 0;
  /** Data bytes of the chunks begun since the last reset (their declared sizes). */
  private data = 0;
  private headFlags = FLAG_CHUNKED | FLAG_TRANSFER_ENCODING;

  constructor(options: ChunkedDecoderOptions = {}) {
    const maxTrailer = options.maxTrailerSize ?? DEFAULT_MAX_HEAD_SIZE;
    const maxExt = options.maxExtensionsSize ?? DEFAULT_MAX_CHUNK_EXTENSIONS_SIZE;
    if (!Number.isInteger(maxTrailer) || maxTrailer < 1) {
      throw new RangeError(`maxTrailerSize must be a positive integer, got ${maxTrailer}`);
    }
    if (!Number.isInteger(maxExt) || maxExt < 0) {
      throw new RangeError(`maxExtensionsSize must be a non-negative integer, got ${maxExt}`);
    }
    this.maxExtensionsSize = maxExt;
    this.onData = options.onData;
    this.trailers = new HeadScanner(
      options.request === false ? MODE_RESPONSE_TRAILERS : MODE_REQUEST_TRAILERS,
      maxTrailer,
      DEFAULT_MAX_HEADER_COUNT,
    );
  }

  /** Prepares for the next body; `headFlags` are the head's `flags` (trailers are checked against them). */
  reset(headFlags = FLAG_CHUNKED | FLAG_TRANSFER_ENCODING): void {
    this.verdict = null;
    this.state = SIZE_START;
    this.size = 0;
    this.sizeDigits = 0;
    this.extensionBytes = 0;
    this.data = 0;
    this.headFlags = headFlags;
  }

  /** Data bytes of the body so far, by the chunk sizes read since the last reset (framing excluded). */
  get dataBytes(): number {
    return this.data;
  }

  /** Trailer fields (names and values), once the body is complete. */
  get rawTrailers(): string[] {
    return this.state === DONE ? this.trailers.rawHeaders : [];
  }

  /** Head and trailer flags together once the body is complete (a trailer can say `Connection: close`). */
  get flags(): number {
    return this.state === DONE ? this.trailers.flags : this.headFlags;
  }

  /**
   * Validates `chunk` from `start`. Returns the index in `chunk` just past the end of the body (the last
   * chunk and trailers), `NEED_MORE` (-1) when every byte belongs to the body and more follows, or
   * `FAILED` (-2) with `verdict` set.
   */
  execute(chunk: Buffer, start = 0): number {
    const len = chunk.length;
    let p = start;
    let state = this.state;
    let spanMark = p;
    while (p < len) {
      const b = chunk[p]!;
      switch (state) {
        case SIZE_START:
        case SIZE: {
          const v = HEX_VALUE[b]!;
          if (v !== 255) {
            if (this.sizeDigits > 0 || v !== 0) {
              // Significant hex digits beyond 16 overflow the 64-bit size.
              if (++this.sizeDigits > 16) return this.fail(VERDICTS.INVALID_CHUNK_SIZE);
            }
            this.size = this.size * 16 + v;
            state = SIZE;
            p++;
            continue;
          }
          if (state === SIZE_START) return this.fail(VERDICTS.INVALID_CHUNK_SIZE);
          p++;
          if (b === 0x0d) state = SIZE_LF;
          else if (b === 0x3b) state = EXT;
          else return this.fail(VERDICTS.INVALID_CHUNK_SIZE);
          continue;
        }

        case EXT:
          if (b === 0x20 || b === 0x0d) return this.fail(VERDICTS.INVALID_CHUNK_EXTENSION);
          spanMark = p;
          state = EXT_NAME;
          continue;

        case EXT_NAME:
        case EXT_VALUE: {
          if (TOKEN[b] === 1) {
            p++;
            continue;
          }
          if (state === EXT_VALUE && b === 0x22) {
            p++;
            state = EXT_QUOTED;
            continue;
          }
          if (!this.countExtension(p - spanMark)) return this.fail(VERDICTS.CHUNK_EXTENSIONS_TOO_LARGE);
          p++;
          if (state === EXT_NAME && b === 0x3d) {
            spanMark = p;
            state = EXT_VALUE;
          } else if (b === 0x3b) state = EXT;
          else if (b === 0x0d) state = SIZE_LF;
          else return this.fail(VERDICTS.INVALID_CHUNK_EXTENSION);
          continue;
        }

        case EXT_QUOTED:
          p++;
          if (QDTEXT[b] === 1) continue;
          if (b === 0x5c) {
            state = EXT_QUOTED_PAIR;
            continue;
          }
          if (!this.countExtension(p - spanMark - (b === 0x22 ? 0 : 1))) {
            return this.fail(VERDICTS.CHUNK_EXTENSIONS_TOO_LARGE);
          }
          if (b !== 0x22) return this.fail(VERDICTS.INVALID_CHUNK_EXTENSION);
          state = EXT_QUOTED_DONE;
          continue;

        case EXT_QUOTED_PAIR:
          if (QUOTED_PAIR[b] !== 1) {
            if (!this.countExtension(p - spanMark)) return this.fail(VERDICTS.CHUNK_EXTENSIONS_TOO_LARGE);
            return this.fail(VERDICTS.INVALID_CHUNK_EXTENSION);
          }
          p++;
          state = EXT_QUOTED;
          continue;

        case EXT_QUOTED_DONE:
          p++;
          if (b === 0x3b) state = EXT;
          else if (b === 0x0d) state = SIZE_LF;
          else return this.fail(VERDICTS.INVALID_CHUNK_EXTENSION);
          continue;

        case SIZE_LF:
          if (b !== 0x0a) return this.fail(VERDICTS.INVALID_LINE_ENDING);
          p++;
          this.extensionBytes = 0;
          if (this.size === 0) {
            this.trailers.reset(this.headFlags);
            state = TRAILERS;
          } else {
            this.remaining = this.size;
            this.data += this.size;
            state = DATA;
          }
          this.size = 0;
          this.sizeDigits = 0;
          continue;

        case DATA: {
          const n = Math.min(this.remaining, len - p);
          this.onData?.(chunk, p, p + n);
          this.remaining -= n;
          p += n;
          if (this.remaining === 0) state = DATA_CR;
          continue;
        }

        case DATA_CR:
        case DATA_LF:
          if (b !== (state === DATA_CR ? 0x0d : 0x0a)) return this.fail(VERDICTS.INVALID_CHUNK_DATA_END);
          p++;
          state = state === DATA_CR ? DATA_LF : SIZE_START;
          continue;

        case TRAILERS: {
          const end = this.trailers.execute(chunk, p);
          if (end === NEED_MORE) {
            p = len;
            continue;
          }
          if (end === FAILED) return this.fail(this.trailers.verdict!);
          this.state = DONE;
          return end;
        }

        default:
          throw new Error('ChunkedDecoder: reset before reuse');
      }
    }
    // The piece ended: count an open extension span as llparse does at the end of each buffer.
    if (state === EXT_NAME || state === EXT_VALUE || state === EXT_QUOTED || state === EXT_QUOTED_PAIR) {
      if (!this.countExtension(len - spanMark)) return this.fail(VERDICTS.CHUNK_EXTENSIONS_TOO_LARGE);
    }
    this.state = state;
    return NEED_MORE;
  }

  private countExtension(n: number): boolean {
    this.extensionBytes += n;
    return this.extensionBytes <= this.maxExtensionsSize;
  }

  private fail(verdict: ParseVerdict): number {
    this.verdict = verdict;
    this.state = FAILED_STATE;
    return FAILED;
  }
}
