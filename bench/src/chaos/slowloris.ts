/**
 * `slowloris`: up to 1,000 connections to a queue-proxy that send a request head a header line at a
 * time and never finish it, with legitimate load beside them. The legitimate requests must all be
 * served, and the queue-proxy's memory stay bounded. How many slow heads it closed (and with what) is
 * reported: Go's queue-proxy would close them at its read-header timeout.
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { sleep } from '../scenarios/common.js';
import { type ChaosContext, type ChaosResult, type ChaosScenario, RSS_CAPS_KIB } from './chaos-scenario.js';
import { ComponentSampler } from './component-sampler.js';
import { openFileLimit } from './flood.js';
import { accountFault } from './outcomes.js';
import { parseStatuses } from './raw-http.js';
import { startPod } from './standalone.js';
import { SteadyLoad } from './steady-load.js';

const SLOW_CONNECTIONS = 1000;
/** A slow connection sends one more header line this often. */
const DRIP_MS = 2000;
const LEGIT_CLIENTS = 5;

/** One slow connection: what it got back and whether the server closed it. */
interface Slow {
  readonly socket: Socket;
  data: string;
  closed: boolean;
}

export const slowloris: ChaosScenario = {
  name: 'slowloris',
  description: '1,000 never-finished request heads to a queue-proxy, legitimate load beside them',
  lossDefinition: 'every failed legitimate request',
  budgetSeconds: 90,
  async run(context: ChaosContext): Promise<ChaosResult> {
    const count = Math.min(SLOW_CONNECTIONS, Math.floor((openFileLimit() - 500) / 2));
    const seconds = context.quick ? 6 : 20;
    const pod = await startPod(context);
    const sampler = new ComponentSampler(pod.queueProxy.proc.pid);
    const slow: Slow[] = [];
    context.progress(`slowloris: ${count} slow connections for ${seconds} s beside ${LEGIT_CLIENTS} clients`);
    for (let i = 0; i < count; i++) {
      const socket = connect(pod.queueProxy.port, '127.0.0.1');
      const entry: Slow = { socket, data: '', closed: false };
      socket.on('connect', () => socket.write('GET /slow HTTP/1.1\r\nHost: app\r\n'));
      socket.on('data', (chunk: Buffer) => {
        entry.data += chunk.toString('latin1');
      });
      socket.on('error', () => {});
      socket.on('close', () => {
        entry.closed = true;
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
    const closed = slow.filter((s) => s.closed);
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
          checks: [],
        },
      ],
      details: [
        `${count} slow heads held open for ${seconds} s (a header line every ${DRIP_MS / 1000} s); the queue-proxy closed ${closed.length}` +
          `${byStatus.size > 0 ? ` (answers: ${[...byStatus].map(([s, n]) => `${s} ×${n}`).join(', ')})` : ''}; ` +
          `${LEGIT_CLIENTS} legitimate clients sent ${account.sent} requests beside them`,
      ],
    };
  },
};
