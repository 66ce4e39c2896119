import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocket as WsClient } from 'ws';
import { EndpointsFile, kubernetesActivatorEnv, REVISION, startPod } from './support/activator-fixture.js';
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
    const t0 = Date.now();
    const queued = send(`${activator.url}/`, { headers: REVISION });
    await new Promise((r) => setTimeout(r, 300));
    ws.close();
    expect((await queued).status).toBe(200);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(290);
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
    const pod = await startPod();
    endpoints.write({ endpoints: [{ address: pod.address, ready: true }] });
    autoscaler = await FakeAutoscaler.start();
    activator = await startActivator(
      activatorEnv(endpoints.path, autoscaler.url, { ACTIVATOR_DRAIN_SECONDS: '1' }),
    );
    await eventually(
      async () => (await send(`${activator!.url}/`, { headers: KUBELET_PROBE })).status === 200,
    );
    const running = send(`${activator.url}/delay?ms=1500`, { headers: REVISION });
    await new Promise((r) => setTimeout(r, 100));
    activator.proc.signal('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    const probe = await send(`${activator.url}/`, { headers: KUBELET_PROBE });
    expect(probe.status).toBe(500);
    expect(probe.body).toBe('received SIGTERM from kubelet\n');
    // Still serving during the drain.
    expect((await send(`${activator.url}/`, { headers: REVISION })).status).toBe(200);
    expect((await running).status).toBe(200);
    expect(await activator.proc.exit()).toBe(0);
  });
});

describe('activator with the kubernetes endpoint source', () => {
  it('learns the revision and its Pods from the API server and forwards to a Pod before Kubernetes calls it ready', async () => {
    api = await TestApiServer.start();
    const kubeconfig = api.writeKubeConfig(join(endpoints.dir, 'kubeconfig.json'));
    const pod = await startPod(1);
    api.apply(knativeRevision('hello-00001', { containerConcurrency: 1, timeoutSeconds: 30 }));
    autoscaler = await FakeAutoscaler.start();
    activator = await startActivator(kubernetesActivatorEnv(autoscaler.url, kubeconfig));
    const pending = send(`${activator.url}/`, { headers: REVISION });
    await new Promise((r) => setTimeout(r, 200));
    // The revision is known (held, not 404) even before it has endpoints.
    api.apply(privateSlice('hello-00001', [], ['127.0.0.1'], { port: pod.port }));
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.body).toBe('hello');
    // A cut watch resumes: a later change (the Pod becoming ready) is still seen, and requests flow.
    api.cutWatches();
    expect((await send(`${activator.url}/`, { headers: REVISION })).status).toBe(200);
  });
});
