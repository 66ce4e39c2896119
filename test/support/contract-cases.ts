/**
 * The queue-proxy's contract as one table of behavioural cases (docs/queue-proxy.md), run against every
 * way Zerogate carries it: the queue-proxy sidecar in front of the test app, and the in-process mode
 * inside the example app (`test/in-process.test.ts`). A case sees only a {@link ContractTarget}: what it
 * checks is the same on the wire whichever carries it.
 */
import { decodeStat, ERRORS } from '@zerogate/core';
import { expect } from 'vitest';
import { eventually, KUBELET_PROBE, send } from './http.js';
import { queueProxyEnv, spawnNode, startQueueProxy, startUserApp, type TestProcess } from './processes.js';

/** A started carrier of the contract: where requests go and the ports of its side listeners. */
export interface RunningTarget {
  readonly url: string;
  readonly adminPort: number;
  readonly statsPort: number;
  readonly metricsPort: number | undefined;
  /** The process that gets SIGTERM when the Pod stops (the queue-proxy, or the app itself). */
  readonly proc: TestProcess;
}

/** A way to carry the contract, started with Knative's queue-proxy variables plus `overrides`. */
export interface ContractTarget {
  readonly name: string;
  start(overrides: Record<string, string>): Promise<RunningTarget>;
}

/** One behaviour of the contract. */
export interface ContractCase {
  readonly name: string;
  run(target: ContractTarget): Promise<void>;
}

/** The built queue-proxy in front of `test/support/user-app.mjs`. */
export const QUEUE_PROXY_TARGET: ContractTarget = {
  name: 'queue-proxy sidecar',
  async start(overrides) {
    const app = await startUserApp();
    const qp = await startQueueProxy(queueProxyEnv(app.port, overrides));
    return {
      url: qp.url,
      adminPort: qp.adminPort,
      statsPort: qp.statsPort,
      metricsPort: qp.metricsPort,
      proc: qp.proc,
    };
  },
};

/** `examples/hello-in-process/server.mjs`, given the variables Knative gives the queue-proxy. */
export const IN_PROCESS_TARGET: ContractTarget = {
  name: 'in-process example app',
  async start(overrides) {
    // USER_PORT and the readiness probe are the sidecar's alone: the in-process mode ignores them.
    const env = { ...queueProxyEnv(1, overrides), PORT: '0', HOST: '127.0.0.1' };
    const proc = spawnNode('examples/hello-in-process/server.mjs', env);
    // An app, not a component: it says `listening`, as every example app does.
    const line = await proc.waitForLine((l) => l.includes('"msg":"listening"'));
    const { ports } = JSON.parse(line) as {
      ports: { serving: number; admin: number; stats: number; metrics?: number };
    };
    return {
      url: `http://127.0.0.1:${ports.serving}`,
      adminPort: ports.admin,
      statsPort: ports.stats,
      metricsPort: ports.metrics,
      proc,
    };
  },
};

/** Turns on the Prometheus request metrics, whose `kn_serving_queue_depth` the cases wait on. */
const REQUEST_METRICS = { OBSERVABILITY_CONFIG: '{"requestMetrics":{"protocol":"prometheus"}}' };

/** Clock granularity allowed when checking that a timeout fired no earlier than its deadline. */
const GRANULARITY_MS = 20;

/** The breaker's admitted requests (running plus waiting), from the `kn_serving_queue_depth` gauge. */
async function queueDepth(target: RunningTarget): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${target.metricsPort}/metrics`)).text();
  const match = /kn_serving_queue_depth\{[^}]*\} (\d+)\n/.exec(text);
  return match ? Number(match[1]) : Number.NaN;
}

/** Waits until the breaker holds `n` requests (generous: the machine may be busy). */
async function depthReaches(target: RunningTarget, n: number): Promise<void> {
  expect(await eventually(async () => (await queueDepth(target)) === n, 15_000)).toBe(true);
}

async function scrapeStat(target: RunningTarget) {
  const res = await fetch(`http://127.0.0.1:${target.statsPort}/metrics`);
  expect(res.status).toBe(200);
  return decodeStat(new Uint8Array(await res.arrayBuffer()));
}

