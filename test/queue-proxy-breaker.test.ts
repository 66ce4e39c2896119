import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
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

/** Turns on the Prometheus request metrics, whose `kn_serving_queue_depth` the tests wait on. */
const REQUEST_METRICS = { OBSERVABILITY_CONFIG: '{"requestMetrics":{"protocol":"prometheus"}}' };

/**
 * How long a request that must not wait for a slot may take before the test gives up on it. No slot
 * frees while it runs, so a request that waited would never be answered; this turns that into a
 * failure. It bounds a deadlock, not a latency.
 */
const STALL_MS = 10_000;

async function start(cc: number, extra: Record<string, string> = {}) {
  app = await startUserApp();
  qp = await startQueueProxy(queueProxyEnv(app.port, { CONTAINER_CONCURRENCY: String(cc), ...extra }));
  return { app, qp };
}

/** The breaker's admitted requests (running plus waiting), from the `kn_serving_queue_depth` gauge. */
async function queueDepth(metricsPort: number | undefined): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const match = /kn_serving_queue_depth\{[^}]*\} (\d+)\n/.exec(text);
  return match ? Number(match[1]) : Number.NaN;
}

/**
 * The queue-proxy's average in-flight count over a reporting window that began after this call: the
 * second snapshot published from now on (the first may cover time before the call).
 */
async function nextWindowConcurrency(statsPort: number): Promise<number> {
  const scrape = async () => {
    const res = await fetch(`http://127.0.0.1:${statsPort}/metrics`);
    return decodeStat(new Uint8Array(await res.arrayBuffer()));
  };
  let stat = await scrape();
  for (let fresh = 0; fresh < 2; fresh++) {
    const seen = stat.processUptime;
    expect(
      await eventually(async () => {
        stat = await scrape();
        return stat.processUptime !== seen;
      }),
    ).toBe(true);
  }
  return stat.averageConcurrentRequests;
}

/** A user container the test holds: every request waits until {@link HeldApp.release}. */
class HeldApp {
  current = 0;
  max = 0;
  total = 0;
  private released = false;
  private readonly held: ServerResponse[] = [];
  private readonly server = createServer((_req, res) => {
    this.current++;
    this.total++;
    this.max = Math.max(this.max, this.current);
    res.on('close', () => this.current--);
    if (this.released) HeldApp.answer(res);
    else this.held.push(res);
  });

  private static answer(res: ServerResponse): void {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('ok');
  }

