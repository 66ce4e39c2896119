import { once } from 'node:events';
import {
  createServer,
  type Http2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import { PassThrough, Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { wasSent } from './errors.js';
import { H2cDispatcher, H2cDispatcherPool } from './h2c-dispatcher.js';

type Handler = (req: Http2ServerRequest, res: Http2ServerResponse) => void;

const servers: Http2Server[] = [];
const dispatchers: { destroy(): Promise<void> }[] = [];

afterEach(async () => {
  await Promise.all(dispatchers.splice(0).map((d) => d.destroy()));
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

async function serve(handler: Handler): Promise<{ server: Http2Server; origin: string }> {
  const server = createServer(handler);
  server.on('session', (session) => session.on('error', () => {}));
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function dispatcherFor(origin: string): H2cDispatcher {
  const dispatcher = new H2cDispatcher(origin);
  dispatchers.push(dispatcher);
  return dispatcher;
}

/** What a handler saw of one request. */
interface Outcome {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  trailers: Record<string, string | string[] | undefined>;
}

/** A handler that collects the response, with hooks for the controller. */
class Collector implements Dispatcher.DispatchHandler {
  controller: Dispatcher.DispatchController | null = null;
  status = 0;
  headers: Record<string, string | string[] | undefined> = {};
  chunks: Buffer[] = [];
  errors: Error[] = [];
  ends = 0;
  readonly done: Promise<Outcome>;
  private settle!: (outcome: Outcome) => void;
  private reject!: (err: Error) => void;

  constructor(private readonly onChunk?: (collector: Collector, chunk: Buffer) => void) {
    this.done = new Promise((resolve, reject) => {
      this.settle = resolve;
      this.reject = reject;
    });
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
  }

  onResponseStart(
    _controller: Dispatcher.DispatchController,
    status: number,
    headers: Record<string, string | string[] | undefined>,
  ): void {
    this.status = status;
    this.headers = headers;
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.chunks.push(chunk);
    this.onChunk?.(this, chunk);
  }

  onResponseEnd(
    _controller: Dispatcher.DispatchController,
    trailers: Record<string, string | string[] | undefined>,
  ): void {
    this.ends++;
    this.settle({
      status: this.status,
      headers: this.headers,
      body: Buffer.concat(this.chunks).toString(),
      trailers,
    });
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.errors.push(err);
    this.reject(err);
  }
}

function send(
  dispatcher: Dispatcher | H2cDispatcher,
  options: Partial<Dispatcher.DispatchOptions>,
  collector = new Collector(),
): Collector {
  dispatcher.dispatch({ path: '/', method: 'GET', headers: [], body: null, ...options }, collector);
  return collector;
}

/** Echoes method, path, headers and body as JSON, with a trailer. */
const echo: Handler = (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.addTrailers({ 'x-checksum': 'abc' });
    res.end(
      JSON.stringify({
        method: req.method,
        path: req.url,
        authority: req.headers[':authority'],
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      }),
    );
  });
};

describe('H2cDispatcher', () => {
  it('sends a GET and maps host to :authority, dropping connection-specific headers', async () => {
    const { origin } = await serve(echo);
    const out = await send(dispatcherFor(origin), {
      path: '/a?b=1',
      headers: ['Host', 'example.com', 'connection', 'keep-alive', 'keep-alive', '5', 'x-one', '1'],
    }).done;
    expect(out.status).toBe(200);
    expect(out.headers[':status']).toBeUndefined();
    expect(out.headers['content-type']).toBe('application/json');
    const seen = JSON.parse(out.body);
    expect(seen).toMatchObject({ method: 'GET', path: '/a?b=1', authority: 'example.com', body: '' });
    expect(seen.headers['x-one']).toBe('1');
    expect(seen.headers.connection).toBeUndefined();
    expect(seen.headers['keep-alive']).toBeUndefined();
    expect(out.trailers['x-checksum']).toBe('abc');
  });

  it('streams a POST body from a readable', async () => {
    const { origin } = await serve(echo);
    const out = await send(dispatcherFor(origin), {
      method: 'POST',
      headers: ['content-type', 'application/grpc', 'te', 'trailers'],
      body: Readable.from([Buffer.from('hello '), Buffer.from('world')]),
    }).done;
    const seen = JSON.parse(out.body);
    expect(seen.body).toBe('hello world');
    expect(seen.headers.te).toBe('trailers');
    expect(seen.authority).toBe(origin.slice('http://'.length));
  });

  it('streams both ways: response chunks arrive while the request body is still open', async () => {
    const { origin } = await serve((req, res) => {
      res.writeHead(200);
      req.on('data', (chunk: Buffer) => res.write(`echo:${chunk}`));
      req.on('end', () => res.end());
    });
    const body = new PassThrough();
    const collector = send(
      dispatcherFor(origin),
      { method: 'POST', body },
      new Collector((_c, chunk) => {
        if (chunk.toString() === 'echo:one') body.end('two');
      }),
    );
    body.write('one');
    const out = await collector.done;
    expect(out.body).toBe('echo:oneecho:two');
  });

  it('aborts mid-response: the stream is cancelled and the handler hears of it once', async () => {
    let serverStreamClosed!: () => void;
    const closed = new Promise<void>((resolve) => {
      serverStreamClosed = resolve;
    });
    const { origin } = await serve((req, res) => {
      res.writeHead(200);
      res.write('first');
      req.stream.on('close', () => serverStreamClosed());
    });
    const reason = new Error('gone');
    const collector = send(dispatcherFor(origin), {}, new Collector((c) => c.controller?.abort(reason)));
    await expect(collector.done).rejects.toBe(reason);
    await closed;
    expect(collector.controller?.aborted).toBe(true);
    expect(collector.errors).toEqual([reason]);
    expect(collector.ends).toBe(0);
  });

  it('pauses and resumes the response (backpressure reaches the server)', async () => {
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const total = 32 * 1024 * 1024;
    let written = 0;
    const { origin } = await serve((_req, res) => {
      res.writeHead(200);
      const pump = (): void => {
        while (written < total) {
          written += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', pump);
            return;
          }
        }
        res.end();
      };
      pump();
    });
    let received = 0;
    let paused = false;
    const collector = send(
      dispatcherFor(origin),
      {},
      new Collector((c, data) => {
        received += data.length;
        if (!paused) {
          paused = true;
          c.controller?.pause();
        }
      }),
    );
    collector.chunks = [];
    // Time is the behaviour here: an unthrottled server writes the whole response well within it.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(collector.controller?.paused).toBe(true);
    // Flow control stops the server well before the whole response is written.
    expect(written).toBeLessThan(total);
    const before = received;
    collector.controller?.resume();
    const out = await collector.done;
    expect(out.status).toBe(200);
    expect(received).toBe(total);
    expect(received).toBeGreaterThan(before);
  });

  it('reconnects after the server sends GOAWAY', async () => {
    const { server, origin } = await serve(echo);
    const sessions: import('node:http2').ServerHttp2Session[] = [];
    server.on('session', (session) => sessions.push(session));
    const dispatcher = dispatcherFor(origin);
    expect((await send(dispatcher, {}).done).status).toBe(200);
    sessions[0]?.goaway();
    // Nothing outside the client's session shows that the GOAWAY has arrived: give it the time to.
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await send(dispatcher, {}).done).status).toBe(200);
    expect(sessions).toHaveLength(2);
  });

  it('reconnects after the server closed the session', async () => {
    const { server, origin } = await serve(echo);
    const sessions: import('node:http2').ServerHttp2Session[] = [];
    server.on('session', (session) => sessions.push(session));
    const dispatcher = dispatcherFor(origin);
    expect((await send(dispatcher, {}).done).status).toBe(200);
    sessions[0]?.close();
    await once(dispatcher, 'disconnect');
    expect((await send(dispatcher, {}).done).status).toBe(200);
    expect(sessions).toHaveLength(2);
  });

  it('surfaces a refused connection as ECONNREFUSED, without reading the body', async () => {
    const { server, origin } = await serve(echo);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    servers.length = 0;
    const body = new PassThrough();
    body.write('kept');
    const collector = send(dispatcherFor(origin), { method: 'POST', body });
    const err = (await collector.done.catch((e: unknown) => e)) as Error & { code?: string };
    expect(err.code).toBe('ECONNREFUSED');
    expect(body.read()?.toString()).toBe('kept');
  });

  it('reports a stream reset by the server', async () => {
    const { origin } = await serve((req) => req.stream.close(0x2));
    const err = await send(dispatcherFor(origin), {}).done.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
  });

  describe('tells a stream the server never processed (RFC 9113 §8.7) from one it may have', () => {
    /** The error the dispatcher reports for a POST with a body to a server handling its stream thus. */
    async function failure(onStream: Handler): Promise<Error & { code?: string }> {
      const { origin } = await serve(onStream);
      const body = new PassThrough();
      body.end('payload');
      return (await send(dispatcherFor(origin), { method: 'POST', body }).done.catch(
        (e: unknown) => e,
      )) as Error & {
        code?: string;
      };
    }

    it('a stream reset with REFUSED_STREAM was never processed', async () => {
      const err = await failure((req) => req.stream.close(0x7));
      expect(err.code).toBe('H2C_STREAM_REFUSED');
      expect(wasSent(err)).toBe(false);
    });

    /**
     * The second request's stream (id 3) gets a GOAWAY with `code` naming stream 1 as the last: Node's
     * server cannot send a last stream id of 0 (it takes 0 as "the last one received").
     */
    async function secondAboveGoaway(code: number): Promise<Error & { code?: string }> {
      const { origin } = await serve((req, res) => {
        if (req.stream.id === 1) {
          res.end('first');
          return;
        }
        const session = req.stream.session;
        session?.goaway(code, 1);
        // The server never ends the stream it refused: its session goes once the client had the GOAWAY.
        setTimeout(() => session?.destroy(), 200);
      });
      const dispatcher = dispatcherFor(origin);
      expect((await send(dispatcher, {}).done).body).toBe('first');
      const body = new PassThrough();
      body.end('payload');
      return (await send(dispatcher, { method: 'POST', body }).done.catch((e: unknown) => e)) as Error & {
        code?: string;
      };
    }

    it('a stream above the last stream id of a graceful GOAWAY was never processed', async () => {
      const err = await secondAboveGoaway(0);
      expect(err.code).toBe('H2C_STREAM_REFUSED');
      expect(wasSent(err)).toBe(false);
    });

    it('a stream above the last stream id of an error GOAWAY was never processed', async () => {
      expect(wasSent(await secondAboveGoaway(0x2))).toBe(false);
    });

    it('a stream the server reset otherwise, or covered by its GOAWAY, may have been processed', async () => {
      expect(wasSent(await failure((req) => req.stream.close(0x2)))).toBe(true);
      expect(wasSent(await failure((req) => req.stream.close(0x8)))).toBe(true);
      // The error GOAWAY names this stream as processed: it may have been.
      expect(wasSent(await failure((req) => req.stream.session?.goaway(0x2, req.stream.id)))).toBe(true);
    });

    it('a stream refused after its response started is not taken back', async () => {
      const err = await failure((_req, res) => {
        res.writeHead(200);
        res.write('part');
        setTimeout(() => res.stream.close(0x7), 20);
      });
      expect(wasSent(err)).toBe(true);
    });
  });

  it('multiplexes many concurrent streams on one session', async () => {
    const { server, origin } = await serve((req, res) => {
      setTimeout(() => res.end(req.url), 5);
    });
    let sessions = 0;
    server.on('session', () => sessions++);
    const dispatcher = dispatcherFor(origin);
    const outs = await Promise.all(
      Array.from({ length: 200 }, (_, i) => send(dispatcher, { path: `/${i}` }).done),
    );
    expect(outs.map((o) => o.body)).toEqual(Array.from({ length: 200 }, (_, i) => `/${i}`));
    expect(sessions).toBe(1);
  });

  it('closes gracefully and refuses requests afterwards', async () => {
    const { origin } = await serve(echo);
    const dispatcher = dispatcherFor(origin);
    await send(dispatcher, {}).done;
    await dispatcher.close();
    expect(dispatcher.idle).toBe(true);
    await expect(send(dispatcher, {}).done).rejects.toMatchObject({ code: 'H2C_CLOSED' });
  });

  it('takes a callback instead of returning a promise, as undici does, on close and destroy', async () => {
    const { origin } = await serve(echo);
    for (const [i, end] of [
      (d: H2cDispatcher, cb: () => void) => d.close(cb),
      (d: H2cDispatcher, cb: () => void) => d.destroy(cb),
      (d: H2cDispatcher, cb: () => void) => d.destroy(new Error('going'), cb),
    ].entries()) {
      const dispatcher = dispatcherFor(origin);
      await send(dispatcher, {}).done;
      let called = false;
      expect(
        end(dispatcher, () => (called = true)),
        `form ${i}`,
      ).toBeUndefined();
      await vi.waitFor(() => expect(called).toBe(true), { timeout: 2000, interval: 5 });
    }
  });

  it('checks its origin', () => {
    expect(() => new H2cDispatcher('https://127.0.0.1:1')).toThrow(/origin/);
  });
});

describe('H2cDispatcherPool', () => {
  it('routes by origin and drops a dispatcher whose session closed', async () => {
    const a = await serve((_req, res) => res.end('a'));
    const b = await serve((_req, res) => res.end('b'));
    const pool = new H2cDispatcherPool({ idleTimeoutMs: 50 });
    dispatchers.push(pool);
    expect((await send(pool, { origin: a.origin }).done).body).toBe('a');
    expect((await send(pool, { origin: b.origin }).done).body).toBe('b');
    expect(pool.size).toBe(2);
    await vi.waitFor(() => expect(pool.size).toBe(0), { timeout: 2000, interval: 5 });
    expect((await send(pool, { origin: a.origin }).done).body).toBe('a');
  });
});
