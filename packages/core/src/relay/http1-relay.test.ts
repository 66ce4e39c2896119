import { once } from 'node:events';
import { createServer as createHttpServer, type Server as HttpServer, request } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { forwardHeaders, QUEUE_PROXY } from '../forward-headers.js';
import type { ExchangeTimeouts } from '../proxy-exchange.js';
import { listenOn, ServingEndpoint } from '../serving-listener.js';
import type { RelayRoute } from './relay-connection.js';
import { type RelayClient, RelayExchange, type RelayRequest } from './relay-exchange.js';
import { UpstreamConnections } from './upstream-connections.js';

const logger = pino({ level: 'silent' });
const NO_TIMEOUTS: ExchangeTimeouts = { totalMs: 0, responseStartMs: 0, idleMs: 0, error: 'REQUEST_TIMEOUT' };

/** What the tests learn of each exchange's end. */
interface Ended {
  path: string;
  completed: boolean;
  status: number;
  timedOut: boolean;
}

/** A plain relayed request: forwarded as it comes, the default failure answers. */
class PassExchange extends RelayExchange {
  constructor(
    client: RelayClient,
    request: RelayRequest,
    private readonly pool: UpstreamConnections,
    timeouts: ExchangeTimeouts,
    private readonly log: Ended[],
    readonly failures: { err: Error; sent: boolean }[],
  ) {
    super(client, request, timeouts, logger, Date.now());
  }

  protected admit(): void {
    this.forward(this.pool, forwardHeaders(this.request.head.rawHeaders, this.request.peer, QUEUE_PROXY));
  }

  protected override upstreamFailed(err: Error, sent: boolean): void {
    this.failures.push({ err, sent });
    super.upstreamFailed(err, sent);
  }

  protected ended(completed: boolean): void {
    this.log.push({ path: this.request.path, completed, status: this.status, timedOut: this.timedOut });
  }
}

/**
 * A request that goes to the next of `pools` whenever an attempt provably never reached the app (a
 * refused connection, or a queue-proxy's `K-Request-Not-Sent` answer), as the activator's does.
 */
class RetryingExchange extends RelayExchange {
  private next = 0;

  constructor(
    client: RelayClient,
    request: RelayRequest,
    private readonly pools: UpstreamConnections[],
    private readonly log: Ended[],
  ) {
    super(client, request, NO_TIMEOUTS, logger, Date.now());
  }

  protected override get upstreamMarksNotSent(): boolean {
    return true;
  }

  protected admit(): void {
    const pool = this.pools[this.next++];
    if (pool === undefined) this.fail('REQUEST_NOT_SENT');
    else this.forward(pool, forwardHeaders(this.request.head.rawHeaders, this.request.peer, QUEUE_PROXY));
  }

  protected override upstreamFailed(err: Error, sent: boolean): void {
    if (sent) super.upstreamFailed(err, sent);
    else this.retry();
  }

  protected ended(completed: boolean): void {
    this.log.push({ path: this.request.path, completed, status: this.status, timedOut: this.timedOut });
  }
}

let endpoint: ServingEndpoint | undefined;
const servers: (Server | HttpServer)[] = [];
const sockets: Socket[] = [];
let connections: UpstreamConnections | undefined;

afterEach(async () => {
  for (const s of sockets) s.destroy();
  sockets.length = 0;
  endpoint?.closeAll();
  await endpoint?.close();
  endpoint = undefined;
  connections?.close();
  for (const server of servers) {
    (server as HttpServer).closeAllConnections?.();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  servers.length = 0;
});

interface Relay {
  port: number;
  ended: Ended[];
  failures: { err: Error; sent: boolean }[];
  /** Requests node:http answered (handed over). */
  nodeRequests: string[];
  connections: UpstreamConnections;
}

/** A serving endpoint relaying to `upstreamPort`; `decline` hands such requests to node:http. */
async function startRelay(
  upstreamPort: number,
  options: {
    timeouts?: ExchangeTimeouts;
    decline?: (r: RelayRequest) => boolean;
    headerTimeoutMs?: number;
  } = {},
): Promise<Relay> {
  const ended: Ended[] = [];
  const failures: { err: Error; sent: boolean }[] = [];
  const nodeRequests: string[] = [];
  connections = new UpstreamConnections('127.0.0.1', upstreamPort);
  const pool = connections;
  const route: RelayRoute = {
    take: (client, req) =>
      options.decline?.(req)
        ? undefined
        : new PassExchange(client, req, pool, options.timeouts ?? NO_TIMEOUTS, ended, failures),
  };
  endpoint = new ServingEndpoint(
    (req, res) => {
      nodeRequests.push(`${req.method} ${req.url} HTTP/${req.httpVersion}`);
      res.end('from node');
    },
    (_req, socket) => {
      nodeRequests.push('upgrade');
      socket.end('HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\n');
    },
    logger,
    { relay: route, headerTimeoutMs: options.headerTimeoutMs ?? 5000 },
  );
  const port = await listenOn(endpoint.listener, 0, '127.0.0.1', 'PORT');
  return { port, ended, failures, nodeRequests, connections };
}

/** An app on node:http; counts the connections it accepted. */
async function startApp(
  handler: (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => void,
): Promise<{ port: number; connections: () => number }> {
  const server = createHttpServer(handler);
  let accepted = 0;
  server.on('connection', () => accepted++);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as { port: number }).port, connections: () => accepted };
}

