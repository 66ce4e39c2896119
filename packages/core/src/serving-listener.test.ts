import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { LISTEN_BACKLOG, ListenError, listenOn, ServingEndpoint, serveMetrics } from './serving-listener.js';

let endpoint: ServingEndpoint | undefined;
let blocker: Server | undefined;

afterEach(async () => {
  endpoint?.closeAll();
  await endpoint?.close();
  endpoint = undefined;
  await new Promise<void>((resolve) => (blocker ? blocker.close(() => resolve()) : resolve()));
  blocker = undefined;
});

function endpointLogging(lines: { msg: string; level: number }[]): ServingEndpoint {
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return new ServingEndpoint((_req, res) => res.end('ok'), undefined, logger, { headerTimeoutMs: 5000 });
}

describe('ServingEndpoint listeners', () => {
  it('logs a failed accept and keeps serving', async () => {
    const lines: { msg: string; level: number }[] = [];
    endpoint = endpointLogging(lines);
    const port = await listenOn(endpoint.listener, 0, '127.0.0.1', 'PORT');
    // What Node does when libuv reports an accept failure it could not absorb.
    const failure = Object.assign(new Error('accept ENFILE'), { code: 'ENFILE', syscall: 'accept' });
    expect(() => endpoint?.listener.emit('error', failure)).not.toThrow();
    expect(lines.some((l) => l.msg === 'could not accept a connection' && l.level === 50)).toBe(true);
    const res = await fetch(`http://127.0.0.1:${port}/`);
    expect(await res.text()).toBe('ok');
  });

  it('asks for an accept queue as long as the system allows, not Node’s 511', async () => {
    endpoint = endpointLogging([]);
    const port = await listenOn(endpoint.listener, 0, '127.0.0.1', 'PORT');
    // A listening socket's Send-Q, as ss shows it, is its accept queue's length.
    const line = execFileSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' }).trim();
    const backlog = Number(line.split(/\s+/)[2]);
    const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'));
    expect(backlog).toBe(Math.min(LISTEN_BACKLOG, somaxconn));
    expect(backlog).toBeGreaterThan(511);
  });

  it('still fails listenOn with a ListenError naming the variable when the port is taken', async () => {
    blocker = createServer();
    await new Promise<void>((resolve) => blocker?.listen(0, '127.0.0.1', resolve));
    const taken = (blocker.address() as { port: number }).port;
    endpoint = endpointLogging([]);
    const failed = listenOn(endpoint.listener, taken, '127.0.0.1', 'QUEUE_SERVING_PORT');
    await expect(failed).rejects.toBeInstanceOf(ListenError);
    await expect(failed).rejects.toThrow(
      /^QUEUE_SERVING_PORT: cannot listen on 127\.0\.0\.1:\d+: EADDRINUSE$/,
    );
  });

  it('rejects a header timeout that is not a positive whole number of milliseconds', () => {
    const logger = pino({ level: 'silent' });
    for (const headerTimeoutMs of [0, -1, 1.5, Number.NaN]) {
      expect(() => new ServingEndpoint(() => undefined, undefined, logger, { headerTimeoutMs })).toThrow(
        /^headerTimeoutMs: /,
      );
    }
  });
});

describe('serveMetrics', () => {
  it('answers 500 from the error table and logs it when collecting fails', async () => {
    const lines: { msg: string; level: number }[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const failing = {
      contentType: 'text/plain',
      metrics: () => Promise.reject(new Error('collector threw')),
    };
    const server = createHttpServer((_req, res) => void serveMetrics(failing, res, logger));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as { port: number }).port}/metrics`);
      expect([res.status, await res.text()]).toEqual([500, 'metrics collection failed\n']);
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(lines.some((l) => l.msg === 'metrics collection failed' && l.level === 50)).toBe(true);
    } finally {
      server.close();
    }
  });
});