  /** Listens on a free port of 127.0.0.1 and returns it. */
  async listen(): Promise<number> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return (this.server.address() as AddressInfo).port;
  }

  /** Answers every held request, and every later one at once. */
  release(): void {
    this.released = true;
    for (const res of this.held.splice(0)) HeldApp.answer(res);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

describe('queue-proxy breaker', () => {
  it('CC=1: a second request reaches the app only after the first completes (docs/queue-proxy.md §3.2)', async () => {
    const { app, qp } = await start(1);
    const t0 = Date.now();
    const [a, b] = await Promise.all([send(`${qp.url}/delay?ms=300`), send(`${qp.url}/delay?ms=300`)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(590);
    expect((await app.stats()).max).toBe(1);
  });

  it('CC=N: the (11N+1)-th concurrent request gets 503 at once (docs/queue-proxy.md §3.2)', async () => {
    const held = new HeldApp();
    try {
      const port = await held.listen();
      qp = await startQueueProxy(queueProxyEnv(port, { CONTAINER_CONCURRENCY: '2', ...REQUEST_METRICS }));
      const url = qp.url;
      const metricsPort = qp.metricsPort;
      const inBreaker = Array.from({ length: 22 }, () => send(`${url}/`));
      // Full: two requests hold the slots (the app holds them) and twenty wait for one.
      expect(await eventually(async () => held.current === 2 && (await queueDepth(metricsPort)) === 22)).toBe(
        true,
      );
      // At once: answered while the app still holds both slots, so not after waiting for one to free.
      const rejected = await send(`${url}/`, { signal: AbortSignal.timeout(STALL_MS) });
      expect(rejected.status).toBe(503);
      expect(rejected.body).toBe('pending request queue full\n');
      expect(rejected.headers['content-type']).toBe('text/plain; charset=utf-8');
      expect(held.total).toBe(2);
      held.release();
      const results = await Promise.all(inBreaker);
      expect(results.every((r) => r.status === 200)).toBe(true);
      expect(held.max).toBe(2);
      expect(held.total).toBe(22);
      expect(
        await eventually(() => qp?.proc.logs().some((l) => l.msg === 'pending request queue full') ?? false),
      ).toBe(true);
    } finally {
      held.release();
      await held.close();
    }
  });

  it('a request with K-Kubelet-Probe bypasses the breaker and reaches the app while every slot is busy', async () => {
    const held = new HeldApp();
    try {
      const port = await held.listen();
      qp = await startQueueProxy(queueProxyEnv(port, { CONTAINER_CONCURRENCY: '1' }));
      const url = qp.url;
      const busy = send(`${url}/`);
      expect(await eventually(() => held.current === 1)).toBe(true);
      // The header alone, with an ordinary User-Agent: Knative relays it to the app outside the breaker.
      const probe = send(`${url}/`, {
        headers: { 'k-kubelet-probe': 'queue', 'user-agent': 'curl/8' },
        signal: AbortSignal.timeout(STALL_MS),
      });
      expect(await eventually(() => held.total === 2)).toBe(true);
      expect(held.current).toBe(2);
      held.release();
      expect((await probe).status).toBe(200);
      expect((await busy).status).toBe(200);
    } finally {
      held.release();
      await held.close();
    }
  });

  it('CC=0 never rejects for queueing', async () => {
    const { app, qp } = await start(0);
    const results = await Promise.all(Array.from({ length: 60 }, () => send(`${qp.url}/delay?ms=300`)));
    expect(results.every((r) => r.status === 200)).toBe(true);
    expect((await app.stats()).max).toBe(60);
  });

  it('admits waiting requests first in, first out', async () => {
    const { app, qp } = await start(1, REQUEST_METRICS);
    // The first request holds the only slot until its client leaves.
    const leave = new AbortController();
    const first = send(`${qp.url}/hang`, { signal: leave.signal }).catch(() => undefined);
    expect(await eventually(async () => (await app.stats()).current === 1)).toBe(true);
    const order: number[] = [];
    const waiting = [];
    for (let i = 0; i < 8; i++) {
      waiting.push(send(`${qp.url}/delay?ms=20&i=${i}`).then(() => order.push(i)));
      // Known to be waiting (the running one plus i + 1 waiting) before the next is sent.
      expect(await eventually(async () => (await queueDepth(qp.metricsPort)) === i + 2)).toBe(true);
    }
    leave.abort();
    await Promise.all([first, ...waiting]);
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    // The app was reached in the order the requests were queued.
    expect((await app.seen()).map((s) => s.path)).toEqual([
      '/hang',
      ...[0, 1, 2, 3, 4, 5, 6, 7].map((i) => `/delay?ms=20&i=${i}`),
    ]);
  });

  it('frees the queue position of a client that leaves while waiting, leaking nothing', async () => {
    const { app, qp } = await start(1, REQUEST_METRICS);
    const pid = qp.proc.child.pid!;
    const idleSockets = socketCount(pid);
    const running = send(`${qp.url}/delay?ms=600`);
    expect(await eventually(async () => (await app.stats()).current === 1)).toBe(true);
    const leavers = Array.from({ length: 5 }, () => {
      const c = new AbortController();
      const p = send(`${qp.url}/`, { signal: c.signal }).catch(() => undefined);
      return { c, p };
    });
    // All five are waiting behind the running one.
    expect(await eventually(async () => (await queueDepth(qp.metricsPort)) === 6)).toBe(true);
    for (const l of leavers) l.c.abort();
    await Promise.all(leavers.map((l) => l.p));
    expect((await running).status).toBe(200);
    // None of the abandoned requests reached the app.
    expect((await app.stats()).total).toBe(1);
    const metrics = await (await fetch(`http://127.0.0.1:${qp.metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/kn_serving_queue_depth\{[^}]*\} 0\n/);
    // No request stays counted in flight.
    expect(await nextWindowConcurrency(qp.statsPort)).toBe(0);
    expect(await eventually(() => socketCount(pid) <= idleSockets)).toBe(true);
  });
});
