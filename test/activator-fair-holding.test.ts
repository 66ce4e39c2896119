/**
 * Fair holding and paced wake, end to end (docs/activator.md §3.9, §3.10): a real activator process
 * learning revisions from its endpoints file, real queue-proxy and app processes as Pods, real
 * connections on 127.0.0.1.
 */
import { Agent, request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  activatorWithAutoscaler,
  EndpointsFile,
  heldRequests,
  type Pod,
  revisionHeaders,
  startPod,
} from './support/activator-fixture.js';
import type { FakeAutoscaler } from './support/fake-autoscaler.js';
import { eventually } from './support/http.js';
import type { RunningActivator } from './support/processes.js';

let endpoints: EndpointsFile;
let autoscaler: FakeAutoscaler | undefined;
let activator: RunningActivator | undefined;
let client: Agent | undefined;

beforeEach(() => {
  endpoints = new EndpointsFile();
});

afterEach(async () => {
  await client?.destroy();
  await activator?.proc.kill();
  await autoscaler?.close();
  client = activator = autoscaler = undefined;
  endpoints.remove();
});

async function start(revisions: Record<string, unknown>[], env: Record<string, string>) {
  endpoints.writeRevisions(revisions);
  ({ autoscaler, activator } = await activatorWithAutoscaler(endpoints, env));
  // One connection per request, so that every request is held at once.
  client = new Agent({ connections: 10_000, pipelining: 0 });
  return activator;
}

interface Answer {
  readonly status: number;
  /** When the response ended (ms, performance.now()). */
  readonly at: number;
  readonly label: string;
}

/** Sends a GET through the activator; resolves with its status and when it ended. */
async function get(path: string, headers: Record<string, string>, label = ''): Promise<Answer> {
  const res = await request(`${activator!.url}${path}`, {
    dispatcher: client,
    headers,
    headersTimeout: 0,
    bodyTimeout: 0,
  });
  await res.body.text();
  return { status: res.statusCode, at: performance.now(), label };
}

const ready = (pod: Pod) => [{ address: pod.address, ready: true }];

describe('fair holding across revisions (docs/activator.md §3.9)', () => {
  it('holds and answers every request of a revision while another floods the shared cap', async () => {
    const a = revisionHeaders('flooded-00001');
    const b = revisionHeaders('small-00001');
    const act = await start([{ name: 'flooded-00001' }, { name: 'small-00001' }], {
      ACTIVATOR_MAX_HELD_TOTAL: '1000',
      ACTIVATOR_MAX_HELD_REQUESTS: '5000',
    });
    const flood = Array.from({ length: 5000 }, () => get('/', a, 'a'));
    // The cap is reached: 1,000 held, the other 4,000 refused at once.
    await eventually(async () => (await heldRequests(act, 'flooded-00001')) === 1000, 60_000);
    const small = Array.from({ length: 10 }, () => get('/', b, 'b'));
    await eventually(async () => (await heldRequests(act, 'small-00001')) === 10, 30_000);
    expect(await heldRequests(act, 'flooded-00001')).toBe(990);
    const pod = await startPod(0);
    endpoints.writeRevisions([
      { name: 'flooded-00001', endpoints: ready(pod) },
      { name: 'small-00001', endpoints: ready(pod) },
    ]);
    const answered = await Promise.all(small);
    expect(answered.map((r) => r.status)).toEqual(Array(10).fill(200));
    const flooded = await Promise.all(flood);
    const count = (status: number) => flooded.filter((r) => r.status === status).length;
    expect([count(200), count(503)]).toEqual([990, 4010]);
  }, 180_000);
});

