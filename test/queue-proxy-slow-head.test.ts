import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, send } from './support/http.js';
import { queueProxyEnv, startComponent, startQueueProxy, startUserApp } from './support/processes.js';
import { createPki, HAS_OPENSSL, SecretVolume, type TestPki } from './support/tls.js';

/** The header timeout the tests configure: short, so they stay quick. */
const TIMEOUT_MS = 2000;
/** How far from the timeout an answer may come: the tolerance promised, on a busy machine. */
const SLACK_MS = 1000;

/** What a raw connection saw: the bytes the server wrote and when it closed, from the connection's start. */
interface Outcome {
  readonly text: string;
  readonly closedAfterMs: number;
}

/**
 * Connects and sends `head` one byte every `intervalMs` (nothing when empty); resolves once the server
 * closes the connection, or rejects after `giveUpMs`.
 */
function trickle(
  port: number,
  head: string,
  intervalMs = 100,
  giveUpMs = 15_000,
  socket: Socket = connect(port, '127.0.0.1'),
): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const chunks: Buffer[] = [];
    let sent = 0;
    const ticker = setInterval(() => {
      if (sent < head.length && !socket.destroyed) socket.write(head[sent++]!);
    }, intervalMs);
    const giveUp = setTimeout(() => {
      socket.destroy();
      reject(new Error(`still open after ${giveUpMs} ms`));
    }, giveUpMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(ticker);
      clearTimeout(giveUp);
      resolve({ text: Buffer.concat(chunks).toString('latin1'), closedAfterMs: Date.now() - start });
    });
  });
}

/** A request head long enough that trickling it outlasts the timeout several times. */
const SLOW_HEAD = `GET / HTTP/1.1\r\nHost: example\r\nX-Padding: ${'a'.repeat(200)}\r\n\r\n`;

function expectAtTimeout(ms: number): void {
  expect(ms).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
  expect(ms).toBeLessThanOrEqual(TIMEOUT_MS + SLACK_MS);
}

async function start(env: Record<string, string> = {}) {
  const app = await startUserApp();
  return startQueueProxy(
    queueProxyEnv(app.port, { QUEUE_READ_HEADER_TIMEOUT_SECONDS: String(TIMEOUT_MS / 1000), ...env }),
  );
}

