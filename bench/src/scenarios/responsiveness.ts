/**
 * The `responsiveness` scenario: how quickly the queue-proxy answers when it must answer on its own,
 * and how quickly it passes on what the app writes, timed over many trials:
 *
 * 1. **breaker rejection**: at `CONTAINER_CONCURRENCY=1`, with the app holding its one slot and the
 *    breaker's queue full (10 × CC waiting), the time one more request takes to get its 503;
 * 2. **server-sent event**: the time from the app writing the first event of a stream to the client
 *    receiving it through the queue-proxy;
 * 3. **timeout overshoot**: with a 1 s revision timeout, and again with a 1 s response-start
 *    timeout, in front of an app that never answers, how long after the deadline the 504 arrives.
 *
 * These were once latency ceilings asserted in the end-to-end tests; as performance claims they
 * belong here, measured with their spread, rather than as pass/fail limits on a shared CI machine.
 *
 * One app (`src/responsive-app.ts`) serves every measure; each measure gets a queue-proxy of its own
 * with the environment of the `queue-proxy` scenario plus its one setting, started before its trials
 * and stopped after them. Trials run one after another, each bounded in time.
 */
import { type ClientRequest, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { httpGet } from '../http-get.js';
import { freePort } from '../ports.js';
import { BackgroundLoad, ProcessSampler } from '../process-sampler.js';
import { DISTURBED_RETRIES, disturbanceNote, quietestRun } from '../quiet-run.js';
import type { OptionValues, RunSettings, Scenario, ScenarioContext, ScenarioReport } from '../scenario.js';
import type { ManagedProcess } from '../supervisor.js';
import { fixed, type Table } from '../table.js';
import { summarizeTrials, type TrialSummary } from '../trial-summary.js';
import {
  checkAlive,
  disturbedRuns,
  missingBuilds,
  plural,
  QUEUE_PROXY_ENTRY,
  type QueueProxyPorts,
  queueProxyEnv,
  READY_TIMEOUT_MS,
  startApp,
  startProxy,
  waitForHttp,
  waitForQueueProxy,
} from './common.js';

const RESPONSIVE_APP = fileURLToPath(new URL('../responsive-app.js', import.meta.url));

/** Trials per measure unless `--trials` says otherwise. */
export const DEFAULT_TRIALS = 20;
/** A timeout trial lasts its deadline, so a few hundred trials already take minutes per measure. */
export const MAX_TRIALS = 500;

/** Container concurrency of the breaker measure; Knative's breaker then queues 10 × CC more. */
const BREAKER_CC = 1;
/** Requests the breaker admits at CC=1 before it rejects: the one running and the 10 queued. */
const BREAKER_ADMITTED = BREAKER_CC + 10 * BREAKER_CC;

/** The revision and response-start timeouts of the overshoot measures, seconds. */
const DEADLINE_SECONDS = 1;
const DEADLINE_MS = DEADLINE_SECONDS * 1000;

/** An answer expected at once (a 503, an event, a stream's head) must come within this long. */
const ANSWER_TIMEOUT_MS = 5_000;

/** The app and the queue-proxy must reach a state (breaker full, request cancelled) within this long. */
const STATE_TIMEOUT_MS = 3_000;
const STATE_INTERVAL_MS = 5;

/** The scenario's own options, checked. */
export interface ResponsivenessOptions {
  readonly trials: number;
}

/** Parses the scenario's options (`--trials`); throws an error naming the option when one is wrong. */
export function parseResponsivenessOptions(values: OptionValues): ResponsivenessOptions {
  const value = values['trials'];
  if (value === undefined) return { trials: DEFAULT_TRIALS };
  const trials = Number(value);
  if (typeof value !== 'string' || !/^\d+$/.test(value.trim()) || trials < 1 || trials > MAX_TRIALS) {
    throw new Error(
      `--trials must be a whole number between 1 and ${MAX_TRIALS}, got ${JSON.stringify(value)}`,
    );
  }
  return { trials };
}

/**
 * The queue-proxy's `kn_serving_queue_depth` gauge (requests admitted to the breaker, running plus
 * waiting) from its Prometheus exposition; undefined when it is absent.
 */
export function queueDepth(exposition: string): number | undefined {
  const match = /^kn_serving_queue_depth(?:\{[^}]*\})? (\S+)$/m.exec(exposition);
  const value = match === null ? Number.NaN : Number(match[1]);
  return Number.isFinite(value) ? value : undefined;
}

