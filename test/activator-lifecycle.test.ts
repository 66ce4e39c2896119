import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket as WsClient } from 'ws';
import {
  EndpointsFile,
  heldRequests,
  kubernetesActivatorEnv,
  REVISION,
  revisionHeaders,
  settledFlag,
  startPod,
} from './support/activator-fixture.js';
import { FakeAutoscaler } from './support/fake-autoscaler.js';
import { eventually, KUBELET_PROBE, send } from './support/http.js';
import { knativeRevision, privateSlice } from './support/knative-objects.js';
import { activatorEnv, type RunningActivator, startActivator } from './support/processes.js';
import { TestApiServer } from './support/test-apiserver.js';

let endpoints: EndpointsFile;
let autoscaler: FakeAutoscaler | undefined;
let activator: RunningActivator | undefined;
let api: TestApiServer | undefined;

const metricsOf = (a: RunningActivator) =>
  fetch(`http://127.0.0.1:${a.metricsPort}/metrics`).then((r) => r.text());

beforeEach(() => {
  endpoints = new EndpointsFile();
});

afterEach(async () => {
  await activator?.proc.kill();
  await autoscaler?.close();
  await api?.close();
  activator = autoscaler = api = undefined;
  endpoints.remove();
});

function openSocket(url: string, headers: Record<string, string>): Promise<WsClient> {
  return new Promise((resolve, reject) => {
    const ws = new WsClient(url, { headers });
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

describe('activator websockets', () => {
  it('tunnels a websocket to a Pod through its queue-proxy, holding the Pod slot until it closes', async () => {
    const pod = await startPod(1);
    endpoints.write({ containerConcurrency: 1, endpoints: [{ address: pod.address, ready: true }] });
    autoscaler = await FakeAutoscaler.start();
    activator = await startActivator(activatorEnv(endpoints.path, autoscaler.url));
    const ws = await openSocket(`ws://127.0.0.1:${activator.port}/ws`, REVISION);
    const echoed = await new Promise<string>((resolve) => {
      ws.once('message', (data) => resolve(String(data)));
      ws.send('through the activator');
    });
    expect(echoed).toBe('through the activator');
    const queued = send(`${activator.url}/`, { headers: REVISION });
    const settled = settledFlag(queued);
    // The tunnel holds the Pod's only slot: the request waits in the activator until it closes.
    expect(await eventually(async () => (await heldRequests(activator!)) === 1)).toBe(true);
    expect(settled()).toBe(false);
    // The app has seen the websocket only.
    expect((await pod.app.stats()).total).toBe(1);
    ws.close();
    expect((await queued).status).toBe(200);
    expect(await heldRequests(activator)).toBe(0);
  });
});

describe('activator without an autoscaler', () => {
  it('still holds and forwards requests, and shows the lost connection in logs and metrics', async () => {
    endpoints.write({});
    const placeholder = await FakeAutoscaler.start();
    const url = placeholder.url;
    await placeholder.close();
    activator = await startActivator(activatorEnv(endpoints.path, url));
    const pending = send(`${activator.url}/`, { headers: REVISION });
    const pod = await startPod();
    endpoints.write({ endpoints: [{ address: pod.address, ready: false }] });
    expect((await pending).status).toBe(200);
    const metrics = await metricsOf(activator);
    expect(metrics).toMatch(/kn_activator_stats_conn_reachable\{[^}]*peer="autoscaler"[^}]*\} 0/);
    expect(metrics).toMatch(/kn_activator_stats_conn_errors_total\{[^}]*\} [1-9]/);
    expect(
      activator.proc.stdout.some((l) => l.includes('Autoscaler connection could not be established')),
    ).toBe(true);
  });
});

describe('activator endpoints file', () => {
  it('logs a malformed file and keeps the last good state', async () => {
    const pod = await startPod();
    endpoints.write({ endpoints: [{ address: pod.address, ready: true }] });
    autoscaler = await FakeAutoscaler.start();
    activator = await startActivator(activatorEnv(endpoints.path, autoscaler.url));
    expect((await send(`${activator.url}/`, { headers: REVISION })).status).toBe(200);
    endpoints.writeRaw('{"revisions": [{"namespace": "default"');
    expect(
      await eventually(
        () => activator!.proc.stdout.some((l) => l.includes('malformed endpoints file')),
        3000,
      ),
    ).toBe(true);
    expect((await send(`${activator.url}/`, { headers: REVISION })).status).toBe(200);
  });
});

