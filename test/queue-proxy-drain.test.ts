import { describe, expect, it } from 'vitest';
import { KUBELET_PROBE, send } from './support/http.js';
import {
  queueProxyEnv,
  type RunningQueueProxy,
  startQueueProxy,
  startUserApp,
  type UserApp,
} from './support/processes.js';

let app: UserApp | undefined;
let qp: RunningQueueProxy | undefined;

describe('queue-proxy graceful drain (spec §1.6)', () => {
  it('after SIGTERM: probes 503 at once, requests still served, exit only after the quiet period (spec §7 item 9)', async () => {
    app = await startUserApp();
    qp = await startQueueProxy(queueProxyEnv(app.port, { QUEUE_DRAIN_QUIET_SECONDS: '2' }));
    const inFlight = send(`${qp.url}/delay?ms=1500`);
    await new Promise((r) => setTimeout(r, 100));
    const drainStart = Date.now();
    qp.proc.signal('SIGTERM');
    const drained = fetch(`http://127.0.0.1:${qp.adminPort}/wait-for-drain`).then((r) => ({
      status: r.status,
      at: Date.now(),
    }));
    await new Promise((r) => setTimeout(r, 100));
    const probe = await send(`${qp.url}/`, { headers: KUBELET_PROBE });
    expect(probe.status).toBe(503);
    expect(probe.body).toBe('shutting down\n');
    const hashProbe = await send(`${qp.url}/`, {
      headers: { 'k-network-probe': 'probe', 'k-network-hash': 'h' },
    });
    expect(hashProbe.status).toBe(503);
    // A request during the drain is served and pushes the end of the drain back.
    await new Promise((r) => setTimeout(r, 900));
    const lastRequestAt = Date.now();
    const late = await send(`${qp.url}/`);
    expect(late.status).toBe(200);
    expect((await inFlight).status).toBe(200);
    const waited = await drained;
    expect(waited.status).toBe(200);
    expect(waited.at - lastRequestAt).toBeGreaterThanOrEqual(1900);
    const code = await qp.proc.exit();
    expect(code).toBe(0);
    expect(Date.now() - drainStart).toBeGreaterThanOrEqual(2900);
  });

  it('finishes a long request in flight when the quiet period ends, dropping nothing', async () => {
    app = await startUserApp();
    qp = await startQueueProxy(queueProxyEnv(app.port, { QUEUE_DRAIN_QUIET_SECONDS: '1' }));
    const long = send(`${qp.url}/delay?ms=2500`);
    await new Promise((r) => setTimeout(r, 100));
    qp.proc.signal('SIGTERM');
    const res = await long;
    expect(res.status).toBe(200);
    expect(res.body).toBe('ok');
    expect(await qp.proc.exit()).toBe(0);
  });

  it('/wait-for-drain without SIGTERM resets the drain after 1 s (liveness restart of the app)', async () => {
    app = await startUserApp();
    qp = await startQueueProxy(queueProxyEnv(app.port, { QUEUE_DRAIN_QUIET_SECONDS: '30' }));
    const t0 = Date.now();
    const res = await fetch(`http://127.0.0.1:${qp.adminPort}/wait-for-drain`);
    expect(res.status).toBe(200);
    expect(Date.now() - t0).toBeLessThan(2000);
    const probe = await send(`${qp.url}/`, { headers: KUBELET_PROBE });
    expect(probe.status).toBe(200);
  });
});
