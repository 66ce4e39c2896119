import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EndpointsFile, REVISION, startPod } from './support/activator-fixture.js';
import { FakeAutoscaler } from './support/fake-autoscaler.js';
import { eventually, send } from './support/http.js';
import { parseExposition } from './support/knative-metric-docs.js';
import { knativeRevision, revisionDeployment } from './support/knative-objects.js';
import {
  activatorEnv,
  autoscalerEnv,
  queueProxyEnv,
  ROOT,
  startActivator,
  startAutoscaler,
  startQueueProxy,
  startUserApp,
} from './support/processes.js';
import { type PromqlRefs, promqlRefs } from './support/promql.js';
import { TestApiServer } from './support/test-apiserver.js';

const DASHBOARD = 'deploy/grafana/zerogate-dashboard.json';

interface Panel {
  readonly title?: string;
  readonly targets?: readonly { readonly expr: string; readonly legendFormat?: string }[];
}

interface Dashboard {
  readonly panels: readonly Panel[];
  readonly templating: {
    readonly list: readonly { readonly name: string; readonly query: { readonly query: string } }[];
  };
}

const dashboard = JSON.parse(readFileSync(join(ROOT, DASHBOARD), 'utf8')) as Dashboard;

/** Every PromQL expression of the dashboard, with where it is and the labels its legend names. */
const expressions = [
  ...dashboard.panels.flatMap((p) =>
    (p.targets ?? []).map((t) => ({
      where: `panel "${p.title}"`,
      expr: t.expr,
      legendLabels: [...(t.legendFormat ?? '').matchAll(/\{\{\s*([a-zA-Z_]\w*)\s*\}\}/g)].map((m) => m[1]!),
    })),
  ),
  ...dashboard.templating.list.map((v) => ({
    where: `variable $${v.name}`,
    expr: v.query.query,
    legendLabels: [],
  })),
];

/** Metric families the running components expose, with their labels. */
const exposed: Record<string, { type: string; labels: string[] }> = {};

/** The family a selected name belongs to: itself, or a histogram's `_bucket`/`_sum`/`_count` series. */
function family(metric: string): { type: string; labels: string[] } | undefined {
  if (exposed[metric]) return exposed[metric];
  const m = /^(.*)_(bucket|sum|count)$/.exec(metric);
  const base = m ? exposed[m[1]!] : undefined;
  if (!base || (base.type !== 'histogram' && base.type !== 'summary')) return undefined;
  return m![2] === 'bucket' ? { ...base, labels: [...base.labels, 'le'] } : base;
}

let dir: string;
let api: TestApiServer | undefined;
let endpoints: EndpointsFile | undefined;
let fakeAutoscaler: FakeAutoscaler | undefined;

async function scrape(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'grafana-dashboard-'));
  // A queue-proxy with a breaker (CC > 0, so the queue depth exists), in Knative ≥ 1.19's configuration.
  const app = await startUserApp();
  const qp = await startQueueProxy(
    queueProxyEnv(app.port, {
      CONTAINER_CONCURRENCY: '2',
      OBSERVABILITY_CONFIG: JSON.stringify({ requestMetrics: { protocol: 'prometheus' } }),
    }),
  );
  await send(`${qp.url}/`);
  Object.assign(exposed, parseExposition(await scrape(qp.metricsPort!)));

  // An activator that routed a request to a Pod.
  const pod = await startPod();
  endpoints = new EndpointsFile();
  endpoints.write({ endpoints: [{ address: pod.address, ready: true }] });
  fakeAutoscaler = await FakeAutoscaler.start();
  const activator = await startActivator(activatorEnv(endpoints.path, fakeAutoscaler.url));
  expect(
    await eventually(
      async () => (await send(`${activator.url}/`, { headers: REVISION })).status === 200,
      10_000,
    ),
  ).toBe(true);
  Object.assign(exposed, parseExposition(await scrape(activator.metricsPort)));

  // An autoscaler that decided about a revision.
  api = await TestApiServer.start();
  api.apply(knativeRevision('hello-00001', { containerConcurrency: 1 }));
  api.apply(revisionDeployment('hello-00001', 0));
  const autoscaler = await startAutoscaler(autoscalerEnv(api.writeKubeConfig(join(dir, 'kubeconfig.json'))));
  let text = '';
  expect(
    await eventually(async () => {
      text = await scrape(autoscaler.metricsPort);
      return /^autoscaler_desired_pods\{/m.test(text);
    }, 10_000),
  ).toBe(true);
  Object.assign(exposed, parseExposition(text));
}, 60_000);

afterAll(async () => {
  await fakeAutoscaler?.close();
  await api?.close();
  endpoints?.remove();
  rmSync(dir, { recursive: true, force: true });
});

describe(`Grafana dashboard (${DASHBOARD})`, () => {
  it('has panels for request rate, latency, queue depth, activator holds and the autoscaler’s Pods', () => {
    const all = expressions.map((e) => e.expr).join('\n');
    for (const metric of [
      'kn_serving_invocation_duration_seconds_count',
      'kn_serving_invocation_duration_seconds_bucket',
      'kn_serving_queue_depth',
      'kn_revision_request_queued',
      'autoscaler_desired_pods',
      'autoscaler_actual_pods',
    ]) {
      expect(all).toContain(metric);
    }
  });

  it.each(expressions)('$where: every metric and label of `$expr` is one the components expose', ({
    expr,
    legendLabels,
  }) => {
    let refs: PromqlRefs;
    try {
      refs = promqlRefs(expr);
    } catch (err) {
      throw new Error(`does not parse: ${(err as Error).message}`);
    }
    expect(refs.selectors.length).toBeGreaterThan(0);
    const available = new Set<string>();
    for (const { metric, labels } of refs.selectors) {
      const f = family(metric);
      expect(f, `${metric} is not exposed`).toBeDefined();
      for (const label of labels) expect(f!.labels, `${metric} has no label ${label}`).toContain(label);
      for (const label of f!.labels) available.add(label);
    }
    for (const label of [...refs.groupingLabels, ...legendLabels]) {
      expect([...available], `no selected metric has the label ${label}`).toContain(label);
    }
  });
});
