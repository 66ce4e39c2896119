import { readFileSync } from 'node:fs';
import { type ClientHttp2Session, connect, constants } from 'node:http2';
import { describe, expect, it } from 'vitest';
import { h2Exchange } from './support/http.js';
import { queueProxyEnv, spawnNode, startQueueProxy } from './support/processes.js';

const { NGHTTP2_CANCEL, NGHTTP2_ENHANCE_YOUR_CALM } = constants;

/** The bound promised: ten abusive connections leave the queue-proxy under this resident size. */
const RSS_LIMIT_MB = 150;

async function startH2cApp(): Promise<number> {
  const proc = spawnNode('test/support/h2c-app.mjs', { PORT: '0' });
  const line = await proc.waitForLine((l) => l.startsWith('{"port"'));
  return (JSON.parse(line) as { port: number }).port;
}

function rssMb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? 0) / 1024;
}

/** How one rapid-reset connection ended. */
interface Abuse {
  /** Streams opened and reset at once. */
  readonly sent: number;
  /** The GOAWAY code the server sent, if any. */
  readonly goaway: number | undefined;
}

/**
 * Opens a connection and, as CVE-2023-44487 does, opens a stream and resets it at once, `count` times in
 * batches, as fast as the connection takes them; resolves when the server closes the connection or, once
 * all were sent, when the client closes it.
 */
function rapidReset(port: number, count: number): Promise<Abuse> {
  return new Promise((resolve) => {
    const session = connect(`http://127.0.0.1:${port}`);
    let sent = 0;
    let goaway: number | undefined;
    session.on('error', () => undefined);
    session.on('goaway', (code) => {
      goaway = code;
    });
    session.on('close', () => resolve({ sent, goaway }));
    const batch = () => {
      if (session.closed || session.destroyed) return;
      try {
        for (let i = 0; i < 100 && sent < count; i++) {
          const stream = session.request({ ':path': '/?ms=0' }, { endStream: true });
          stream.on('error', () => undefined);
          stream.close(NGHTTP2_CANCEL);
          sent++;
        }
      } catch {
        // The session went away mid-batch.
        return;
      }
      if (sent < count) setImmediate(batch);
      else setTimeout(() => session.close(), 500);
    };
    session.on('connect', batch);
  });
}

async function get(session: ClientHttp2Session, path = '/?ms=0'): Promise<number> {
  return (await h2Exchange(session, { ':path': path })).status;
}

describe('queue-proxy HTTP/2 abuse limits', () => {
  it('advertises 250 concurrent streams per connection, as Go’s HTTP/2 server does', async () => {
    const qp = await startQueueProxy(queueProxyEnv(await startH2cApp(), { SERVING_READINESS_PROBE: '' }));
    const session = connect(`http://127.0.0.1:${qp.port}`);
    try {
      const settings = await new Promise<{ maxConcurrentStreams?: number }>((resolve) =>
        session.once('remoteSettings', resolve),
      );
      expect(settings.maxConcurrentStreams).toBe(250);
    } finally {
      session.close();
    }
  });

  it('closes rapid-reset connections with ENHANCE_YOUR_CALM, stays under 150 MB, and keeps serving others', async () => {
    const qp = await startQueueProxy(queueProxyEnv(await startH2cApp(), { SERVING_READINESS_PROBE: '' }));
    const pid = qp.proc.child.pid!;
    let peak = rssMb(pid);
    const sampler = setInterval(() => {
      peak = Math.max(peak, rssMb(pid));
    }, 20);
    // A legitimate client on its own connection, calling throughout.
    const legit = connect(`http://127.0.0.1:${qp.port}`);
    try {
      expect(await get(legit)).toBe(200);
      let stop = false;
      const during: number[] = [];
      const calls = (async () => {
        while (!stop) during.push(await get(legit));
      })();
      const perConnection = 5000;
      const abusers = await Promise.all(Array.from({ length: 10 }, () => rapidReset(qp.port, perConnection)));
      stop = true;
      await calls;
      for (const abuse of abusers) {
        expect(abuse.goaway).toBe(NGHTTP2_ENHANCE_YOUR_CALM);
        expect(abuse.sent).toBeLessThan(perConnection);
      }
      expect(during.length).toBeGreaterThan(0);
      expect(during.every((status) => status === 200)).toBe(true);
      await qp.proc.waitForLine((l) => l.includes('streams reset before their response'));
    } finally {
      clearInterval(sampler);
      legit.close();
    }
    expect(peak).toBeLessThan(RSS_LIMIT_MB);
    // A new connection afterwards is served.
    const after = connect(`http://127.0.0.1:${qp.port}`);
    try {
      expect(await get(after)).toBe(200);
    } finally {
      after.close();
    }
  }, 60_000);
});
