import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { eventually, send } from './support/http.js';
import {
  queueProxyEnv,
  type RunningQueueProxy,
  startQueueProxy,
  startUserApp,
  type UserApp,
} from './support/processes.js';

/**
 * Clock granularity allowed when checking that a timeout fired no earlier than its deadline. Elapsed
 * times are measured by the client from before sending to after the answer, so they only overstate
 * the time the queue-proxy measured.
 */
const GRANULARITY_MS = 20;

let app: UserApp | undefined;
let qp: RunningQueueProxy | undefined;

async function start(env: Record<string, string>) {
  app = await startUserApp();
  qp = await startQueueProxy(queueProxyEnv(app.port, env));
  return { app, qp };
}

/** Reads a streamed response, returning its status, the text received and when it ended. */
async function readStream(url: string) {
  const start = Date.now();
  const res = await request(url, { headersTimeout: 0, bodyTimeout: 0 });
  let text = '';
  let error: Error | undefined;
  try {
    for await (const chunk of res.body) text += String(chunk);
  } catch (err) {
    error = err as Error;
  }
  return { status: res.statusCode, text, error, elapsed: Date.now() - start };
}

describe('queue-proxy timeouts (docs/queue-proxy.md §5)', () => {
  it('answers 504 `request timeout` when nothing was written by the revision timeout', async () => {
    const { app, qp } = await start({ REVISION_TIMEOUT_SECONDS: '1' });
    const t0 = Date.now();
    const res = await send(`${qp.url}/hang`);
    expect(res.status).toBe(504);
    expect(res.body).toBe('request timeout');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000 - GRANULARITY_MS);
    // The upstream request is cancelled.
    expect(await eventually(async () => (await app.stats()).current === 0)).toBe(true);
  });

  it('counts time waiting in the queue toward the revision timeout', async () => {
    const { app, qp } = await start({ REVISION_TIMEOUT_SECONDS: '2', CONTAINER_CONCURRENCY: '1' });
    // The blocker holds the only slot for 1.7 s; the queued request, sent once the app has the blocker,
    // then needs 1 s more, which fits in 2 s on its own but not with the wait counted (unless the
    // machine took over 0.7 s to send it). Without the wait counted it would be answered 200.
    const blocker = send(`${qp.url}/delay?ms=1700`);
    expect(await eventually(async () => (await app.stats()).current === 1)).toBe(true);
    const t0 = Date.now();
    const queued = await send(`${qp.url}/delay?ms=1000`);
    expect(queued.status).toBe(504);
    expect(queued.body).toBe('request timeout');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(2000 - GRANULARITY_MS);
    expect((await blocker).status).toBe(200);
    // The slot is free again afterwards.
    expect((await send(`${qp.url}/`)).status).toBe(200);
  });

  it('keeps the status of a response that started, and ends it at the deadline', async () => {
    const { qp } = await start({ REVISION_TIMEOUT_SECONDS: '1' });
    const r = await readStream(`${qp.url}/stream?n=100&interval=200`);
    expect(r.status).toBe(200);
    expect(r.text.startsWith('data: 0\n\n')).toBe(true);
    expect(r.text.endsWith('request timeout')).toBe(true);
    expect(r.elapsed).toBeGreaterThanOrEqual(1000 - GRANULARITY_MS);
  });

  it('closes a started response of declared length at the deadline', async () => {
    const { qp } = await start({ REVISION_TIMEOUT_SECONDS: '1' });
    const r = await readStream(`${qp.url}/fixed-partial`);
    expect(r.status).toBe(200);
    expect(r.error).toBeDefined();
    expect(r.text).toBe('partial');
    expect(r.elapsed).toBeGreaterThanOrEqual(1000 - GRANULARITY_MS);
  });

  it('response-start timeout fires only before the first write', async () => {
    const { qp } = await start({ REVISION_RESPONSE_START_TIMEOUT_SECONDS: '1' });
    const t0 = Date.now();
    const slow = await send(`${qp.url}/delay?ms=1500`);
    expect(slow.status).toBe(504);
    expect(slow.body).toBe('request timeout');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000 - GRANULARITY_MS);
    // A response that starts in time may run past the response-start timeout.
    const r = await readStream(`${qp.url}/stream?n=4&interval=500`);
    expect(r.status).toBe(200);
    expect(r.text).toBe('data: 0\n\ndata: 1\n\ndata: 2\n\ndata: 3\n\n');
    expect(r.elapsed).toBeGreaterThanOrEqual(1400);
  });

  it('idle timeout re-arms on every write', async () => {
    const { qp } = await start({ REVISION_IDLE_TIMEOUT_SECONDS: '1' });
    // Writes every 400 ms for 2 s: never idle for 1 s, so the stream completes.
    const ok = await readStream(`${qp.url}/stream?n=6&interval=400`);
    expect(ok.error).toBeUndefined();
    expect(ok.text.split('\n\n').filter(Boolean)).toHaveLength(6);
    expect(ok.elapsed).toBeGreaterThanOrEqual(1900);
    // A stream that pauses longer than 1 s is cut.
    const cut = await readStream(`${qp.url}/stream?n=3&interval=1600`);
    expect(cut.status).toBe(200);
    expect(cut.error).toBeDefined();
    expect(cut.text).toBe('data: 0\n\n');
    expect(cut.elapsed).toBeGreaterThanOrEqual(1000 - GRANULARITY_MS);
    // Nothing written before the idle timeout either: 504.
    const t0 = Date.now();
    const silent = await send(`${qp.url}/hang`);
    expect(silent.status).toBe(504);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1000 - GRANULARITY_MS);
  });
});