/** The second `Stat` published from now on: its whole window began after this call. */
async function nextWindow(target: RunningTarget) {
  let stat = await scrapeStat(target);
  for (let fresh = 0; fresh < 2; fresh++) {
    const seen = stat.processUptime;
    expect(
      await eventually(async () => {
        stat = await scrapeStat(target);
        return stat.processUptime !== seen;
      }),
    ).toBe(true);
  }
  return stat;
}

/** The queue-proxy's behavioural contract, each case checked on the wire. */
export const CONTRACT_CASES: readonly ContractCase[] = [
  {
    name: 'CC=1 runs one request at a time; the next waits and runs after it (docs/queue-proxy.md §3.2)',
    async run(target) {
      const t = await target.start({ CONTAINER_CONCURRENCY: '1', ...REQUEST_METRICS });
      let firstDone = 0;
      let secondDone = 0;
      const first = send(`${t.url}/delay?ms=1500`).then((r) => {
        firstDone = performance.now();
        return r;
      });
      await depthReaches(t, 1);
      const second = send(`${t.url}/delay?ms=500`).then((r) => {
        secondDone = performance.now();
        return r;
      });
      await depthReaches(t, 2);
      expect((await first).status).toBe(200);
      expect((await second).status).toBe(200);
      // Without the breaker the 0.5 s request would have finished long before the 1.5 s one; with it, it
      // runs only once the first has ended, so it ends 0.5 s after it.
      expect(secondDone).toBeGreaterThan(firstDone);
      await depthReaches(t, 0);
      // The request metrics under the same names (docs/queue-proxy.md §8.2): both requests, by status.
      const text = await (await fetch(`http://127.0.0.1:${t.metricsPort}/metrics`)).text();
      expect(text).toMatch(
        /kn_serving_invocation_duration_seconds_count\{[^}]*http_response_status_code="200"[^}]*\} 2\n/,
      );
      expect(text).toMatch(/kn_revision_name="hello-00001"/);
    },
  },
  {
    name: 'CC=2: the request arriving when 11×CC are admitted gets 503 pending request queue full (docs/queue-proxy.md §3.2)',
    async run(target) {
      const t = await target.start({ CONTAINER_CONCURRENCY: '2', ...REQUEST_METRICS });
      const held = [send(`${t.url}/delay?ms=6000`), send(`${t.url}/delay?ms=6000`)];
      await depthReaches(t, 2);
      for (let i = 0; i < 20; i++) held.push(send(`${t.url}/delay?ms=1`));
      await depthReaches(t, 22);
      const refused = await send(`${t.url}/`);
      expect(refused.status).toBe(503);
      expect(refused.body).toBe(ERRORS.QUEUE_FULL.body);
      for (const res of await Promise.all(held)) expect(res.status).toBe(200);
    },
  },
  {
    name: 'the response-start timeout answers 504 request timeout (docs/queue-proxy.md §5)',
    async run(target) {
      const t = await target.start({ REVISION_RESPONSE_START_TIMEOUT_SECONDS: '1' });
      const t0 = Date.now();
      const res = await send(`${t.url}/delay?ms=4000`);
      expect(res.status).toBe(504);
      expect(res.body).toBe('request timeout');
      expect(Date.now() - t0).toBeGreaterThanOrEqual(1000 - GRANULARITY_MS);
      expect((await send(`${t.url}/`)).status).toBe(200);
    },
  },
  {
    name: 'the revision timeout answers 504 request timeout (docs/queue-proxy.md §5)',
    async run(target) {
      const t = await target.start({ REVISION_TIMEOUT_SECONDS: '1' });
      const t0 = Date.now();
      const res = await send(`${t.url}/delay?ms=4000`);
      expect(res.status).toBe(504);
      expect(res.body).toBe('request timeout');
      expect(Date.now() - t0).toBeGreaterThanOrEqual(1000 - GRANULARITY_MS);
      expect((await send(`${t.url}/`)).status).toBe(200);
    },
  },
  {
    name: 'the kubelet, activator and network probes are answered as docs/queue-proxy.md §4 says, on any path',
    async run(target) {
      const t = await target.start({});
      const kubelet = await send(`${t.url}/any/path`, { headers: KUBELET_PROBE });
      expect([kubelet.status, kubelet.body]).toEqual([200, 'queue']);
      const activator = await send(`${t.url}/`, {
        headers: { 'user-agent': 'Knative-Activator-Probe', 'k-network-probe': 'queue' },
      });
      expect([activator.status, activator.body]).toEqual([200, 'queue']);
      const noHeader = await send(`${t.url}/`, { headers: { 'user-agent': 'kube-probe/1.30' } });
      expect([noHeader.status, noHeader.body]).toEqual([400, 'unexpected probe header value: \n']);
      const network = await send(`${t.url}/x`, {
        headers: { 'k-network-probe': 'probe', 'k-network-hash': 'h1' },
      });
      expect(network.status).toBe(200);
      expect(network.headers['k-network-hash']).toBe('h1');
      const noHash = await send(`${t.url}/`, { headers: { 'k-network-probe': 'probe' } });
      expect([noHash.status, noHash.body]).toEqual([400, ERRORS.PROBE_HASH_MISSING.body]);
    },
  },
  {
    name: 'the Stat on the stats port averages the requests in flight over 1 s windows, proxied apart (docs/queue-proxy.md §8.1)',
    async run(target) {
      const t = await target.start({ CONTAINER_CONCURRENCY: '10', ...REQUEST_METRICS });
      const inFlight = [
        send(`${t.url}/delay?ms=6000`),
        send(`${t.url}/delay?ms=6000`, { headers: { 'k-proxy-request': 'activator' } }),
      ];
      await depthReaches(t, 2);
      const stat = await nextWindow(t);
      expect(stat.podName).toBe('hello-00001-deployment-abc');
      expect(stat.averageConcurrentRequests).toBeCloseTo(2, 5);
      expect(stat.averageProxiedConcurrentRequests).toBeCloseTo(1, 5);
      expect(stat.requestCount).toBe(0);
      expect(stat.processUptime).toBeGreaterThan(0);
      const elsewhere = await send(`http://127.0.0.1:${t.statsPort}/other`);
      expect([elsewhere.status, elsewhere.body]).toEqual([404, ERRORS.NOT_FOUND.body]);
      for (const res of await Promise.all(inFlight)) expect(res.status).toBe(200);
    },
  },
  {
    name: 'on SIGTERM probes fail at once, requests are still served until quiet, then it exits 0 (docs/queue-proxy.md §7.1)',
    async run(target) {
      const t = await target.start({
        QUEUE_DRAIN_QUIET_SECONDS: '1',
        CONTAINER_CONCURRENCY: '10',
        ...REQUEST_METRICS,
      });
      const inFlight = send(`${t.url}/delay?ms=1500`);
      await depthReaches(t, 1);
      t.proc.signal('SIGTERM');
      expect(
        await eventually(async () => {
          const probe = await send(`${t.url}/`, { headers: KUBELET_PROBE });
          return probe.status === 503 && probe.body === ERRORS.SHUTTING_DOWN.body;
        }, 10_000),
      ).toBe(true);
      expect((await send(`${t.url}/?during-drain`)).status).toBe(200);
      expect((await inFlight).status).toBe(200);
      expect(await t.proc.exit()).toBe(0);
    },
  },
  {
    name: '/wait-for-drain on the admin port answers 200 once no request came for the quiet period (docs/queue-proxy.md §7.2)',
    async run(target) {
      const t = await target.start({ QUEUE_DRAIN_QUIET_SECONDS: '1' });
      const t0 = Date.now();
      const res = await fetch(`http://127.0.0.1:${t.adminPort}/wait-for-drain`);
      expect(res.status).toBe(200);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(1000 - GRANULARITY_MS);
    },
  },
];
