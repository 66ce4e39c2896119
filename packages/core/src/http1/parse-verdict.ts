/**
 * Why a message was refused, and the answer node:http's server gives a client for it: one table so the
 * relay maps every refusal to a status in one place. Statuses were checked against Node 24's server
 * (default `clientError` handling): parse errors answer `400 Bad Request` and close, an oversized head or
 * trailer section `431`, oversized chunk extensions `413`, an unsupported `Expect` `417`.
 */

/** One refusal: a stable code, the status node:http answers, and a short reason for logs. */
export interface ParseVerdict {
  readonly code: string;
  readonly status: 400 | 413 | 417 | 431;
  readonly reason: string;
}

const verdict = (code: string, status: ParseVerdict['status'], reason: string): ParseVerdict =>
  Object.freeze({ code, status, reason });

/** Every refusal the HTTP/1.1 scanners return; compare by identity or by `code`. */
export const VERDICTS = Object.freeze({
  /** A method llhttp does not know (it matches a fixed list, case-sensitively). */
  INVALID_METHOD: verdict('INVALID_METHOD', 400, 'invalid method'),
  /** A request-target byte outside llhttp's strict URL grammar. */
  INVALID_TARGET: verdict('INVALID_TARGET', 400, 'invalid request target'),
  /** Not `HTTP/x.y` (or RTSP/ICE) with a version llhttp accepts (0.9, 1.0, 1.1, 2.0), or junk after it. */
  INVALID_VERSION: verdict('INVALID_VERSION', 400, 'invalid protocol version'),
  /** `PRI * HTTP/2.0` and the HTTP/2 preface sent to an HTTP/1.1 port. */
  H2_PREFACE: verdict('H2_PREFACE', 400, 'HTTP/2 preface on an HTTP/1.1 connection'),
  /** A bad status line in a response. */
  INVALID_STATUS: verdict('INVALID_STATUS', 400, 'invalid status line'),
  /** An empty header name, a byte that is not a token in a name, or whitespace before the colon. */
  INVALID_HEADER_NAME: verdict('INVALID_HEADER_NAME', 400, 'invalid header name'),
  /** A control byte (other than HTAB) or DEL in a header value. */
  INVALID_HEADER_VALUE: verdict('INVALID_HEADER_VALUE', 400, 'invalid header value'),
  /** A line starting with whitespace: obsolete line folding, or space before the first header. */
  OBS_FOLD: verdict('OBS_FOLD', 400, 'whitespace at the start of a header line'),
  /** A bare LF or a CR not followed by LF where llhttp requires CRLF. */
  INVALID_LINE_ENDING: verdict('INVALID_LINE_ENDING', 400, 'line not ended by CRLF'),
  /** A Content-Length that is empty, not digits, above 2^64-1, or beside a Transfer-Encoding. */
  INVALID_CONTENT_LENGTH: verdict('INVALID_CONTENT_LENGTH', 400, 'invalid Content-Length'),
  /** A second Content-Length field, even with the same value (llhttp refuses any duplicate). */
  DUPLICATE_CONTENT_LENGTH: verdict('DUPLICATE_CONTENT_LENGTH', 400, 'duplicate Content-Length'),
  /**
   * A Transfer-Encoding beside a Content-Length, empty, with a coding after `chunked`, or (requests) whose
   * last coding is not `chunked`. In that last case node:http hands the head to its handler first and then
   * refuses the connection; the client gets the 400 unless the handler already answered.
   */
  INVALID_TRANSFER_ENCODING: verdict('INVALID_TRANSFER_ENCODING', 400, 'invalid Transfer-Encoding'),
  /** An HTTP/1.1 request without a Host field (node:http's `requireHostHeader`). */
  MISSING_HOST: verdict('MISSING_HOST', 400, 'missing Host header'),
  /** An HTTP/1.1 request whose `Expect` is not `100-continue`. */
  EXPECTATION_FAILED: verdict('EXPECTATION_FAILED', 417, 'unsupported Expect'),
  /** Request-target, header names and values reached the maximum head size (node's accounting). */
  HEAD_TOO_LARGE: verdict('HEAD_TOO_LARGE', 431, 'head too large'),
  /** A chunk size that is not hex, has whitespace around it, or exceeds 2^64-1. */
  INVALID_CHUNK_SIZE: verdict('INVALID_CHUNK_SIZE', 400, 'invalid chunk size'),
  /** A malformed chunk extension. */
  INVALID_CHUNK_EXTENSION: verdict('INVALID_CHUNK_EXTENSION', 400, 'invalid chunk extension'),
  /** Chunk data not followed by CRLF. */
  INVALID_CHUNK_DATA_END: verdict('INVALID_CHUNK_DATA_END', 400, 'chunk data not followed by CRLF'),
  /** The extensions of one chunk exceed 16 KiB (node:http's limit). */
  CHUNK_EXTENSIONS_TOO_LARGE: verdict('CHUNK_EXTENSIONS_TOO_LARGE', 413, 'chunk extensions too large'),
});
