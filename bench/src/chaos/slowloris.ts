/**
 * `slowloris`: up to 1,000 connections to a queue-proxy that send a request head a header line at a
 * time and never finish it, with legitimate load beside them. The legitimate requests must all be
 * served, the queue-proxy's memory stay bounded, and every slow head be closed (with 408, or without an
 * answer) once the queue-proxy's read-header timeout, set to 3 s here, has passed, as Go's
 * `http.Server.ReadHeaderTimeout` closes them in Knative's.
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { sleep } from '../scenarios/common.js';
import { type ChaosContext, type ChaosResult, type ChaosScenario, RSS_CAPS_KIB } from './chaos-scenario.js';
import { ComponentSampler } from './component-sampler.js';
import { openFileLimit } from './flood.js';
import { accountFault } from './outcomes.js';
import { parseStatuses } from './raw-http.js';
import { countLogLines, startPod } from './standalone.js';
import { SteadyLoad } from './steady-load.js';

const SLOW_CONNECTIONS = 1000;
/** A slow connection sends one more header line this often. */
const DRIP_MS = 2000;
const LEGIT_CLIENTS = 5;
/** The queue-proxy's read-header timeout in this scenario (`QUEUE_READ_HEADER_TIMEOUT_SECONDS`). */
const READ_HEADER_TIMEOUT_SECONDS = 3;
/** A slow head must be closed within the timeout plus this long. */
const CLOSE_SLACK_SECONDS = 2;

/** One slow connection: what it got back and whether the server closed it. */
interface Slow {
  readonly socket: Socket;
  data: string;
  closed: boolean;
  /** When the connection was opened and closed, `performance.now()` milliseconds. */
  readonly openedAt: number;
  closedAt?: number;
}

export const slowloris: ChaosScenario = {
  name: 'slowloris',
  description: '1,000 never-finished request heads to a queue-proxy, legitimate load beside them',
  lossDefinition: 'every failed legitimate request',
  budgetSeconds: 90,
  async run(context: ChaosContext): Promise<ChaosResult> {
    const count = Math.min(SLOW_CONNECTIONS, Math.floor((openFileLimit() - 500) / 2));
    const seconds = context.quick ? 8 : 20;
    const pod = await startPod(context, {
      QUEUE_READ_HEADER_TIMEOUT_SECONDS: String(READ_HEADER_TIMEOUT_SECONDS),
    });
    const sampler = new ComponentSampler(pod.queueProxy.proc.pid);
    const slow: Slow[] = [];
    context.progress(`slowloris: ${count} slow connections for ${seconds} s beside ${LEGIT_CLIENTS} clients`);
    for (let i = 0; i < count; i++) {
      const socket = connect(pod.queueProxy.port, '127.0.0.1');
      const entry: Slow = { socket, data: '', closed: false, openedAt: performance.now() };
      socket.on('connect', () => socket.write('GET /slow HTTP/1.1\r\nHost: app\r\n'));
      socket.on('data', (chunk: Buffer) => {
        entry.data += chunk.toString('latin1');
      });
      socket.on('error', () => {});
      socket.on('close', () => {
        entry.closed = true;
        entry.closedAt = performance.now();
      });
      slow.push(entry);
      if ((i + 1) % 100 === 0) await sleep(10);
    }
    const drip = setInterval(() => {
      for (const s of slow) if (!s.closed) s.socket.write(`X-Drip-${Math.floor(performance.now())}: x\r\n`);
    }, DRIP_MS);
    const load = new SteadyLoad({ origin: pod.origin, clients: LEGIT_CLIENTS, timeoutMs: 5000 });
    const startedAt = performance.now();
    await sleep(seconds * 1000);
    const records = await load.stop();
    clearInterval(drip);
    const usage = sampler.stop();
    const logged = countLogLines(pod.logFile);
    pod.cleanUp();
    const closed = slow.filter((s) => s.closed);
    const deadlineMs = (READ_HEADER_TIMEOUT_SECONDS + CLOSE_SLACK_SECONDS) * 1000;
    const end = performance.now();
    // Heads that should have been closed by now and were not, or were closed only late.
    const overdue = slow.filter((s) => (s.closedAt ?? end) - s.openedAt > deadlineMs).length;
    const refusedWith = (s: Slow) => parseStatuses(s.data)[0];
    const wrongAnswer = closed.filter((s) => {
      const status = refusedWith(s);
      return status !== undefined && status !== 408;
    }).length;
    const statuses = closed.flatMap((s) => parseStatuses(s.data));
    for (const s of slow) s.socket.destroy();
    const account = accountFault(records, startedAt, 'all');
    const byStatus = new Map<number, number>();
    for (const status of statuses) byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
    return {
      rows: [
        {
          scenario: `slowloris (${count} slow heads)`,
          component: 'queue-proxy',
          sent: account.sent,
          outcomes: account.outcomes,
          lost: account.lost,
          peakRssKiB: usage.peakRssKiB,
          rssCapKiB: RSS_CAPS_KIB['queue-proxy'],
          cpuSeconds: usage.cpuSeconds,
          checks: [
            {
              name: `${overdue} slow heads open past ${READ_HEADER_TIMEOUT_SECONDS + CLOSE_SLACK_SECONDS} s`,
              pass: overdue === 0,
            },
            { name: `${wrongAnswer} closed with another status than 408`, pass: wrongAnswer === 0 },
            { name: `${logged} log lines`, pass: logged <= count + 20 },
          ],
        },
      ],
      details: [
        `${count} slow heads kept going for ${seconds} s (a header line every ${DRIP_MS / 1000} s) against QUEUE_READ_HEADER_TIMEOUT_SECONDS=${READ_HEADER_TIMEOUT_SECONDS}; the queue-proxy closed ${closed.length}` +
          `${byStatus.size > 0 ? ` (answers: ${[...byStatus].map(([s, n]) => `${s} ×${n}`).join(', ')})` : ''}; ` +
          `${LEGIT_CLIENTS} legitimate clients sent ${account.sent} requests beside them; the queue-proxy wrote ${logged} log line(s)`,
      ],
    };
  },
};
