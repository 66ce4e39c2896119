import { afterEach, describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { EndpointsFile, REVISION, startPod } from './support/activator-fixture.js';
import { FakeAutoscaler } from './support/fake-autoscaler.js';
import {
  activatorEnv,
  queueProxyEnv,
  startActivator,
  startQueueProxy,
  startUserApp,
  type TestProcess,
} from './support/processes.js';
import { closed, echo, openSocket } from './support/websocket.js';

/** The grace the tests configure (the default is 60 s), in seconds. */
const GRACE_SECONDS = 3;

let endpoints: EndpointsFile | undefined;
let autoscaler: FakeAutoscaler | undefined;

afterEach(async () => {
  await autoscaler?.close();
  endpoints?.remove();
  endpoints = autoscaler = undefined;
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A proxy under test, started with the upgrade grace set, and a websocket open through it. */
interface Target {
  readonly proc: TestProcess;
  readonly ws: WebSocket;
}

const targets: Record<string, () => Promise<Target>> = {
  async 'queue-proxy (QUEUE_UPGRADE_GRACE_SECONDS)'() {
    const app = await startUserApp();
    const qp = await startQueueProxy(
      queueProxyEnv(app.port, {
        QUEUE_DRAIN_QUIET_SECONDS: '0',
        QUEUE_UPGRADE_GRACE_SECONDS: String(GRACE_SECONDS),
      }),
    );
    return { proc: qp.proc, ws: await openSocket(`ws://127.0.0.1:${qp.port}/ws`) };
  },
  async 'activator (ACTIVATOR_UPGRADE_GRACE_SECONDS)'() {
    const pod = await startPod();
    endpoints = new EndpointsFile();
    endpoints.write({ endpoints: [{ address: pod.address, ready: true }] });
    autoscaler = await FakeAutoscaler.start();
    const activator = await startActivator(
      activatorEnv(endpoints.path, autoscaler.url, {
        ACTIVATOR_DRAIN_SECONDS: '0',
        ACTIVATOR_UPGRADE_GRACE_SECONDS: String(GRACE_SECONDS),
      }),
    );
    return {
      proc: activator.proc,
      ws: await openSocket(`ws://127.0.0.1:${activator.port}/ws`, REVISION),
    };
  },
};

describe.each(Object.keys(targets))('after SIGTERM, the %s', (name) => {
  it('keeps an open websocket working through the grace, then closes it and exits 0', async () => {
    const { proc, ws } = await targets[name]!();
    expect(await echo(ws, 'before')).toBe('before');
    const closing = closed(ws);
    const signalledAt = Date.now();
    proc.signal('SIGTERM');
    await sleep((GRACE_SECONDS * 1000) / 2);
    expect(await echo(ws, 'during the grace')).toBe('during the grace');
    // Closed by the proxy, never before the grace has run out.
    expect((await closing).at).toBeGreaterThanOrEqual(signalledAt + GRACE_SECONDS * 1000);
    expect(await proc.exit()).toBe(0);
  });

  it('exits as soon as the client closes the websocket within the grace', async () => {
    const { proc, ws } = await targets[name]!();
    const signalledAt = Date.now();
    proc.signal('SIGTERM');
    await sleep(200);
    expect(await echo(ws, 'still open')).toBe('still open');
    ws.close();
    const code = await proc.exit();
    expect(code).toBe(0);
    // The process did not wait out the grace for a socket that was gone.
    expect(Date.now()).toBeLessThan(signalledAt + GRACE_SECONDS * 1000);
  });
});
