import { once } from 'node:events';
import { createServer, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { decodeWireStatMessages, emptyStat, type Stat, type WireStatMessage } from '@zerogate/core';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type WebSocket, WebSocketServer } from 'ws';
import { AutoscalerConnection, type AutoscalerConnectionOptions } from './autoscaler-connection.js';

const POD = 'activator-0';

/** One binary frame the stand-in autoscaler received, decoded. */
interface Received {
  readonly at: number;
  readonly messages: WireStatMessage[];
}

/** A real websocket server standing in for the autoscaler's stat server. */
class FakeAutoscaler {
  readonly received: Received[] = [];
  readonly sockets: WebSocket[] = [];
  connections = 0;
  closes = 0;
  pings = 0;
  textFrames = 0;
  private cursor = 0;

  private constructor(
    readonly wss: WebSocketServer,
    readonly port: number,
  ) {
    wss.on('connection', (ws) => {
      this.connections++;
      this.sockets.push(ws);
      ws.on('message', (data, isBinary) => {
        if (!isBinary) this.textFrames++;
        const bytes = new Uint8Array(data as Buffer);
        this.received.push({ at: performance.now(), messages: decodeWireStatMessages(bytes) });
      });
      ws.on('ping', () => this.pings++);
      ws.on('close', () => this.closes++);
    });
  }

  static async start(options: { port?: number; autoPong?: boolean } = {}): Promise<FakeAutoscaler> {
    const wss = new WebSocketServer({
      host: '127.0.0.1',
      port: options.port ?? 0,
      autoPong: options.autoPong ?? true,
    });
    await once(wss, 'listening');
    const address = wss.address();
    if (address === null || typeof address === 'string') throw new Error('expected a TCP address');
    return new FakeAutoscaler(wss, address.port);
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}/`;
  }

  /** The next frame not yet taken, waiting for it if need be. */
  async take(timeoutMs = 2000): Promise<Received> {
    await vi.waitFor(() => expect(this.received.length).toBeGreaterThan(this.cursor), {
      timeout: timeoutMs,
      interval: 5,
    });
    const next = this.received[this.cursor++];
    if (next === undefined) throw new Error('no frame');
    return next;
  }

  /** Frames received but not taken. */
  get pending(): number {
    return this.received.length - this.cursor;
  }

  async close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}

function testLogger() {
  const lines: Array<{ level: number; msg: string; err?: { message?: string } }> = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  const count = (text: string) =>
    lines.filter((l) => l.msg.includes(text) || l.err?.message?.includes(text)).length;
  return { logger, lines, count };
}

function stat(averageConcurrentRequests: number, requestCount: number): Stat {
  return { ...emptyStat(POD), averageConcurrentRequests, requestCount };
}

/** `name → [concurrency, count]` of one frame, to compare batches regardless of order. */
function figures(frame: Received): Record<string, [number, number]> {
  const out: Record<string, [number, number]> = {};
  for (const m of frame.messages) {
    out[`${m.namespace}/${m.name}`] = [m.stat?.averageConcurrentRequests ?? NaN, m.stat?.requestCount ?? NaN];
  }
  return out;
}

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('expected a TCP address');
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return address.port;
}

function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
}

const connections: AutoscalerConnection[] = [];
const servers: FakeAutoscaler[] = [];

afterEach(async () => {
  await Promise.all(connections.splice(0).map((r) => r.stop()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

function connection(options: Partial<AutoscalerConnectionOptions> & { url: string }) {
  const log = testLogger();
  const changes: boolean[] = [];
  const r = new AutoscalerConnection({ logger: log.logger, ...options });
  r.onConnectionChange = (connected) => changes.push(connected);
  connections.push(r);
  return { r, log, changes };
}

async function autoscaler(options?: { port?: number; autoPong?: boolean }): Promise<FakeAutoscaler> {
  const s = await FakeAutoscaler.start(options);
  servers.push(s);
  return s;
}

async function connected(r: AutoscalerConnection, timeout = 2000): Promise<void> {
  await vi.waitFor(() => expect(r.connected).toBe(true), { timeout, interval: 5 });
}

/** One message of `namespace/name` with the given figures. */
function message(namespace: string, name: string, concurrency: number, count: number): WireStatMessage {
  return { namespace, name, stat: stat(concurrency, count) };
}

describe('AutoscalerConnection', () => {
  it('sends each batch as one binary protobuf frame, in order', async () => {
    const server = await autoscaler();
    const { r } = connection({ url: server.url });
    r.start();
    await connected(r);

    r.send([message('ns', 'rev', 1, 1)]);
    r.send([message('ns1', 'a', 0.5, 1), message('ns2', 'b', 0, 0)]);
    expect((await server.take()).messages).toEqual([message('ns', 'rev', 1, 1)]);
    expect(figures(await server.take())).toEqual({ 'ns1/a': [0.5, 1], 'ns2/b': [0, 0] });
    const only = server.received[0]?.messages[0]?.stat;
    expect(only).toMatchObject({ podName: POD, averageProxiedConcurrentRequests: 0, proxiedRequestCount: 0 });
    expect(only?.timestamp).toBe(0n);
    expect(server.textFrames).toBe(0);
    expect(server.pending).toBe(0);
  });

  it('drops batches while away, logs that once, and connects with backoff when the autoscaler appears', async () => {
    const port = await freePort();
    const { r, log, changes } = connection({ url: `ws://127.0.0.1:${port}/` });
    r.start();
    expect(r.everConnected).toBe(false);

