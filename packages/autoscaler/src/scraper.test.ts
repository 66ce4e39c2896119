import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { emptyStat, encodeStat, type Stat } from '@zerogate/core';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  PodScraper,
  type PodScraperOptions,
  podOrigin,
  populationMeanSampleSize,
  type RevisionScrape,
  UNBOUNDED_SAMPLE_SIZE,
} from './scraper.js';

function stat(podName: string, fields: Partial<Stat>): Stat {
  return { ...emptyStat(podName), ...fields };
}

describe('populationMeanSampleSize', () => {
  it('uses Knative’s constant X = 1.96² × 100 / 5²', () => {
    expect(UNBOUNDED_SAMPLE_SIZE).toBeCloseTo(15.3664, 10);
  });

  it.each([
    [-1, 0],
    [0, 0],
    [1, 1],
    [2, 2],
    [3, 3],
    [4, 4], // ceil(4·15.37/18.37) = ceil(3.35)
    [5, 4], // ceil(5·15.37/19.37) = ceil(3.97)
    [10, 7], // ceil(6.31)
    [100, 14], // ceil(13.32)
    [1000, 16], // ceil(15.13)
  ])('samples %i pods with n = %i', (population, n) => {
    expect(populationMeanSampleSize(population)).toBe(n);
  });

  it('never exceeds the population nor ⌈X⌉', () => {
    for (let n = 0; n < 5000; n++) {
      const s = populationMeanSampleSize(n);
      expect(s).toBeLessThanOrEqual(n);
      expect(s).toBeLessThanOrEqual(16);
    }
  });
});

describe('podOrigin', () => {
  it.each([
    ['10.0.0.1', 'http://10.0.0.1:9090'],
    ['10.0.0.1:8012', 'http://10.0.0.1:8012'],
    ['fd00::1', 'http://[fd00::1]:9090'],
    ['[fd00::1]', 'http://[fd00::1]:9090'],
    ['[fd00::1]:1234', 'http://[fd00::1]:1234'],
  ])('%s → %s', (pod, origin) => {
    expect(podOrigin(pod, 9090)).toBe(origin);
  });
});