/** An app speaking raw bytes: `onData` gets each connection's socket and what it sent so far. */
async function startRawApp(onData: (socket: Socket, received: string) => void): Promise<number> {
  const server = createServer((socket) => {
    let received = '';
    socket.on('error', () => undefined);
    socket.on('data', (chunk) => {
      received += chunk.toString('latin1');
      onData(socket, received);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

/** A client connection that collects what it reads. */
async function client(port: number): Promise<{ socket: Socket; text: () => string; closed: Promise<void> }> {
  const socket = connect(port, '127.0.0.1');
  sockets.push(socket);
  let text = '';
  socket.on('data', (chunk) => {
    text += chunk.toString('latin1');
  });
  socket.on('error', () => undefined);
  const closed = once(socket, 'close').then(() => undefined);
  await once(socket, 'connect');
  return { socket, text: () => text, closed };
}

async function until(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Counts complete responses in a raw stream (by status lines). */
const statusLines = (text: string) => text.match(/HTTP\/1\.1 \d{3}[^\r]*\r\n/g) ?? [];

describe('Http1Relay', () => {
  it('relays keep-alive requests over one client and one upstream connection, headers rewritten', async () => {
    const seen: Record<string, string | string[] | undefined>[] = [];
    const app = await startApp((req, res) => {
      seen.push(req.headers);
      res.setHeader('Connection', 'keep-alive, x-hop');
      res.setHeader('X-Hop', 'secret');
      res.setHeader('K-Request-Not-Sent', 'forged');
      res.end(`hello ${req.url}`);
    });
    const relay = await startRelay(app.port);
    const c = await client(relay.port);
    for (const path of ['/a', '/b', '/c']) {
      c.socket.write(`GET ${path} HTTP/1.1\r\nHost: example.com\r\nX-Forwarded-For: 10.0.0.1\r\n\r\n`);
      await until(() => c.text().includes(`hello ${path}`));
    }
    expect(statusLines(c.text())).toHaveLength(3);
    expect(c.text()).not.toMatch(/x-hop|k-request-not-sent|connection:/i);
    expect(c.text()).toMatch(/\r\ndate: /i);
    expect(app.connections()).toBe(1);
    expect(relay.nodeRequests).toEqual([]);
    expect(seen[0]?.['x-forwarded-for']).toBe('10.0.0.1, 127.0.0.1');
    expect(seen[0]?.host).toBe('example.com');
    expect(relay.ended.map((e) => [e.path, e.completed, e.status])).toEqual([
      ['/a', true, 200],
      ['/b', true, 200],
      ['/c', true, 200],
    ]);
  });

  it('drops the response headers a Connection field names, even when it names nothing else', async () => {
    const port = await startRawApp((socket, received) => {
      if (received.endsWith('\r\n\r\n'))
        socket.write(
          'HTTP/1.1 200 OK\r\nConnection: X-Hop\r\nX-Hop: secret\r\nX-Kept: yes\r\nContent-Length: 2\r\n\r\nok',
        );
    });
    const relay = await startRelay(port);
    const c = await client(relay.port);
    c.socket.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await until(() => c.text().endsWith('ok'));
    expect(c.text()).toContain('X-Kept: yes\r\n');
    expect(c.text()).not.toMatch(/x-hop|connection:/i);
  });

  it('passes header bytes above ASCII through unchanged both ways, as node:http reads them', async () => {
    let seen: Buffer | undefined;
    const port = await startRawApp((socket, received) => {
      if (!received.endsWith('\r\n\r\n')) return;
      seen = Buffer.from(received, 'latin1');
      socket.write(
        Buffer.concat([
          Buffer.from('HTTP/1.1 200 OK\r\nX-Name: '),
          Buffer.from('é', 'utf8'),
          Buffer.from('\r\nContent-Length: 0\r\n\r\n'),
        ]),
      );
    });
    const relay = await startRelay(port);
    const c = await client(relay.port);
    c.socket.write(
      Buffer.concat([
        Buffer.from('GET / HTTP/1.1\r\nHost: a\r\nX-Name: '),
        Buffer.from('é', 'utf8'),
        Buffer.from('\r\n\r\n'),
      ]),
    );
    await until(() => statusLines(c.text()).length === 1 && c.text().endsWith('\r\n\r\n'));
    // The UTF-8 bytes of é (c3 a9) arrive as they were sent, not encoded a second time.
    expect(seen!.includes(Buffer.from('X-Name: \u00c3\u00a9\r\n', 'latin1'))).toBe(true);
    expect(Buffer.from(c.text(), 'latin1').includes(Buffer.from('X-Name: \u00c3\u00a9\r\n', 'latin1'))).toBe(
      true,
    );
  });

  it('streams a large request body and a large response body byte for byte', async () => {
    const app = await startApp((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (p: Buffer) => parts.push(p));
      req.on('end', () => {
        const body = Buffer.concat(parts);
        res.setHeader('content-length', body.length);
        res.end(body);
      });
    });
    const relay = await startRelay(app.port);
    const body = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = (i * 7) & 0xff;
    for (const chunked of [false, true]) {
      const echoed = await new Promise<Buffer>((resolve, reject) => {
        const req = request(
          { port: relay.port, host: '127.0.0.1', method: 'POST', path: '/echo', agent: false },
          (res) => {
            const parts: Buffer[] = [];
            res.on('data', (p: Buffer) => parts.push(p));
            res.on('end', () => resolve(Buffer.concat(parts)));
          },
        );
        req.on('error', reject);
        if (!chunked) req.setHeader('content-length', body.length);
        // Written in pieces so a chunked body has many chunks.
        for (let i = 0; i < body.length; i += 100_000) req.write(body.subarray(i, i + 100_000));
        req.end();
      });
      expect(echoed.equals(body)).toBe(true);
    }
    expect(relay.ended.every((e) => e.completed && e.status === 200)).toBe(true);
  });

  it('passes chunked bodies with their trailers both ways', async () => {
    let appTrailers: Record<string, string | undefined> = {};
    const app = await startApp((req, res) => {
      req.resume();
      req.on('end', () => {
        appTrailers = req.trailers;
        res.writeHead(200, { trailer: 'grpc-status' });
        res.write('part');
        res.addTrailers({ 'grpc-status': '7' });
        res.end();
      });
    });
    const relay = await startRelay(app.port);
    const c = await client(relay.port);
    c.socket.write(
      'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Check: yes\r\n\r\n',
    );
    await until(() => c.text().endsWith('\r\n\r\n') && c.text().includes('grpc-status: 7'));
    expect(appTrailers['x-check']).toBe('yes');
    expect(c.text()).toMatch(/transfer-encoding: chunked\r\n/i);
    expect(c.text()).toContain('4\r\npart\r\n0\r\ngrpc-status: 7\r\n\r\n');
  });

  it('re-frames a body that runs until the app closes as chunked, and keeps the client connection', async () => {
    const port = await startRawApp((socket, received) => {
      if (received.endsWith('\r\n\r\n'))
        socket.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil close');
    });
    const relay = await startRelay(port);
    const c = await client(relay.port);
    c.socket.write('GET /1 HTTP/1.1\r\nHost: a\r\n\r\n');
    await until(() => c.text().endsWith('0\r\n\r\n'));
    expect(c.text()).toMatch(/transfer-encoding: chunked\r\n\r\nb\r\nuntil close\r\n0\r\n\r\n$/i);
    c.socket.write('GET /2 HTTP/1.1\r\nHost: a\r\n\r\n');
    await until(() => statusLines(c.text()).length === 2 && c.text().endsWith('0\r\n\r\n'));
    expect(relay.ended.map((e) => e.completed)).toEqual([true, true]);
  });

  it('ends a body that runs until close when the app resets the connection instead of closing it', async () => {
    const port = await startRawApp((socket, received) => {
      if (!received.endsWith('\r\n\r\n')) return;
      socket.write('HTTP/1.1 431 Request Header Fields Too Large\r\nConnection: close\r\n\r\ntoo big');
      setTimeout(() => socket.resetAndDestroy(), 20);
    });
    const relay = await startRelay(port);
    const c = await client(relay.port);
    c.socket.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await until(() => c.text().endsWith('0\r\n\r\n'));
    expect(c.text()).toMatch(/^HTTP\/1\.1 431 [\s\S]*7\r\ntoo big\r\n0\r\n\r\n$/);
    expect(relay.ended).toEqual([{ path: '/', completed: true, status: 431, timedOut: false }]);
  });

  it('hands a head larger than 64 KiB, spanning reads, to node:http rather than keep its bytes', async () => {
    const app = await startApp((_req, res) => res.end('from app'));
    const relay = await startRelay(app.port);
    const c = await client(relay.port);
    const big = 'x'.repeat(100 * 1024);
    c.socket.write('GET /big HTTP/1.1\r\nHost: a\r\nX-Big: ');
    for (let i = 0; i < big.length; i += 16 * 1024) {
      c.socket.write(big.slice(i, i + 16 * 1024));
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    c.socket.write('\r\n\r\n');
    await until(() => c.text().includes('from node'));
    expect(relay.nodeRequests).toEqual(['GET /big HTTP/1.1']);
  });

  it('relays heads without bodies (HEAD, 204, 304) and skips interim 1xx answers', async () => {
    const port = await startRawApp((socket, received) => {
      const requests = received.split('\r\n\r\n').length - 1;
      if (!received.endsWith('\r\n\r\n')) return;
      if (requests === 1) socket.write('HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n');
      if (requests === 2) socket.write('HTTP/1.1 204 No Content\r\n\r\n');
      if (requests === 3)
        socket.write('HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 304 Not Modified\r\n\r\n');
    });
    const relay = await startRelay(port);
    const c = await client(relay.port);
    c.socket.write('HEAD / HTTP/1.1\r\nHost: a\r\n\r\n');
    await until(() => statusLines(c.text()).length === 1);
    c.socket.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await until(() => statusLines(c.text()).length === 2);
    c.socket.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await until(() => statusLines(c.text()).length === 3);
    expect(statusLines(c.text()).map((l) => l.slice(9, 12))).toEqual(['200', '204', '304']);
    expect(c.text()).toMatch(/content-length: 5000\r\n/i);
    expect(c.text()).not.toContain('103');
    expect(relay.ended.map((e) => e.status)).toEqual([200, 204, 304]);
  });

  it('answers pipelined requests in order, one at a time', async () => {
    const order: string[] = [];
    const app = await startApp((req, res) => {
      order.push(req.url ?? '');
      setTimeout(() => res.end(`r${req.url}`), req.url === '/1' ? 50 : 0);
    });
    const relay = await startRelay(app.port);
    const c = await client(relay.port);
    c.socket.write(
      'GET /1 HTTP/1.1\r\nHost: a\r\n\r\nPOST /2 HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhiGET /3 HTTP/1.1\r\nHost: a\r\n\r\n',
    );
    await until(() => statusLines(c.text()).length === 3);
    expect(c.text().indexOf('r/1')).toBeLessThan(c.text().indexOf('r/2'));
    expect(c.text().indexOf('r/2')).toBeLessThan(c.text().indexOf('r/3'));
    expect(order).toEqual(['/1', '/2', '/3']);
  });

  it('hands what it does not take to node:http with every byte read put back', async () => {
    const app = await startApp((_req, res) => res.end('from app'));
    const relay = await startRelay(app.port, { decline: (r) => r.path === '/declined' });
    const cases: [string, RegExp][] = [
      ['GET /declined HTTP/1.1\r\nHost: a\r\n\r\n', /from node/],
      ['GET /old HTTP/1.0\r\nHost: a\r\n\r\n', /from node/],
      [
        'POST /e HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi',
        /100 Continue[\s\S]*from node/,
      ],
      ['GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: x\r\n\r\n', /101 Switching/],
      // Refused heads get node:http's own answers.
      [
        'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n',
        /^HTTP\/1\.1 400/,
      ],
      ['GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', /^HTTP\/1\.1 400/],
      ['GET / HTTP/1.1\r\n X: folded\r\nHost: a\r\n\r\n', /^HTTP\/1\.1 400/],
    ];
    for (const [bytes, expected] of cases) {
      const c = await client(relay.port);
      // Split across writes: the head's earlier pieces must reach node:http too.
      c.socket.write(bytes.slice(0, 7));
      await new Promise((resolve) => setTimeout(resolve, 20));
      c.socket.write(bytes.slice(7));
      await until(() => expected.test(c.text()));
    }
    expect(relay.nodeRequests).toEqual([
      'GET /declined HTTP/1.1',
      'GET /old HTTP/1.0',
      'POST /e HTTP/1.1',
      'upgrade',
    ]);
    expect(relay.ended).toEqual([]);
  });

  it('reports a refused upstream as never sent, and a reset before any answer as sent', async () => {
    const refused = createServer();
    await new Promise<void>((resolve) => refused.listen(0, '127.0.0.1', resolve));
    const deadPort = (refused.address() as { port: number }).port;
    await new Promise<void>((resolve) => refused.close(() => resolve()));
    const relay = await startRelay(deadPort);
    const c = await client(relay.port);
    c.socket.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await until(() => statusLines(c.text()).length === 1);
    expect(c.text()).toMatch(/^HTTP\/1\.1 502 /);
    expect(relay.failures.map((f) => [(f.err as NodeJS.ErrnoException).code, f.sent])).toEqual([
      ['ECONNREFUSED', false],
    ]);
    // The client connection stays usable after the error answer.
    c.socket.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await until(() => statusLines(c.text()).length === 2);

    const resetPort = await startRawApp((socket) => socket.destroy());
    const relay2 = await startRelay(resetPort);
    const c2 = await client(relay2.port);
    c2.socket.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await until(() => statusLines(c2.text()).length === 1);
    expect(relay2.failures.map((f) => f.sent)).toEqual([true]);
  });

  it('cuts the client connection when the app fails mid-response', async () => {
    const port = await startRawApp((socket, received) => {
      if (received.endsWith('\r\n\r\n')) {
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial');
        setTimeout(() => socket.destroy(), 20);
      }
    });
    const relay = await startRelay(port);
    const c = await client(relay.port);
    c.socket.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await c.closed;
    expect(c.text()).toContain('partial');
    expect(relay.ended).toEqual([{ path: '/', completed: false, status: 200, timedOut: false }]);
  });

  it('slows the app down to a client that does not read (backpressure), then delivers everything', async () => {
    let blocked = false;
    let sent = 0;
    const total = 64 * 1024 * 1024;
    const app = await startApp((_req, res) => {
      res.setHeader('content-length', total);
      const piece = Buffer.alloc(1024 * 1024, 0x61);
      const pump = () => {
        while (sent < total) {
          sent += piece.length;
          if (!res.write(piece)) {
            blocked = true;
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
    });
    const relay = await startRelay(app.port);
    const c = connect(relay.port, '127.0.0.1');
    sockets.push(c);
    await once(c, 'connect');
    c.pause();
    c.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await until(() => blocked);
    await new Promise((resolve) => setTimeout(resolve, 300));
    // The proxy held the app back rather than reading the 64 MiB it wanted to send: what left the app
    // is at most what the kernel's socket buffers on the way hold.
    expect(sent).toBeLessThan(40 * 1024 * 1024);
    let received = 0;
    c.on('data', (chunk: Buffer) => {
      received += chunk.length;
    });
    c.resume();
    await until(() => received >= total, 20_000);
    expect(relay.ended.map((e) => e.completed)).toEqual([true]);
  });

  it('abandons the upstream when the client leaves mid-response', async () => {
    let appSocketClosed = false;
    const app = await startApp((req, res) => {
      res.write('started');
      req.socket.on('close', () => {
        appSocketClosed = true;
      });
    });
    const relay = await startRelay(app.port);
    const c = await client(relay.port);
    c.socket.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await until(() => c.text().includes('started'));
    c.socket.destroy();
    await until(() => appSocketClosed && relay.ended.length === 1);
    expect(relay.ended[0]).toMatchObject({ completed: false, status: 200 });
  });

  it('times out: 504 before the response starts; a started chunked response ends with the timeout text', async () => {
    const app = await startApp((req, res) => {
      if (req.url === '/started') res.write('begun');
    });
    const relay = await startRelay(app.port, {
      timeouts: { totalMs: 300, responseStartMs: 0, idleMs: 0, error: 'REQUEST_TIMEOUT' },
    });
    const c = await client(relay.port);
    c.socket.write('GET /never HTTP/1.1\r\nHost: a\r\n\r\n');
    await until(() => statusLines(c.text()).length === 1);
    expect(c.text()).toMatch(/^HTTP\/1\.1 504 /);
    const c2 = await client(relay.port);
    c2.socket.write('GET /started HTTP/1.1\r\nHost: a\r\n\r\n');
    await until(() => c2.text().endsWith('0\r\n\r\n'));
    expect(c2.text()).toMatch(/begun\r\nf\r\nrequest timeout\r\n0\r\n\r\n$/);
    expect(relay.ended.map((e) => [e.path, e.status, e.timedOut])).toEqual([
      ['/never', 504, true],
      ['/started', 200, true],
    ]);
  });

  it('answers a malformed chunked request body 400 and closes', async () => {
    const app = await startApp((req, res) => {
      req.resume();
      req.on('error', () => undefined);
      req.on('end', () => res.end('x'));
    });
    const relay = await startRelay(app.port);
    const c = await client(relay.port);
    c.socket.write('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n');
    await c.closed;
    expect(c.text()).toMatch(/^HTTP\/1\.1 400 /);
    expect(c.text()).toMatch(/connection: close/i);
  });

  it('answers 408 to a later head that takes too long, and closes an idle connection on drain', async () => {
    const app = await startApp((_req, res) => res.end('ok'));
    const relay = await startRelay(app.port, { headerTimeoutMs: 300 });
    const c = await client(relay.port);
    c.socket.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await until(() => statusLines(c.text()).length === 1);
    c.socket.write('GET / HTTP/1.1\r\nHo');
    await c.closed;
    expect(c.text()).toMatch(/HTTP\/1\.1 408 /);

    const idle = await client(relay.port);
    idle.socket.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await until(() => statusLines(idle.text()).length === 1);
    endpoint!.closeIdle();
    await idle.closed;
  });

  it('sends a request that never reached an app to the next upstream, body and all', async () => {
    const refused = createServer();
    await new Promise<void>((resolve) => refused.listen(0, '127.0.0.1', resolve));
    const deadPort = (refused.address() as { port: number }).port;
    await new Promise<void>((resolve) => refused.close(() => resolve()));
    // A queue-proxy whose app refused: 503 marked K-Request-Not-Sent, read off and not relayed.
    const notSentPort = await startRawApp((socket, received) => {
      if (received.includes('\r\n\r\n'))
        socket.write(
          'HTTP/1.1 503 Service Unavailable\r\nK-Request-Not-Sent: app-refused\r\nContent-Length: 4\r\n\r\nnope',
        );
    });
    const bodies: string[] = [];
    const app = await startApp((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => {
        body += c;
      });
      req.on('end', () => {
        bodies.push(body);
        res.end(`got ${body}`);
      });
    });
    const ended: Ended[] = [];
    const pools = [deadPort, notSentPort, app.port].map((port) => new UpstreamConnections('127.0.0.1', port));
    const opened = [...pools];
    endpoint = new ServingEndpoint((_req, res) => res.end('from node'), undefined, logger, {
      relay: { take: (client, req) => new RetryingExchange(client, req, pools, ended) },
    });
    const port = await listenOn(endpoint.listener, 0, '127.0.0.1', 'PORT');
    const c = await client(port);
    c.socket.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    await until(() => c.text().includes('got '));
    expect(c.text()).not.toContain('nope');
    expect(statusLines(c.text())).toEqual(['HTTP/1.1 200 OK\r\n']);
    // A body waits for the connection: the refused attempt loses none of it.
    const refusedOnly = [deadPort, app.port].map((p) => new UpstreamConnections('127.0.0.1', p));
    opened.push(...refusedOnly);
    const c2 = await client(port);
    pools.splice(0, pools.length, ...refusedOnly);
    c2.socket.write('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello');
    await until(() => c2.text().includes('got hello'));
    expect(bodies).toEqual(['', 'hello']);
    expect(ended.map((e) => e.status)).toEqual([200, 200]);
    for (const pool of opened) pool.close();
  });
});
