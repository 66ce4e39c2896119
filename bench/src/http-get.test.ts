import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { httpGet } from './http-get.js';

describe('httpGet', () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
    server = undefined;
  });

  async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
    server = createServer(handler);
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  }

  it('resolves with status, body, and when the head arrived', async () => {
    const url = await serve((req, res) => {
      res.writeHead(201, { 'content-type': 'text/plain' });
      res.end(`hi ${req.headers['x-name']}`);
    });
    const before = performance.now();
    const answer = await httpGet(url, { headers: { 'X-Name': 'there' }, timeoutMs: 5_000 });
    expect(answer.status).toBe(201);
    expect(answer.body).toBe('hi there');
    expect(answer.headAt).toBeGreaterThanOrEqual(before);
    expect(answer.headAt).toBeLessThanOrEqual(performance.now());
  });

  it('rejects when no answer comes in time', async () => {
    const url = await serve(() => undefined);
    await expect(httpGet(url, { timeoutMs: 50 })).rejects.toThrow(/within 50 ms/);
  });
});
