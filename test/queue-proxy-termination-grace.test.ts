import { describe, expect, it } from 'vitest';
import { accepts, KUBELET_PROBE, send } from './support/http.js';
import { queueProxyEnv, startQueueProxy, startUserApp } from './support/processes.js';
import { closed, echo, echoEverySecond, openSocket } from './support/websocket.js';

/** How long the websocket keeps exchanging messages while its Pod terminates. */
const WEBSOCKET_SECONDS = 180;
/** The Pod's termination grace period in the long test: longer than the websocket. */
const LONG_GRACE_SECONDS = 300;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('a terminating queue-proxy with QUEUE_TERMINATION_GRACE_SECONDS (docs/queue-proxy.md §7.1)', () => {
  it(
    `keeps a websocket open for ${WEBSOCKET_SECONDS} s and a long request running, untouched by request timeouts, then exits once they end`,
    async () => {
      const app = await startUserApp();
      const qp = await startQueueProxy(
        queueProxyEnv(app.port, {
          QUEUE_DRAIN_QUIET_SECONDS: '1',
          QUEUE_TERMINATION_GRACE_SECONDS: String(LONG_GRACE_SECONDS),
          // Request timeouts far shorter than the tunnel: none applies after its 101.
          REVISION_TIMEOUT_SECONDS: '30',
          REVISION_RESPONSE_START_TIMEOUT_SECONDS: '25',
        }),
      );
      const ws = await openSocket(`ws://127.0.0.1:${qp.port}/ws`);
      const wsClosed = closed(ws);
      expect(await echo(ws, 'before')).toBe('before');
      const long = send(`${qp.url}/delay?ms=20000`);
      await sleep(200);
      qp.proc.signal('SIGTERM');
      await qp.proc.waitForLine((l) => l.includes('"draining"'));
      // Not ready at once, so nothing new is routed to it.
      const probe = await send(`${qp.url}/`, { headers: KUBELET_PROBE });
      expect(probe.status).toBe(503);
      // Once drained, the listener no longer accepts.
      await qp.proc.waitForLine((l) => l.includes('drained; closing the serving listeners'));
      expect(await accepts(qp.port)).toBe(false);

      const started = Date.now();
      const sent = await echoEverySecond(ws, started, WEBSOCKET_SECONDS);
      expect(sent).toBeGreaterThan(WEBSOCKET_SECONDS / 2);
      const longAnswer = await long;
      expect(longAnswer.status).toBe(200);
      expect(longAnswer.body).toBe('ok');
      expect(qp.proc.child.exitCode).toBeNull();

      const closing = Date.now();
      ws.close(1000, 'done');
      // Closed by the peers, not cut (1006): the test app answers a close with an empty close frame (1005).
      expect([1000, 1005]).toContain((await wsClosed).code);
      expect(await qp.proc.exit()).toBe(0);
      // At once once nothing is left open, not after a fixed wait.
      expect(Date.now() - closing).toBeLessThan(5000);
    },
    (WEBSOCKET_SECONDS + 60) * 1000,
  );

  it('closes what is still open shortly before the grace period ends (websockets with 1001), then exits 0', async () => {
    const GRACE_SECONDS = 5;
    const app = await startUserApp();
    const qp = await startQueueProxy(
      queueProxyEnv(app.port, {
        QUEUE_DRAIN_QUIET_SECONDS: '1',
        QUEUE_TERMINATION_GRACE_SECONDS: String(GRACE_SECONDS),
      }),
    );
    const ws = await openSocket(`ws://127.0.0.1:${qp.port}/ws`);
    const wsClosed = closed(ws);
    expect(await echo(ws, 'before')).toBe('before');
    const hanging = send(`${qp.url}/hang`).then(
      (r) => ({ status: r.status }),
      (err: Error) => ({ error: err.message }),
    );
    await sleep(200);
    const signalledAt = Date.now();
    qp.proc.signal('SIGTERM');
    await sleep(1500);
    expect(await echo(ws, 'during the grace')).toBe('during the grace');
    const { code, reason, at } = await wsClosed;
    expect(code).toBe(1001);
    expect(reason).toBe('going away');
    // The grace less the margin (2 s), and before the kubelet would kill it.
    expect(at - signalledAt).toBeGreaterThanOrEqual(GRACE_SECONDS * 1000 - 2000 - 100);
    expect(await qp.proc.exit()).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(GRACE_SECONDS * 1000);
    // The request still running at the deadline was cut.
    expect(await hanging).toHaveProperty('error');
  }, 30_000);
});
