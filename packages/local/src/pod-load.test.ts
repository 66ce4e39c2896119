import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { emptyStat, encodeStat } from '@zerogate/core';
import { Agent } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { podRequestsInFlight } from './pod-load.js';

const servers: Server[] = [];
const agent = new Agent();
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

/** A stats endpoint answering every request with `status` and `body`; returns its `host:port`. */
async function statsEndpoint(status: number, body: Uint8Array | string): Promise<string> {
  const server = createServer((_req, res) => {
    res.writeHead(status, { 'content-type': 'application/protobuf' });
    res.end(body);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('podRequestsInFlight', () => {
  it('reads the average concurrency of the Pod’s Stat, proxied requests included', async () => {
    const stat = { ...emptyStat('p'), averageConcurrentRequests: 2.5, averageProxiedConcurrentRequests: 1 };
    expect(await podRequestsInFlight(await statsEndpoint(200, encodeStat(stat)), agent)).toBe(2.5);
  });

  it('counts a Pod that cannot tell as idle: no endpoint, refused, an error status, garbage or too large', async () => {
    expect(await podRequestsInFlight(undefined, agent)).toBe(0);
    const closed = await statsEndpoint(200, '');
    await new Promise((r) => servers.pop()!.close(r));
    expect(await podRequestsInFlight(closed, agent)).toBe(0);
    const busy = encodeStat({ ...emptyStat('p'), averageConcurrentRequests: 3 });
    expect(await podRequestsInFlight(await statsEndpoint(503, busy), agent)).toBe(0);
    expect(await podRequestsInFlight(await statsEndpoint(200, '\xff\xff\xff'), agent)).toBe(0);
    expect(await podRequestsInFlight(await statsEndpoint(200, 'x'.repeat(10_000)), agent)).toBe(0);
  });
});