describe('activator shutdown', () => {
  it('fails health checks first, finishes held and running requests, then exits', async () => {
    // One revision with a Pod (a request runs on it) and one at zero (a request is held for it).
    const running = await startPod();
    const later = await startPod();
    endpoints.writeRevisions([
      { name: 'hello-00001', endpoints: [{ address: running.address, ready: true }] },
      { name: 'hello-00002', endpoints: [] },
    ]);
    autoscaler = await FakeAutoscaler.start();
    activator = await startActivator(
      activatorEnv(endpoints.path, autoscaler.url, { ACTIVATOR_DRAIN_SECONDS: '2' }),
    );
    const a = activator;
    await eventually(async () => (await send(`${a.url}/`, { headers: KUBELET_PROBE })).status === 200);
    const run = send(`${a.url}/delay?ms=1000`, { headers: REVISION });
    const held = send(`${a.url}/`, { headers: revisionHeaders('hello-00002') });
    const heldSettled = settledFlag(held);
    expect(await eventually(async () => (await running.app.stats()).current === 1)).toBe(true);
    expect(await eventually(async () => (await heldRequests(a, 'hello-00002')) === 1)).toBe(true);
    a.proc.signal('SIGTERM');
    expect(
      await eventually(async () => (await send(`${a.url}/`, { headers: KUBELET_PROBE })).status === 500),
    ).toBe(true);
    const probe = await send(`${a.url}/`, { headers: KUBELET_PROBE });
    expect(probe.body).toBe('received SIGTERM from kubelet\n');
    expect(probe.headers['zerogate-error']).toBe('activator; stopping');
    // Still serving during the drain; the request running at SIGTERM finishes.
    expect((await send(`${a.url}/`, { headers: REVISION })).status).toBe(200);
    expect((await run).status).toBe(200);
    // After the drain the listeners close, but the process stays for the request it still holds.
    expect(
      await eventually(
        () =>
          send(`${a.url}/`, { headers: KUBELET_PROBE }).then(
            () => false,
            () => true,
          ),
        10_000,
      ),
    ).toBe(true);
    expect(heldSettled()).toBe(false);
    expect(await heldRequests(a, 'hello-00002')).toBe(1);
    expect(a.proc.child.exitCode).toBeNull();
    // The held request goes to the revision's first Pod, even this late.
    endpoints.writeRevisions([
      { name: 'hello-00001', endpoints: [{ address: running.address, ready: true }] },
      { name: 'hello-00002', endpoints: [{ address: later.address, ready: true }] },
    ]);
    const res = await held;
    expect(res.status).toBe(200);
    expect(res.body).toBe('hello');
    expect((await later.app.stats()).total).toBe(1);
    expect(await a.proc.exit()).toBe(0);
    expect(a.proc.stdout.some((l) => l.includes('"msg":"stopped"'))).toBe(true);
  });
});

describe('activator with the kubernetes endpoint source', () => {
  it('learns the revision and its Pods from the API server, forwards to a Pod before Kubernetes calls it ready, and follows a Pod change made after its watch is cut', async () => {
    api = await TestApiServer.start();
    const kubeconfig = api.writeKubeConfig(join(endpoints.dir, 'kubeconfig.json'));
    const pod = await startPod(1);
    api.apply(knativeRevision('hello-00001', { containerConcurrency: 1, timeoutSeconds: 30 }));
    autoscaler = await FakeAutoscaler.start();
    activator = await startActivator(kubernetesActivatorEnv(autoscaler.url, kubeconfig));
    const pending = send(`${activator.url}/`, { headers: REVISION });
    // The revision is known (held, not 404) even before it has endpoints.
    expect(await eventually(async () => (await heldRequests(activator!)) === 1, 10_000)).toBe(true);
    api.apply(privateSlice('hello-00001', [], ['127.0.0.1'], { port: pod.port }));
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.body).toBe('hello');
    // A cut watch resumes: a change made after the cut (the revision's Pod replaced by another) is
    // seen, and requests go to the new Pod only.
    const next = await startPod(1);
    api.cutWatches();
    api.apply(privateSlice('hello-00001', ['127.0.0.1'], [], { port: next.port }));
    expect(
      await eventually(async () => {
        expect((await send(`${activator!.url}/`, { headers: REVISION })).status).toBe(200);
        return (await next.app.stats()).total > 0;
      }, 10_000),
    ).toBe(true);
    const before = (await pod.app.stats()).total;
    for (let i = 0; i < 5; i++) {
      expect((await send(`${activator.url}/`, { headers: REVISION })).status).toBe(200);
    }
    expect((await pod.app.stats()).total).toBe(before);
    expect((await next.app.stats()).total).toBeGreaterThanOrEqual(6);
  });
});
