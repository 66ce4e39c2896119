import { Agent, request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EndpointsFile, type Pod, REVISION, startPod } from './support/activator-fixture.js';
import { FakeAutoscaler } from './support/fake-autoscaler.js';
import { eventually, KUBELET_PROBE, send } from './support/http.js';
import { activatorEnv, type RunningActivator, startActivator } from './support/processes.js';

// End-to-end: the built activator reading its endpoints from a file, two real Pods (queue-proxy and app),
// one Pod's process killed under load. The file keeps saying both Pods are ready: only the activator's
// own retry and probing keep requests off the dead one.
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

/** Clients sending GETs through the activator, one request at a time each. */
const WORKERS = 4;
/** Requests the load sends after the kill. */
const REQUESTS_AFTER_KILL = 300;

/** Starts two Pods and an activator that knows both as ready. */
async function twoPods(): Promise<{ pods: [Pod, Pod]; activator: RunningActivator }> {
  const pods: [Pod, Pod] = [await startPod(0), await startPod(0)];
  endpoints.write({ endpoints: pods.map((p) => ({ address: p.address, ready: true })) });
  autoscaler = await FakeAutoscaler.start();
  activator = await startActivator(activatorEnv(endpoints.path, autoscaler.url));
  await eventually(() => autoscaler!.clients === 1);
  return { pods, activator };
}

/** Runs steady load through `a`, calls `kill` once it is steady, and returns the statuses sent after it. */
async function statusesAfter(a: RunningActivator, kill: () => Promise<void>): Promise<number[]> {
  const client = new Agent({ connections: WORKERS });
  const after: number[] = [];
  let killed = false;
  let before = 0;
  let stop = false;
  const worker = async () => {
    while (!stop) {
      const sentAfterKill = killed;
      let status: number;
      try {
        const res = await request(`${a.url}/`, {
          headers: REVISION,
          dispatcher: client,
          headersTimeout: 0,
          bodyTimeout: 0,
        });
        await res.body.text();
        status = res.statusCode;
      } catch {
        status = -1;
        // A request that fails at once must not spin the loop without yielding to I/O.
        await new Promise((resolve) => setImmediate(resolve));
      }
      if (sentAfterKill) after.push(status);
      else before++;
    }
  };
  const load = Promise.all(Array.from({ length: WORKERS }, worker));
  try {
    expect(await eventually(() => before >= 100, 20_000)).toBe(true);
    await kill();
    killed = true;
    expect(await eventually(() => after.length >= REQUESTS_AFTER_KILL, 30_000)).toBe(true);
  } finally {
    stop = true;
    await load;
    await client.close();
  }
  return after;
}

describe('activator: a request that never reached an app goes to another Pod', () => {
  it("answers every request sent after one Pod's app died; that Pod's queue-proxy says the app never got them", async () => {
    const { pods, activator: a } = await twoPods();
    const after = await statusesAfter(a, () => pods[0].app.proc.kill());
    expect(after.filter((s) => s !== 200)).toEqual([]);
    // The dead app's queue-proxy: 503, Retry-After and the marker, and not ready at once.
    const direct = await send(`${pods[0].qp.url}/`);
    expect(direct.status).toBe(503);
    expect(direct.headers['retry-after']).toBe('1');
    expect(direct.headers['k-request-not-sent']).toBe('app-refused');
    const started = Date.now();
    expect((await send(`${pods[0].qp.url}/`, { headers: KUBELET_PROBE })).status).toBe(503);
    expect(Date.now() - started).toBeLessThan(1000);
  }, 90_000);

  it("answers every request sent after one Pod's queue-proxy died: refused at connect, sent to the other", async () => {
    const { pods, activator: a } = await twoPods();
    const after = await statusesAfter(a, () => pods[0].qp.proc.kill());
    expect(after.filter((s) => s !== 200)).toEqual([]);
  }, 90_000);
});
