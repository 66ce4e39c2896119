import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  activatorWithAutoscaler,
  EndpointsFile,
  heldRequests,
  REVISION,
  revisionHeaders,
  settledFlag,
  startPod,
} from './support/activator-fixture.js';
import { FakeAutoscaler } from './support/fake-autoscaler.js';
import { eventually, KUBELET_PROBE, send } from './support/http.js';
import { activatorEnv, type RunningActivator, startActivator } from './support/processes.js';

let endpoints: EndpointsFile;
let autoscaler: FakeAutoscaler | undefined;
let activator: RunningActivator | undefined;

beforeEach(() => {
  endpoints = new EndpointsFile();
});

afterEach(async () => {
  await activator?.proc.kill();
  await autoscaler?.close();
  activator = autoscaler = undefined;
  endpoints.remove();
});

async function start(revision: Record<string, unknown>, env: Record<string, string> = {}) {
  endpoints.write(revision);
  ({ autoscaler, activator } = await activatorWithAutoscaler(endpoints, env));
  return activator;
}

describe('activator probes and routing (docs/activator.md §6.1, §3.2)', () => {
  it('fails the kubelet probe (500, Zerogate-Error: activator) until the autoscaler connection is established', async () => {
    endpoints.write({});
    // Reserve a port for the autoscaler, then start it only after the activator.
    const placeholder = await FakeAutoscaler.start();
    const url = placeholder.url;
    await placeholder.close();
    activator = await startActivator(activatorEnv(endpoints.path, url));
    const before = await send(`${activator.url}/`, { headers: { 'user-agent': 'kube-probe/1.30' } });
    expect(before.status).toBe(500);
    expect(before.body).toBe('connection has not yet been established\n');
    expect(before.headers['zerogate-error']).toBe('activator; autoscaler-not-connected');
    autoscaler = await FakeAutoscaler.start(Number(new URL(url).port));
    expect(
      await eventually(
        async () => (await send(`${activator!.url}/`, { headers: KUBELET_PROBE })).status === 200,
        8000,
      ),
    ).toBe(true);
  });

  it('answers K-Network-Probe: activator, echoes probe hashes, rejects other values', async () => {
    const a = await start({});
    const ok = await send(`${a.url}/healthz`, {
      headers: { 'k-network-probe': 'activator', 'user-agent': 'Knative-Autoscaling-Probe' },
    });
    expect(ok.status).toBe(200);
    expect(ok.body).toBe('activator');
    const hash = await send(`${a.url}/`, {
      headers: { 'k-network-probe': 'probe', 'k-network-hash': 'abc' },
    });
    expect(hash.status).toBe(200);
    expect(hash.headers['k-network-hash']).toBe('abc');
    expect((await send(`${a.url}/`, { headers: { 'k-network-probe': 'probe' } })).status).toBe(400);
    const bad = await send(`${a.url}/`, { headers: { 'k-network-probe': 'queue' } });
    expect(bad.status).toBe(400);
    expect(bad.body).toBe('unexpected probe header value: "queue"\n');
  });

  it('answers 404 for an unknown revision, and finds revisions by headers or by Host', async () => {
    const pod = await startPod(0);
    const a = await start({ endpoints: [{ address: pod.address, ready: true }] });
    const unknown = await send(`${a.url}/`, {
      headers: { 'knative-serving-revision': 'nope', 'knative-serving-namespace': 'default' },
    });
    expect(unknown.status).toBe(404);
    expect((await send(`${a.url}/`, { headers: { host: 'nope.default.svc.cluster.local' } })).status).toBe(
      404,
    );
    expect((await send(`${a.url}/`, { headers: REVISION })).status).toBe(200);
    expect(
      (await send(`${a.url}/`, { headers: { host: 'hello-00001.default.svc.cluster.local' } })).status,
    ).toBe(200);
    expect((await send(`${a.url}/`, { headers: { host: 'hello-00001.default.svc:80' } })).status).toBe(200);
    // Knative's second port (8013, for h2c revisions) serves the same.
    expect((await send(`http://127.0.0.1:${a.h2cPort}/`, { headers: REVISION })).status).toBe(200);
  });

  it('marks proxied requests and moves Host to K-Original-Host (docs/wire.md §2.2)', async () => {
    const pod = await startPod(0);
    const a = await start({ endpoints: [{ address: pod.address, ready: true }] });
    const res = await send(`${a.url}/echo`, {
      headers: { ...REVISION, host: 'hello.default.example.com', 'x-forwarded-for': '1.2.3.4' },
    });
    expect(res.status).toBe(200);
    const seen = JSON.parse(res.body) as { headers: Record<string, string> };
    // The queue-proxy restored Host from K-Original-Host; the activator's mark reached the app.
    expect(seen.headers.host).toBe('hello.default.example.com');
    expect(seen.headers['k-proxy-request']).toBe('activator');
    expect(seen.headers['knative-serving-revision']).toBeUndefined();
    expect(seen.headers['x-forwarded-for']).toBe('1.2.3.4, 127.0.0.1, 127.0.0.1');
  });

  it('relays plain HTTP/1.1 itself (no node:http Keep-Alive header), and through node:http when turned off', async () => {
    const pod = await startPod(0);
    for (const relay of ['true', 'false']) {
      const a = await start(
        { endpoints: [{ address: pod.address, ready: true }] },
        { ACTIVATOR_HTTP1_RELAY: relay },
      );
      const res = await send(`${a.url}/echo`, { headers: REVISION });
      expect(res.status).toBe(200);
      expect((JSON.parse(res.body) as { headers: Record<string, string> }).headers['k-proxy-request']).toBe(
        'activator',
      );
      expect(res.headers['keep-alive'], `ACTIVATOR_HTTP1_RELAY=${relay}`).toBe(
        relay === 'true' ? undefined : 'timeout=95',
      );
      await a.proc.kill();
      await autoscaler?.close();
    }
    activator = autoscaler = undefined;
  });
});

