import { HeadParser, type HeadParserOptions, type MessageHead } from './head-parser.js';
import {
  FLAG_CHUNKED,
  FLAG_CONNECTION_CLOSE,
  FLAG_CONNECTION_KEEP_ALIVE,
  FLAG_CONNECTION_UPGRADE,
  FLAG_CONTENT_LENGTH,
  FLAG_TRANSFER_ENCODING,
  FLAG_UPGRADE,
  MODE_REQUEST,
} from './head-scanner.js';
import { VERDICTS } from './parse-verdict.js';

/** A parsed request head and the facts a relay needs, computed in the same pass. */
export interface RequestHead extends MessageHead {
  /** One of the methods llhttp knows, as sent (upper case). */
  method: string;
  /** The request-target exactly as sent. */
  target: string;
  /** `HTTP` (or `RTSP`/`ICE`, which llhttp and so node:http accept too). `versionMajor` is 0 for an HTTP/0.9 request line. */
  protocol: string;
  connectionUpgrade: boolean;
  /** An `Upgrade` field with a value is present. */
  upgradeHeader: boolean;
  /** `Expect: 100-continue` (node answers `100 Continue` before the body). */
  expectContinue: boolean;
  /** First `Host` value; undefined when absent. */
  host: string | undefined;
}

/** Options of {@link RequestHeadParser}. */
export type RequestHeadParserOptions = HeadParserOptions;

const CONTINUE = /(?:^|\W)100-continue(?:$|\W)/i;

/**
 * Parses an HTTP/1.1 request head from Buffers arriving in pieces and refuses exactly what node:http's
 * server refuses, with the status it would answer (see `VERDICTS`): llhttp's strict grammar, plus the two
 * checks node's server adds after the head (an HTTP/1.1 request needs a Host; an `Expect` other than
 * 100-continue is answered 417). Upgrade and CONNECT requests skip those checks, as node:http does when an
 * `upgrade` listener exists. HTTP/0.9 request lines, `HTTP/2.0` and RTSP/ICE are accepted because node
 * accepts them; a relay should hand anything but HTTP/1.0 and 1.1 to node:http.
 */
export class RequestHeadParser extends HeadParser<RequestHead> {
  constructor(options: RequestHeadParserOptions = {}) {
    super(MODE_REQUEST, options);
  }

  /** Forgets the previous request (keep-alive). `head` is also set for a 417 or missing-Host refusal. */
  reset(): void {
    this.clear();
  }

  protected complete(end: number): number {
    const s = this.scanner;
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
}
