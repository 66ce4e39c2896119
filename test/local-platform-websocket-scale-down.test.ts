/**
 * A long websocket across the scale-down of its own Pod on the one-machine platform: the scale to 0 comes
 * through the control server (`PUT /v1/revisions/<ns>/<name>/scale`, the call the autoscaler makes), the
 * websocket goes through the ingress, and the revision's `terminationGracePeriodSeconds` is 300.
 * test/cluster/websocket-scale-down.test.ts checks the same on a real control plane for 180 s of
 * messages; this one exchanges them for 60 s, to keep `npm test` short.
 *
 * The autoscaler keeps the revision at its min-scale of 1, so it asks for a Pod again after the scale to
 * 0: a new Pod may start beside the stopping one. That does not touch the stopping Pod, whose websocket
 * and long request this test follows.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import { eventually, KUBELET_PROBE, send, type TextResponse } from './support/http.js';
import { podsOf, queueProxyAddress, startTestPlatform, type TestPlatform } from './support/platform.js';
import { ROOT } from './support/processes.js';
import { closed, echo, echoEverySecond, openSocket } from './support/websocket.js';

const started: TestPlatform[] = [];
const sockets: WebSocket[] = [];
afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate();
  await Promise.all(started.splice(0).map((p) => p.stop()));
}, 120_000);

const REVISION = 'app-00001';
/** The first Pod of the revision, the one the websocket goes to. */
const POD = `${REVISION}-1`;
const HOST = 'app.default.localhost';
/** How long the websocket exchanges messages after its Pod started stopping. */
const WEBSOCKET_SECONDS = 60;
const LONG_REQUEST_MS = 20_000;

/**
 * `/?ms=N` answers `done` after N ms; a websocket echoes each message. On SIGTERM it stops listening and
 * exits once its connections ended.
 */
const APP = `const http = require('node:http');
const { WebSocketServer } = require(${JSON.stringify(join(ROOT, 'node_modules/ws'))});
const server = http.createServer((q, s) =>
  setTimeout(() => s.end('done'), Number(new URL(q.url, 'http://app').searchParams.get('ms') ?? 0)));
new WebSocketServer({ server }).on('connection', (ws) => ws.on('message', (m, binary) => ws.send(m, { binary })));
server.listen(+process.env.PORT, process.env.HOST);
process.on('SIGTERM', () => server.close());`;

/** The platform's control server, from the autoscaler's `started` log line. */
function controlUrl(p: TestPlatform): string | undefined {
  let log: string;
  try {
    log = readFileSync(join(p.logDir, 'autoscaler.log'), 'utf8');
  } catch {
    return undefined;
  }
  return /"platformUrl":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(log)?.[1];
}

describe('one-machine platform: a websocket across the scale-down of its Pod', () => {
  it(
    `stays open through the ingress for ${WEBSOCKET_SECONDS} s of messages after its Pod started stopping (grace 300 s), closes cleanly, and the Pod then stops at once`,
    async () => {
      // Request timeouts far shorter than the websocket: none applies after its 101.
      const p = await startTestPlatform(`
ingress: { port: 0 }
services:
  - name: app
    command: ["node", "-e", ${JSON.stringify(APP)}]
    timeoutSeconds: 30
    terminationGracePeriodSeconds: 300
    annotations:
      autoscaling.knative.dev/min-scale: "1"
`);
      started.push(p);
      expect(
        await eventually(
          async () => (await podsOf(p, REVISION)).some((x) => x.name === POD && x.state === 'ready'),
          60_000,
        ),
        JSON.stringify(await p.status()),
      ).toBe(true);
      const qp = queueProxyAddress(p, POD);
      expect(qp).toBeDefined();
      expect(await eventually(() => controlUrl(p) !== undefined, 10_000)).toBe(true);

      const ws = await openSocket(`ws://127.0.0.1:${p.port}/`, { host: HOST });
      sockets.push(ws);
      const closing = closed(ws);
      expect(await echo(ws, 'before')).toBe('before');
      const long: Promise<TextResponse> = send(`http://127.0.0.1:${p.port}/?ms=${LONG_REQUEST_MS}`, {
        headers: { host: HOST },
      });
      // The request reached the Pod before the scale-down.
      expect(
        await eventually(async () => (await p.revision(REVISION)).inFlight >= 2, 10_000),
        'two exchanges in flight',
      ).toBe(true);

      const scaled = await send(`${controlUrl(p)}/v1/revisions/default/${REVISION}/scale`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ desiredPods: 0 }),
      });
      expect(scaled.status).toBe(204);
      const stoppingAt = Date.now();
      expect(
        await eventually(
          async () => (await podsOf(p, REVISION)).find((x) => x.name === POD)?.state === 'stopping',
          5_000,
        ),
        'the Pod stopping',
      ).toBe(true);
      // Not ready at once: its queue-proxy answers the kubelet's probe 503.
      expect((await send(`http://${qp}/`, { headers: KUBELET_PROBE })).status).toBe(503);

      const sent = await echoEverySecond(ws, stoppingAt, WEBSOCKET_SECONDS);
      expect(sent).toBeGreaterThan(WEBSOCKET_SECONDS * 0.75);
      const answer = await long;
      expect([answer.status, answer.body]).toEqual([200, 'done']);
      expect((await podsOf(p, REVISION)).find((x) => x.name === POD)?.state).toBe('stopping');

      ws.close(1000, 'done');
      const close = await closing;
      expect(close.code).toBe(1000);
      // Stopped soon after, well before the grace period ends.
      expect(
        await eventually(async () => {
          const state = (await podsOf(p, REVISION)).find((x) => x.name === POD)?.state;
          return state === undefined || state === 'stopped';
        }, 30_000),
        'the Pod stopped',
      ).toBe(true);
      expect(Date.now() - close.at).toBeLessThan(15_000);
    },
    (WEBSOCKET_SECONDS + 120) * 1000,
  );
});