/**
 * The monotonic clock reading (nanoseconds) the app wrote into the first event of `text`
 * (`data: <ns>`); undefined when `text` holds no such event.
 */
export function eventStamp(text: string): bigint | undefined {
  const match = /^data: (\d+)$/m.exec(text);
  return match === null ? undefined : BigInt(match[1]!);
}

/** `later − earlier` of two monotonic clock readings in nanoseconds, as milliseconds. */
export function nanosToMs(later: bigint, earlier: bigint): number {
  return Number(later - earlier) / 1e6;
}

/** What a trial works with. */
interface TrialContext {
  /** The queue-proxy's serving URL, `http://127.0.0.1:<port>/`. */
  readonly proxyUrl: string;
  /** The app's own URL, for its state and never for measured traffic. */
  readonly appUrl: string;
  /** The queue-proxy's Prometheus endpoint. */
  readonly metricsUrl: string;
  readonly app: ManagedProcess;
}

/** One measure: a queue-proxy setting and a trial that returns one timing in milliseconds. */
interface Measure {
  readonly key: string;
  /** The row's label. */
  readonly label: string;
  /** The queue-proxy setting that differs from the `queue-proxy` scenario's, for the row. */
  readonly setting: string;
  /** The queue-proxy's environment, given its ports. */
  readonly env: (appPort: number, ports: QueueProxyPorts) => Record<string, string>;
  /** The longest one trial may take, seconds, for the time budget. */
  readonly trialBudgetSeconds: number;
  readonly trial: (context: TrialContext) => Promise<number>;
}

/** The app's open requests and event streams, asked of the app directly. */
async function appState(appUrl: string): Promise<{ held: number; streams: number }> {
  const answer = await httpGet(`${appUrl}state`, { timeoutMs: ANSWER_TIMEOUT_MS });
  return JSON.parse(answer.body) as { held: number; streams: number };
}

/** The queue-proxy's breaker depth, from its metrics endpoint. */
async function scrapeQueueDepth(metricsUrl: string): Promise<number | undefined> {
  return queueDepth((await httpGet(metricsUrl, { timeoutMs: ANSWER_TIMEOUT_MS })).body);
}

