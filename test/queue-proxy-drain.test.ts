import { describe, expect, it } from 'vitest';
import { eventually, KUBELET_PROBE, send } from './support/http.js';
import {
  queueProxyEnv,
  type RunningQueueProxy,
  startQueueProxy,
  startUserApp,
  type TestProcess,
  type UserApp,
} from './support/processes.js';

let app: UserApp | undefined;
let qp: RunningQueueProxy | undefined;

/** Clock granularity allowed when checking that a period lasted at least its configured length. */
const GRANULARITY_MS = 20;

/** When the queue-proxy received the request logged with `path`, by its own clock (the request log). */
async function arrivedAt(proc: TestProcess, path: string): Promise<number> {
  const line = await proc.waitForLine((l) => l.includes('"msg":"request"') && l.includes(`"path":"${path}"`));
  const entry = JSON.parse(line) as { time: string; latencySeconds: number };
  return Date.parse(entry.time) - entry.latencySeconds * 1000;
}

describe('queue-proxy graceful drain (docs/queue-proxy.md §7.1)', () => {
  it('after SIGTERM: probes 503 at once, requests still served, exit only after the quiet period', async () => {
    const QUIET_MS = 2000;
    app = await startUserApp();
    qp = await startQueueProxy(
      queueProxyEnv(app.port, {
        QUEUE_DRAIN_QUIET_SECONDS: String(QUIET_MS / 1000),
        OBSERVABILITY_CONFIG: JSON.stringify({ enableRequestLog: true }),
      }),
    );
    const inFlight = send(`${qp.url}/delay?ms=1500`);
    const userApp = app;
    expect(await eventually(async () => (await userApp.stats()).current === 1)).toBe(true);
    const drainStart = Date.now();
    qp.proc.signal('SIGTERM');
    const drainingAt = await qp.proc.loggedAt('draining');
    let drainEnded = false;
    const drained = fetch(`http://127.0.0.1:${qp.adminPort}/wait-for-drain`).then((r) => {
      drainEnded = true;
      return { status: r.status, at: Date.now() };
    });
    const probe = await send(`${qp.url}/`, { headers: KUBELET_PROBE });
    expect(probe.status).toBe(503);
    expect(probe.body).toBe('shutting down\n');
    expect(probe.headers['zerogate-error']).toBe('queue-proxy; shutting-down');
    const hashProbe = await send(`${qp.url}/`, {
      headers: { 'k-network-probe': 'probe', 'k-network-hash': 'h' },
    });
    expect(hashProbe.status).toBe(503);
    // At once: the probes failed while the drain was still going on, not only once it ended.
    expect(drainEnded).toBe(false);
    // The request in flight at SIGTERM is served; a new request during the drain is served too and
    // pushes the end of the drain back.
    expect((await inFlight).status).toBe(200);
    const lastRequestAt = Date.now();
    const late = await send(`${qp.url}/?late`);
    expect(late.status).toBe(200);
    expect(late.body).toBe('hello');
    const lateArrivedAt = await arrivedAt(qp.proc, '/?late');
    const waited = await drained;
    expect(waited.status).toBe(200);
    expect(waited.at - lastRequestAt).toBeGreaterThanOrEqual(QUIET_MS - GRANULARITY_MS);
    // By the queue-proxy's own clock: the drain lasted the quiet period after SIGTERM and after the
    // last request, no less.
    const drainedAt = await qp.proc.loggedAt('drained; closing the serving listeners');
    expect(drainedAt - drainingAt).toBeGreaterThanOrEqual(QUIET_MS - GRANULARITY_MS);
    expect(drainedAt - lateArrivedAt).toBeGreaterThanOrEqual(QUIET_MS - GRANULARITY_MS);
    const code = await qp.proc.exit();
    expect(code).toBe(0);
    expect(Date.now() - drainStart).toBeGreaterThanOrEqual(2900);
  });

  it('finishes a long request in flight when the quiet period ends, dropping nothing', async () => {
    app = await startUserApp();
    qp = await startQueueProxy(queueProxyEnv(app.port, { QUEUE_DRAIN_QUIET_SECONDS: '1' }));
    const long = send(`${qp.url}/delay?ms=2500`).then((r) => ({ ...r, at: Date.now() }));
    const userApp = app;
    expect(await eventually(async () => (await userApp.stats()).current === 1)).toBe(true);
    qp.proc.signal('SIGTERM');
    const res = await long;
    expect(res.status).toBe(200);
    expect(res.body).toBe('ok');
    // The quiet period ended while the request was still in flight (one clock: the same machine's).
    expect(await qp.proc.loggedAt('drained; closing the serving listeners')).toBeLessThanOrEqual(res.at);
    expect(await qp.proc.exit()).toBe(0);
  });

  it('/wait-for-drain without SIGTERM resets the drain after 1 s (liveness restart of the app)', async () => {
    const QUIET_MS = 30_000;
    app = await startUserApp();
    qp = await startQueueProxy(
      queueProxyEnv(app.port, { QUEUE_DRAIN_QUIET_SECONDS: String(QUIET_MS / 1000) }),
    );
    const t0 = Date.now();
    const res = await fetch(`http://127.0.0.1:${qp.adminPort}/wait-for-drain`);
    expect(res.status).toBe(200);
    // No earlier than the 1 s reset, and by the reset rather than at the end of the quiet period.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000 - GRANULARITY_MS);
    expect(Date.now() - t0).toBeLessThan(QUIET_MS);
    const probe = await send(`${qp.url}/`, { headers: KUBELET_PROBE });
    expect(probe.status).toBe(200);
    // Any other path of the admin port is Go's mux's 404, as on Knative's.
    const other = await send(`http://127.0.0.1:${qp.adminPort}/drain`);
    expect([other.status, other.body]).toEqual([404, '404 page not found\n']);
  });
});
