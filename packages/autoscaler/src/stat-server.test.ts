import { emptyStat, encodeWireStatMessages, type Stat } from '@zerogate/core';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { CLOSE_CODE_SERVICE_RESTART, StatServer } from './stat-server.js';

interface Received {
  namespace: string;
  name: string;
  stat: Stat;
  receivedAtMs: number;
}

function memoryLogger(lines: Record<string, unknown>[]) {
  return pino({ level: 'debug' }, { write: (s: string) => lines.push(JSON.parse(s)) });
}

function stat(podName: string, concurrency: number, requests: number): Stat {
  return { ...emptyStat(podName), averageConcurrentRequests: concurrency, requestCount: requests };
}

function connect(port: number, path = '/'): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

async function until(check: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('StatServer', () => {
  let server: StatServer | undefined;
  const clients: WebSocket[] = [];

  afterEach(async () => {
    for (const c of clients.splice(0)) c.terminate();
    await server?.close();
    server = undefined;
  });

  async function start(received: Received[], logs: Record<string, unknown>[] = [], now = () => 42_000) {
    server = new StatServer({
      host: '127.0.0.1',
      port: 0,
      logger: memoryLogger(logs),
      now,
      onStat: (namespace, name, s, receivedAtMs) => received.push({ namespace, name, stat: s, receivedAtMs }),
    });
    return server.start();
  }

  async function client(port: number, path?: string): Promise<WebSocket> {
    const ws = await connect(port, path);
    clients.push(ws);
    return ws;
  }

  it('delivers every message of a binary frame, stamped with its arrival time', async () => {
    const received: Received[] = [];
    const port = await start(received);
    const ws = await client(port, '/any/path');
    ws.send(
      encodeWireStatMessages([
        { namespace: 'ns', name: 'rev-a', stat: stat('activator-1', 1, 1) },
        { namespace: 'ns', name: 'rev-b', stat: stat('activator-1', 2.5, 7) },
        { namespace: 'ns', name: 'rev-c', stat: undefined },
      ]),
    );
    await until(() => received.length === 2);
    expect(received).toEqual([
      { namespace: 'ns', name: 'rev-a', stat: stat('activator-1', 1, 1), receivedAtMs: 42_000 },
      { namespace: 'ns', name: 'rev-b', stat: stat('activator-1', 2.5, 7), receivedAtMs: 42_000 },
    ]);
  });

  it('drops garbage, logs once per streak, and keeps the connection', async () => {
    const received: Received[] = [];
    const logs: Record<string, unknown>[] = [];
    const port = await start(received, logs);
    const ws = await client(port);
    const garbage = Uint8Array.of(0x0a, 0xff, 0xff, 0xff);
    ws.send(garbage);
    ws.send(garbage);
    ws.send('{"not":"protobuf"}');
    ws.send(encodeWireStatMessages([{ namespace: 'ns', name: 'rev', stat: stat('a', 1, 1) }]));
    await until(() => received.length === 1);
    expect(logs.filter((l) => l['msg'] === 'dropping stat frame that does not decode')).toHaveLength(1);

    // A new streak after a good frame is logged again.
    ws.send(garbage);
    ws.send(encodeWireStatMessages([{ namespace: 'ns', name: 'rev', stat: stat('a', 2, 2) }]));
    await until(() => received.length === 2);
    expect(logs.filter((l) => l['msg'] === 'dropping stat frame that does not decode')).toHaveLength(2);
    expect(ws.readyState).toBe(WebSocket.OPEN);
  });

  it('serves several clients at once', async () => {
    const received: Received[] = [];
    const port = await start(received);
    const a = await client(port);
    const b = await client(port);
    await until(() => server?.clientCount === 2);
    a.send(encodeWireStatMessages([{ namespace: 'ns', name: 'rev', stat: stat('activator-a', 1, 1) }]));
    b.send(encodeWireStatMessages([{ namespace: 'ns', name: 'rev', stat: stat('activator-b', 3, 3) }]));
    await until(() => received.length === 2);
    expect(received.map((r) => r.stat.podName).sort()).toEqual(['activator-a', 'activator-b']);
  });

  it('answers the kubelet probe and refuses other plain requests', async () => {
    const port = await start([]);
    const probe = await fetch(`http://127.0.0.1:${port}/`, { headers: { 'user-agent': 'kube-probe/1.30' } });
    expect(probe.status).toBe(200);
    const plain = await fetch(`http://127.0.0.1:${port}/`);
    expect(plain.status).toBe(400);
    expect(plain.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await plain.text()).toBe('Bad Request\n');
  });

  it('close sends 1012 to clients and stops listening', async () => {
    const port = await start([]);
    const ws = await client(port);
    const closedWith = new Promise<number>((r) => ws.once('close', (code) => r(code)));
    await server?.close();
    server = undefined;
    expect(await closedWith).toBe(CLOSE_CODE_SERVICE_RESTART);
    await expect(connect(port)).rejects.toThrow();
  });

  it('close terminates clients that do not answer the close frame', async () => {
    server = new StatServer({
      host: '127.0.0.1',
      port: 0,
      logger: pino({ level: 'silent' }),
      closeGraceMs: 50,
      onStat: () => {},
    });
    const port = await server.start();
    const ws = await client(port);
    // Stop reading, so the client never answers the close frame.
    (ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const started = Date.now();
    const closing = server.close();
    server = undefined;
    // Without terminating, close would wait for the close frame as long as ws does (30 s): stall here.
    let stall: NodeJS.Timeout | undefined;
    await Promise.race([
      closing,
      new Promise((_, reject) => {
        stall = setTimeout(() => reject(new Error('close waited for a client that never answers')), 10_000);
      }),
    ]).finally(() => clearTimeout(stall));
    // The client had its grace period first (allowing clock granularity).
    expect(Date.now() - started).toBeGreaterThanOrEqual(50 - 20);
  });
});