    r.send([message('ns', 'rev', 1, 1)]);
    r.send([message('ns', 'rev', 1, 0)]);
    await vi.waitFor(() => expect(r.connectionErrors).toBeGreaterThanOrEqual(2), {
      timeout: 2000,
      interval: 5,
    });
    expect(r.connected).toBe(false);
    expect(r.everConnected).toBe(false);
    expect(log.count('not reachable')).toBe(1);
    expect(log.count('could not be established')).toBe(1);

    const server = await autoscaler({ port });
    await connected(r);
    expect(r.everConnected).toBe(true);
    expect(changes).toEqual([true]);

    // Nothing was queued: only what is sent now arrives.
    r.send([message('ns', 'rev', 1, 0)]);
    expect(figures(await server.take())).toEqual({ 'ns/rev': [1, 0] });
    expect(server.pending).toBe(0);
  });

  it('reconnects when the autoscaler closes the connection', async () => {
    const server = await autoscaler();
    server.wss.once('connection', (ws) => ws.close(1001, 'going away'));
    const { r, log, changes } = connection({ url: server.url });
    r.start();

    await vi.waitFor(() => expect(changes).toEqual([true, false, true]), { timeout: 2000, interval: 5 });
    expect(r.connected).toBe(true);
    expect(r.connectionErrors).toBe(1);
    expect(server.connections).toBe(2);
    expect(log.count('connection lost')).toBe(1);

    // An abrupt end counts too.
    server.sockets[1]?.terminate();
    await vi.waitFor(() => expect(changes).toEqual([true, false, true, false, true]), {
      timeout: 2000,
      interval: 5,
    });
    expect(r.connectionErrors).toBe(2);
  });

  it('keeps a connection that answers pings past the pong deadline', async () => {
    const server = await autoscaler();
    const { r } = connection({ url: server.url, pongTimeoutMs: 200 });
    r.start();
    await connected(r);
    // Pings go out three times per deadline: nine pings span three pong deadlines.
    await vi.waitFor(() => expect(server.pings).toBeGreaterThanOrEqual(9), { timeout: 3000, interval: 5 });
    expect(r.connected).toBe(true);
    expect(r.connectionErrors).toBe(0);
    expect(server.connections).toBe(1);
  });

  it('drops a connection that stops answering pings, and reconnects', async () => {
    const server = await autoscaler({ autoPong: false });
    const { r, log } = connection({ url: server.url, pongTimeoutMs: 300 });
    r.start();
    await connected(r);

    await vi.waitFor(() => expect(r.connectionErrors).toBeGreaterThanOrEqual(1), {
      timeout: 2000,
      interval: 5,
    });
    expect(log.count('no pong')).toBeGreaterThanOrEqual(1);
    await vi.waitFor(() => expect(server.connections).toBeGreaterThanOrEqual(2), {
      timeout: 2000,
      interval: 5,
    });
    await connected(r);
  });

  it('gives up a handshake that does not complete in time, and retries', async () => {
    // A TCP server that accepts and never answers the upgrade.
    let accepted = 0;
    let ended = 0;
    const held: Socket[] = [];
    const silent = createServer((socket) => {
      accepted++;
      held.push(socket);
      socket.resume(); // read, or the peer's close goes unnoticed
      socket.on('close', () => ended++);
    }).listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const address = silent.address();
    if (address === null || typeof address === 'string') throw new Error('expected a TCP address');
    try {
      const { r, log } = connection({ url: `ws://127.0.0.1:${address.port}/`, handshakeTimeoutMs: 150 });
      r.start();
      await vi.waitFor(() => expect(accepted).toBeGreaterThanOrEqual(2), { timeout: 2000, interval: 5 });
      expect(r.connectionErrors).toBeGreaterThanOrEqual(1);
      expect(r.everConnected).toBe(false);
      expect(log.count('handshake not completed within 150 ms')).toBe(1);
      // The abandoned attempt's connection is closed, not left open.
      await vi.waitFor(() => expect(ended).toBeGreaterThanOrEqual(1), { timeout: 2000, interval: 5 });
      await r.stop();
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('stop() closes the socket and clears every timer', async () => {
    const server = await autoscaler();
    const baseline = activeTimers();
    const { r, changes } = connection({ url: server.url, pongTimeoutMs: 150 });
    r.start();
    await connected(r);
    expect(activeTimers()).toBeGreaterThan(baseline);

    await r.stop();
    expect(r.connected).toBe(false);
    expect(changes).toEqual([true, false]);
    await vi.waitFor(() => expect(server.closes).toBe(1), { timeout: 2000, interval: 5 });
    expect(activeTimers()).toBeLessThanOrEqual(baseline);

    // Absence over time is the behaviour here: three ping intervals in which a timer left running would
    // ping or reconnect.
    const pings = server.pings;
    await sleep(150);
    expect(server.pings).toBe(pings);
    expect(server.connections).toBe(1);
  });

  it('stop() while still retrying leaves no timers either', async () => {
    const baseline = activeTimers();
    const { r } = connection({ url: `ws://127.0.0.1:${await freePort()}/` });
    r.start();
    await vi.waitFor(() => expect(r.connectionErrors).toBeGreaterThan(0), { timeout: 2000, interval: 5 });
    expect(activeTimers()).toBeGreaterThan(baseline);
    await r.stop();
    expect(activeTimers()).toBeLessThanOrEqual(baseline);
  });

  it('rejects bad options naming them', () => {
    const logger = testLogger().logger;
    const base = { url: 'ws://127.0.0.1:1/', logger };
    expect(() => new AutoscalerConnection({ ...base, url: 'http://x/' })).toThrow(/url/);
    expect(() => new AutoscalerConnection({ ...base, url: 'not a url' })).toThrow(/url/);
    expect(
      () => new AutoscalerConnection({ ...base, reconnect: { initialMs: 100, factor: 0.5, maxMs: 1 } }),
    ).toThrow(/reconnect\.factor/);
    expect(() => new AutoscalerConnection({ ...base, handshakeTimeoutMs: -1 })).toThrow(/handshakeTimeoutMs/);
    expect(() => new AutoscalerConnection({ ...base, pongTimeoutMs: 0 })).toThrow(/pongTimeoutMs/);
  });
});
