import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { eventually, KUBELET_PROBE, send } from './support/http.js';
import { queueProxyEnv, startQueueProxy, startUserApp } from './support/processes.js';

/** Clock granularity allowed when checking that a period lasted at least its configured length. */
const GRANULARITY_MS = 20;

/**
 * `GET /wait-for-drain` on the admin port, resolving with its status (0 if the connection failed) and
 * when it answered.
 */
function waitForDrain(adminPort: number): Promise<{ status: number; at: number }> {
  return fetch(`http://127.0.0.1:${adminPort}/wait-for-drain`).then(
    (r) => ({ status: r.status, at: Date.now() }),
    () => ({ status: 0, at: Date.now() }),
  );
}

/** A queue-proxy in native-sidecar mode in front of the test app, with its quiet period and SIGTERM wait. */
async function startSidecar(quietSeconds: number, sigtermSeconds: number) {
  const app = await startUserApp();
  return startQueueProxy(
    queueProxyEnv(app.port, {
      QUEUE_NATIVE_SIDECAR: 'true',
      QUEUE_DRAIN_QUIET_SECONDS: String(quietSeconds),
      QUEUE_NATIVE_SIDECAR_SIGTERM_SECONDS: String(sigtermSeconds),
    }),
  );
}

describe('queue-proxy drain as a native sidecar (QUEUE_NATIVE_SIDECAR=true)', () => {
  it('/wait-for-drain drains for the quiet period, probes fail, requests are served; a SIGTERM after it stops at once', async () => {
    const qp = await startSidecar(2, 10);
    // The app's preStop hook; no SIGTERM yet, as the kubelet signals a native sidecar last.
    const drained = waitForDrain(qp.adminPort);
    await qp.proc.loggedAt('attached drain handler from user container');
    const probe = await send(`${qp.url}/`, { headers: KUBELET_PROBE });
    expect(probe).toMatchObject({ status: 503, body: 'shutting down\n' });
    // Past Knative's 1 s reset: still draining, and a request is served and pushes the end back. The
    // wait is the behaviour under test: time passing beyond the reset an ordinary container would do.
    await new Promise((r) => setTimeout(r, 1100));
    const lastRequestAt = Date.now();
    expect(await send(`${qp.url}/`)).toMatchObject({ status: 200, body: 'hello' });
    expect((await send(`${qp.url}/`, { headers: KUBELET_PROBE })).status).toBe(503);
    const answered = await drained;
    expect(answered.status).toBe(200);
    expect(answered.at - lastRequestAt).toBeGreaterThanOrEqual(2000 - GRANULARITY_MS);
    // Drained and waiting for SIGTERM: probes keep failing.
    expect((await send(`${qp.url}/`, { headers: KUBELET_PROBE })).status).toBe(503);

    // The app has exited; the kubelet signals the sidecar: no second quiet period.
    const signalledAt = Date.now();
    qp.proc.signal('SIGTERM');
    expect(await qp.proc.exit()).toBe(0);
    // Sooner than a second quiet period (2 s) would end.
    expect(Date.now() - signalledAt).toBeLessThan(2000);
    const messages = qp.proc.logs().map((l) => l['msg']);
    expect(messages).toContain('already drained');
    expect(messages).not.toContain('draining');
  });

  it('stays drained past QUEUE_NATIVE_SIDECAR_SIGTERM_SECONDS while a websocket is open (the app stopping), and stops at once on the SIGTERM after it closed', async () => {
    const qp = await startSidecar(1, 1);
    const ws = new WebSocket(`ws://127.0.0.1:${qp.port}/ws`);
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const closed = new Promise<number>((resolve) => ws.once('close', resolve));
    expect((await waitForDrain(qp.adminPort)).status).toBe(200);
    const drainedAt = await qp.proc.loggedAt('drained; the user container may stop');
    // Several SIGTERM waits with the websocket open: the app is finishing it, not restarted. The wait is
    // the behaviour under test.
    await new Promise((r) => setTimeout(r, 3500));
    expect((await send(`${qp.url}/`, { headers: KUBELET_PROBE })).status).toBe(503);
    const echoed = new Promise<string>((resolve) => ws.once('message', (m) => resolve(String(m))));
    ws.send('still open');
    expect(await echoed).toBe('still open');
    expect(qp.proc.logs().some((l) => String(l['msg']).includes('drain reset'))).toBe(false);
    expect(Date.now() - drainedAt).toBeGreaterThan(3000);

    // The client closes it, the app exits, the kubelet signals the sidecar: no second quiet period.
    ws.close(1000);
    expect([1000, 1005]).toContain(await closed);
    const signalledAt = Date.now();
    qp.proc.signal('SIGTERM');
    expect(await qp.proc.exit()).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(1000);
    const messages = qp.proc.logs().map((l) => l['msg']);
    expect(messages).toContain('already drained');
    expect(messages).not.toContain('draining');
  });

  it('resets the drain when no SIGTERM follows within QUEUE_NATIVE_SIDECAR_SIGTERM_SECONDS (app restarted)', async () => {
    const qp = await startSidecar(1, 2);
    const t0 = Date.now();
    const answered = await waitForDrain(qp.adminPort);
    expect(answered.status).toBe(200);
    expect(answered.at - t0).toBeGreaterThanOrEqual(1000 - GRANULARITY_MS);
    // Within the wait: still drained.
    expect((await send(`${qp.url}/`, { headers: KUBELET_PROBE })).status).toBe(503);
    const ready = async () => (await send(`${qp.url}/`, { headers: KUBELET_PROBE })).status === 200;
    expect(await eventually(ready, 5000)).toBe(true);
    expect(Date.now() - answered.at).toBeGreaterThanOrEqual(1500);
    expect(qp.proc.logs().some((l) => String(l['msg']).includes('drain reset'))).toBe(true);
    // By the queue-proxy's own clock: the reset came no earlier than the 2 s SIGTERM wait after the drain.
    const drainedAt = await qp.proc.loggedAt('drained; the user container may stop');
    const resetAt = await qp.proc.loggedAt(
      'no SIGTERM after the drain: the user container restarted; drain reset',
    );
    expect(resetAt - drainedAt).toBeGreaterThanOrEqual(2000 - GRANULARITY_MS);

    // Ready again as before: a later SIGTERM drains a full quiet period.
    const signalledAt = Date.now();
    qp.proc.signal('SIGTERM');
    expect(await qp.proc.exit()).toBe(0);
    expect(Date.now() - signalledAt).toBeGreaterThanOrEqual(1000 - GRANULARITY_MS);
    const drainingAt = await qp.proc.loggedAt('draining');
    const stoppedDrainingAt = await qp.proc.loggedAt('drained; closing the serving listeners');
    expect(stoppedDrainingAt - drainingAt).toBeGreaterThanOrEqual(1000 - GRANULARITY_MS);
  });
});