describe('PodScraper against real servers', () => {
  const servers: Server[] = [];
  let scraper: PodScraper | undefined;

  afterEach(async () => {
    await scraper?.stop();
    scraper = undefined;
    for (const s of servers.splice(0)) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  });

  async function serve(handler: RequestListener): Promise<string> {
    const server = createServer(handler);
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return `127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  function statServer(s: Stat, seen?: string[]): Promise<string> {
    return serve((req, res) => {
      seen?.push(`${req.method} ${req.url} ${req.headers.accept}`);
      res.writeHead(200, { 'content-type': 'application/protobuf' }).end(encodeStat(s));
    });
  }

  /** A port nothing listens on: bind, note the port, close. */
  async function downPod(): Promise<string> {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    await new Promise((r) => server.close(r));
    return `127.0.0.1:${port}`;
  }

  function make(options: Partial<PodScraperOptions> & Pick<PodScraperOptions, 'targets'>, logs?: unknown[]) {
    const logger = logs
      ? pino({ level: 'info' }, { write: (l: string) => logs.push(JSON.parse(l)) })
      : pino({ level: 'silent' });
    scraper = new PodScraper({ onScrape: () => {}, logger, timeoutMs: 300, ...options });
    return scraper;
  }

  it('sums the Pods’ stats less the proxied part, with the protobuf Accept header', async () => {
    const seen: string[] = [];
    const a = await statServer(
      stat('a', {
        averageConcurrentRequests: 3,
        averageProxiedConcurrentRequests: 1,
        requestCount: 10,
        proxiedRequestCount: 4,
      }),
      seen,
    );
    const b = await statServer(stat('b', { averageConcurrentRequests: 2, requestCount: 5 }), seen);
    const got: RevisionScrape[] = [];
    const s = make({
      targets: () => [{ namespace: 'ns', name: 'rev', pods: [a, b] }],
      onScrape: (r) => got.push(r),
      now: () => 5000,
    });
    const results = await s.scrapeAll();
    expect(results).toEqual(got);
    expect(got).toEqual([
      {
        namespace: 'ns',
        name: 'rev',
        timeMs: 5000,
        readyPods: 2,
        sampleSize: 2,
        answered: [a, b],
        // Each Pod's own load, proxied requests included (they are on the Pod all the same).
        pods: [
          { address: a, podName: 'a', concurrency: 3 },
          { address: b, podName: 'b', concurrency: 2 },
        ],
        concurrency: 4,
        rps: 11,
      },
    ]);
    expect(seen).toEqual(['GET /metrics application/protobuf', 'GET /metrics application/protobuf']);
  });

  it('skips down, slow, garbage and wrong-type Pods, extrapolating from the rest, and logs each streak once', async () => {
    const good = await statServer(stat('good', { averageConcurrentRequests: 2, requestCount: 6 }));
    const down = await downPod();
    const slow = await serve((_req, res) => {
      setTimeout(() => {
        if (!res.destroyed)
          res.writeHead(200, { 'content-type': 'application/protobuf' }).end(encodeStat(stat('slow', {})));
      }, 1000);
    });
    const garbage = await serve((_req, res) =>
      res.writeHead(200, { 'content-type': 'application/protobuf' }).end(Buffer.from([0x12, 0xff, 0xff])),
    );
    const wrongType = await serve((_req, res) =>
      res
        .writeHead(200, { 'content-type': 'text/plain' })
        .end(encodeStat(stat('x', { averageConcurrentRequests: 50 }))),
    );
    const failing = await serve((_req, res) => res.writeHead(503).end());
    const tooLarge = await serve((_req, res) =>
      res.writeHead(200, { 'content-type': 'application/protobuf' }).end(Buffer.alloc(10_000)),
    );
    const pods = [down, slow, garbage, good, wrongType, failing, tooLarge];
    const logs: Record<string, unknown>[] = [];
    const s = make({ targets: () => [{ namespace: 'ns', name: 'rev', pods }] }, logs);

    const [first] = await s.scrapeAll();
    expect(first?.answered).toEqual([good]);
    expect(first?.readyPods).toBe(7);
    // Only the good Pod answered: its values stand for all seven.
    expect(first?.concurrency).toBeCloseTo(14);
    expect(first?.rps).toBeCloseTo(42);
    const warned = () => logs.filter((l) => l['level'] === 40).map((l) => l['pod']);
    expect(warned().sort()).toEqual([down, slow, garbage, wrongType, failing, tooLarge].sort());

    // Still failing on the next tick: not logged again.
    await s.scrapeAll();
    expect(warned()).toHaveLength(6);
  });

  it('produces no scrape when no Pod answers, and none for a revision without Pods', async () => {
    const got: RevisionScrape[] = [];
    const s = make({
      targets: () => [
        { namespace: 'ns', name: 'dead', pods: [] },
        { namespace: 'ns', name: 'empty', pods: [] },
      ],
      onScrape: (r) => got.push(r),
    });
    const down = await downPod();
    const s2 = new PodScraper({
      targets: () => [{ namespace: 'ns', name: 'dead', pods: [down] }],
      onScrape: (r) => got.push(r),
      logger: pino({ level: 'silent' }),
    });
    expect(await s.scrapeAll()).toEqual([]);
    expect(await s2.scrapeAll()).toEqual([]);
    await s2.stop();
    expect(got).toEqual([]);
  });

  it('scrapes only a sample of a large revision, oldest first, and scales by N', async () => {
    const seen: string[] = [];
    const pods: string[] = [];
    for (let i = 0; i < 20; i++)
      pods.push(await statServer(stat(`p${i}`, { averageConcurrentRequests: 1 }), seen));
    const s = make({ targets: () => [{ namespace: 'ns', name: 'rev', pods }] });
    const [result] = await s.scrapeAll();
    const n = populationMeanSampleSize(20);
    expect(n).toBe(9);
    expect(seen).toHaveLength(n);
    expect(result?.answered).toEqual(pods.slice(0, n));
    expect(result?.concurrency).toBeCloseTo(20);
  });

  it('scrapes every Pod of a large revision when the target asks for all, naming each Pod’s load', async () => {
    const seen: string[] = [];
    const pods: string[] = [];
    for (let i = 0; i < 20; i++)
      pods.push(await statServer(stat(`p${i}`, { averageConcurrentRequests: i % 2 }), seen));
    const s = make({ targets: () => [{ namespace: 'ns', name: 'rev', pods, allPods: true }] });
    const [result] = await s.scrapeAll();
    expect(seen).toHaveLength(20);
    expect(result?.sampleSize).toBe(20);
    expect(result?.pods.map((p) => [p.podName, p.concurrency])).toEqual(pods.map((_, i) => [`p${i}`, i % 2]));
    expect(result?.concurrency).toBeCloseTo(10);
  });

  it('replaces a failed Pod in the sample by the next unscraped one', async () => {
    const pods: string[] = [await downPod()];
    for (let i = 0; i < 19; i++) pods.push(await statServer(stat(`p${i}`, { averageConcurrentRequests: 2 })));
    const s = make({ targets: () => [{ namespace: 'ns', name: 'rev', pods }] });
    const [result] = await s.scrapeAll();
    expect(result?.answered).toHaveLength(9);
    expect(result?.answered).toContain(pods[9]);
    expect(result?.concurrency).toBeCloseTo(40);
  });

  it('uses the stats port for Pods given as bare IPs', async () => {
    const addr = await statServer(stat('a', { averageConcurrentRequests: 1 }));
    const port = Number(addr.split(':')[1]);
    const s = make({
      targets: () => [{ namespace: 'ns', name: 'rev', pods: ['127.0.0.1'] }],
      statsPort: port,
    });
    const [result] = await s.scrapeAll();
    expect(result?.concurrency).toBe(1);
  });

  it('ticks on its interval once started', async () => {
    const addr = await statServer(stat('a', { averageConcurrentRequests: 1 }));
    const got: RevisionScrape[] = [];
    const s = make({
      targets: () => [{ namespace: 'ns', name: 'rev', pods: [addr] }],
      onScrape: (r) => got.push(r),
      intervalMs: 20,
    });
    s.start();
    await vi.waitFor(() => expect(got.length).toBeGreaterThanOrEqual(3), { timeout: 2000, interval: 5 });
    await s.stop();
  });

  it('rejects bad options naming the option', () => {
    const base = { targets: () => [], onScrape: () => {}, logger: pino({ level: 'silent' }) };
    expect(() => new PodScraper({ ...base, timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(() => new PodScraper({ ...base, statsPort: 70000 })).toThrow(/statsPort/);
  });
});
