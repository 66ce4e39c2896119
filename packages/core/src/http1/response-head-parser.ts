import { type BodyFraming, HeadParser, type HeadParserOptions, type MessageHead } from './head-parser.js';
import {
  FLAG_CHUNKED,
  FLAG_CONNECTION_CLOSE,
  FLAG_CONNECTION_KEEP_ALIVE,
  FLAG_CONNECTION_UPGRADE,
  FLAG_CONTENT_LENGTH,
  FLAG_TRANSFER_ENCODING,
  FLAG_UPGRADE,
  MODE_RESPONSE,
} from './head-scanner.js';

/** A parsed response head and its framing. */
export interface ResponseHead extends MessageHead {
  /** Three digits, as sent. */
  statusCode: number;
  /** The reason phrase as sent (may be empty). */
  statusText: string;
}

/** Options of {@link ResponseHeadParser}. */
export type ResponseHeadParserOptions = HeadParserOptions;

/**
 * Parses an HTTP/1.1 response head from the app, split anywhere, with llhttp's strict grammar (what
 * node:http's client refuses, this refuses). Framing follows RFC 9112 section 6.3: responses to HEAD (say
 * so in `reset`), 1xx, 204 and 304 have no body whatever their headers say; then chunked; then another
 * Transfer-Encoding or no length at all means the body runs until close; then Content-Length.
 */
export class ResponseHeadParser extends HeadParser<ResponseHead> {
  private headRequest = false;

  constructor(options: ResponseHeadParserOptions = {}) {
    super(MODE_RESPONSE, options);
  }

  /** Prepares for the next response; `headRequest`: it answers a HEAD request, so it has no body. */
  reset(headRequest = false): void {
    this.clear();
    this.headRequest = headRequest;
  }

  protected complete(end: number): number {
    const s = this.scanner;
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