/** Polls `check` until it is true; throws naming `what` after {@link STATE_TIMEOUT_MS}. */
async function waitFor(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = performance.now() + STATE_TIMEOUT_MS;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`${what} did not happen within ${STATE_TIMEOUT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, STATE_INTERVAL_MS));
  }
}

/** Waits until the app holds no request and no stream: the queue-proxy let go of everything. */
function waitForAppIdle(appUrl: string): Promise<void> {
  return waitFor('the app’s requests ending', async () => {
    const state = await appState(appUrl);
    return state.held === 0 && state.streams === 0;
  });
}

/** A request left open on a connection of its own; any answer it gets is kept for error messages. */
interface OpenRequest {
  readonly answered: () => number | undefined;
  readonly abort: () => void;
}

function openRequest(url: string): OpenRequest {
  let status: number | undefined;
  const req = request(new URL(url), { method: 'GET', agent: false }, (res) => {
    status = res.statusCode;
    res.resume();
  });
  req.on('error', () => {});
  req.end();
  return { answered: () => status, abort: () => req.destroy() };
}

/** One 503 from a full breaker: from sending the request to its response head. */
async function breakerTrial({ proxyUrl, appUrl, metricsUrl }: TrialContext): Promise<number> {
  const holders = Array.from({ length: BREAKER_ADMITTED }, () => openRequest(`${proxyUrl}hold`));
  try {
    try {
      await waitFor(
        `the breaker filling (${BREAKER_CC} request at the app, ${BREAKER_ADMITTED} admitted)`,
        async () => {
          const state = await appState(appUrl);
          return state.held === BREAKER_CC && (await scrapeQueueDepth(metricsUrl)) === BREAKER_ADMITTED;
        },
      );
    } catch (err) {
      const answered = holders.map((h) => h.answered()).filter((status) => status !== undefined);
      throw new Error(
        `${(err as Error).message}; holding requests answered: ${answered.join(', ') || 'none'}`,
        {
          cause: err,
        },
      );
    }
    const sent = performance.now();
    const answer = await httpGet(`${proxyUrl}hold`, { timeoutMs: ANSWER_TIMEOUT_MS });
    if (answer.status !== 503) {
      throw new Error(
        `a request past the full breaker got ${answer.status} ${JSON.stringify(answer.body)}, not 503`,
      );
    }
    return answer.headAt - sent;
  } finally {
    for (const holder of holders) holder.abort();
    await waitFor('the breaker emptying', async () => (await scrapeQueueDepth(metricsUrl)) === 0);
    await waitForAppIdle(appUrl);
  }
}

/** An event stream opened through the queue-proxy, and its first chunk to come. */
interface EventStream {
  /** The first chunk of the body and the monotonic clock when it arrived. */
  readonly first: Promise<{ readonly receivedAt: bigint; readonly text: string }>;
  readonly close: () => void;
}

/**
 * Opens `url` as an event stream. The head is not awaited: the queue-proxy sends it with the first
 * body bytes, so before the first event the client has nothing to go on.
 */
function openEventStream(url: string): EventStream {
  let req: ClientRequest | undefined;
  const first = new Promise<{ receivedAt: bigint; text: string }>((resolve, reject) => {
    req = request(new URL(url), { method: 'GET', agent: false }, (res) => {
      if (res.statusCode !== 200) {
        reject(new Error(`the event stream got ${res.statusCode}, not 200`));
        req?.destroy();
        return;
      }
      res.once('data', (chunk: Buffer) => {
        // Read the clock before anything else: this is the moment the event arrived.
        const receivedAt = process.hrtime.bigint();
        resolve({ receivedAt, text: chunk.toString('utf8') });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
  // Awaited only once the event is signalled; a failure before then surfaces there.
  first.catch(() => {});
  return { first, close: () => req?.destroy() };
}

/** Rejects with a message naming `what` unless `promise` settles within `ms`. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not come within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** One event: from the app's clock reading as it writes it to the client's as it arrives. */
async function eventTrial({ proxyUrl, appUrl, app }: TrialContext): Promise<number> {
  const stream = openEventStream(`${proxyUrl}events`);
  try {
    await waitFor('the event stream reaching the app', async () => (await appState(appUrl)).streams === 1);
    if (!app.signalGroup('SIGUSR2')) throw new Error('the app is gone: it could not be signalled');
    const { receivedAt, text } = await within(stream.first, ANSWER_TIMEOUT_MS, 'the event');
    const writtenAt = eventStamp(text);
    if (writtenAt === undefined) throw new Error(`the first chunk was not an event: ${JSON.stringify(text)}`);
    return nanosToMs(receivedAt, writtenAt);
  } finally {
    stream.close();
    await waitForAppIdle(appUrl);
  }
}

/** One 504 from an app that never answers: how long after the deadline its head arrived. */
async function timeoutTrial({ proxyUrl, appUrl }: TrialContext): Promise<number> {
  const sent = performance.now();
  const answer = await httpGet(`${proxyUrl}hold`, { timeoutMs: DEADLINE_MS + ANSWER_TIMEOUT_MS });
  if (answer.status !== 504) {
    throw new Error(
      `a request past its deadline got ${answer.status} ${JSON.stringify(answer.body)}, not 504`,
    );
  }
  // The queue-proxy cancels the app's request at the deadline; the next trial starts from nothing held.
  await waitForAppIdle(appUrl);
  return answer.headAt - sent - DEADLINE_MS;
}

/** Seconds the waits after a trial may take: the app (and the breaker) letting go. */
const SETTLE_BUDGET_SECONDS = (2 * STATE_TIMEOUT_MS) / 1000;

/** Every measure, in the order they run. */
export const MEASURES: readonly Measure[] = [
  {
    key: 'breaker-rejection',
    label: 'breaker full → 503',
    setting: `CC=${BREAKER_CC}, ${BREAKER_CC} at the app + ${BREAKER_ADMITTED - BREAKER_CC} queued`,
    // The queue-depth gauge, which tells the queue is full, is one of the Prometheus request metrics.
    env: (appPort, ports) => ({
      ...queueProxyEnv(BREAKER_CC, appPort, ports),
      SERVING_REQUEST_METRICS_BACKEND: 'prometheus',
    }),
    trialBudgetSeconds: STATE_TIMEOUT_MS / 1000 + ANSWER_TIMEOUT_MS / 1000 + SETTLE_BUDGET_SECONDS,
    trial: breakerTrial,
  },
  {
    key: 'event-delivery',
    label: 'event written → received',
    setting: 'CC=0, text/event-stream',
    env: (appPort, ports) => queueProxyEnv(0, appPort, ports),
    trialBudgetSeconds: STATE_TIMEOUT_MS / 1000 + ANSWER_TIMEOUT_MS / 1000 + SETTLE_BUDGET_SECONDS,
    trial: eventTrial,
  },
  {
    key: 'revision-timeout-overshoot',
    label: '504 past the revision timeout',
    setting: `REVISION_TIMEOUT_SECONDS=${DEADLINE_SECONDS}`,
    env: (appPort, ports) => ({
      ...queueProxyEnv(0, appPort, ports),
      REVISION_TIMEOUT_SECONDS: String(DEADLINE_SECONDS),
    }),
    trialBudgetSeconds: (DEADLINE_MS + ANSWER_TIMEOUT_MS) / 1000 + SETTLE_BUDGET_SECONDS,
    trial: timeoutTrial,
  },
  {
    key: 'response-start-timeout-overshoot',
    label: '504 past the response-start timeout',
    setting: `REVISION_RESPONSE_START_TIMEOUT_SECONDS=${DEADLINE_SECONDS}`,
    env: (appPort, ports) => ({
      ...queueProxyEnv(0, appPort, ports),
      REVISION_RESPONSE_START_TIMEOUT_SECONDS: String(DEADLINE_SECONDS),
    }),
    trialBudgetSeconds: (DEADLINE_MS + ANSWER_TIMEOUT_MS) / 1000 + SETTLE_BUDGET_SECONDS,
    trial: timeoutTrial,
  },
];

/** One measure's trials and how busy the machine was meanwhile. */
interface TrialSet {
  readonly values: number[];
  /** CPU used by processes outside the benchmark during the trials, percent of one core. */
  readonly otherCpuPercent: number;
}

/**
 * Runs a measure's trials in a row with the app and the queue-proxy sampled around them. Other load
 * is measured over the whole set: a trial lasts milliseconds, too few clock ticks to tell a busy
 * machine from rounding.
 */
async function trialSet(
  context: ScenarioContext,
  measure: Measure,
  trial: TrialContext,
  proxy: ManagedProcess,
  count: number,
): Promise<TrialSet> {
  const samplers = [new ProcessSampler(trial.app.pid), new ProcessSampler(proxy.pid)];
  const background = new BackgroundLoad();
  for (const sampler of samplers) sampler.start();
  background.start();
  const values: number[] = [];
  for (let i = 1; i <= count; i++) {
    values.push(await measure.trial(trial));
    if (i % 5 === 0 || i === count) context.progress(`  ${measure.key}: ${i}/${count} trials`);
  }
  const measured = samplers.reduce((sum, sampler) => sum + sampler.stop().cpuSeconds, 0);
  const otherCpuPercent = background.stop(measured);
  checkAlive([trial.app, proxy]);
  return { values, otherCpuPercent };
}

/** A measure's result. */
interface MeasureResult extends TrialSet {
  readonly measure: Measure;
  readonly summary: TrialSummary;
}

/**
 * Starts the measure's queue-proxy in front of the app, runs one trial to warm it up (discarded: the
 * first request through a fresh process runs code not yet compiled), then the counted trials, and
 * stops the queue-proxy.
 */
async function runMeasure(
  context: ScenarioContext,
  measure: Measure,
  app: ManagedProcess,
  appPort: number,
  trials: number,
): Promise<MeasureResult> {
  const { progress, supervisor } = context;
  let metricsPort = 0;
  const proxy = await startProxy(context, appPort, {
    name: `queue-proxy (${measure.key})`,
    env: (ports) => {
      metricsPort = ports.metrics;
      return measure.env(appPort, ports);
    },
  });
  try {
    await waitForQueueProxy(proxy);
    const trial: TrialContext = {
      proxyUrl: proxy.url,
      appUrl: `http://127.0.0.1:${appPort}/`,
      metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
      app,
    };
    progress(`${measure.label} (${measure.setting}): 1 warm-up trial, then ${plural(trials, 'trial')}`);
    await measure.trial(trial);
    const set = await quietestRun(() => trialSet(context, measure, trial, proxy.proc, trials), progress);
    return { ...set, measure, summary: summarizeTrials(set.values) };
  } finally {
    await supervisor.stop(proxy.proc);
  }
}

