import { Pool } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { EndpointsFile } from './support/activator-fixture.js';
import { FakeAutoscaler } from './support/fake-autoscaler.js';
import { activatorEnv, type RunningActivator, startActivator } from './support/processes.js';

let endpoints: EndpointsFile | undefined;
let autoscaler: FakeAutoscaler | undefined;
let activator: RunningActivator | undefined;
let client: Pool | undefined;

afterEach(async () => {
  await client?.destroy();
  await activator?.proc.kill();
  await autoscaler?.close();
  endpoints?.remove();
  client = activator = autoscaler = endpoints = undefined;
});

const REQUESTS = 5000;
const UNKNOWN = 'request for an unknown revision';

describe('rate-limited request warnings', () => {
  it(`${REQUESTS} unknown-revision requests from one client write a handful of lines, the rest counted`, async () => {
    endpoints = new EndpointsFile();
    endpoints.write({});
    autoscaler = await FakeAutoscaler.start();
    activator = await startActivator(activatorEnv(endpoints.path, autoscaler.url));
    client = new Pool(activator.url, { connections: 8 });
    const headers = { 'knative-serving-revision': 'nope', 'knative-serving-namespace': 'default' };
    let sent = 0;
    const worker = async () => {
      while (sent < REQUESTS) {
        sent++;
        const res = await client!.request({ path: '/', method: 'GET', headers });
        await res.body.text();
        expect(res.statusCode).toBe(404);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    // Each interval (10 s) ends with one line counting what it suppressed.
    const suppressedOf = () =>
      activator!.proc
        .logs()
        .filter((l) => l.message === UNKNOWN)
        .reduce((n, l) => n + (l.suppressed as number), 0);
    const written = () => activator!.proc.logs().filter((l) => l.msg === UNKNOWN).length;
    await expect.poll(() => written() + suppressedOf(), { timeout: 30_000, interval: 100 }).toBe(REQUESTS);
    const lines = activator.proc.logs().filter((l) => l.msg === UNKNOWN || l.message === UNKNOWN);
    // 5 lines and one count per 10 s: a few intervals at most, even on a slow machine.
    expect(lines.length).toBeLessThanOrEqual(12);
    expect(written()).toBeGreaterThanOrEqual(1);
    const summary = lines.find((l) => l.message === UNKNOWN)!;
    expect(summary).toMatchObject({ level: 'warn', intervalSeconds: 10 });
    expect(summary.msg).toBe(`suppressed ${summary.suppressed} similar messages`);
  }, 60_000);
});
