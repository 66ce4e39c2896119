/**
 * `h2-flood`: HTTP/2 abuse over prior-knowledge h2c against a queue-proxy (node:http2 client). Rapid
 * reset: streams opened and cancelled at once (RST_STREAM right behind HEADERS), many thousands on one
 * connection. Stream flood: thousands of streams opened on one connection and left waiting on a slow
 * app. In both, legitimate HTTP/1.1 requests beside must be served and memory stay bounded.
 */
import http2 from 'node:http2';
import { performance } from 'node:perf_hooks';
import { sleep } from '../scenarios/common.js';
import { type ChaosContext, type ChaosResult, type ChaosScenario, RSS_CAPS_KIB } from './chaos-scenario.js';
import type { ChaosRow } from './chaos-table.js';
import { ComponentSampler } from './component-sampler.js';
import { accountFault, classifyError, classifyStatus, tally } from './outcomes.js';
import { type StandalonePod, startPod } from './standalone.js';
import { SteadyLoad } from './steady-load.js';

const RAPID_RESETS = { quick: 5000, full: 20_000 } as const;
const FLOOD_STREAMS = { quick: 1000, full: 5000 } as const;
/** How long a flooded stream's request takes in the app. */
const FLOOD_APP_MS = 3000;
const LEGIT_CLIENTS = 5;
/** The legitimate load runs at least this long around each attack, seconds. */
const LEGIT_WINDOW = { quick: 3, full: 6 } as const;
/** The attack's path: the app counts it as unexpected, apart from the legitimate `/`. */
const ATTACK_PATH = '/h2-attack';

/** Waits until `seconds` have passed since `startedAt`. */
async function untilWindowEnds(startedAt: number, seconds: number): Promise<void> {
  await sleep(Math.max(0, seconds * 1000 - (performance.now() - startedAt)));
}

/** Opens a prior-knowledge h2c session; resolves once it is connected. */
function openSession(port: number): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.once('connect', () => resolve(session));
    session.once('error', reject);
  });
}

/** What the server did to an abusive session. */
interface SessionFate {
  goaway?: number;
  error?: string;
  closed: boolean;
}

function watch(session: http2.ClientHttp2Session): SessionFate {
  const fate: SessionFate = { closed: false };
  session.on('goaway', (code: number) => {
    fate.goaway = code;
  });
  session.on('error', (err: Error) => {
    fate.error = classifyError(err);
  });
  session.on('close', () => {
    fate.closed = true;
  });
  return fate;
}

function fateText(fate: SessionFate): string {
  if (fate.goaway !== undefined) return `GOAWAY (code ${fate.goaway})`;
  if (fate.error !== undefined) return `session ${fate.error}`;
  return fate.closed ? 'session closed' : 'session left open';
}

async function rapidReset(
  context: ChaosContext,
  pod: StandalonePod,
  count: number,
): Promise<{ row: ChaosRow; detail: string }> {
  const before = await pod.state();
  const sampler = new ComponentSampler(pod.queueProxy.proc.pid);
  const load = new SteadyLoad({ origin: pod.origin, clients: LEGIT_CLIENTS, timeoutMs: 5000 });
  const startedAt = performance.now();
  const session = await openSession(pod.queueProxy.port);
  const fate = watch(session);
  context.progress(`h2-flood: ${count} rapid resets on one connection`);
  let opened = 0;
  for (let i = 0; i < count && !session.closed && !session.destroyed; i++) {
    try {
      const stream = session.request({ ':method': 'GET', ':path': ATTACK_PATH });
      stream.on('error', () => {});
      stream.close(http2.constants.NGHTTP2_CANCEL);
      opened++;
    } catch {
      break;
    }
    if (i % 200 === 199) await new Promise((r) => setImmediate(r));
  }
  await sleep(1000);
  session.destroy();
  await untilWindowEnds(startedAt, context.quick ? LEGIT_WINDOW.quick : LEGIT_WINDOW.full);
  const records = await load.stop();
  const usage = sampler.stop();
  const after = await pod.state();
  pod.cleanUp();
  const account = accountFault(records, startedAt, 'all');
  return {
    row: {
      scenario: `h2 rapid reset (${opened} streams)`,
      component: 'queue-proxy',
      sent: account.sent,
      outcomes: account.outcomes,
      lost: account.lost,
      peakRssKiB: usage.peakRssKiB,
      rssCapKiB: RSS_CAPS_KIB['queue-proxy'],
      cpuSeconds: usage.cpuSeconds,
      checks: [],
    },
    detail: `rapid reset: ${opened} streams opened and cancelled; the server's answer: ${fateText(fate)}; ${after.unexpected - before.unexpected} reached the app; ${account.sent} legitimate HTTP/1.1 requests beside`,
  };
}

