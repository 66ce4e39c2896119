import { decodeStat, type Stat } from '@zerogate/core';
import { describe, expect, it } from 'vitest';
import { send } from './support/http.js';
import {
  queueProxyEnv,
  type RunningQueueProxy,
  startQueueProxy,
  startUserApp,
  type UserApp,
} from './support/processes.js';

let app: UserApp | undefined;
let qp: RunningQueueProxy | undefined;

async function scrape(port: number): Promise<{ stat: Stat; contentType: string | null }> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`, {
    headers: { accept: 'application/protobuf' },
  });
  return {
    stat: decodeStat(new Uint8Array(await res.arrayBuffer())),
    contentType: res.headers.get('content-type'),
  };
}

/**
 * Polls until `windows` snapshots newer than the one with uptime `since` (default: the current one)
 * were published, and returns them.
 */
async function collectWindows(port: number, windows: number, since?: number): Promise<Stat[]> {
  const out: Stat[] = [];
  let last = since ?? (await scrape(port)).stat.processUptime;
  while (out.length < windows) {
    await new Promise((r) => setTimeout(r, 100));
    const { stat } = await scrape(port);
    if (stat.processUptime !== last) {
      out.push(stat);
      last = stat.processUptime;
    }
  }
  return out;
}

describe('queue-proxy autoscaler stats on :9090 (docs/queue-proxy.md §8.1)', () => {
  it('serves a protobuf Stat with Knative field numbers; a 500 ms request gives 0.5 concurrency-seconds and one request (docs/wire.md §3.1)', async () => {
    app = await startUserApp();
    qp = await startQueueProxy(queueProxyEnv(app.port, { SERVING_POD: 'pod-abc' }));
    const first = await scrape(qp.statsPort);
    expect(first.contentType).toBe('application/protobuf');
    expect(first.stat.podName).toBe('pod-abc');
    // Align to a fresh window, then send one 500 ms request and collect the windows it spans.
    await collectWindows(qp.statsPort, 1);
    const since = (await scrape(qp.statsPort)).stat.processUptime;
    const windows = collectWindows(qp.statsPort, 4, since);
    expect((await send(`${qp.url}/delay?ms=500`)).status).toBe(200);
    const stats = await windows;
    const concurrencySeconds = stats.reduce((sum, s) => sum + s.averageConcurrentRequests, 0);
    const requests = stats.reduce((sum, s) => sum + s.requestCount, 0);
    expect(concurrencySeconds).toBeGreaterThan(0.45);
    expect(concurrencySeconds).toBeLessThan(0.6);
    expect(requests).toBe(1);
    expect(stats.every((s) => s.averageProxiedConcurrentRequests === 0 && s.proxiedRequestCount === 0)).toBe(
      true,
    );
    expect(stats[3]!.processUptime).toBeGreaterThan(2);
  });

  it('counts requests from the activator in the proxied fields too', async () => {
    app = await startUserApp();
    qp = await startQueueProxy(queueProxyEnv(app.port));
    await collectWindows(qp.statsPort, 1);
    const since = (await scrape(qp.statsPort)).stat.processUptime;
    const windows = collectWindows(qp.statsPort, 2, since);
    await Promise.all([
      send(`${qp.url}/delay?ms=400`, { headers: { 'k-proxy-request': 'activator' } }),
      send(`${qp.url}/delay?ms=400`),
    ]);
    const stats = await windows;
    const sum = (f: (s: Stat) => number) => stats.reduce((a, s) => a + f(s), 0);
    expect(sum((s) => s.requestCount)).toBe(2);
    expect(sum((s) => s.proxiedRequestCount)).toBe(1);
    expect(sum((s) => s.averageConcurrentRequests)).toBeGreaterThan(0.7);
    expect(sum((s) => s.averageProxiedConcurrentRequests)).toBeGreaterThan(0.35);
    expect(sum((s) => s.averageProxiedConcurrentRequests)).toBeLessThan(0.5);
  });

  it('answers the Stat on /metrics only (a query string aside), 404 on any other path, as Knative does', async () => {
    app = await startUserApp();
    qp = await startQueueProxy(queueProxyEnv(app.port));
    const metrics = await send(`http://127.0.0.1:${qp.statsPort}/metrics?from=autoscaler`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers['content-type']).toBe('application/protobuf');
    for (const path of ['/', '/metrics/', '/stats', '/metricsx']) {
      const other = await send(`http://127.0.0.1:${qp.statsPort}${path}`);
      expect(other.status, path).toBe(404);
      expect(other.body, path).toBe('404 page not found\n');
    }
  });
});

