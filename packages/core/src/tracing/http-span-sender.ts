import { nodeHttp, nodeHttps } from '../node-http.js';
import type { Span } from './span.js';

/** How long one export may take before it counts as failed. */
const EXPORT_TIMEOUT_MS = 10_000;

/** An exporter's connection to its backend: `send` one batch, `close` when done. */
export interface SpanSenderHandle {
  readonly send: (spans: readonly Span[]) => Promise<void>;
  readonly close: () => void;
}

/**
 * A sender that POSTs each batch, encoded by `encode`, to `endpoint` (http or https) with `contentType`,
 * on one kept-alive connection; any answer but 2xx, a timeout or a connection error rejects.
 */
export function httpSpanSender(
  endpoint: string,
  contentType: string,
  encode: (spans: readonly Span[]) => Buffer,
): SpanSenderHandle {
  const url = new URL(endpoint);
  const https = url.protocol === 'https:';
  const http = https ? nodeHttps() : nodeHttp;
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const send = (spans: readonly Span[]): Promise<void> =>
    new Promise((resolve, reject) => {
      const body = encode(spans);
      const req = http.request(url, {
        method: 'POST',
        agent,
        headers: { 'content-type': contentType, 'content-length': body.length },
        timeout: EXPORT_TIMEOUT_MS,
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => {
          if (chunks.length < 4) chunks.push(c);
        });
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) resolve();
          else {
            const text = Buffer.concat(chunks).toString('utf8').slice(0, 200);
            reject(new Error(`${endpoint} answered ${status}: ${text}`));
          }
        });
        res.on('error', reject);
      });
      req.on('timeout', () =>
        req.destroy(new Error(`${endpoint} did not answer in ${EXPORT_TIMEOUT_MS} ms`)),
      );
      req.on('error', reject);
      req.end(body);
    });
  return { send, close: () => agent.destroy() };
}
