import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EndpointsFile, REVISION, startPod } from './support/activator-fixture.js';
import { FakeAutoscaler } from './support/fake-autoscaler.js';
import { eventually, send } from './support/http.js';
import {
  ACTIVATOR_OPENCENSUS,
  ACTIVATOR_OPENTELEMETRY,
  type DocumentedMetrics,
  expectedExposition,
  parseExposition,
  QUEUE_PROXY_OPENCENSUS,
  QUEUE_PROXY_OPENTELEMETRY,
} from './support/knative-metric-docs.js';
import {
  activatorEnv,
  queueProxyEnv,
  startActivator,
  startQueueProxy,
  startUserApp,
} from './support/processes.js';

async function scrape(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

/** What a process exposes, compared with what Knative's page lists for the era (with our declared departures). */
function expectMatchesDocs(exposition: string, docs: DocumentedMetrics): void {
  expect(parseExposition(exposition), docs.page).toEqual(expectedExposition(docs));
}

describe('queue-proxy request metrics in each Knative era’s names (docs/queue-proxy.md §8.2)', () => {
  it('Knative ≤ 1.18’s environment (SERVING_REQUEST_METRICS_BACKEND, METRICS_DOMAIN): the OpenCensus names and labels Knative documents', async () => {
    const app = await startUserApp();
    const qp = await startQueueProxy(
      queueProxyEnv(app.port, {
        CONTAINER_CONCURRENCY: '2',
        SERVING_SERVICE: 'hello',
        SERVING_REQUEST_METRICS_BACKEND: 'prometheus',
        METRICS_DOMAIN: 'knative.dev/internal/serving',
      }),
    );
    await send(`${qp.url}/status?code=201`, { headers: { 'knative-serving-tag': 'blue' } });
    const text = await scrape(qp.metricsPort!);
    expectMatchesDocs(text, QUEUE_PROXY_OPENCENSUS);
    const identity =
      'namespace_name="default",service_name="hello",configuration_name="hello",revision_name="hello-00001",pod_name="hello-00001-deployment-abc",container_name="queue-proxy"';
    expect(text).toContain(
      `revision_request_count{response_code="201",response_code_class="2xx",route_tag="blue",${identity}} 1`,
    );
    expect(text).toContain(
      `revision_app_request_count{response_code="201",response_code_class="2xx",${identity}} 1`,
    );
    // Milliseconds, in Knative's buckets.
    expect(text).toMatch(/revision_request_latencies_bucket\{le="100000",[^}]*\} 1/);
  });

  it('Knative ≥ 1.19’s environment (OBSERVABILITY_CONFIG): the OpenTelemetry names and labels Knative documents', async () => {
    const app = await startUserApp();
    const qp = await startQueueProxy(
      queueProxyEnv(app.port, {
        CONTAINER_CONCURRENCY: '2',
        SERVING_SERVICE: 'hello',
        OBSERVABILITY_CONFIG: JSON.stringify({ requestMetrics: { protocol: 'prometheus' } }),
      }),
    );
    await send(`${qp.url}/`);
    expectMatchesDocs(await scrape(qp.metricsPort!), QUEUE_PROXY_OPENTELEMETRY);
  });

  it('QUEUE_METRIC_NAMES overrides the era the environment tells', async () => {
    const app = await startUserApp();
    const qp = await startQueueProxy(
      queueProxyEnv(app.port, {
        QUEUE_METRIC_NAMES: 'opencensus',
        OBSERVABILITY_CONFIG: JSON.stringify({ requestMetrics: { protocol: 'prometheus' } }),
      }),
    );
    await send(`${qp.url}/`);
    const text = await scrape(qp.metricsPort!);
    expect(text).toContain('revision_request_count{');
    expect(text).not.toContain('kn_serving_');
  });
});

describe('activator metrics in each Knative era’s names (docs/activator.md §7)', () => {
  let endpoints: EndpointsFile;
  let autoscaler: FakeAutoscaler | undefined;

  beforeEach(() => {
    endpoints = new EndpointsFile();
  });

  afterEach(async () => {
    await autoscaler?.close();
    autoscaler = undefined;
    endpoints.remove();
  });

  /** An activator after a cold start: a request held at zero, then forwarded to the Pod that came. */
  async function activatorWithTraffic(env: Record<string, string>): Promise<string> {
    const pod = await startPod();
    const revision = { service: 'hello', configuration: 'hello' };
    endpoints.write(revision);
    autoscaler = await FakeAutoscaler.start();
    const activator = await startActivator(activatorEnv(endpoints.path, autoscaler.url, env));
    expect(await eventually(() => autoscaler!.clients === 1, 10_000)).toBe(true);
    const held = send(`${activator.url}/`, { headers: REVISION });
    // Its arrival poked the autoscaler: it is held.
    expect(await eventually(() => autoscaler!.received.length > 0, 10_000)).toBe(true);
    endpoints.write({ ...revision, endpoints: [{ address: pod.address, ready: true }] });
    expect((await held).status).toBe(200);
    return scrape(activator.metricsPort);
  }

  it('Knative ≤ 1.18’s Deployment (METRICS_DOMAIN): the OpenCensus names and labels Knative documents', async () => {
    const text = await activatorWithTraffic({ METRICS_DOMAIN: 'knative.dev/internal/serving' });
    expectMatchesDocs(text, ACTIVATOR_OPENCENSUS);
    expect(text).toMatch(
      /activator_request_count\{namespace_name="default",service_name="hello",configuration_name="hello",revision_name="hello-00001",response_code="200",response_code_class="2xx",pod_name="activator-test",container_name="activator"\} [1-9]/,
    );
  }, 60_000);

  it('otherwise: the OpenTelemetry names and labels Knative documents, and ours beside them', async () => {
    const text = await activatorWithTraffic({});
    expectMatchesDocs(text, ACTIVATOR_OPENTELEMETRY);
    expect(text).toMatch(
      /kn_revision_request_concurrency\{k8s_namespace_name="default",kn_service_name="hello",kn_configuration_name="hello",kn_revision_name="hello-00001",k8s_pod_name="activator-test",k8s_container_name="activator"\} 0/,
    );
  }, 60_000);
});