describe('queue-proxy Prometheus request metrics on :9091', () => {
  it('are served when OBSERVABILITY_CONFIG enables them (Knative ≥ 1.19)', async () => {
    app = await startUserApp();
    qp = await startQueueProxy(
      queueProxyEnv(app.port, {
        CONTAINER_CONCURRENCY: '4',
        SERVING_SERVICE: 'hello',
        OBSERVABILITY_CONFIG: JSON.stringify({ requestMetrics: { protocol: 'prometheus' } }),
      }),
    );
    await send(`${qp.url}/`);
    await send(`${qp.url}/status?code=500`);
    const body = await (await fetch(`http://127.0.0.1:${qp.metricsPort}/metrics`)).text();
    const labels =
      'k8s_namespace_name="default",kn_service_name="hello",kn_configuration_name="hello",kn_revision_name="hello-00001",k8s_pod_name="hello-00001-deployment-abc"';
    expect(body).toContain(
      `kn_serving_invocation_duration_seconds_count{${labels},k8s_container_name="queue-proxy",http_response_status_code="200"} 1`,
    );
    expect(body).toContain(
      `kn_serving_invocation_duration_seconds_count{${labels},k8s_container_name="queue-proxy",http_response_status_code="500"} 1`,
    );
    expect(body).toMatch(/kn_serving_invocation_duration_seconds_bucket\{le="0.005"/);
    expect(body).toMatch(/kn_serving_queue_depth\{[^}]*\} 0/);
  });

  it('are served when SERVING_REQUEST_METRICS_BACKEND=prometheus (Knative ≤ 1.18, its names), and not otherwise', async () => {
    app = await startUserApp();
    qp = await startQueueProxy(queueProxyEnv(app.port, { SERVING_REQUEST_METRICS_BACKEND: 'prometheus' }));
    await send(`${qp.url}/`);
    const body = await (await fetch(`http://127.0.0.1:${qp.metricsPort}/metrics`)).text();
    expect(body).toMatch(/revision_request_count\{[^}]*response_code="200"[^}]*\} 1/);
    expect(body).toMatch(/revision_app_request_latencies_count\{[^}]*\} 1/);
    expect(body).not.toContain('kn_serving_invocation_duration_seconds');
    // CC=0: no breaker, so no queue depth.
    expect(body).not.toContain('revision_queue_depth');
    await qp.proc.kill();
    qp = await startQueueProxy(queueProxyEnv(app.port));
    expect(qp.metricsPort).toBeUndefined();
  });
});

describe('queue-proxy request log', () => {
  it('logs one JSON line per request when enabled, none for probes unless asked', async () => {
    app = await startUserApp();
    qp = await startQueueProxy(
      queueProxyEnv(app.port, { OBSERVABILITY_CONFIG: JSON.stringify({ enableRequestLog: true }) }),
    );
    await send(`${qp.url}/status?code=201`);
    await send(`${qp.url}/`, { headers: { 'user-agent': 'kube-probe/1.30', 'k-network-probe': 'queue' } });
    const line = await qp.proc.waitForLine((l) => l.includes('"msg":"request"'));
    expect(JSON.parse(line)).toMatchObject({ method: 'GET', path: '/status?code=201', status: 201 });
    expect(qp.proc.logs().filter((l) => l.msg === 'request')).toHaveLength(1);
    expect(qp.proc.logs().some((l) => l.msg === 'probe')).toBe(false);
  });
});
