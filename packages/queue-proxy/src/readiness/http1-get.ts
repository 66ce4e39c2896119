import type http from 'node:http';
import type https from 'node:https';
import { MAX_DRAINED_BODY_BYTES } from './probe-attempt.js';
import { settleExchange } from './settle-exchange.js';

/** Sends an HTTP/1.1 request; `http.request` or `https.request`. */
export type Requester = (
  options: https.RequestOptions,
  onResponse: (res: http.IncomingMessage) => void,
) => http.ClientRequest;

/**
 * One HTTP/1.1 GET on a fresh connection; resolves with the status once the body is drained (up to
 * {@link MAX_DRAINED_BODY_BYTES}) or, if `signal` aborts first, with the status already received.
 */
export function http1Get(
  request: Requester,
  options: https.RequestOptions,
  signal: AbortSignal,
): Promise<number> {
  return settleExchange<number>(signal, (resolve, reject) => {
    let status: number | undefined;
    const settle = (): void => {
      if (status !== undefined) resolve(status);
    };
    const req = request(options, (res) => {
      status = res.statusCode ?? 0;
      let drained = 0;
      res.on('data', (chunk: Buffer) => {
        drained += chunk.length;
        if (drained > MAX_DRAINED_BODY_BYTES) settle();
      });
      res.once('end', settle);
      res.on('error', settle);
    });
    req.on('error', reject);
    req.once('close', () => {
      if (status === undefined) reject(new Error('connection closed before a response'));
      else settle();
    });
    req.end();
    return { dispose: () => req.destroy(), salvage: () => status };
  });
}
