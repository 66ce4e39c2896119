/**
 * The built fault-injected app of the `wakes` scenario (`bench/dist/wake-app.js`, `npx tsc -b bench`),
 * started as the platform starts it, with `WAKE_FAULT=path`: its readiness path passes before it is ready.
 */
import { once } from 'node:events';
import { connect, createServer } from 'node:net';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnNode, type TestProcess } from '../../test/support/processes.js';

/** The Pod-like address the app binds, as the platform gives each Pod one of its own. */
const HOST = '127.1.251.7';
/** From the port opening to the handler being ready: long enough to probe the app in between. */
const DELAY_MS = 4000;

const started: TestProcess[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((p) => p.kill()));
});

/** A port free on {@link HOST} now. */
async function freePort(): Promise<number> {
  const server = createServer().listen(0, HOST);
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

/**
 * Sends `GET <path>` on a connection of its own and reports what came back: the bytes of an answer, and
 * whether the connection was reset.
 */
async function rawGet(port: number, path: string): Promise<{ received: string; reset: boolean }> {
  const socket = connect({ host: HOST, port });
  let received = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    received += chunk;
  });
  let reset = false;
  socket.on('error', (err: NodeJS.ErrnoException) => {
    reset = err.code === 'ECONNRESET';
  });
  // Not `once`: it rejects on the 'error' a reset emits before the close.
  const closed = new Promise((resolve) => socket.once('close', resolve));
  await once(socket, 'connect');
  socket.write(`GET ${path} HTTP/1.1\r\nHost: app\r\n\r\n`);
  await closed;
  return { received, reset };
}

describe('wake-app WAKE_FAULT=path', () => {
  it('answers /healthz 200 at once, resets any other request before ready, and answers it 200 once listening', async () => {
    const port = await freePort();
    const app = spawnNode('bench/dist/wake-app.js', {
      PORT: String(port),
      HOST,
      WAKE_FAULT: 'path',
      WAKE_FAULT_DELAY_MS: String(DELAY_MS),
      K_REVISION: 'wake-00001',
    });
    started.push(app);
    const open = JSON.parse(await app.waitForLine((l) => l.includes('"socket open"'), 30_000)) as {
      at: number;
      delayMs: number;
    };
    expect(open.delayMs).toBe(DELAY_MS);
    const listening = () => app.stdout.some((l) => l.includes('"listening"'));

    // The readiness path reports ready while the handler is not.
    const health = await request(`http://${HOST}:${port}/healthz`);
    expect(health.statusCode).toBe(200);
    await health.body.dump();
    // Anything else: the head is read, then the connection reset before any byte of an answer.
    const early = await rawGet(port, '/');
    expect(listening(), 'the app became ready before the test could ask it').toBe(false);
    expect(early).toEqual({ received: '', reset: true });

    const line = JSON.parse(await app.waitForLine((l) => l.includes('"listening"'), 30_000)) as {
      port: number;
      revision: string;
    };
    expect(line).toMatchObject({ port, revision: 'wake-00001' });
    const late = await request(`http://${HOST}:${port}/`);
    expect(late.statusCode).toBe(200);
    expect(await late.body.text()).toBe('Hello from Zerogate! (revision wake-00001, path /)\n');
    expect(Date.now() - open.at).toBeGreaterThanOrEqual(DELAY_MS);
  }, 60_000);
});
