import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Flood, type FloodCount, floodHead } from './flood.js';

let server: Server | undefined;
let flood: Flood | undefined;

afterEach(async () => {
  await flood?.terminate();
  server?.closeAllConnections();
  server?.close();
  flood = server = undefined;
});

async function until(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met within 20 s');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('floodHead', () => {
  it('asks for / with the given headers and a closed connection after the answer', () => {
    expect(floodHead({ 'Knative-Serving-Revision': 'a-00001' })).toBe(
      'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nKnative-Serving-Revision: a-00001\r\n\r\n',
    );
  });
});

describe('Flood', () => {
  it('sends one request per connection from its worker, counts answers by status, and closes the rest', async () => {
    // The first 4 requests are refused with 503, the others held unanswered, as an activator at its cap does.
    const seen: IncomingMessage[] = [];
    server = createServer((req, res) => {
      seen.push(req);
      if (seen.length <= 4) {
        res.writeHead(503, { 'retry-after': '1' });
        res.end('overloaded');
      }
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    flood = new Flood({ port, head: floodHead({ 'x-tenant': 'a' }) });

    const sent = await flood.send(10);
    expect(sent.failed).toBe(0);
    let count: FloodCount | undefined;
    await until(async () => {
      count = await flood!.count();
      return count.statuses['503'] === 4 && seen.length === 10;
    });
    expect(count).toMatchObject({ statuses: { '503': 4 }, failed: 0 });
    expect(count!.lastAnswerAt).toBeGreaterThan(performance.timeOrigin);
    expect(seen.every((req) => req.headers['x-tenant'] === 'a')).toBe(true);
    await until(async () => (await flood!.count()).open === 6);

    // Closing withdraws the six held requests: the server sees their connections go; nothing counts as failed.
    const closed = await flood.close();
    expect(closed).toEqual({ statuses: {}, failed: 0, open: 0, lastAnswerAt: undefined });
    await until(async () => seen.slice(4).every((req) => req.socket.destroyed));
    expect((await flood.count()).failed).toBe(0);
  });

  it('counts a connection closed with no answer as failed', async () => {
    server = createServer((req) => req.socket.destroy());
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    flood = new Flood({ port, head: floodHead({}) });
    await flood.send(3);
    await until(async () => (await flood!.count()).failed === 3);
    expect((await flood.count()).open).toBe(0);
  });
});
