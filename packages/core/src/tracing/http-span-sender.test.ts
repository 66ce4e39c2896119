import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { httpSpanSender } from './http-span-sender.js';

describe('httpSpanSender', () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
    server = undefined;
  });

  async function listen(status: number): Promise<{ url: string; got: { type: string; body: string }[] }> {
    const got: { type: string; body: string }[] = [];
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        got.push({ type: req.headers['content-type'] ?? '', body });
        res.writeHead(status).end('no thanks');
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v2/spans`, got };
  }

  it('POSTs the encoded batch with its content type', async () => {
    const { url, got } = await listen(202);
    const sender = httpSpanSender(url, 'application/json', (spans) =>
      Buffer.from(JSON.stringify(spans.length)),
    );
    await sender.send([]);
    sender.close();
    expect(got).toEqual([{ type: 'application/json', body: '0' }]);
  });

  it('rejects an answer other than 2xx, naming the endpoint and status', async () => {
    const { url } = await listen(400);
    const sender = httpSpanSender(url, 'application/json', () => Buffer.from('[]'));
    await expect(sender.send([])).rejects.toThrow(/answered 400: no thanks/);
    sender.close();
  });

  it('rejects a refused connection', async () => {
    const { url } = await listen(200);
    server!.close();
    const sender = httpSpanSender(url, 'application/json', () => Buffer.from('[]'));
    await expect(sender.send([])).rejects.toThrow(/ECONNREFUSED/);
    sender.close();
  });
});
