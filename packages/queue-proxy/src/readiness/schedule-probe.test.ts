import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import {
  drained,
  freePort,
  grpcSpec,
  httpServer,
  httpSpec,
  prober,
  runCleanups,
  serve,
  silentServer,
  tcpSpec,
} from '../../../../test/support/readiness-targets.js';
import type { ProbeAttempt } from './probe-attempt.js';
import { scheduleProbe } from './schedule-probe.js';

afterEach(runCleanups);

describe('scheduleProbe through a ReadinessProber, against real servers', () => {
  it('polls aggressively until the container starts listening', async () => {
    const port = await freePort();
    const p = prober([httpSpec(port, { periodMs: 0 })]);
    const result = p.check();
    // The container is slow to start on purpose: it listens only after the first attempts were refused.
    await sleep(200);
    await serve(
      http.createServer((_req, res) => res.end('ok')),
      port,
    );
    // One attempt would have been refused; polling went on until the container answered.
    expect(await result).toBe(true);
  });

  it('fails an aggressive probe once the total timeout passes', async () => {
    const port = await freePort();
    const failures: Error[] = [];
    const p = prober([tcpSpec(port, { periodMs: 0 })], {
      aggressiveTimeoutMs: 300,
      onFailure: (err) => failures.push(err),
    });
    const started = Date.now();
    expect(await p.check()).toBe(false);
    // No earlier than the total timeout; the failure names it.
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(failures).toHaveLength(1);
    expect(failures[0]!.message).toMatch(/^aggressive probe failed \d+ times in 300 ms$/);
    expect((failures[0]!.cause as NodeJS.ErrnoException).code).toBe('ECONNREFUSED');
  });

  it('needs successThreshold consecutive successes in aggressive mode', async () => {
    const { port, requests } = await httpServer([200, 500, 200, 200, 500, 200, 200]);
    const p = prober([httpSpec(port, { periodMs: 0, successThreshold: 2 })], {
      pollIntervalMs: 10,
      aggressiveTimeoutMs: 2000,
    });
    expect(await p.check()).toBe(true);
    expect(requests).toHaveLength(4);
    // The count starts again for every check: two more successes are needed, after a failure.
    expect(await p.check()).toBe(true);
    expect(requests).toHaveLength(7);
  });

  it.each([
    ['HTTP/1.1', (port: number) => httpSpec(port, { timeoutMs: 200 }), {}],
    ['h2c', (port: number) => httpSpec(port, { timeoutMs: 200 }), { http2AutoDetect: true }],
    ['gRPC', (port: number) => grpcSpec(port, '', { timeoutMs: 200 }), {}],
  ])('times out a %s probe against a silent server and leaves no connection open', async (_name, make, options) => {
    const { server, port } = await silentServer();
    const failures: string[] = [];
    const p = prober([make(port)], { ...options, onFailure: (err) => failures.push(err.message) });
    const started = Date.now();
    expect(await p.check()).toBe(false);
    // Cut by the 200 ms timeout (the failure says so), no earlier.
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(failures[0]).toMatch(/timed out after 200 ms/);
    expect(await drained(server)).toBe(0);
  });

  it('bounds each aggressive attempt by the attempt timeout', async () => {
    const { server, port } = await silentServer();
    const p = prober([httpSpec(port, { periodMs: 0 })], {
      aggressiveTimeoutMs: 400,
      attemptTimeoutMs: 50,
    });
    let accepted = 0;
    server.on('connection', () => accepted++);
    expect(await p.check()).toBe(false);
    // Each attempt takes 50 ms plus a 50 ms pause, so several attempts fit in 400 ms.
    expect(accepted).toBeGreaterThanOrEqual(3);
    expect(await drained(server)).toBe(0);
  });
});

describe('scheduleProbe with scripted attempts', () => {
  /** Polls every millisecond for up to 5 s, each attempt allowed 1 s: the script decides, not the clock. */
  const poll = { intervalMs: 1, totalMs: 5000, attemptMs: 1000 };
  const aggressive = { timeoutMs: 1000, periodMs: 0, successThreshold: 1 };

  /** An attempt that follows `script` (true passes, false fails), then passes; counts its calls. */
  function scripted(script: boolean[]) {
    const attempt = Object.assign(
      async () => {
        const ok = script[attempt.calls++] ?? true;
        if (!ok) throw new Error(`attempt ${attempt.calls} failed`);
      },
      { calls: 0 },
    );
    return attempt;
  }

  /** An attempt that never settles on its own, only when its signal aborts. */
  const hanging: ProbeAttempt = (signal) =>
    new Promise((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason)));

  it('makes one attempt for a probe with a period and reports its error', async () => {
    const attempt = scripted([false]);
    const reports: Error[] = [];
    const run = scheduleProbe({ ...aggressive, periodMs: 1000 }, attempt, poll, (err) => reports.push(err));
    expect(await run(new AbortController().signal)).toBe(false);
    expect(attempt.calls).toBe(1);
    expect(reports.map((e) => e.message)).toEqual(['attempt 1 failed']);
  });

  it("bounds a probe with a period by its own timeout, not the poll's", async () => {
    const reports: Error[] = [];
    const run = scheduleProbe({ ...aggressive, periodMs: 1000, timeoutMs: 30 }, hanging, poll, (err) =>
      reports.push(err),
    );
    expect(await run(new AbortController().signal)).toBe(false);
    expect(reports.map((e) => e.message)).toEqual(['probe timed out after 30 ms']);
  });

  it('polls until successThreshold passes in a row, counting again after a failure', async () => {
    const attempt = scripted([false, true, false, true, true, true]);
    const run = scheduleProbe({ ...aggressive, successThreshold: 3 }, attempt, poll, () => {});
    expect(await run(new AbortController().signal)).toBe(true);
    expect(attempt.calls).toBe(6);
  });

  it('reports a failed poll once, with the last error as its cause', async () => {
    const attempt = scripted(Array(1000).fill(false));
    const reports: Error[] = [];
    const run = scheduleProbe(aggressive, attempt, { ...poll, totalMs: 50 }, (err) => reports.push(err));
    expect(await run(new AbortController().signal)).toBe(false);
    expect(reports).toHaveLength(1);
    expect(reports[0]!.message).toBe(`aggressive probe failed ${attempt.calls} times in 50 ms`);
    expect((reports[0]!.cause as Error).message).toBe(`attempt ${attempt.calls} failed`);
  });

  it.each([
    ['an aggressive probe', aggressive],
    ['a probe with a period', { ...aggressive, periodMs: 1000 }],
  ])('ends %s at once when its signal aborts, reporting nothing', async (_name, timing) => {
    const reports: Error[] = [];
    const ac = new AbortController();
    const result = scheduleProbe(timing, hanging, poll, (err) => reports.push(err))(ac.signal);
    ac.abort(new Error('check cancelled'));
    expect(await result).toBe(false);
    expect(reports).toEqual([]);
  });
});
