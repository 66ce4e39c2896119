/**
 * The queue-proxy's raw HTTP/1.1 relay (docs/queue-proxy.md §3.4) beside its node:http path
 * (`QUEUE_HTTP1_RELAY=false`), one app behind both: the smuggling and malformed-request catalogue gets the
 * same answer from each and reaches the app through neither; pipelined requests are answered in order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MALFORMED_CASES, markedBytes } from '../bench/src/chaos/malformed-requests.js';
import { rawExchange, send } from './support/http.js';
import {
  queueProxyEnv,
  type RunningQueueProxy,
  startQueueProxy,
  startUserApp,
  type UserApp,
} from './support/processes.js';

let app: UserApp;
let relay: RunningQueueProxy;
let nodeHttp: RunningQueueProxy;

beforeAll(async () => {
  app = await startUserApp();
  relay = await startQueueProxy(queueProxyEnv(app.port, { CONTAINER_CONCURRENCY: '10' }));
  nodeHttp = await startQueueProxy(
    queueProxyEnv(app.port, { CONTAINER_CONCURRENCY: '10', QUEUE_HTTP1_RELAY: 'false' }),
  );
}, 30_000);

afterAll(() => {
  relay?.proc.kill();
  nodeHttp?.proc.kill();
  app?.proc.kill();
});

/** The first status of a raw answer, or `closed` when none came. */
function outcome(answer: string): string {
  return /^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 'closed';
}

describe('the queue-proxy’s raw HTTP/1.1 relay', () => {
  it('serves plain requests itself (no node:http Keep-Alive header), and node:http when turned off', async () => {
    const viaRelay = await send(`${relay.url}/`);
    const viaNode = await send(`${nodeHttp.url}/`);
    expect(viaRelay.status).toBe(200);
    expect(viaNode.status).toBe(200);
    expect(viaRelay.body).toBe(viaNode.body);
    expect(viaNode.headers['keep-alive']).toBe('timeout=95');
    expect(viaRelay.headers['keep-alive']).toBeUndefined();
    expect(viaRelay.headers.date).toBeDefined();
  });

  it('answers the smuggling and malformed-request catalogue as node:http does, and the app sees none of it', async () => {
    const before = (await app.seen()).length;
    const cases = MALFORMED_CASES.map((c, index) => ({
      name: c.name,
      bytes: Buffer.concat(
        markedBytes(c, index, '').map((part) =>
          typeof part === 'string' ? Buffer.from(part, 'latin1') : part,
        ),
      ),
    }));
    const viaRelay = await Promise.all(cases.map((c) => rawExchange(relay.port, c.bytes, 1500)));
    // The app records every request that reaches it: none of the catalogue's may. (node:http's path lets
    // a chunked body whose data is not followed by CRLF reach the app before refusing it; the relay checks
    // the body that came with the head first.)
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await app.seen()).slice(before)).toEqual([]);
    const viaNode = await Promise.all(cases.map((c) => rawExchange(nodeHttp.port, c.bytes, 1500)));
    const differences = cases
      .map((c, i) => [c.name, outcome(viaRelay[i]!), outcome(viaNode[i]!)] as const)
      .filter(([, r, n]) => r !== n);
    expect(differences).toEqual([]);
    for (const [i, c] of cases.entries())
      expect(['400', '414', '431', 'closed'], c.name).toContain(outcome(viaRelay[i]!));
  }, 60_000);

  it('answers pipelined requests in order on one connection', async () => {
    const requests = ['/?p=1', '/?p=2', '/?p=3']
      .map((path) => `GET ${path} HTTP/1.1\r\nHost: app\r\n\r\n`)
      .join('')
      .concat('GET /?p=last HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n');
    const answer = await rawExchange(relay.port, requests, 5000);
    expect(answer.match(/HTTP\/1\.1 200 /g)).toHaveLength(4);
    const seen = (await app.seen()).map((s) => s.path);
    const order = ['/?p=1', '/?p=2', '/?p=3', '/?p=last'].map((p) => seen.lastIndexOf(p));
    expect(order.every((i) => i >= 0)).toBe(true);
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(answer).toMatch(/connection: close\r\n/i);
  });
});