describe('queue-proxy request head timeout (QUEUE_READ_HEADER_TIMEOUT_SECONDS)', () => {
  it('answers 408 to a head trickled past the timeout, at the timeout, and logs it', async () => {
    const qp = await start();
    const outcome = await trickle(qp.port, SLOW_HEAD);
    expect(outcome.text).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expect(outcome.text).toContain('Connection: close');
    expectAtTimeout(outcome.closedAfterMs);
    await qp.proc.waitForLine((l) => l.includes('request head not received in time'));
  });

  it('closes a connection that sends nothing at the timeout', async () => {
    const qp = await start();
    const outcome = await trickle(qp.port, '');
    expect(outcome.text).toBe('');
    expectAtTimeout(outcome.closedAfterMs);
  });

  it('closes a connection that trickles the HTTP/2 preface (h2c detection) at the timeout', async () => {
    const qp = await start();
    const outcome = await trickle(qp.port, 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 200);
    expect(outcome.text).toBe('');
    expectAtTimeout(outcome.closedAfterMs);
  });

  it('closes an h2c connection that sends its preface but no SETTINGS at the timeout', async () => {
    const qp = await start();
    const socket = connect(qp.port, '127.0.0.1');
    socket.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
    const outcome = await trickle(qp.port, '', 100, 15_000, socket);
    expectAtTimeout(outcome.closedAfterMs);
  });

  it('times a later head on a keep-alive connection from its first byte, and answers 408', async () => {
    const qp = await start();
    const socket = connect(qp.port, '127.0.0.1');
    let text = '';
    socket.on('data', (c: Buffer) => {
      text += c.toString('latin1');
    });
    socket.write('GET / HTTP/1.1\r\nHost: example\r\n\r\n');
    expect(await eventually(() => text.includes('\r\n\r\n') && text.startsWith('HTTP/1.1 200'))).toBe(true);
    text = '';
    // The second request starts well after the first: its own timer starts with its first byte.
    await new Promise((r) => setTimeout(r, TIMEOUT_MS / 2));
    const outcome = await trickle(qp.port, SLOW_HEAD, 100, 15_000, socket);
    expect(text).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expectAtTimeout(outcome.closedAfterMs);
  });

  it('a head completed in time is served as usual', async () => {
    const qp = await start();
    const outcome = await trickle(qp.port, 'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n', 20);
    expect(outcome.text).toMatch(/^HTTP\/1\.1 200 /);
  });

  it('serves requests while a few hundred connections trickle their heads, and closes those at the timeout', async () => {
    // A longer timeout here, so the legitimate requests run while every slow connection is open.
    const timeoutMs = 6000;
    const qp = await start({ QUEUE_READ_HEADER_TIMEOUT_SECONDS: String(timeoutMs / 1000) });
    const slow: Socket[] = [];
    const outcomes: Promise<Outcome>[] = [];
    for (let i = 0; i < 300; i++) {
      const socket = connect(qp.port, '127.0.0.1');
      slow.push(socket);
      outcomes.push(trickle(qp.port, SLOW_HEAD, 250, 30_000, socket));
    }
    await eventually(() => slow.every((s) => !s.connecting), 5000);
    const opened = Date.now();
    const latencies: number[] = [];
    for (let i = 0; i < 20; i++) {
      const t0 = Date.now();
      const res = await send(`${qp.url}/`);
      latencies.push(Date.now() - t0);
      expect(res.status).toBe(200);
    }
    // All of them were served while the slow connections were still open.
    expect(Date.now() - opened).toBeLessThan(timeoutMs);
    expect(Math.max(...latencies)).toBeLessThan(2000);
    const ended = await Promise.all(outcomes);
    for (const outcome of ended) {
      expect(outcome.text).toMatch(/^HTTP\/1\.1 408 /);
      expect(outcome.closedAfterMs).toBeLessThanOrEqual(timeoutMs + 2 * SLACK_MS);
    }
    expect((await send(`${qp.url}/`)).status).toBe(200);
  }, 60_000);
});

describe.runIf(HAS_OPENSSL)('queue-proxy request head timeout on the TLS port', () => {
  let pki: TestPki;
  let volume: SecretVolume;
  let pkiDir: string;

  beforeAll(() => {
    pkiDir = mkdtempSync(join(tmpdir(), 'zerogate-slow-head-pki-'));
    pki = createPki(pkiDir);
    volume = new SecretVolume();
    volume.writeServerCertificate(pki, 'server');
  });

  afterAll(() => {
    volume?.remove();
    if (pkiDir) rmSync(pkiDir, { recursive: true, force: true });
  });

  async function startTls(): Promise<number> {
    const app = await startUserApp();
    const { ports } = await startComponent<{ tls?: number }>(
      'packages/queue-proxy/dist/main.js',
      queueProxyEnv(app.port, {
        QUEUE_SERVING_TLS_PORT: '0',
        QUEUE_CERTS_DIR: volume.dir,
        QUEUE_READ_HEADER_TIMEOUT_SECONDS: String(TIMEOUT_MS / 1000),
      }),
    );
    return ports.tls!;
  }

  it('closes a connection that never starts its handshake at the timeout', async () => {
    const port = await startTls();
    expectAtTimeout((await trickle(port, '')).closedAfterMs);
  });

  it('answers 408 to a head trickled after the handshake, at the timeout', async () => {
    const port = await startTls();
    const socket = tlsConnect({ host: '127.0.0.1', port, ca: pki.ca, ALPNProtocols: ['http/1.1'] });
    await new Promise((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
    const outcome = await trickle(port, SLOW_HEAD, 100, 15_000, socket);
    expect(outcome.text).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
    expectAtTimeout(outcome.closedAfterMs);
  });

  it('closes a connection that negotiated h2 and sends nothing, at the timeout', async () => {
    const port = await startTls();
    const socket = tlsConnect({ host: '127.0.0.1', port, ca: pki.ca, ALPNProtocols: ['h2'] });
    await new Promise((resolve, reject) => socket.once('secureConnect', resolve).once('error', reject));
    expect(socket.alpnProtocol).toBe('h2');
    expectAtTimeout((await trickle(port, '', 100, 15_000, socket)).closedAfterMs);
  });
});