describe('activator at zero (docs/wire.md §4.2, docs/activator.md §4.2)', () => {
  it('pokes the autoscaler on arrival, ahead of its first periodic report, holds the request, and forwards it once a Pod is ready', async () => {
    const a = await start({});
    const pending = send(`${a.url}/`, { headers: REVISION });
    const settled = settledFlag(pending);
    expect(await eventually(() => autoscaler!.received.length > 0, 5000)).toBe(true);
    const poke = autoscaler!.received[0]!;
    expect(poke.binary).toBe(true);
    expect(poke.messages).toHaveLength(1);
    expect(poke.messages[0]).toMatchObject({ namespace: 'default', name: 'hello-00001' });
    expect(poke.messages[0]!.stat).toMatchObject({
      podName: 'activator-test',
      averageConcurrentRequests: 1,
      requestCount: 1,
    });
    // The first periodic report follows while the request is still held, and takes the poke off: it
    // shows neither the request nor its concurrency again. Without a poke ahead of it, it would carry
    // the request (count 1) and its concurrency.
    expect(await eventually(() => autoscaler!.received.length >= 2, 5000)).toBe(true);
    expect(settled()).toBe(false);
    expect(await heldRequests(a)).toBe(1);
    const report = autoscaler!.received[1]!;
    expect(report.binary).toBe(true);
    expect(report.messages).toHaveLength(1);
    expect(report.messages[0]).toMatchObject({ namespace: 'default', name: 'hello-00001' });
    expect(report.messages[0]!.stat).toMatchObject({
      podName: 'activator-test',
      averageConcurrentRequests: 0,
      requestCount: 0,
    });
    // A Pod appears, not ready in Kubernetes' eyes: the activator probes its queue-proxy itself.
    const pod = await startPod(0);
    endpoints.write({ endpoints: [{ address: pod.address, ready: false }] });
    const res = await pending;
    expect(res.status).toBe(200);
    expect(res.body).toBe('hello');
    expect((await pod.app.stats()).total).toBe(1);
  });

  it('answers 504 `activator request timeout` when no Pod comes in time', async () => {
    const a = await start({ timeoutSeconds: 1 });
    const t0 = Date.now();
    const res = await send(`${a.url}/`, { headers: REVISION });
    expect(res.status).toBe(504);
    expect(res.body).toBe('activator request timeout');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(950);
  });

  it('bounds held requests: past the cap, 503 with Retry-After; a client that leaves frees its place', async () => {
    const a = await start({}, { ACTIVATOR_MAX_HELD_REQUESTS: '2' });
    const controllers = [new AbortController(), new AbortController()];
    const held = controllers.map((c) =>
      send(`${a.url}/`, { headers: REVISION, signal: c.signal }).catch(() => undefined),
    );
    expect(await eventually(async () => (await heldRequests(a)) === 2)).toBe(true);
    const refused = await send(`${a.url}/`, { headers: REVISION });
    expect(refused.status).toBe(503);
    expect(refused.headers['retry-after']).toBe('1');
    expect(refused.body).toMatch(/activator/);
    controllers[0]!.abort();
    await held[0];
    expect(await eventually(async () => (await heldRequests(a)) === 1)).toBe(true);
    // The freed place takes a new request.
    const again = send(`${a.url}/`, { headers: REVISION, signal: controllers[1]!.signal }).catch(
      () => undefined,
    );
    expect(await eventually(async () => (await heldRequests(a)) === 2)).toBe(true);
    controllers[1]!.abort();
    await Promise.all([held[1], again]);
  });

  it('bounds held request-body bytes process-wide: a body held for one revision counts against another', async () => {
    endpoints.writeRevisions([{ name: 'hello-00001' }, { name: 'hello-00002' }]);
    autoscaler = await FakeAutoscaler.start();
    const a = await startActivator(
      activatorEnv(endpoints.path, autoscaler.url, { ACTIVATOR_MAX_HELD_BYTES: '20000' }),
    );
    activator = a;
    const other = revisionHeaders('hello-00002');
    const c = new AbortController();
    const first = send(`${a.url}/upload`, {
      method: 'POST',
      headers: REVISION,
      body: 'x'.repeat(16_000),
      signal: c.signal,
    }).catch(() => undefined);
    expect(await eventually(async () => (await heldRequests(a)) === 1)).toBe(true);
    // The other revision holds nothing, yet its body does not fit beside the first revision's.
    const second = await send(`${a.url}/upload`, {
      method: 'POST',
      headers: other,
      body: 'y'.repeat(16_000),
    });
    expect(second.status).toBe(503);
    expect(second.headers['retry-after']).toBe('1');
    expect(await heldRequests(a, 'hello-00002')).toBe(0);
    // What is left of the budget still takes a smaller body, and requests without a body still fit.
    const small = send(`${a.url}/upload`, {
      method: 'POST',
      headers: other,
      body: 'z'.repeat(3000),
      signal: c.signal,
    }).catch(() => undefined);
    const noBody = send(`${a.url}/`, { headers: other, signal: c.signal }).catch(() => undefined);
    expect(await eventually(async () => (await heldRequests(a, 'hello-00002')) === 2)).toBe(true);
    c.abort();
    await Promise.all([first, small, noBody]);
    // Once the first revision's body is gone, the other revision's large body fits.
    expect(
      await eventually(async () => (await heldRequests(a)) + (await heldRequests(a, 'hello-00002')) === 0),
    ).toBe(true);
    const later = new AbortController();
    const fits = send(`${a.url}/upload`, {
      method: 'POST',
      headers: other,
      body: 'y'.repeat(16_000),
      signal: later.signal,
    }).catch(() => undefined);
    expect(await eventually(async () => (await heldRequests(a, 'hello-00002')) === 1)).toBe(true);
    later.abort();
    await fits;
  });
});

