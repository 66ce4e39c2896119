import { decodeStat } from '@zerogate/core';
import { describe, expect, it } from 'vitest';
import { eventually, send, socketCount } from './support/http.js';
import {
  queueProxyEnv,
  type RunningQueueProxy,
  startQueueProxy,
  startUserApp,
  type UserApp,
} from './support/processes.js';

let app: UserApp | undefined;
let qp: RunningQueueProxy | undefined;

async function start(cc: number, extra: Record<string, string> = {}) {
  app = await startUserApp();
  qp = await startQueueProxy(queueProxyEnv(app.port, { CONTAINER_CONCURRENCY: String(cc), ...extra }));
  return { app, qp };
}

/** The queue-proxy's current in-flight count, read from the time-weighted stats after a quiet window. */
async function quietConcurrency(statsPort: number): Promise<number> {
  await new Promise((r) => setTimeout(r, 2100));
  const res = await fetch(`http://127.0.0.1:${statsPort}/metrics`);
  return decodeStat(new Uint8Array(await res.arrayBuffer())).averageConcurrentRequests;
}

describe('queue-proxy breaker', () => {
  it('CC=1: a second request reaches the app only after the first completes (spec §7 item 1)', async () => {
    const { app, qp } = await start(1);
    const t0 = Date.now();
    const [a, b] = await Promise.all([send(`${qp.url}/delay?ms=300`), send(`${qp.url}/delay?ms=300`)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(590);
    expect((await app.stats()).max).toBe(1);
  });

  it('CC=N: the (11N+1)-th concurrent request gets 503 at once (spec §7 item 2)', async () => {
    const { app, qp } = await start(2);
    const held = Array.from({ length: 22 }, () => send(`${qp.url}/delay?ms=800`));
    expect(await eventually(async () => (await app.stats()).current === 2)).toBe(true);
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    const rejected = await send(`${qp.url}/`);
    expect(Date.now() - t0).toBeLessThan(300);
    expect(rejected.status).toBe(503);
    expect(rejected.body).toBe('pending request queue full\n');
    expect(rejected.headers['content-type']).toBe('text/plain; charset=utf-8');
    const results = await Promise.all(held);
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect((await app.stats()).max).toBe(2);
    expect(await eventually(() => qp.proc.logs().some((l) => l.msg === 'pending request queue full'))).toBe(
      true,
    );
  });

  it('CC=0 never rejects for queueing', async () => {
    const { app, qp } = await start(0);
    const results = await Promise.all(Array.from({ length: 60 }, () => send(`${qp.url}/delay?ms=300`)));
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect((await app.stats()).max).toBe(60);
  });

  it('admits waiting requests first in, first out', async () => {
    const { qp } = await start(1);
    const first = send(`${qp.url}/delay?ms=300`);
    await new Promise((r) => setTimeout(r, 50));
    const order: number[] = [];
    const waiting = [];
    for (let i = 0; i < 8; i++) {
      waiting.push(send(`${qp.url}/delay?ms=20&i=${i}`).then(() => order.push(i)));
      await new Promise((r) => setTimeout(r, 15));
    }
    await Promise.all([first, ...waiting]);
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('frees the queue position of a client that leaves while waiting, leaking nothing', async () => {
    const { app, qp } = await start(1, {
      OBSERVABILITY_CONFIG: '{"requestMetrics":{"protocol":"prometheus"}}',
    });
    const pid = qp.proc.child.pid!;
    const idleSockets = socketCount(pid);
    const running = send(`${qp.url}/delay?ms=600`);
    await eventually(async () => (await app.stats()).current === 1);
    const leavers = Array.from({ length: 5 }, () => {
      const c = new AbortController();
      const p = send(`${qp.url}/`, { signal: c.signal }).catch(() => undefined);
      return { c, p };
    });
    await new Promise((r) => setTimeout(r, 100));
    for (const l of leavers) l.c.abort();
    await Promise.all(leavers.map((l) => l.p));
    expect((await running).status).toBe(200);
    // None of the abandoned requests reached the app.
    expect((await app.stats()).total).toBe(1);
    const metrics = await (await fetch(`http://127.0.0.1:${qp.metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/kn_serving_queue_depth\{[^}]*\} 0\n/);
    expect(await quietConcurrency(qp.statsPort)).toBe(0);
    expect(await eventually(() => socketCount(pid) <= idleSockets)).toBe(true);
  });
});