describe('fair holding between keys and priorities within a revision (docs/activator.md §3.9)', () => {
  it('gives two tenants at 100:1 load half of the revision’s capacity each', async () => {
    const act = await start(
      [{ name: 'tenants-00001', annotations: { 'zerogate.dev/hold-key-header': 'X-Tenant' } }],
      { ACTIVATOR_MAX_HELD_REQUESTS: '1000' },
    );
    const headers = (tenant: string) => ({ ...revisionHeaders('tenants-00001'), 'x-tenant': tenant });
    const big = Array.from({ length: 100 }, () => get('/delay?ms=20', headers('big'), 'big'));
    await eventually(async () => (await heldRequests(act, 'tenants-00001')) === 100, 30_000);
    const small = Array.from({ length: 10 }, () => get('/delay?ms=20', headers('small'), 'small'));
    await eventually(async () => (await heldRequests(act, 'tenants-00001')) === 110, 30_000);
    // One Pod running one request at a time: the capacity both tenants share.
    const pod = await startPod(1);
    endpoints.writeRevisions([
      {
        name: 'tenants-00001',
        containerConcurrency: 1,
        endpoints: ready(pod),
        annotations: { 'zerogate.dev/hold-key-header': 'X-Tenant' },
      },
    ]);
    const all = (await Promise.all([...big, ...small])).sort((x, y) => x.at - y.at);
    expect(all.every((r) => r.status === 200)).toBe(true);
    // Released in turn while both wait: the small tenant's 10 are done within the first 20, not last.
    const first20 = all.slice(0, 20).map((r) => r.label);
    expect(first20.filter((l) => l === 'small')).toHaveLength(10);
    expect(first20.filter((l) => l === 'big')).toHaveLength(10);
  }, 120_000);

  it('releases higher classes first, and no request waits past the bound behind later arrivals', async () => {
    // A bound far longer than the Pod's start for the order, then a short one for the bound itself.
    const classes = (maxWait: string) => ({
      'zerogate.dev/priority-header': 'X-Priority',
      'zerogate.dev/priority-classes': 'high,low',
      'zerogate.dev/priority-max-wait': maxWait,
    });
    const act = await start([{ name: 'classes-00001', annotations: classes('60s') }], {});
    const headers = (p: string) => ({ ...revisionHeaders('classes-00001'), 'x-priority': p });
    const lows = Array.from({ length: 5 }, (_, i) => get('/delay?ms=100', headers('low'), `low${i}`));
    await eventually(async () => (await heldRequests(act, 'classes-00001')) === 5, 30_000);
    const highs = Array.from({ length: 5 }, (_, i) => get('/delay?ms=100', headers('high'), `high${i}`));
    await eventually(async () => (await heldRequests(act, 'classes-00001')) === 10, 30_000);
    const pod = await startPod(1);
    const revision = (maxWait: string) => ({
      name: 'classes-00001',
      containerConcurrency: 1,
      endpoints: ready(pod),
      annotations: classes(maxWait),
    });
    endpoints.writeRevisions([revision('60s')]);
    const firstFive = (await Promise.all(highs)).map((r) => r.status);
    expect(firstFive).toEqual(Array(5).fill(200));
    // Every high request finished before the first low one.
    const lowDone = await Promise.all(lows);
    const lastHigh = Math.max(...(await Promise.all(highs)).map((r) => r.at));
    expect(Math.min(...lowDone.map((r) => r.at))).toBeGreaterThan(lastHigh);
    // Now the bound: high requests keep arriving every 50 ms while one low waits; it goes within
    // 1.5 s (plus the request running when it came due), not after every later high request.
    endpoints.writeRevisions([revision('1500ms')]);
    await new Promise((r) => setTimeout(r, 1000));
    const lowAged = get('/delay?ms=100', headers('low'), 'aged');
    const stream: Promise<Answer>[] = [];
    const started = performance.now();
    for (let i = 0; i < 60; i++) {
      stream.push(get('/delay?ms=100', headers('high'), `h${i}`));
      await new Promise((r) => setTimeout(r, 50));
    }
    const aged = await lowAged;
    expect(aged.status).toBe(200);
    expect(aged.at - started).toBeLessThan(1500 + 1500);
    const laterHighs = (await Promise.all(stream)).filter((r) => r.at > aged.at);
    expect(laterHighs.length).toBeGreaterThan(10);
  }, 120_000);
});

describe('paced wake (docs/activator.md §3.10)', () => {
  /** p99 of 500 requests held at zero, ms after the Pod was made ready, with slow start `window`. */
  async function heldWake(window: string): Promise<{ p99: number; statuses: number[] }> {
    const annotations = { 'zerogate.dev/slow-start': window };
    const act = await start([{ name: 'cold-00001', annotations }], {});
    const held = Array.from({ length: 500 }, () =>
      get('/crowded?ms=0.2&exp=1.5', revisionHeaders('cold-00001')),
    );
    await eventually(async () => (await heldRequests(act, 'cold-00001')) === 500, 60_000);
    const pod = await startPod(0);
    const woken = performance.now();
    endpoints.writeRevisions([{ name: 'cold-00001', endpoints: ready(pod), annotations }]);
    const answers = await Promise.all(held);
    const after = answers.map((r) => r.at - woken).sort((x, y) => x - y);
    await pod.qp.proc.kill();
    await pod.app.proc.kill();
    return { p99: after[Math.ceil(after.length * 0.99) - 1]!, statuses: answers.map((r) => r.status) };
  }

  it('releases 500 held requests into a cold Pod at a pace it keeps up with: lower p99, nothing dropped', async () => {
    const paced = await heldWake('1s');
    await client?.destroy();
    await activator?.proc.kill();
    await autoscaler?.close();
    const unpaced = await heldWake('0s');
    expect(paced.statuses.every((s) => s === 200)).toBe(true);
    expect(unpaced.statuses.every((s) => s === 200)).toBe(true);
    expect(paced.p99).toBeLessThan(unpaced.p99);
  }, 240_000);
});
