import type http2 from 'node:http2';
import { nodeHttp2 } from '@zerogate/core';
import { H2cProtocolError } from './h2c-protocol-error.js';
import { asError, MAX_DRAINED_BODY_BYTES } from './probe-attempt.js';
import { settleExchange } from './settle-exchange.js';

/** Largest body kept by a `'collect'` exchange; a gRPC HealthCheckResponse is a few bytes. */
const MAX_COLLECTED_BODY_BYTES = 64 * 1024;

/** What an h2c exchange got: the status, headers, trailers (if any) and the collected body. */
export interface H2cResult {
  /** The `:status` of the response. */
  readonly status: number;
  /** The response headers (which carry `grpc-status` in a trailers-only gRPC response). */
  readonly headers: http2.IncomingHttpHeaders;
  /** The trailers, if the server sent any. */
  readonly trailers: http2.IncomingHttpHeaders | undefined;
  /** The collected body (empty when drained). */
  readonly body: Buffer;
}

/**
 * Sends one request on a fresh prior-knowledge h2c session, closed afterwards. `body: 'drain'` discards the
 * response body (up to a cap), `'collect'` keeps it (up to a cap). Rejects with {@link H2cProtocolError}
 * when the connection was made but the HTTP/2 exchange failed.
 */
export function h2cExchange(
  url: string,
  headers: http2.OutgoingHttpHeaders,
  payload: Uint8Array | undefined,
  body: 'drain' | 'collect',
  signal: AbortSignal,
): Promise<H2cResult> {
  return settleExchange<H2cResult>(signal, (resolve, reject) => {
    let connected = false;
    let responseHeaders: http2.IncomingHttpHeaders | undefined;
    let trailers: http2.IncomingHttpHeaders | undefined;
    const chunks: Buffer[] = [];
    let received = 0;
    const result = (): H2cResult | undefined =>
      responseHeaders && {
        status: Number(responseHeaders[':status']),
        headers: responseHeaders,
        trailers,
        body: Buffer.concat(chunks),
      };
    const fail = (err: unknown): void => {
      const e = asError(err);
      reject(connected ? new H2cProtocolError(`h2c exchange failed: ${e.message}`, { cause: e }) : e);
    };
    const done = (): void => {
      const r = result();
      if (r) resolve(r);
      else fail(new Error(`stream closed before a response (code ${stream.rstCode})`));
    };

    const session = nodeHttp2().connect(url, { settings: { enablePush: false } });
    session.once('connect', () => {
      connected = true;
    });
    session.on('error', fail);
    session.once('close', () => fail(new Error('session closed before a response')));
    const stream = session.request(headers, { endStream: payload === undefined });
    stream.once('response', (h) => {
      responseHeaders = h;
    });
    stream.once('trailers', (t) => {
      trailers = t;
    });
    stream.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (body === 'collect') {
        if (received <= MAX_COLLECTED_BODY_BYTES) chunks.push(chunk);
        else fail(new Error(`response larger than ${MAX_COLLECTED_BODY_BYTES} bytes`));
      } else if (received > MAX_DRAINED_BODY_BYTES) {
        done();
      }
    });
    stream.once('end', done);
    stream.on('error', fail);
    stream.once('close', done);
    if (payload !== undefined) stream.end(payload);
    return {
      dispose: () => session.destroy(),
      // Only a drained HTTP response can be judged by its status alone.
      salvage: () => (body === 'drain' ? result() : undefined),
    };
  });
}
