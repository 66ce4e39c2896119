/**
 * One HTTP GET on a connection of its own, for the requests a scenario times or inspects one by one
 * (a held request, a metrics scrape), as opposed to the load autocannon drives.
 */
import { request } from 'node:http';
import { performance } from 'node:perf_hooks';

/** What came back. */
export interface HttpAnswer {
  readonly status: number;
  readonly body: string;
  /** `performance.now()` when the response head arrived. */
  readonly headAt: number;
}

/** Options of {@link httpGet}. */
export interface HttpGetOptions {
  readonly headers?: Readonly<Record<string, string>>;
  /** The whole exchange must be over within this long. */
  readonly timeoutMs: number;
}

/**
 * Sends one GET and resolves with the status, the body and when the head arrived; rejects when the
 * connection fails or no complete answer came within the time limit.
 */
export function httpGet(url: string, options: HttpGetOptions): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    // No agent: the request has its own connection and closes it, leaving nothing open behind it.
    const req = request(new URL(url), { method: 'GET', headers: options.headers, agent: false }, (res) => {
      const headAt = performance.now();
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headAt });
      });
      res.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    const timer = setTimeout(
      () => req.destroy(new Error(`no answer from ${url} within ${options.timeoutMs} ms`)),
      options.timeoutMs,
    );
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end();
  });
}
