import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeAutoscaler } from './fake-autoscaler.js';
import { eventually } from './http.js';
import {
  activatorEnv,
  queueProxyEnv,
  type RunningActivator,
  type RunningQueueProxy,
  startActivator,
  startQueueProxy,
  startUserApp,
  type UserApp,
} from './processes.js';

/** The routing headers of the revision the activator tests use. */
export const REVISION = { 'knative-serving-revision': 'hello-00001', 'knative-serving-namespace': 'default' };

/** The routing headers of revision `name` in the default namespace. */
export function revisionHeaders(name: string): Record<string, string> {
  return { 'knative-serving-revision': name, 'knative-serving-namespace': 'default' };
}

/** The environment of an activator learning revisions and Pods from the API server `kubeconfig` points at. */
export function kubernetesActivatorEnv(autoscalerUrl: string, kubeconfig: string): Record<string, string> {
  return activatorEnv('', autoscalerUrl, {
    ACTIVATOR_ENDPOINTS_SOURCE: 'kubernetes',
    KUBECONFIG: kubeconfig,
  });
}

/** An activator's endpoints file in a temporary folder, describing the test revision. */
export class EndpointsFile {
  /** The temporary folder, removed with {@link remove}. */
  readonly dir = mkdtempSync(join(tmpdir(), 'zerogate-activator-'));
  readonly path = join(this.dir, 'endpoints.json');

  /** Writes the revision (defaults overridden by `revision`) atomically: write, then rename, as the local platform does. */
  write(revision: Record<string, unknown>): void {
    this.writeRevisions([revision]);
  }

  /** Writes several revisions, each the test revision's defaults overridden (give each its own `name`). */
  writeRevisions(revisions: readonly Record<string, unknown>[]): void {
    const base = {
      namespace: 'default',
      name: 'hello-00001',
      containerConcurrency: 0,
      timeoutSeconds: 300,
      endpoints: [],
    };
    this.writeRaw(JSON.stringify({ revisions: revisions.map((r) => ({ ...base, ...r })) }));
  }

  /** Writes any text, malformed included. */
  writeRaw(text: string): void {
    writeFileSync(`${this.path}.tmp`, text);
    renameSync(`${this.path}.tmp`, this.path);
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A Pod: the test user app behind a queue-proxy. */
export interface Pod {
  readonly app: UserApp;
  readonly qp: RunningQueueProxy;
  /** The queue-proxy's `host:port`, as endpoints list it. */
  readonly address: string;
  readonly port: number;
}

/** Starts a Pod with the given containerConcurrency (its processes end with the test). */
export async function startPod(cc = 0): Promise<Pod> {
  const app = await startUserApp();
  const qp = await startQueueProxy(queueProxyEnv(app.port, { CONTAINER_CONCURRENCY: String(cc) }));
  return { app, qp, address: `127.0.0.1:${qp.port}`, port: qp.port };
}

/** Reads one per-revision gauge of the activator's metrics (0 when the revision has no sample). */
async function revisionGauge(activator: RunningActivator, metric: string, revision: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${activator.metricsPort}/metrics`)).text();
  for (const line of text.split('\n')) {
    if (line.startsWith(`${metric}{`) && line.includes(`kn_revision_name="${revision}"`)) {
      return Number(line.slice(line.lastIndexOf(' ') + 1));
    }
  }
  return 0;
}

/** Requests the activator holds now for `revision`, waiting for room on a Pod (`kn_revision_request_queued`). */
export function heldRequests(activator: RunningActivator, revision = 'hello-00001'): Promise<number> {
  return revisionGauge(activator, 'kn_revision_request_queued', revision);
}

/** Watches a promise without consuming its outcome: the result tells whether it has settled yet. */
export function settledFlag(promise: Promise<unknown>): () => boolean {
  let settled = false;
  const mark = () => {
    settled = true;
  };
  promise.then(mark, mark);
  return () => settled;
}

/**
 * A fake autoscaler and an activator reading `endpoints` (with `env` over the test defaults), once the
 * activator has connected to the autoscaler.
 */
export async function activatorWithAutoscaler(
  endpoints: EndpointsFile,
  env: Record<string, string> = {},
): Promise<{ autoscaler: FakeAutoscaler; activator: RunningActivator }> {
  const autoscaler = await FakeAutoscaler.start();
  const activator = await startActivator(activatorEnv(endpoints.path, autoscaler.url, env));
  await eventually(() => autoscaler.clients === 1);
  return { autoscaler, activator };
}
