import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { KUBELET_PROBE, send } from './support/http.js';
import {
  queueProxyEnv,
  type RunningQueueProxy,
  spawnNode,
  startQueueProxy,
  startUserApp,
  type UserApp,
} from './support/processes.js';

let app: UserApp | undefined;
let qp: RunningQueueProxy | undefined;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

describe('queue-proxy probes', () => {
  it('answers the kubelet probe with 200 `queue` iff the user probe passes, 400 on a wrong value (spec §7 item 6)', async () => {
    app = await startUserApp();
    qp = await startQueueProxy(queueProxyEnv(app.port));
    const ok = await send(`${qp.url}/`, { headers: KUBELET_PROBE });
    expect(ok.status).toBe(200);
    expect(ok.body).toBe('queue');
    const wrong = await send(`${qp.url}/any/path`, {
      headers: { 'user-agent': 'kube-probe/1.30', 'k-network-probe': 'nope' },
    });
    expect(wrong.status).toBe(400);
    expect(wrong.body).toBe('unexpected probe header value: nope\n');
    const none = await send(`${qp.url}/`, { headers: { 'user-agent': 'kube-probe/1.30' } });
    expect(none.status).toBe(400);
    // Activator and autoscaler agents are health checks too.
    const activator = await send(`${qp.url}/healthz`, {
      headers: { 'user-agent': 'Knative-Activator-Probe', 'k-network-probe': 'queue' },
    });
    expect(activator.status).toBe(200);
    expect(activator.body).toBe('queue');
    const autoscaler = await send(`${qp.url}/healthz`, {
      headers: { 'user-agent': 'Knative-Autoscaling-Probe', 'k-network-probe': 'activator' },
    });
    expect(autoscaler.status).toBe(400);
    await app.proc.kill();
    const down = await send(`${qp.url}/`, { headers: KUBELET_PROBE });
    expect(down.status).toBe(503);
  }, 30_000);

  it('polls the user container every 50 ms, so readiness follows the app within the probe (aggressive mode)', async () => {
    const port = await freePort();
    qp = await startQueueProxy(
      queueProxyEnv(port, {
        SERVING_READINESS_PROBE: JSON.stringify({ httpGet: { port, path: '/' }, successThreshold: 1 }),
      }),
    );
    const probe = send(`${qp.url}/`, { headers: KUBELET_PROBE });
    await new Promise((r) => setTimeout(r, 400));
    const late = spawnNode('test/support/user-app.mjs', { PORT: String(port) });
    const t0 = Date.now();
    await late.waitForLine((l) => l.startsWith('{"port"'));
    const res = await probe;
    expect(res.status).toBe(200);
    expect(Date.now() - t0).toBeLessThan(300);
  });

  it('echoes K-Network-Hash for `K-Network-Probe: probe`, 400 without it, never reaching the app (spec §7 item 7)', async () => {
    app = await startUserApp();
    qp = await startQueueProxy(queueProxyEnv(app.port));
    const ok = await send(`${qp.url}/some/path`, {
      headers: { 'k-network-probe': 'probe', 'k-network-hash': 'h' },
    });
    expect(ok.status).toBe(200);
    expect(ok.headers['k-network-hash']).toBe('h');
    const missing = await send(`${qp.url}/`, { headers: { 'k-network-probe': 'probe' } });
    expect(missing.status).toBe(400);
    expect((await app.stats()).total).toBe(0);
  });

  it('does not proxy or count probes (spec §7 item 8)', async () => {
    app = await startUserApp();
    qp = await startQueueProxy(
      queueProxyEnv(app.port, {
        CONTAINER_CONCURRENCY: '1',
        OBSERVABILITY_CONFIG: '{"requestMetrics":{"protocol":"prometheus"}}',
      }),
    );
    for (let i = 0; i < 5; i++) {
      expect((await send(`${qp.url}/`, { headers: KUBELET_PROBE })).status).toBe(200);
      await send(`${qp.url}/`, { headers: { 'k-network-probe': 'probe', 'k-network-hash': 'x' } });
    }
    // A request that only carries K-Kubelet-Probe reaches the app, outside the breaker and the stats.
    const blocker = send(`${qp.url}/delay?ms=400`);
    await new Promise((r) => setTimeout(r, 50));
    const kubelet = await send(`${qp.url}/`, { headers: { 'k-kubelet-probe': 'queue' } });
    expect(kubelet.status).toBe(200);
    expect(kubelet.body).toBe('hello');
    await blocker;
    const seen = await app.seen();
    expect(seen.map((s) => s.path)).toEqual(['/delay?ms=400', '/']);
    await new Promise((r) => setTimeout(r, 1100));
    const metrics = await (await fetch(`http://127.0.0.1:${qp.metricsPort}/metrics`)).text();
    expect(metrics).toMatch(/kn_serving_invocation_duration_seconds_count\{[^}]*\} 1\n/);
  });
});
