import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { emptyStat, encodeStat, encodeWireStatMessages, type Stat } from '@zerogate/core';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket } from 'ws';
import { Collector } from './collector.js';
import type { KpaDecision } from './kpa.js';
import { PodScraper } from './scraper.js';
import { StatServer } from './stat-server.js';

const silent = pino({ level: 'silent' });

interface Decided {
  namespace: string;
  name: string;
  decision: KpaDecision;
}

function activatorStat(concurrency: number, requests: number): Stat {
  return { ...emptyStat('activator-1'), averageConcurrentRequests: concurrency, requestCount: requests };
}

function setup(startMs = 1_000_000) {
  const clock = { ms: startMs };
  const decided: Decided[] = [];
  const collector = new Collector({
    logger: silent,
    now: () => clock.ms,
    onDecision: (namespace, name, decision) => decided.push({ namespace, name, decision }),
  });
  return { clock, decided, collector };
}

describe('Collector', () => {
  it('feeds scraped totals to the revision’s Kpa and decides on tick', () => {
    const { clock, decided, collector } = setup();
    collector.setRevision('ns', 'rev', { readyPods: ['10.0.0.1', '10.0.0.2'], existing: true });
    collector.recordScrape({
      namespace: 'ns',
      name: 'rev',
      timeMs: clock.ms,
      readyPods: 2,
      sampleSize: 2,
      answered: ['10.0.0.1', '10.0.0.2'],
      pods: [],
      concurrency: 140,
      rps: 300,
    });
    collector.tick();
    expect(decided).toHaveLength(1);
    expect(decided[0]).toMatchObject({ namespace: 'ns', name: 'rev' });
    expect(decided[0]?.decision.stableConcurrency).toBe(140);
    // 140 in flight at the default target of 70 per Pod.
    expect(decided[0]?.decision.desiredPods).toBe(2);
  });

  it('sums the scraper’s and activators’ values of the same second', () => {
    const { clock, decided, collector } = setup();
    collector.setRevision('ns', 'rev', { readyPods: ['10.0.0.1'], existing: true });
    collector.recordScrape({
      namespace: 'ns',
      name: 'rev',
      timeMs: clock.ms,
      readyPods: 1,
      sampleSize: 1,
      answered: ['10.0.0.1'],
      pods: [],
      concurrency: 50,
      rps: 10,
    });
    collector.recordStat('ns', 'rev', activatorStat(30, 5), clock.ms + 200);
    collector.recordStat('ns', 'rev', activatorStat(20, 5), clock.ms + 400);
    clock.ms += 500;
    collector.tick();
    expect(decided[0]?.decision.stableConcurrency).toBe(100);
  });

  it('decides at once on a poke for a revision at zero, asking for one Pod', () => {
    const { clock, decided, collector } = setup();
    collector.setRevision('ns', 'rev', { readyPods: [], existing: true });
    expect(collector.kpa('ns', 'rev')?.desiredPods).toBe(0);

    collector.recordStat('ns', 'rev', activatorStat(1, 1), clock.ms);
    expect(decided).toHaveLength(1);
    expect(decided[0]?.decision.desiredPods).toBe(1);

    // Now one Pod is asked for: further reports wait for the tick.
    collector.recordStat('ns', 'rev', activatorStat(1, 1), clock.ms + 1000);
    expect(decided).toHaveLength(1);
  });

  it('does not poke for idle reports, for revisions with Pods, or for unknown revisions', () => {
    const { clock, decided, collector } = setup();
    collector.setRevision('ns', 'zero', { readyPods: [], existing: true });
    collector.setRevision('ns', 'running', { readyPods: ['10.0.0.1'], existing: true });
    collector.recordStat('ns', 'zero', activatorStat(0, 0), clock.ms);
    collector.recordStat('ns', 'running', activatorStat(5, 5), clock.ms);
    collector.recordStat('ns', 'unknown', activatorStat(5, 5), clock.ms);
    expect(decided).toEqual([]);
  });

  it('lets data age out of the windows once reports stop', () => {
    const { clock, decided, collector } = setup();
    collector.setRevision('ns', 'rev', { readyPods: ['10.0.0.1'], existing: true });
    // An activator reports 10 in flight for 5 s, then disconnects.
    for (let i = 0; i < 5; i++) {
      collector.recordStat('ns', 'rev', activatorStat(10, 10), clock.ms);
      clock.ms += 1000;
    }
    collector.tick();
    expect(decided.at(-1)?.decision.stableConcurrency).toBe(10);
    expect(decided.at(-1)?.decision.panicConcurrency).toBeGreaterThan(0);

    // Past the panic window the burst is gone from it; past the stable window, from both.
    clock.ms += 7000;
    collector.tick();
    expect(decided.at(-1)?.decision.panicConcurrency).toBe(0);
    clock.ms += 60_000;
    collector.tick();
    expect(decided.at(-1)?.decision.stableConcurrency).toBe(0);
    expect(decided.at(-1)?.decision.recommendedPods).toBe(0);
  });

  it('asks the scraper for every Pod of the revisions its option names', () => {
    const collector = new Collector({
      logger: silent,
      onDecision: () => {},
      scrapeAllPods: (_namespace, name) => name === 'a',
    });
    collector.setRevision('ns', 'a', { readyPods: ['10.0.0.1'], existing: true });
    collector.setRevision('ns', 'b', { readyPods: ['10.0.0.2'], existing: true });
    expect([...collector.scrapeTargets()]).toEqual([
      { namespace: 'ns', name: 'a', pods: ['10.0.0.1'], allPods: true },
      { namespace: 'ns', name: 'b', pods: ['10.0.0.2'] },
    ]);
  });

  it('adds, updates and removes revisions', () => {
    const { decided, collector } = setup();
    collector.setRevision('ns', 'a', { readyPods: ['10.0.0.1'], existing: true });
    collector.setRevision('ns', 'b', { readyPods: [] });
    expect([...collector.scrapeTargets()]).toEqual([{ namespace: 'ns', name: 'a', pods: ['10.0.0.1'] }]);

    const before = collector.kpa('ns', 'a');
    collector.setRevision('ns', 'a', { readyPods: ['10.0.0.1', '10.0.0.2'], existing: true });
    expect(collector.kpa('ns', 'a')).toBe(before);
    collector.setRevision('ns', 'a', {
      readyPods: ['10.0.0.1', '10.0.0.2'],
      annotations: { 'autoscaling.knative.dev/target': '10' },
    });
    expect(collector.kpa('ns', 'a')).not.toBe(before);
    expect(collector.kpa('ns', 'a')?.config.targetValue).toBe(7);

    expect(() => collector.setRevision('ns', 'a', { readyPods: [], containerConcurrency: -1 })).toThrow(
      RangeError,
    );
    expect(collector.kpa('ns', 'a')?.config.targetValue).toBe(7);

    expect(collector.removeRevision('ns', 'b')).toBe(true);
    expect(collector.removeRevision('ns', 'b')).toBe(false);
    collector.tick();
    expect(decided.map((d) => d.name)).toEqual(['a']);
  });

  it('decides every tick interval once started', () => {
    vi.useFakeTimers();
    try {
      const decided: string[] = [];
      const collector = new Collector({ logger: silent, onDecision: (_ns, name) => decided.push(name) });
      collector.setRevision('ns', 'rev', { readyPods: ['10.0.0.1'], existing: true });
      collector.start();
      vi.advanceTimersByTime(6000);
      collector.stop();
      vi.advanceTimersByTime(6000);
      expect(decided).toEqual(['rev', 'rev', 'rev']);
    } finally {
      vi.useRealTimers();
    }
  });

  it('keeps deciding for others when the decision handler throws', () => {
    const decided: string[] = [];
    const collector = new Collector({
      logger: silent,
      now: () => 0,
      onDecision: (_ns, name) => {
        decided.push(name);
        if (name === 'a') throw new Error('actuator down');
      },
    });
    collector.setRevision('ns', 'a', { readyPods: [], existing: true });
    collector.setRevision('ns', 'b', { readyPods: [], existing: true });
    collector.tick();
    expect(decided).toEqual(['a', 'b']);
  });
});

