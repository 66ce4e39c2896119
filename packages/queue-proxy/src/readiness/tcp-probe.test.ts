import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  drained,
  freePort,
  prober,
  runCleanups,
  serve,
  tcpSpec,
} from '../../../../test/support/readiness-targets.js';
import type { TcpProbeSpec } from './probe-spec.js';
import { tcpProbe } from './tcp-probe.js';

afterEach(runCleanups);

describe('tcpProbe', () => {
  it('passes a TCP probe iff something listens', async () => {
    const { server, port } = await serve(net.createServer((socket) => socket.resume()));
    expect(await prober([tcpSpec(port)]).check()).toBe(true);
    expect(await drained(server)).toBe(0);
    expect(await prober([tcpSpec(await freePort())]).check()).toBe(false);
  });

  // An app whose port opens before its handler, dropping what it accepts until then: the connect
  // succeeds, so Knative's probe passes and the first request is reset after it may have been read.
  it('fails while the app resets or closes each connection it accepts', async () => {
    const reset = await serve(net.createServer((socket) => socket.resetAndDestroy()));
    expect(await prober([tcpSpec(reset.port)]).check()).toBe(false);
    const closed = await serve(net.createServer((socket) => socket.end()));
    expect(await prober([tcpSpec(closed.port)]).check()).toBe(false);
  });

  // On a loaded machine such an app may accept late: once it dropped one connection, the probe holds
  // the next long enough to see a reset that comes 40 ms after the connect.
  it('holds longer once the app dropped a connection', async () => {
    let accepted = 0;
    const { port } = await serve(
      net.createServer((socket) => {
        if (accepted++ === 0) socket.resetAndDestroy();
        else setTimeout(() => socket.resetAndDestroy(), 40);
      }),
    );
    const attempt = tcpProbe(tcpSpec(port) as TcpProbeSpec);
    await expect(attempt(AbortSignal.timeout(1000))).rejects.toThrow();
    await expect(attempt(AbortSignal.timeout(1000))).rejects.toThrow();
  });
});

/** Waits for `condition` turning the event loop with real time (setImmediate is not faked). */
async function until(condition: () => boolean): Promise<void> {
  const end = performance.now() + 5000;
  while (!condition()) {
    if (performance.now() > end) throw new Error('condition not met within 5 s');
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe('tcpProbe on a loaded machine', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  // Time this process did not run (its timer fired late) may be time the app did not run either: the
  // hold starts again, so a reset the app sends once it runs is still seen.
  it('holds again when its timer fired late', async () => {
    const sockets: net.Socket[] = [];
    const { port } = await serve(net.createServer((socket) => sockets.push(socket)));
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    let settled = false;
    const result = tcpProbe(
      tcpSpec(port) as TcpProbeSpec,
      20,
      80,
    )(new AbortController().signal).finally(() => {
      settled = true;
    });
    await until(() => vi.getTimerCount() === 1);
    // The process was stopped for 50 ms: the timer fires 30 ms late.
    vi.setSystemTime(Date.now() + 30);
    await vi.advanceTimersByTimeAsync(20);
    expect(settled).toBe(false);
    expect(vi.getTimerCount()).toBe(1);
    // The app runs now and resets the connection within the new hold.
    await until(() => sockets.length === 1);
    sockets[0]!.resetAndDestroy();
    await expect(result).rejects.toThrow();
  });
});
