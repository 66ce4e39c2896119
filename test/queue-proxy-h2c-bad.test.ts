import { connect } from 'node:http2';
import { describe, expect, it } from 'vitest';
import { eventually, rawExchange, send } from './support/http.js';
import { queueProxyEnv, spawnNode, startQueueProxy } from './support/processes.js';

async function startH2cApp(): Promise<number> {
  const proc = spawnNode('test/support/h2c-app.mjs', { PORT: '0' });
  const line = await proc.waitForLine((l) => l.startsWith('{"port"'));
  return (JSON.parse(line) as { port: number }).port;
}

async function appStats(port: number): Promise<{ current: number; max: number }> {
  const session = connect(`http://127.0.0.1:${port}`);
  try {
    return await new Promise((resolve, reject) => {
      const stream = session.request({ ':path': '/_stats' });
      let body = '';
      stream.setEncoding('utf8');
      stream.on('data', (c: string) => {
        body += c;
      });
      stream.on('end', () => resolve(JSON.parse(body) as { current: number; max: number }));
      stream.on('error', reject);
      stream.end();
    });
  } finally {
    session.close();
  }
}

describe('queue-proxy h2c bad input', () => {
  it('closes a connection with a bad preface and keeps serving others', async () => {
    const appPort = await startH2cApp();
    const qp = await startQueueProxy(queueProxyEnv(appPort, { SERVING_READINESS_PROBE: '' }));
    const reply = await rawExchange(
      qp.port,
      'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\nthis is not a settings frame',
      1000,
    );
    // The server answers with GOAWAY (or nothing) and closes; no HTTP/1.1 response is written.
    expect(reply.startsWith('HTTP/1.1')).toBe(false);
    expect(
      (await send(`${qp.url}/`, { headers: { 'user-agent': 'kube-probe/1.30', 'k-network-probe': 'queue' } }))
        .status,
    ).toBe(200);
  });

  it('a stream reset mid-body and a client GOAWAY release their slots; other streams are unaffected', async () => {
    const appPort = await startH2cApp();
    const qp = await startQueueProxy(
      queueProxyEnv(appPort, { CONTAINER_CONCURRENCY: '1', SERVING_READINESS_PROBE: '' }),
    );
    const session = connect(`http://127.0.0.1:${qp.port}`);
    // A request whose body never ends, then reset.
    const upload = session.request({ ':method': 'POST', ':path': '/?ms=0' });
    upload.write('partial body');
    // The upload holds the only slot: it reached the app.
    expect(await eventually(async () => (await appStats(appPort)).current === 1)).toBe(true);
    upload.close(0x8); // CANCEL
    // The reset reached the app.
    expect(await eventually(async () => (await appStats(appPort)).current === 0)).toBe(true);
    // The only slot is free again: a new stream on the same connection completes.
    const ok = await new Promise<number>((resolve, reject) => {
      const s = session.request({ ':path': '/?ms=50' });
      s.on('response', (h) => resolve(Number(h[':status'])));
      s.on('error', reject);
      s.resume();
      s.end();
    });
    expect(ok).toBe(200);
    // GOAWAY from the client while a stream runs: the stream still completes.
    const running = new Promise<number>((resolve, reject) => {
      const s = session.request({ ':path': '/?ms=1000' });
      s.on('response', (h) => resolve(Number(h[':status'])));
      s.on('error', reject);
      s.resume();
      s.end();
    });
    expect(await eventually(async () => (await appStats(appPort)).current === 1)).toBe(true);
    session.close();
    expect(await running).toBe(200);
    expect(await eventually(async () => (await appStats(appPort)).current === 0)).toBe(true);
  });

  it('a flood of streams beyond the breaker gets 503 for the excess only', async () => {
    const appPort = await startH2cApp();
    const qp = await startQueueProxy(
      queueProxyEnv(appPort, { CONTAINER_CONCURRENCY: '1', SERVING_READINESS_PROBE: '' }),
    );
    const session = connect(`http://127.0.0.1:${qp.port}`);
    const statuses = await Promise.all(
      Array.from(
        { length: 15 },
        () =>
          new Promise<number>((resolve, reject) => {
            const s = session.request({ ':path': '/?ms=100' });
            s.on('response', (h) => resolve(Number(h[':status'])));
            s.on('error', reject);
            s.resume();
            s.end();
          }),
      ),
    );
    session.close();
    // CC=1: 1 running + 10 waiting are admitted, the other 4 are refused at once.
    expect(statuses.filter((s) => s === 200)).toHaveLength(11);
    expect(statuses.filter((s) => s === 503)).toHaveLength(4);
    expect((await appStats(appPort)).max).toBe(1);
  });
});