async function run(context: ScenarioContext, options: ResponsivenessOptions): Promise<ScenarioReport> {
  const { progress, supervisor } = context;
  const appPort = await freePort();
  progress('starting the app');
  const app = startApp(context, 'responsive-app', RESPONSIVE_APP, appPort);
  const results: MeasureResult[] = [];
  try {
    await waitForHttp(app, `http://127.0.0.1:${appPort}/state`);
    for (const measure of MEASURES)
      results.push(await runMeasure(context, measure, app, appPort, options.trials));
  } finally {
    await supervisor.stop(app);
  }

  const table: Table = {
    title: `Responsiveness (${plural(options.trials, 'trial')} each)`,
    headers: ['measure', 'queue-proxy setting', 'median ms', 'p99 ms', 'max ms', 'min ms'],
    align: ['left', 'left', 'right', 'right', 'right', 'right'],
    rows: results.map(({ measure, summary }) => [
      measure.label,
      measure.setting,
      fixed(summary.median, 3),
      fixed(summary.p99, 3),
      fixed(summary.max, 3),
      fixed(summary.min, 3),
    ]),
  };
  return {
    setup: [
      ['App', 'node bench/dist/responsive-app.js (node:http: holds requests, writes an event on SIGUSR2)'],
      [
        'queue-proxy',
        `node ${QUEUE_PROXY_ENTRY}, a fresh one per measure, with the queue-proxy scenario's environment plus its setting`,
      ],
      [
        'Trials',
        `${options.trials} per measure, one after another, after one discarded warm-up trial; every request on a new connection`,
      ],
    ],
    tables: [table],
    notes: [
      `breaker full → 503: ${BREAKER_ADMITTED} requests held (the app holds one, ${BREAKER_ADMITTED - BREAKER_CC} wait, ` +
        'confirmed by the app and the kn_serving_queue_depth gauge), then one more is timed from sending to its response head.',
      'event written → received: once the app holds the stream, it reads the monotonic clock and writes one event; ' +
        'the client reads the same clock when the event arrives through the queue-proxy, which sends the response head ' +
        'with it (it sends every head with the first body bytes).',
      `504 past a timeout: the time from sending to the 504's head, minus the ${DEADLINE_SECONDS} s deadline, for an app that never answers.`,
      'Percentiles by nearest rank (with 20 trials p99 is the slowest trial).',
      disturbanceNote(disturbedRuns(results, (r) => r.measure.label)),
    ],
    data: {
      trials: options.trials,
      measures: results.map(({ measure, summary, values, otherCpuPercent }) => ({
        key: measure.key,
        label: measure.label,
        setting: measure.setting,
        summaryMs: summary,
        valuesMs: values,
        otherCpuPercent,
      })),
    },
  };
}

/** The `responsiveness` scenario. */
export const responsivenessScenario: Scenario = {
  name: 'responsiveness',
  description: 'the queue-proxy’s 503 when full, event delivery and timeout overshoot, over trials',
  options: { trials: { type: 'string' } },
  usage: [`--trials <n>           trials per measure (default ${DEFAULT_TRIALS})`],
  prepare(values: OptionValues, settings: RunSettings) {
    const problems = missingBuilds(settings, [QUEUE_PROXY_ENTRY]);
    let options: ResponsivenessOptions = { trials: DEFAULT_TRIALS };
    try {
      options = parseResponsivenessOptions(values);
    } catch (err) {
      problems.push((err as Error).message);
    }
    if (problems.length > 0) throw new Error(problems.join('\n'));
    const startSeconds = READY_TIMEOUT_MS / 1000 + 2;
    const attempts = 1 + DISTURBED_RETRIES;
    const measures = MEASURES.reduce(
      (sum, measure) => sum + startSeconds + 2 + (1 + attempts * options.trials) * measure.trialBudgetSeconds,
      0,
    );
    return { budgetSeconds: 30 + startSeconds + measures, run: (context) => run(context, options) };
  },
};
