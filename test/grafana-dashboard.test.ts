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

/** The dashboards, each for the metric names of one Knative era (docs/queue-proxy.md §8.2). */
const DASHBOARDS = [
  { file: 'deploy/grafana/zerogate-dashboard.json', era: 'opentelemetry' },
  { file: 'deploy/grafana/zerogate-dashboard-opencensus.json', era: 'opencensus' },
] as const;

type Era = (typeof DASHBOARDS)[number]['era'];

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

/** Every PromQL expression of a dashboard, with where it is and the labels its legend names. */
function expressionsOf(file: string) {
  const dashboard = JSON.parse(readFileSync(join(ROOT, file), 'utf8')) as Dashboard;
  return [
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
}

type Exposition = Record<string, { type: string; labels: string[] }>;

/** Metric families the running components expose in each era, with their labels. */
const exposed: Record<Era, Exposition> = { opentelemetry: {}, opencensus: {} };

/** The family a selected name belongs to: itself, or a histogram's `_bucket`/`_sum`/`_count` series. */
function family(era: Era, metric: string): { type: string; labels: string[] } | undefined {
  const families = exposed[era];
  if (families[metric]) return families[metric];
  const m = /^(.*)_(bucket|sum|count)$/.exec(metric);
  const base = m ? families[m[1]!] : undefined;
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
  // Queue-proxies with a breaker (CC > 0, so the queue depth exists), one in each era's configuration.
  const app = await startUserApp();
  const eraEnv: Record<Era, Record<string, string>> = {
    opentelemetry: { OBSERVABILITY_CONFIG: JSON.stringify({ requestMetrics: { protocol: 'prometheus' } }) },
    opencensus: {
      SERVING_REQUEST_METRICS_BACKEND: 'prometheus',
      METRICS_DOMAIN: 'knative.dev/internal/serving',
    },
  };
  const pod = await startPod();
  endpoints = new EndpointsFile();
  endpoints.write({ endpoints: [{ address: pod.address, ready: true }] });
  fakeAutoscaler = await FakeAutoscaler.start();
  for (const era of ['opentelemetry', 'opencensus'] as const) {
    const qp = await startQueueProxy(queueProxyEnv(app.port, { CONTAINER_CONCURRENCY: '2', ...eraEnv[era] }));
    await send(`${qp.url}/`);
    Object.assign(exposed[era], parseExposition(await scrape(qp.metricsPort!)));
    // An activator of the era that routed a request to a Pod.
    const activator = await startActivator(
      activatorEnv(
        endpoints.path,
        fakeAutoscaler.url,
        era === 'opencensus' ? { METRICS_DOMAIN: 'knative.dev/internal/serving' } : {},
      ),
    );
    expect(
      await eventually(
        async () => (await send(`${activator.url}/`, { headers: REVISION })).status === 200,
        10_000,
      ),
    ).toBe(true);
    Object.assign(exposed[era], parseExposition(await scrape(activator.metricsPort)));
  }

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
  // The autoscaler's names are the same in both eras.
  for (const era of ['opentelemetry', 'opencensus'] as const)
    Object.assign(exposed[era], parseExposition(text));
}, 90_000);

afterAll(async () => {
  await fakeAutoscaler?.close();
  await api?.close();
  endpoints?.remove();
  rmSync(dir, { recursive: true, force: true });
});

describe.each(DASHBOARDS)('Grafana dashboard $file', ({ file, era }) => {
  const expressions = expressionsOf(file);

  it('has panels for request rate, latency, queue depth, activator holds and the autoscaler’s Pods', () => {
    const all = expressions.map((e) => e.expr).join('\n');
    const needed =
      era === 'opentelemetry'
        ? [
            'kn_serving_invocation_duration_seconds_count',
            'kn_serving_invocation_duration_seconds_bucket',
            'kn_serving_queue_depth',
            'kn_revision_request_queued',
          ]
        : [
            'revision_request_count',
            'revision_request_latencies_bucket',
            'revision_queue_depth',
            'activator_request_concurrency',
          ];
    for (const metric of [...needed, 'autoscaler_desired_pods', 'autoscaler_actual_pods'])
      expect(all).toContain(metric);
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
      const f = family(era, metric);
      expect(f, `${metric} is not exposed`).toBeDefined();
      for (const label of labels) expect(f!.labels, `${metric} has no label ${label}`).toContain(label);
      for (const label of f!.labels) available.add(label);
    }
    for (const label of [...refs.groupingLabels, ...legendLabels]) {
      expect([...available], `no selected metric has the label ${label}`).toContain(label);
    }
  });
});
