import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { drained, runCleanups, serve } from '../../../../test/support/readiness-targets.js';
import { http1Get } from './http1-get.js';

afterEach(runCleanups);

describe('http1Get', () => {
  it('resolves with the status after draining up to 10 KiB of a body that never ends', async () => {
    let written = 0;
    const { server, port } = await serve(
      http.createServer((_req, res) => {
        res.writeHead(503);
        // 16 KiB, then nothing more: the client stops once past its cap instead of waiting for the end.
        res.write(Buffer.alloc(16 * 1024));
        written += 16 * 1024;
      }),
    );
    const options = { host: '127.0.0.1', port, path: '/', agent: false };
    expect(await http1Get(http.request, options, new AbortController().signal)).toBe(503);
    expect(written).toBe(16 * 1024);
    expect(await drained(server)).toBe(0);
  });

  it('rejects when the connection closes before a response', async () => {
    const { port } = await serve(http.createServer((req) => req.socket.destroy()));
    const options = { host: '127.0.0.1', port, path: '/', agent: false };
    await expect(http1Get(http.request, options, new AbortController().signal)).rejects.toThrow();
  });
});
