import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { eventually, KUBELET_PROBE, send } from './support/http.js';
import {
  queueProxyEnv,
  type RunningQueueProxy,
  startQueueProxy,
  startUserApp,
  type UserApp,
} from './support/processes.js';

let app: UserApp | undefined;
let qp: RunningQueueProxy | undefined;

describe('queue-proxy probes', () => {
  it('answers the kubelet probe with 200 `queue` iff the user probe passes, 400 on a wrong value (docs/queue-proxy.md §4.1)', async () => {
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
    // Knative's bare 503, marked as the platform's refusal (docs/wire.md §6).
    expect(down.body).toBe('');
    expect(down.headers['zerogate-error']).toBe('queue-proxy; not-ready');
  }, 30_000);

  it('polls the user container every 50 ms within one kubelet probe, so readiness follows the app (aggressive mode)', async () => {
    // The app fails its readiness check three times, then passes; it notes when each check came.
    const FAILURES = 3;
    const checks: number[] = [];
    const userApp = createHttpServer((_req, res) => {
      checks.push(performance.now());
      res.writeHead(checks.length > FAILURES ? 200 : 503);
      res.end();
    });
    await new Promise<void>((r) => userApp.listen(0, '127.0.0.1', r));
    try {
      const port = (userApp.address() as AddressInfo).port;
      qp = await startQueueProxy(
        queueProxyEnv(port, {
          SERVING_READINESS_PROBE: JSON.stringify({ httpGet: { port, path: '/' }, successThreshold: 1 }),
        }),
      );
      checks.length = 0;
      const res = await send(`${qp.url}/`, { headers: KUBELET_PROBE });
      // One kubelet probe: the failures were retried until the app passed, and the probe answered then.
      expect(res.status).toBe(200);
      expect(res.body).toBe('queue');
      expect(checks).toHaveLength(FAILURES + 1);
      // Each retry came after the 50 ms pause, no sooner (allowing clock granularity).
      for (let i = 1; i < checks.length; i++) {
        expect(checks[i]! - checks[i - 1]!).toBeGreaterThanOrEqual(50 - 20);
      }
    } finally {
      userApp.closeAllConnections();
      await new Promise((r) => userApp.close(r));
    }
  });

  it('echoes K-Network-Hash for `K-Network-Probe: probe`, 400 without it, never reaching the app (docs/queue-proxy.md §4.3)', async () => {
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

  it('does not proxy or count probes (docs/queue-proxy.md §3.1)', async () => {
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
    const userApp = app;
    expect(await eventually(async () => (await userApp.stats()).current === 1)).toBe(true);
    const kubelet = await send(`${qp.url}/`, { headers: { 'k-kubelet-probe': 'queue' } });
    expect(kubelet.status).toBe(200);
    expect(kubelet.body).toBe('hello');
    await blocker;
    const seen = await app.seen();
    expect(seen.map((s) => s.path)).toEqual(['/delay?ms=400', '/']);
    // Only the blocker is counted. A later request, once counted, shows the kubelet one (which ended
    // before it was sent) was not: the count goes from 1 to 2, never 3.
    const metricsUrl = `http://127.0.0.1:${qp.metricsPort}/metrics`;
    const requestCount = async () =>
      /kn_serving_invocation_duration_seconds_count\{[^}]*\} (\d+)\n/.exec(
        await (await fetch(metricsUrl)).text(),
      )?.[1];
    expect(await eventually(async () => (await requestCount()) === '1')).toBe(true);
    expect((await send(`${qp.url}/status?code=200`)).status).toBe(200);
    expect(await eventually(async () => (await requestCount()) !== '1')).toBe(true);
    expect(await requestCount()).toBe('2');
  });
});
