import http2 from 'node:http2';
import { afterEach, describe, expect, it } from 'vitest';
import {
  drained,
  freePort,
  httpServer,
  runCleanups,
  serve,
} from '../../../../test/support/readiness-targets.js';
import { h2cExchange } from './h2c-exchange.js';
import { H2cProtocolError } from './h2c-protocol-error.js';

afterEach(runCleanups);

const GET = { ':method': 'GET', ':path': '/', ':scheme': 'http' };

describe('h2cExchange', () => {
  it('collects the body and trailers of a response and closes the session', async () => {
    const { server, port } = await serve(
      http2.createServer((_req, res) => {
        res.addTrailers({ 'x-done': 'yes' });
        res.end('hello');
      }),
    );
    const r = await h2cExchange(
      `http://127.0.0.1:${port}`,
      GET,
      undefined,
      'collect',
      new AbortController().signal,
    );
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('hello');
    expect(r.trailers?.['x-done']).toBe('yes');
    expect(await drained(server)).toBe(0);
  });

  it('fails a collected body past 64 KiB', async () => {
    const { port } = await serve(http2.createServer((_req, res) => res.end(Buffer.alloc(65 * 1024))));
    await expect(
      h2cExchange(`http://127.0.0.1:${port}`, GET, undefined, 'collect', new AbortController().signal),
    ).rejects.toThrow(/larger than 65536 bytes/);
  });

  it('rejects with H2cProtocolError only when the server answered in something other than HTTP/2', async () => {
    const { port } = await httpServer();
    const err = await h2cExchange(
      `http://127.0.0.1:${port}`,
      GET,
      undefined,
      'drain',
      new AbortController().signal,
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(H2cProtocolError);
    const refused = await h2cExchange(
      `http://127.0.0.1:${await freePort()}`,
      GET,
      undefined,
      'drain',
      new AbortController().signal,
    ).catch((e: unknown) => e);
    expect(refused).not.toBeInstanceOf(H2cProtocolError);
  });
});
