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

afterEach(runCleanups);

describe('tcpProbe', () => {
  it('passes a TCP probe iff something listens', async () => {
    const { server, port } = await serve(net.createServer((socket) => socket.resume()));
    expect(await prober([tcpSpec(port)]).check()).toBe(true);
    expect(await drained(server)).toBe(0);
    expect(await prober([tcpSpec(await freePort())]).check()).toBe(false);
  });
});
