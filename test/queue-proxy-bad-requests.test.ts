import { beforeAll, describe, expect, it } from 'vitest';
import { eventually, rawExchange, send, socketCount } from './support/http.js';
import {
  queueProxyEnv,
  type RunningQueueProxy,
  startQueueProxy,
  startUserApp,
  type UserApp,
} from './support/processes.js';

describe('queue-proxy bad requests', () => {
  let app: UserApp;
  let qp: RunningQueueProxy;

  beforeAll(async () => {
    app = await startUserApp();
    qp = await startQueueProxy(queueProxyEnv(app.port, { CONTAINER_CONCURRENCY: '1' }));
  });

  it('answers malformed HTTP with 400, logs it, and takes no slot', async () => {
    const reply = await rawExchange(qp.port, 'GARBAGE\r\n\r\n');
    expect(reply).toMatch(/^HTTP\/1\.1 400 /);
    expect(reply).toContain('bad request');
    expect(
      await eventually(() => qp.proc.logs().some((l) => l.msg === 'malformed request' && l.status === 400)),
    ).toBe(true);
    const bad = await rawExchange(qp.port, 'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n');
    expect(bad).toMatch(/^HTTP\/1\.1 400 /);
    expect((await send(`${qp.url}/`)).status).toBe(200);
    expect((await app.stats()).total).toBe(1);
  });

  it('answers oversized headers with 431 and takes no slot', async () => {
    const huge = 'x'.repeat(2 * 1024 * 1024);
    const reply = await rawExchange(qp.port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${huge}\r\n\r\n`);
    expect(reply).toMatch(/^HTTP\/1\.1 431 /);
    expect(
      await eventually(() => qp.proc.logs().some((l) => l.msg === 'malformed request' && l.status === 431)),
    ).toBe(true);
    expect((await send(`${qp.url}/`)).status).toBe(200);
  });

  // After the cases above: warnings of one message are rate-limited, so this one's log line must come last.
  it('answers 400 to two Host headers and to GET *, which node:http accepts; the app sees neither', async () => {
    const before = (await app.stats()).total;
    for (const head of [
      'GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a.example\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nhost: b.example\r\n\r\n',
      'GET * HTTP/1.1\r\nHost: a.example\r\n\r\n',
    ]) {
      const reply = await rawExchange(qp.port, head);
      expect(reply, head).toMatch(/^HTTP\/1\.1 400 /);
      expect(reply, head).toContain('bad request');
      expect(reply, head).toMatch(/connection: close/i);
    }
    expect(
      await eventually(() =>
        qp.proc
          .logs()
          .some((l) => l.msg === 'malformed request' && l.problem === 'more than one Host header'),
      ),
    ).toBe(true);
    expect((await send(`${qp.url}/`)).status).toBe(200);
    expect((await app.stats()).total).toBe(before + 1);
  });

  it('keeps no socket open after clients vanish mid-request', async () => {
    const pid = qp.proc.child.pid!;
    const before = socketCount(pid);
    // Half a request head, then the client disappears.
    await rawExchange(qp.port, 'GET / HTTP/1.1\r\nHost: x\r\n', 200);
    // A request whose body never finishes.
    await rawExchange(qp.port, 'POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc', 300);
    expect(await eventually(() => socketCount(pid) <= before)).toBe(true);
    expect(await eventually(async () => (await app.stats()).current === 0)).toBe(true);
    expect((await send(`${qp.url}/`)).status).toBe(200);
  });
});
