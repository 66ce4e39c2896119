import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
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
