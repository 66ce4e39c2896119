/**
 * `big-headers`: requests with one 100 KB header and with one 2 MB header, many at once, to a
 * queue-proxy and to the activator. The 2 MB head is past the 1 MiB limit: 431 (or 400, or a close),
 * nothing reaching the app. The 100 KB head is within the proxies' limit and goes on to the app, whose
 * own Node limit (16 KiB) answers 431. Either way no memory blow-up.
 */
import type { ChaosContext, ChaosResult, ChaosScenario } from './chaos-scenario.js';
import type { ChaosRow } from './chaos-table.js';
import { ComponentSampler } from './component-sampler.js';
import { rawOutcome, refusedCorrectly } from './malformed-requests.js';
import { tally } from './outcomes.js';
import { sendRaw } from './raw-http.js';
import { type RawTarget, type StandalonePod, startPodBehindActivator } from './standalone.js';

const SIZES = [
  { label: '100 KB', bytes: 100 * 1000, mustRefuse: false },
  { label: '2 MB', bytes: 2 * 1000 * 1000, mustRefuse: true },
] as const;

/** Requests of each size to each target, and how many go at once. */
const COUNT = { quick: 16, full: 64 } as const;
const CONCURRENCY = 8;

async function sendMany(
  port: number,
  head: string,
  count: number,
): Promise<Awaited<ReturnType<typeof sendRaw>>[]> {
  const answers: Awaited<ReturnType<typeof sendRaw>>[] = [];
  for (let i = 0; i < count; i += CONCURRENCY) {
    const batch = Array.from({ length: Math.min(CONCURRENCY, count - i) }, () => sendRaw(port, [head], 5000));
    answers.push(...(await Promise.all(batch)));
  }
  return answers;
}

async function measure(
  pod: StandalonePod,
  target: RawTarget,
  size: (typeof SIZES)[number],
  count: number,
): Promise<ChaosRow> {
  const head = `GET /big HTTP/1.1\r\nHost: app\r\n${target.routing}X-Big: ${'a'.repeat(size.bytes)}\r\n\r\n`;
  const before = await pod.state();
  const sampler = new ComponentSampler(target.pid);
  const answers = await sendMany(target.port, head, count);
  const usage = sampler.stop();
  const after = await pod.state();
  const reached = after.requests - before.requests;
  const outcomes = answers.map(rawOutcome);
  const checks = size.mustRefuse
    ? [
        { name: '431/400/close', pass: answers.every(refusedCorrectly) },
        { name: `${reached} reached the app`, pass: reached === 0 },
      ]
    : [{ name: 'answered', pass: outcomes.every((o) => /^\d+$/.test(o) && Number(o) < 500) }];
  return {
    scenario: `header ${size.label} → ${target.name}`,
    component: target.name,
    sent: count,
    outcomes: tally(outcomes),
    lost: undefined,
    peakRssKiB: usage.peakRssKiB,
    rssCapKiB: target.rssCapKiB,
    cpuSeconds: usage.cpuSeconds,
    checks,
  };
}

export const bigHeaders: ChaosScenario = {
  name: 'big-headers',
  description: 'a 100 KB and a 2 MB request header, many at once, to a queue-proxy and to the activator',
  lossDefinition:
    'not applicable (`–`): the checks are the answer, that no oversized head reached the app, and memory',
  budgetSeconds: 90,
  async run(context: ChaosContext): Promise<ChaosResult> {
    const { pod, targets, cleanUp } = await startPodBehindActivator(context);
    try {
      const count = context.quick ? COUNT.quick : COUNT.full;
      const rows: ChaosRow[] = [];
      for (const target of targets) {
        for (const size of SIZES) {
          context.progress(`big-headers: ${count} × ${size.label} to the ${target.name}`);
          rows.push(await measure(pod, target, size, count));
        }
      }
      return { rows };
    } finally {
      cleanUp();
    }
  },
};