describe('activator capacity (docs/activator.md §3.3, §3.5)', () => {
  it('with CC=1 and 2 Pods, never sends a Pod more than one request at once, and all 10 succeed', async () => {
    const [p1, p2] = [await startPod(1), await startPod(1)];
    const a = await start({
      containerConcurrency: 1,
      endpoints: [
        { address: p1!.address, ready: true },
        { address: p2!.address, ready: true },
      ],
    });
    const results = await Promise.all(
      Array.from({ length: 10 }, () => send(`${a.url}/delay?ms=100`, { headers: REVISION })),
    );
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
    const [s1, s2] = await Promise.all([p1!.app.stats(), p2!.app.stats()]);
    expect(s1.max).toBe(1);
    expect(s2.max).toBe(1);
    expect(s1.total + s2.total).toBe(10);
    expect(s1.total).toBeGreaterThan(0);
    expect(s2.total).toBeGreaterThan(0);
  });

  it('retries a request that never reached a Pod on another one', async () => {
    const good = await startPod(0);
    const dead = await startPod(0);
    await dead.qp.proc.kill();
    const a = await start({
      endpoints: [
        { address: dead.address, ready: true },
        { address: good.address, ready: true },
      ],
    });
    const results = await Promise.all(
      Array.from({ length: 6 }, () => send(`${a.url}/`, { headers: REVISION })),
    );
    expect(results.map((r) => r.status)).toEqual(Array(6).fill(200));
  });
});