async function streamFlood(
  context: ChaosContext,
  pod: StandalonePod,
  count: number,
): Promise<{ row: ChaosRow; detail: string }> {
  const sampler = new ComponentSampler(pod.queueProxy.proc.pid);
  const load = new SteadyLoad({ origin: pod.origin, clients: LEGIT_CLIENTS, timeoutMs: 5000 });
  const startedAt = performance.now();
  const session = await openSession(pod.queueProxy.port);
  const fate = watch(session);
  context.progress(`h2-flood: ${count} streams left open on one connection`);
  const outcomes: Promise<string>[] = [];
  for (let i = 0; i < count && !session.closed && !session.destroyed; i++) {
    let stream: http2.ClientHttp2Stream;
    try {
      stream = session.request({ ':method': 'GET', ':path': `${ATTACK_PATH}?ms=${FLOOD_APP_MS}` });
    } catch (err) {
      outcomes.push(Promise.resolve(classifyError(err)));
      break;
    }
    outcomes.push(
      new Promise((resolve) => {
        stream.on('response', (headers) => {
          resolve(classifyStatus(Number(headers[':status'])));
          stream.resume();
        });
        stream.on('error', (err) => resolve(classifyError(err)));
        stream.on('close', () => resolve(`rst ${stream.rstCode}`));
      }),
    );
    if (i % 200 === 199) await new Promise((r) => setImmediate(r));
  }
  const settled = await Promise.race([
    Promise.all(outcomes),
    sleep(FLOOD_APP_MS + 8000).then(() => undefined),
  ]);
  session.destroy();
  await untilWindowEnds(startedAt, context.quick ? LEGIT_WINDOW.quick : LEGIT_WINDOW.full);
  const records = await load.stop();
  const usage = sampler.stop();
  const account = accountFault(records, startedAt, 'all');
  const streamTally = settled ? tally(settled) : undefined;
  pod.cleanUp();
  return {
    row: {
      scenario: `h2 stream flood (${outcomes.length} streams)`,
      component: 'queue-proxy',
      sent: account.sent,
      outcomes: account.outcomes,
      lost: account.lost,
      peakRssKiB: usage.peakRssKiB,
      rssCapKiB: RSS_CAPS_KIB['queue-proxy'],
      cpuSeconds: usage.cpuSeconds,
      checks: [],
    },
    detail: `stream flood: ${outcomes.length} streams of ${FLOOD_APP_MS} ms each on one connection: ${
      streamTally
        ? [...streamTally].map(([k, v]) => `${k} ${v}`).join(' · ')
        : `not all ended within ${FLOOD_APP_MS / 1000 + 8} s`
    }; the server's answer: ${fateText(fate)}; ${account.sent} legitimate HTTP/1.1 requests beside`,
  };
}

export const h2Flood: ChaosScenario = {
  name: 'h2-flood',
  description: 'HTTP/2 rapid reset and a stream flood on h2c against a queue-proxy, legitimate load beside',
  lossDefinition:
    'every failed legitimate HTTP/1.1 request sent beside the attack (outcomes and sent are theirs; the attack is in the details)',
  budgetSeconds: 90,
  async run(context: ChaosContext): Promise<ChaosResult> {
    const reset = await rapidReset(
      context,
      await startPod(context),
      context.quick ? RAPID_RESETS.quick : RAPID_RESETS.full,
    );
    await context.supervisor.stopAll();
    const flood = await streamFlood(
      context,
      await startPod(context),
      context.quick ? FLOOD_STREAMS.quick : FLOOD_STREAMS.full,
    );
    return { rows: [reset.row, flood.row], details: [reset.detail, flood.detail] };
  },
};
