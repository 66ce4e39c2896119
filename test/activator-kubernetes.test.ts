/**
 * The built activator on the `kubernetes` endpoint source where its service account may read Endpoints
 * but not EndpointSlices, as under Knative's own activator role.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { kubernetesActivatorEnv, REVISION, startPod } from './support/activator-fixture.js';
import { FakeAutoscaler } from './support/fake-autoscaler.js';
import { eventually, send } from './support/http.js';
import { knativeRevision, privateEndpoints } from './support/knative-objects.js';
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

describe('activator where EndpointSlices are forbidden', () => {
  it('warns once, learns the ready Pod from Endpoints and forwards, without asking for EndpointSlices again', async () => {
    api = await TestApiServer.start({ authorize: (r) => !r.path.includes('/endpointslices') });
    dir = mkdtempSync(join(tmpdir(), 'zerogate-activator-'));
    const kubeconfig = api.writeKubeConfig(join(dir, 'kubeconfig.json'));
    const pod = await startPod(1);
    // Without the Pod, a request would wait this long and end in 504.
    api.apply(knativeRevision('hello-00001', { containerConcurrency: 1, timeoutSeconds: 5 }));
    api.apply(privateEndpoints('hello-00001', [pod.port]));
    autoscaler = await FakeAutoscaler.start();
    activator = await startActivator(kubernetesActivatorEnv(autoscaler.url, kubeconfig));

    const res = await send(`${activator.url}/`, { headers: REVISION });
    expect(res.status).toBe(200);
    expect(res.body).toBe('hello');

    // Still running on Endpoints: a second Pod appears there and is used.
    const second = await startPod(1);
    api.apply(privateEndpoints('hello-00001', [pod.port, second.port]));
    // Two at once need both Pods (containerConcurrency 1 each): the second one is used once known.
    const usesSecond = async () => {
      const pair = await Promise.all([
        send(`${activator!.url}/delay?ms=200`, { headers: REVISION }),
        send(`${activator!.url}/delay?ms=200`, { headers: REVISION }),
      ]);
      expect(pair.map((r) => r.status)).toEqual([200, 200]);
      return (await second.app.stats()).total > 0;
    };
    expect(await eventually(usesSecond)).toBe(true);

    const slices = api.requests.filter((r) => r.path.includes('/endpointslices'));
    expect(slices.map((r) => `${r.verb} ${r.path}`)).toEqual([
      'list /apis/discovery.k8s.io/v1/endpointslices',
      'list /apis/discovery.k8s.io/v1/endpointslices',
    ]);
    const warnings = activator.proc.logs().filter((l) => l['level'] === 'warn' || l['level'] === 'error');
    expect(warnings).toEqual([
      expect.objectContaining({
        msg: expect.stringMatching(
          /^listing EndpointSlices is forbidden \(403\); falling back to core\/v1 Endpoints\. Grant .*list and watch on endpointslices/,
        ),
        forbidden: 'list discovery.k8s.io/v1 endpointslices in every namespace',
      }),
    ]);
  });
});
