import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ClientHttp2Session, type ClientHttp2Stream, connect, constants } from 'node:http2';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_H2_LIMITS, type H2Limits } from './h2-stream-guard.js';
import { createLogger } from './logger.js';
import { listenOn, ServingEndpoint } from './serving-listener.js';

const { NGHTTP2_CANCEL, NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_REFUSED_STREAM } = constants;
const logger = createLogger({ level: 'silent', base: {} });

let endpoint: ServingEndpoint | undefined;
const sessions: ClientHttp2Session[] = [];

afterEach(async () => {
  for (const session of sessions.splice(0)) session.destroy();
  endpoint?.closeAll();
  await endpoint?.close();
  endpoint = undefined;
});

/** Requests held by the handler until released. */
const held: ServerResponse[] = [];

/** Serves h2c with `limits`; `/hold` is answered only by {@link releaseAll}, anything else at once. */
async function serve(limits: Partial<H2Limits>): Promise<ClientHttp2Session> {
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/hold') held.push(res);
    else res.end('ok');
  };
  endpoint = new ServingEndpoint(handler, undefined, logger, { h2: { ...DEFAULT_H2_LIMITS, ...limits } });
  const port = await listenOn(endpoint.listener, 0, '127.0.0.1', 'PORT');
  return open(port);
}

function open(port: number): ClientHttp2Session {
  const session = connect(`http://127.0.0.1:${port}`);
  session.on('error', () => undefined);
  sessions.push(session);
  return session;
}

function releaseAll(): void {
  for (const res of held.splice(0)) res.end('released');
}

/** Resolves with the stream's response status, or its reset code as `rst`. */
function outcome(stream: ClientHttp2Stream): Promise<{ status?: number; rst?: number }> {
  return new Promise((resolve) => {
    stream.on('response', (headers) => resolve({ status: Number(headers[':status']) }));
    stream.on('error', () => undefined);
    stream.on('close', () => resolve({ rst: stream.rstCode }));
  });
}

function goaway(session: ClientHttp2Session): Promise<number> {
  return new Promise((resolve) => session.once('goaway', (code) => resolve(code)));
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(check()).toBe(true);
}

describe('H2StreamGuard', () => {
  it('refuses streams past the process cap with REFUSED_STREAM, and admits again once one ends', async () => {
    const session = await serve({ maxProcessStreams: 2 });
    const first = outcome(session.request({ ':path': '/hold' }, { endStream: true }));
    const second = outcome(session.request({ ':path': '/hold' }, { endStream: true }));
    await until(() => held.length === 2);
    expect(await outcome(session.request({ ':path': '/' }, { endStream: true }))).toEqual({
      rst: NGHTTP2_REFUSED_STREAM,
    });
    releaseAll();
    expect(await first).toEqual({ status: 200 });
    expect(await second).toEqual({ status: 200 });
    await until(() => endpoint?.h2Guard.open === 0);
    expect(await outcome(session.request({ ':path': '/' }, { endStream: true }))).toEqual({ status: 200 });
  });

  it('closes a connection with ENHANCE_YOUR_CALM once it holds more streams open than allowed', async () => {
    const session = await serve({ maxPendingStreams: 3 });
    const calm = goaway(session);
    for (let i = 0; i < 4; i++) outcome(session.request({ ':path': '/hold' }, { endStream: true }));
    expect(await calm).toBe(NGHTTP2_ENHANCE_YOUR_CALM);
    releaseAll();
  });

  it('counts streams reset before their response, and closes the connection past the budget', async () => {
    const session = await serve({ resetBurst: 5, resetsPerSecond: 0 });
    const calm = goaway(session);
    for (let i = 0; i < 5; i++) {
      const stream = session.request({ ':path': '/hold' }, { endStream: true });
      await until(() => held.length === 1);
      stream.close(NGHTTP2_CANCEL);
      await outcome(stream);
      held.splice(0);
    }
    // Five resets are within the budget: the connection still serves.
    expect(await outcome(session.request({ ':path': '/' }, { endStream: true }))).toEqual({ status: 200 });
    const sixth = session.request({ ':path': '/' }, { endStream: true });
    sixth.close(NGHTTP2_CANCEL);
    expect(await calm).toBe(NGHTTP2_ENHANCE_YOUR_CALM);
  });

  it('does not count streams reset after their response started', async () => {
    const session = await serve({ resetBurst: 2, resetsPerSecond: 0 });
    for (let i = 0; i < 5; i++) {
      const stream = session.request({ ':path': '/' }, { endStream: true });
      await new Promise((resolve) => stream.once('response', resolve));
      stream.close(NGHTTP2_CANCEL);
      await outcome(stream);
    }
    expect(await outcome(session.request({ ':path': '/' }, { endStream: true }))).toEqual({ status: 200 });
  });

  it('never runs the handler of a stream reset in the same read as its request', async () => {
    let handled = 0;
    endpoint = new ServingEndpoint(
      (_req, res) => {
        handled++;
        res.end('ok');
      },
      undefined,
      logger,
    );
    const port = await listenOn(endpoint.listener, 0, '127.0.0.1', 'PORT');
    const session = open(port);
    await new Promise((resolve) => session.once('connect', resolve));
    // Requests and resets made in one tick leave in one write: the server reads them together.
    const streams: ClientHttp2Stream[] = [];
    for (let i = 0; i < 20; i++) {
      const stream = session.request({ ':path': '/' }, { endStream: true });
      stream.on('error', () => undefined);
      stream.close(NGHTTP2_CANCEL);
      streams.push(stream);
    }
    await Promise.all(streams.map((s) => outcome(s)));
    expect(await outcome(session.request({ ':path': '/' }, { endStream: true }))).toEqual({ status: 200 });
    expect(handled).toBe(1);
  });
});