describe('Collector wired to a real scraper and stat server', () => {
  const closers: (() => Promise<unknown>)[] = [];

  afterEach(async () => {
    for (const close of closers.splice(0).reverse()) await close();
  });

  it('scraped Pods and activator messages reach the Kpa', async () => {
    const pod: Server = createServer((_req, res) => {
      res
        .writeHead(200, { 'content-type': 'application/protobuf' })
        .end(encodeStat({ ...emptyStat('pod-1'), averageConcurrentRequests: 40, requestCount: 8 }));
    });
    await new Promise<void>((r) => pod.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise((r) => pod.close(r)));
    const podAddr = `127.0.0.1:${(pod.address() as AddressInfo).port}`;

    const clock = { ms: 5_000_000 };
    const decided: KpaDecision[] = [];
    const collector = new Collector({
      logger: silent,
      now: () => clock.ms,
      onDecision: (_n, _r, d) => decided.push(d),
    });
    collector.setRevision('ns', 'rev', { readyPods: [podAddr], existing: true });
    collector.setRevision('ns', 'cold', { readyPods: [], existing: true });

    const scraper = new PodScraper({
      logger: silent,
      now: () => clock.ms,
      targets: () => collector.scrapeTargets(),
      onScrape: (s) => collector.recordScrape(s),
    });
    closers.push(() => scraper.stop());
    const server = new StatServer({
      host: '127.0.0.1',
      port: 0,
      logger: silent,
      now: () => clock.ms,
      onStat: (ns, name, stat, at) => collector.recordStat(ns, name, stat, at),
    });
    const port = await server.start();
    closers.push(() => server.close());

    await scraper.scrapeAll();
    const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
    closers.push(async () => ws.terminate());
    await new Promise((r) => ws.once('open', r));
    ws.send(
      encodeWireStatMessages([
        { namespace: 'ns', name: 'rev', stat: activatorStat(2, 2) },
        { namespace: 'ns', name: 'cold', stat: activatorStat(1, 1) },
      ]),
    );
    // The poke for the cold revision is decided as soon as the frame arrives.
    await vi.waitFor(() => expect(decided).toHaveLength(1));
    expect(decided[0]?.desiredPods).toBe(1);

    collector.tick();
    expect(collector.kpa('ns', 'rev')).toBeDefined();
    expect(decided[1]?.stableConcurrency).toBe(42);
  });
});
