import { describe, expect, it } from 'vitest';
import { eventually, send } from './support/http.js';
import {
  queueProxyEnv,
  type RunningQueueProxy,
  startQueueProxy,
  startUserApp,
  type UserApp,
} from './support/processes.js';

let app: UserApp | undefined;
let qp: RunningQueueProxy | undefined;

/** Opens a websocket (Node's built-in client), resolving once it is open. */
function openSocket(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.addEventListener('open', () => resolve(ws), { once: true });
    ws.addEventListener('error', () => reject(new Error('websocket failed')), { once: true });
  });
}

function echo(ws: WebSocket, text: string): Promise<string> {
  return new Promise((resolve) => {
    ws.addEventListener('message', (e) => resolve(String(e.data)), { once: true });
    ws.send(text);
  });
}

describe('queue-proxy websockets', () => {
  it('proxies the upgrade end to end (101) and echoes messages (docs/queue-proxy.md §3.4)', async () => {
    app = await startUserApp();
    qp = await startQueueProxy(queueProxyEnv(app.port));
    const ws = await openSocket(`ws://127.0.0.1:${qp.port}/ws`);
    expect(await echo(ws, 'hello')).toBe('hello');
    expect(await echo(ws, 'x'.repeat(1000))).toBe('x'.repeat(1000));
    ws.close();
  });

  it('holds a breaker slot until the socket closes', async () => {
    app = await startUserApp();
    qp = await startQueueProxy(
      queueProxyEnv(app.port, {
        CONTAINER_CONCURRENCY: '1',
        OBSERVABILITY_CONFIG: '{"requestMetrics":{"protocol":"prometheus"}}',
      }),
    );
    const ws = await openSocket(`ws://127.0.0.1:${qp.port}/ws`);
    let answered = false;
    const queued = send(`${qp.url}/`).then((r) => {
      answered = true;
      return r;
    });
    // The request waits behind the socket: the breaker holds the socket and the waiting request.
    const metricsUrl = `http://127.0.0.1:${qp.metricsPort}/metrics`;
    const queueDepth = async () =>
      /kn_serving_queue_depth\{[^}]*\} (\d+)\n/.exec(await (await fetch(metricsUrl)).text())?.[1];
    expect(await eventually(async () => (await queueDepth()) === '2')).toBe(true);
    expect(answered).toBe(false);
    expect((await app.stats()).total).toBe(1);
    ws.close();
    const res = await queued;
    expect(res.status).toBe(200);
    expect(await eventually(async () => (await app!.stats()).current === 0)).toBe(true);
  });

  it('is not cut by the revision or response-start timeout once the 101 is sent', async () => {
    app = await startUserApp();
    qp = await startQueueProxy(
      queueProxyEnv(app.port, {
        REVISION_TIMEOUT_SECONDS: '1',
        REVISION_RESPONSE_START_TIMEOUT_SECONDS: '1',
      }),
    );
    const ws = await openSocket(`ws://127.0.0.1:${qp.port}/ws`);
    let closed = false;
    ws.addEventListener('close', () => {
      closed = true;
    });
    // The wait is the behaviour under test: time passing beyond both 1 s timeouts.
    await new Promise((r) => setTimeout(r, 1800));
    expect(closed).toBe(false);
    expect(await echo(ws, 'still here')).toBe('still here');
    ws.close();
  });
});
