import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import {
  connections,
  drained,
  freePort,
  httpServer,
  httpSpec,
  prober,
  runCleanups,
  silentServer,
  tcpSpec,
} from '../../../../test/support/readiness-targets.js';
import { ReadinessProber } from './readiness-prober.js';

afterEach(runCleanups);

describe('ReadinessProber', () => {
  it('is ready with no probes', async () => {
    expect(await prober([]).check()).toBe(true);
  });

  it('shares one in-flight run between concurrent checks and caches nothing after it', async () => {
    const { port, requests } = await httpServer([200], 100);
    const p = prober([httpSpec(port)]);
    const results = await Promise.all([p.check(), p.check(), p.check()]);
    expect(results).toEqual([true, true, true]);
    expect(requests).toHaveLength(1);
    expect(await p.check()).toBe(true);
    expect(requests).toHaveLength(2);
  });

  it('needs every probe to pass', async () => {
    const ok = await httpServer([200]);
    const closed = await freePort();
    expect(await prober([httpSpec(ok.port), tcpSpec(ok.port)]).check()).toBe(true);
    expect(await prober([httpSpec(ok.port), tcpSpec(closed)]).check()).toBe(false);
  });

  it('ends an in-flight check on close(), before its own timeouts, and fails later checks', async () => {
    const { server, port } = await silentServer();
    const p = prober([httpSpec(port, { timeoutMs: 5000 }), tcpSpec(port, { periodMs: 0 })]);
    const result = p.check();
    // In flight: the HTTP probe is connected to the silent server and waiting for an answer.
    const deadline = Date.now() + 2000;
    while ((await connections(server)) === 0 && Date.now() < deadline) await sleep(5);
    expect(await connections(server)).toBeGreaterThan(0);
    const closedAt = Date.now();
    p.close();
    expect(await result).toBe(false);
    // Ended by close(), not by the HTTP probe's 5 s timeout.
    expect(Date.now() - closedAt).toBeLessThan(5000);
    expect(await drained(server)).toBe(0);
    expect(await p.check()).toBe(false);
  });

  it('rejects bad options', () => {
    expect(() => new ReadinessProber([], { pollIntervalMs: 0 })).toThrow(/pollIntervalMs/);
  });
});
