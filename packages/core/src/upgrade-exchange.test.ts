import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { createLogger } from './logger.js';
import {
  goingAwayFrame,
  TunnelSet,
  UpgradeExchange,
  WebSocketFrames,
  WS_GOING_AWAY,
} from './upgrade-exchange.js';

/** A frame header with `len` bytes of payload, masked or not. */
function frame(len: number, masked = false): Buffer {
  const maskBit = masked ? 0x80 : 0;
  let head: Buffer;
  if (len < 126) head = Buffer.from([0x82, maskBit | len]);
  else if (len < 65536) {
    head = Buffer.from([0x82, maskBit | 126, 0, 0]);
    head.writeUInt16BE(len, 2);
  } else {
    head = Buffer.from([0x82, maskBit | 127, 0, 0, 0, 0, 0, 0, 0, 0]);
    head.writeBigUInt64BE(BigInt(len), 2);
  }
  return Buffer.concat([head, masked ? Buffer.from([1, 2, 3, 4]) : Buffer.alloc(0), Buffer.alloc(len, 7)]);
}

describe('WebSocketFrames', () => {
  it('is between frames only once a whole frame went by, whatever the chunking', () => {
    const stream = Buffer.concat([frame(5), frame(300, true), frame(70_000), frame(0, true)]);
    const ends = new Set([7, 7 + 308, 7 + 308 + 70_010, stream.length]);
    for (const size of [1, 3, 1000, stream.length]) {
      const frames = new WebSocketFrames();
      expect(frames.atBoundary).toBe(true);
      for (let at = 0; at < stream.length; at += size) {
        const chunk = stream.subarray(at, Math.min(at + size, stream.length));
        frames.feed(chunk);
        const fed = at + chunk.length;
        // Within a chunk the position is only known at its end.
        if (ends.has(fed)) expect(frames.atBoundary).toBe(true);
        else if (![...ends].some((e) => e > at && e < fed)) expect(frames.atBoundary).toBe(false);
      }
      expect(frames.atBoundary).toBe(true);
    }
  });

  it('builds close frames with status 1001, masked toward a server', () => {
    const plain = goingAwayFrame(false);
    expect(plain[0]).toBe(0x88);
    expect(plain.readUInt16BE(2)).toBe(WS_GOING_AWAY);
    expect(plain.subarray(4).toString()).toBe('going away');
    const masked = goingAwayFrame(true);
    expect(masked[1]! & 0x80).toBe(0x80);
    const mask = masked.subarray(2, 6);
    const payload = Buffer.from(masked.subarray(6).map((b, i) => b ^ mask[i % 4]!));
    expect(payload.readUInt16BE(0)).toBe(WS_GOING_AWAY);
    const frames = new WebSocketFrames();
    frames.feed(masked);
    expect(frames.atBoundary).toBe(true);
  });
});

/** A plain tunnel to `port`, admitted at once. */
class PlainUpgrade extends UpgradeExchange {
  constructor(
    private readonly port: number,
    req: IncomingMessage,
    client: Duplex,
    head: Buffer,
    tunnels: TunnelSet,
  ) {
    super(
      req,
      client,
      head,
      { ms: 0, error: 'REQUEST_TIMEOUT' },
      createLogger({ level: 'silent', base: {} }),
      tunnels,
    );
  }

  protected admit(): void {
    const headers: string[] = [];
    for (let i = 0; i < this.req.rawHeaders.length; i += 2) {
      headers.push(this.req.rawHeaders[i]!, this.req.rawHeaders[i + 1]!);
    }
    this.open('127.0.0.1', this.port, headers);
  }

  protected ended(): void {}
}

describe('TunnelSet.goAway', () => {
  const servers: { close(): void }[] = [];
  const sockets: WebSocket[] = [];

  afterEach(() => {
    for (const ws of sockets.splice(0)) ws.terminate();
    for (const s of servers.splice(0)) s.close();
  });

  async function tunnelled(): Promise<{
    tunnels: TunnelSet;
    client: WebSocket;
    appClosed: Promise<{ code: number; reason: string }>;
  }> {
    const app = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    servers.push(app);
    await once(app, 'listening');
    const appClosed = new Promise<{ code: number; reason: string }>((resolve) => {
      app.on('connection', (ws) => {
        ws.on('message', (data) => ws.send(data));
        ws.on('close', (code, reason) => resolve({ code, reason: String(reason) }));
      });
    });
    const tunnels = new TunnelSet();
    const appPort = (app.address() as AddressInfo).port;
    const proxy: Server = createServer();
    proxy.on('upgrade', (req, socket, head) => new PlainUpgrade(appPort, req, socket, head, tunnels).begin());
    servers.push({ close: () => proxy.close() });
    proxy.listen(0, '127.0.0.1');
    await once(proxy, 'listening');
    const client = new WebSocket(`ws://127.0.0.1:${(proxy.address() as AddressInfo).port}/`);
    sockets.push(client);
    await once(client, 'open');
    return { tunnels, client, appClosed };
  }

  it('sends both websocket peers a close frame 1001 and resolves once they closed', async () => {
    const { tunnels, client, appClosed } = await tunnelled();
    client.send('ping');
    const [echo] = await once(client, 'message');
    expect(String(echo)).toBe('ping');
    const clientClosed = once(client, 'close');
    const started = Date.now();
    await tunnels.goAway(10_000);
    expect(tunnels.size).toBe(0);
    const [code, reason] = await clientClosed;
    expect(code).toBe(WS_GOING_AWAY);
    expect(String(reason)).toBe('going away');
    expect(await appClosed).toEqual({ code: WS_GOING_AWAY, reason: 'going away' });
    // Once both peers answered, not at the end of the linger.
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('closes a tunnel in the middle of a frame without a close frame', async () => {
    const { tunnels, client } = await tunnelled();
    // Half a frame toward the app: no frame of the proxy's own can go in between.
    (client as unknown as { _socket: Duplex })._socket.write(frame(100, true).subarray(0, 20));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const clientClosed = once(client, 'close');
    await tunnels.goAway(10_000);
    const [code] = await clientClosed;
    expect(code).toBe(1006);
  });
});
