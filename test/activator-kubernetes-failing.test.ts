/**
 * The built activator on the `kubernetes` endpoint source against a test API server, as
 * docs/activator.md §10 says: a request held at zero is refused 503 naming the reason as soon as the
 * revision's Pod shows a crash loop, held again once a Pod starts, and a browser gets the waiting page of
 * a Revision annotated `zerogate.dev/waiting-page`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { heldRequests, kubernetesActivatorEnv, REVISION } from './support/activator-fixture.js';
import { FakeAutoscaler } from './support/fake-autoscaler.js';
import { eventually, send } from './support/http.js';
import { knativeRevision } from './support/knative-objects.js';
import { type RunningActivator, startActivator } from './support/processes.js';
import { TestApiServer } from './support/test-apiserver.js';

let dir: string | undefined;
let api: TestApiServer | undefined;
let autoscaler: FakeAutoscaler | undefined;
let activator: RunningActivator | undefined;

afterEach(async () => {
  await activator?.proc.kill();
  await autoscaler?.close();
  await api?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
  activator = autoscaler = api = dir = undefined;
});

/** A Pod of hello-00001 with the given status. */
function pod(status: unknown) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'hello-00001-deployment-abc',
      namespace: 'default',
      labels: { 'serving.knative.dev/revision': 'hello-00001' },
    },
    spec: { containers: [{ name: 'user-container', image: 'app' }] },
    status,
  };
}

const CRASH_LOOP = {
  phase: 'Running',
  containerStatuses: [
    {
      name: 'user-container',
      restartCount: 3,
      ready: false,
      state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container' } },
      lastState: { terminated: { exitCode: 1, reason: 'Error' } },
    },
  ],
};

async function start(annotations?: Record<string, string>): Promise<RunningActivator> {
  api = await TestApiServer.start();
  dir = mkdtempSync(join(tmpdir(), 'zerogate-activator-'));
  const kubeconfig = api.writeKubeConfig(join(dir, 'kubeconfig.json'));
  api.apply(knativeRevision('hello-00001', { timeoutSeconds: 300 }, annotations ? { annotations } : {}));
  autoscaler = await FakeAutoscaler.start();
  activator = await startActivator(kubernetesActivatorEnv(autoscaler.url, kubeconfig));
  return activator;
}

describe('activator on the kubernetes source: failing revisions and the waiting page', () => {
  it('refuses a held request as soon as the Pod crash-loops, naming why, and holds again once it runs', async () => {
    const a = await start();
    const held = send(`${a.url}/`, { headers: REVISION });
    await eventually(async () => (await heldRequests(a)) === 1, 10_000);

    api!.apply(pod(CRASH_LOOP));
    const refused = await held;
    expect(refused.status).toBe(503);
    expect(refused.body).toBe(
      'revision hello-00001 failing: user-container exited with code 1 (3 restarts): CrashLoopBackOff\n',
    );
    expect(refused.headers['zerogate-error']).toBe('activator; revision-failing');

    // The container runs again after its back-off: requests are held for it.
    api!.apply(
      pod({
        phase: 'Running',
        containerStatuses: [
          { name: 'user-container', restartCount: 4, ready: false, state: { running: {} } },
        ],
      }),
    );
    const isHeld = async () =>
      (await send(`${a.url}/`, { headers: REVISION, signal: AbortSignal.timeout(1000) }).catch(
        () => 'held',
      )) === 'held';
    expect(await eventually(isHeld, 10_000)).toBe(true);
  });

  it('answers a browser with the waiting page of a Revision annotated zerogate.dev/waiting-page', async () => {
    const a = await start({ 'zerogate.dev/waiting-page': 'true' });
    const browser = () => send(`${a.url}/`, { headers: { ...REVISION, accept: 'text/html' } });
    // Until the activator has listed the Revision, it is unknown (404).
    await eventually(async () => (await browser()).status !== 404, 10_000);
    const page = await browser();
    expect(page.status).toBe(503);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.body).toContain('<title>Starting hello-00001…</title>');
  });
});
