/**
 * Part 4 of the `activator` scenario: how the activator shares its held-request caps between
 * revisions and how it wakes a revision at zero (docs/activator.md §3.9, §3.10).
 *
 * - Fair holding: one activator with a process-wide cap of {@link HELD_TOTAL_CAP} held requests;
 *   revision A at zero is flooded with {@link FLOOD_REQUESTS} requests, one connection each, from a
 *   worker thread (`flood.ts`). Beside it revision B (a) at zero gets {@link SMALL_REQUESTS}
 *   requests, which must be held and answered once a Pod appears, timed from that Pod's readiness;
 *   then (b) with that Pod ready serves {@link SEQUENTIAL_REQUESTS} sequential requests on one
 *   keep-alive connection, alone and from the start of a second flood of A.
 * - Paced wake: {@link WAKE_REQUESTS} requests held at zero for a revision whose app slows down with
 *   its load (the hello app's crowded mode, `crowd-delay.ts`), then one Pod made ready; each answer
 *   timed from the Pod's readiness, with slow start on (the default) and off, in one activator.
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Client } from 'undici';
import { Flood, type FloodCount, floodHead } from '../flood.js';
import { type HttpAnswer, httpGet } from '../http-get.js';
import { freePort } from '../ports.js';
import { clockTicksPerSecond, readReapedChildTicks } from '../proc-stats.js';
import { BackgroundLoad, ProcessSampler } from '../process-sampler.js';
import { quietestRun } from '../quiet-run.js';
import { percentile, ratio } from '../ratios.js';
import type { ScenarioContext } from '../scenario.js';
import type { ManagedProcess } from '../supervisor.js';
import { fixed, NONE, type Table, times } from '../table.js';
import { POD_PROBE_INTERVAL_MS, revisionGauge } from './activator-held.js';
import { HELLO_APP, startPodQueueProxy } from './activator-pod.js';
import {
  checkAlive,
  labelledTable,
  NAMESPACE,
  type RevisionEntry,
  type RunningActivator,
  type StartedProxy,
  sleep,
  startActivator,
  startApp,
  waitForQueueProxy,
  writeRevisionsFile,
} from './common.js';

/** The process-wide cap on held requests in the fair-holding row (`ACTIVATOR_MAX_HELD_TOTAL`). */
export const HELD_TOTAL_CAP = 1_000;
/** Requests revision A is flooded with at zero, one connection each. */
export const FLOOD_REQUESTS = 5_000;
/** Requests revision B gets at zero during the flood. */
export const SMALL_REQUESTS = 10;
/** Sequential requests revision B serves with a ready Pod, alone and during the flood. */
export const SEQUENTIAL_REQUESTS = 200;
/** Sequential requests sent first on B's connection and not counted, so both series start warm. */
const SEQUENTIAL_WARMUP = 200;
/** Requests held at zero for the paced-wake row. */
export const WAKE_REQUESTS = 500;
/** The crowded app of the paced-wake row: 0.2 ms × (requests in flight)^1.5, as the end-to-end test's. */
export const CROWD = { ms: 0.2, exp: 1.5 } as const;
/** The default slow-start window, which the paced row leaves unset. */
export const DEFAULT_SLOW_START = '1s';

/** A flood must be held and refused, a set of requests held, within this long. */
export const HOLD_TIMEOUT_MS = 60_000;
/** A held request must be answered within this long after it was sent. */
export const ANSWER_TIMEOUT_MS = 60_000;
const POLL_MS = 50;

/** The revisions of the two rows, all in {@link NAMESPACE}. */
export const REVISIONS = {
  flooded: 'flooded-00001',
  small: 'small-00001',
  paced: 'crowded-paced-00001',
  unpaced: 'crowded-unpaced-00001',
} as const;

/** The routing headers of revision `name`, as Knative's ingress sets them. */
export function revisionHeaders(name: string): Record<string, string> {
  return { 'Knative-Serving-Revision': name, 'Knative-Serving-Namespace': NAMESPACE };
}

/** One answer: its status (0 when none came) and its time, ms from a reference the caller chose. */
export interface TimedAnswer {
  readonly status: number;
  readonly ms: number;
}

/** Count, percentiles (nearest rank) and non-200 answers of a set of {@link TimedAnswer}s. */
export interface AnswerSummary {
  readonly count: number;
  readonly ok: number;
  /** Answers other than 200, failed connections and timeouts included. */
  readonly non200: number;
  /** Percentiles over every answer that came (status > 0), ms. */
  readonly p50: number | undefined;
  readonly p99: number | undefined;
  readonly max: number | undefined;
}

/** Summarises answers: how many, how many 200, and their p50, p99 and max by nearest rank. */
export function summarize(answers: readonly TimedAnswer[]): AnswerSummary {
  const came = answers.filter((a) => a.status > 0).map((a) => a.ms);
  const ok = answers.filter((a) => a.status === 200).length;
  return {
    count: answers.length,
    ok,
    non200: answers.length - ok,
    p50: percentile(came, 50),
    p99: percentile(came, 99),
    max: percentile(came, 100),
  };
}

/** Each answer's status and its head's arrival less `from` (both `performance.now()`), ms. */
export function timedFrom(answers: readonly HttpAnswer[], from: number): TimedAnswer[] {
  return answers.map((a) =>
    a.status === 0 ? { status: 0, ms: Number.NaN } : { status: a.status, ms: a.headAt - from },
  );
}

/**
 * The kernel's count of connections dropped because a listen queue was full (`TcpExt:
 * ListenOverflows` in `/proc/net/netstat`'s text); undefined when the text has none.
 */
export function listenOverflows(netstat: string): number | undefined {
  const lines = netstat.split('\n').filter((line) => line.startsWith('TcpExt:'));
  const names = lines[0]?.split(/\s+/);
  const values = lines[1]?.split(/\s+/);
  const at = names?.indexOf('ListenOverflows') ?? -1;
  const value = at < 0 ? Number.NaN : Number(values?.[at]);
  return Number.isFinite(value) ? value : undefined;
}

function readListenOverflows(): number | undefined {
  try {
    return listenOverflows(readFileSync('/proc/net/netstat', 'utf8'));
  } catch {
    return undefined;
  }
}

/** The fair-holding row's figures. */
export interface FairnessResult {
  readonly heldTotalCap: number;
  readonly flooded: {
    readonly sent: number;
    /** Held once the flood had arrived (the cap). */
    readonly held: number;
    /** Refused at once (503) by the time the cap was reached. */
    readonly refusedAtOnce: number;
    /** Held while B's requests were held beside them. */
    readonly heldBesideSmall: number;
    /** Refused when B's requests took their place. */
    readonly refusedForSmall: number;
    /** Connections closed with no answer. */
    readonly failed: number;
    /** First connection → the cap held and the rest refused, ms. */
    readonly arrivalMs: number;
    /** The activator's CPU over {@link arrivalMs}, seconds. */
    readonly cpuSeconds: number;
    /**
     * Connections the kernel dropped meanwhile for a full listen queue (machine-wide; each costs its
     * client a SYN retransmit, 1 s); undefined where the kernel does not say.
     */
    readonly listenOverflows: number | undefined;
  };
  readonly small: {
    readonly sent: number;
    /** B's requests held at once beside the flood. */
    readonly held: number;
    /** Each answer, ms from B's Pod ready. */
    readonly answers: readonly TimedAnswer[];
    readonly summary: AnswerSummary;
    /** The same answers from the endpoints file written with B's Pod (just after Pod ready). */
    readonly writtenToResponse: AnswerSummary;
  };
  /** B's sequential requests with its Pod ready, each ms from sent to answered. */
  readonly alone: readonly TimedAnswer[];
  readonly duringFlood: readonly TimedAnswer[];
  /** How many of {@link duringFlood} were answered before the second flood's last refusal. */
  readonly duringFloodArrival: number;
  /** The second flood: first connection → last refusal answered, ms. */
  readonly floodArrivalMs: number | undefined;
  readonly podStartMs: number;
  readonly otherCpuPercent: number;
}

/** One slow-start setting of the paced-wake row. */
export interface WakeRun {
  readonly revision: string;
  /** The `zerogate.dev/slow-start` annotation; undefined: not set (the default). */
  readonly slowStart: string | undefined;
  /** Each answer, ms from the Pod ready. */
  readonly answers: readonly TimedAnswer[];
  readonly summary: AnswerSummary;
  readonly podStartMs: number;
}

/** The paced-wake row's figures: slow start on and off, side by side. */
export interface PacedWakeResult {
  readonly requests: number;
  readonly crowd: typeof CROWD;
  readonly on: WakeRun;
  readonly off: WakeRun;
  readonly otherCpuPercent: number;
}

/** Both rows of this part. */
export interface HoldingResult {
  readonly fairness: FairnessResult;
  readonly pacedWake: PacedWakeResult;
}

/** Waits until `done()` holds, polling; throws naming `what` after `timeoutMs`. */
async function until(
  activator: RunningActivator,
  what: string,
  timeoutMs: number,
  done: () => Promise<boolean>,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!(await done())) {
    checkAlive([activator.proc]);
    if (performance.now() > deadline) {
      throw new Error(
        `${what} did not happen within ${timeoutMs / 1000} s` +
          `\n--- activator stdout ---\n${activator.proc.stdout() || '(empty)'}`,
      );
    }
    await sleep(POLL_MS);
  }
}

/** Reads revision `revision`'s sample of a per-revision gauge from the activator (0 when absent). */
async function gauge(activator: RunningActivator, metric: string, revision: string): Promise<number> {
  const answer = await httpGet(activator.metricsUrl, { timeoutMs: HOLD_TIMEOUT_MS });
  return revisionGauge(answer.body, metric, revision) ?? 0;
}

function waitForGauge(
  activator: RunningActivator,
  metric: string,
  revision: string,
  expected: number,
): Promise<void> {
  return until(
    activator,
    `${metric} of ${revision} reaching ${expected}`,
    HOLD_TIMEOUT_MS,
    async () => (await gauge(activator, metric, revision)) === expected,
  );
}

const QUEUED = 'kn_revision_request_queued';
const USABLE = 'kn_revision_pods_usable';

/** A GET through the activator for `revision` on a connection of its own; status 0 when it failed. */
function heldGet(activator: RunningActivator, revision: string): Promise<HttpAnswer> {
  return httpGet(activator.url, { headers: revisionHeaders(revision), timeoutMs: ANSWER_TIMEOUT_MS }).catch(
    () => ({ status: 0, body: '', headAt: Number.NaN }),
  );
}

/** A Pod started for one row, and when its queue-proxy first passed the kubelet's probe. */
interface StartedPod {
  readonly app: ManagedProcess;
  readonly qp: StartedProxy;
  readonly address: string;
  readonly readyAt: number;
  readonly startMs: number;
}

/** Starts a Pod (the hello app, with `appEnv`, behind a queue-proxy at CC=0) and waits until it is ready. */
async function startPod(
  context: ScenarioContext,
  name: string,
  appEnv: Readonly<Record<string, string>>,
  started: ManagedProcess[],
): Promise<StartedPod> {
  const appPort = await freePort();
  const startedAt = performance.now();
  const app = startApp(context, `${name} app`, HELLO_APP, appPort, appEnv);
  started.push(app);
  const qp = await startPodQueueProxy(context, `${name} queue-proxy`, appPort);
  started.push(qp.proc);
  await waitForQueueProxy(qp, POD_PROBE_INTERVAL_MS);
  const readyAt = performance.now();
  return { app, qp, address: `127.0.0.1:${qp.port}`, readyAt, startMs: readyAt - startedAt };
}

/** Sequential answers, and when each ended (ms since the epoch, to compare with the flood's thread). */
interface SequentialAnswers {
  readonly answers: TimedAnswer[];
  readonly endedAt: number[];
}

/** Sends `count` GETs for `revision` one after another on `client`, each timed from sent to answered. */
async function sequential(client: Client, revision: string, count: number): Promise<SequentialAnswers> {
  const headers = revisionHeaders(revision);
  const answers: TimedAnswer[] = [];
  const endedAt: number[] = [];
  for (let i = 0; i < count; i++) {
    const sentAt = performance.now();
    try {
      const res = await client.request({
        path: '/',
        method: 'GET',
        headers,
        headersTimeout: ANSWER_TIMEOUT_MS,
      });
      await res.body.text();
      answers.push({ status: res.statusCode, ms: performance.now() - sentAt });
    } catch {
      answers.push({ status: 0, ms: Number.NaN });
    }
    endedAt.push(performance.timeOrigin + performance.now());
  }
  return { answers, endedAt };
}

const refused = (count: FloodCount) => count.statuses['503'] ?? 0;

/**
 * Measures the activator's CPU and every Pod's (reaped within the window) against the machine's, as
 * the held trials do; `run` starts and stops its Pods inside.
 */
async function measuredWindow<T>(
  activator: RunningActivator,
  run: () => Promise<T>,
): Promise<{ readonly result: T; readonly otherCpuPercent: number }> {
  const sampler = new ProcessSampler(activator.proc.pid);
  const background = new BackgroundLoad();
  const reapedBefore = readReapedChildTicks();
  sampler.start();
  background.start();
  const result = await run();
  const pods = (readReapedChildTicks() - reapedBefore) / clockTicksPerSecond();
  const otherCpuPercent = background.stop(sampler.stop().cpuSeconds + pods);
  return { result, otherCpuPercent };
}

/** One attempt at the fair-holding row, with an activator of its own. */
async function fairnessAttempt(context: ScenarioContext, endpointsFile: string): Promise<FairnessResult> {
  const { supervisor, progress } = context;
  const revisions = (pod?: StartedPod): RevisionEntry[] => [
    { name: REVISIONS.flooded, endpoints: [] },
    { name: REVISIONS.small, endpoints: pod === undefined ? [] : [{ address: pod.address, ready: false }] },
  ];
  writeRevisionsFile(endpointsFile, revisions());
  progress(
    `fair holding: an activator with ACTIVATOR_MAX_HELD_TOTAL=${HELD_TOTAL_CAP}, revisions A and B at zero`,
  );
  const activator = await startActivator(context, endpointsFile, {
    ACTIVATOR_MAX_HELD_TOTAL: String(HELD_TOTAL_CAP),
    ACTIVATOR_MAX_HELD_REQUESTS: String(FLOOD_REQUESTS),
  });
  const flood = new Flood({ port: activator.port, head: floodHead(revisionHeaders(REVISIONS.flooded)) });
  const client = new Client(activator.url.replace(/\/$/, ''), { pipelining: 1 });
  const pods: ManagedProcess[] = [];
  try {
    const { result, otherCpuPercent } = await measuredWindow(activator, async () => {
      // (a) A flooded at zero; B's requests beside it, held, then answered by B's new Pod.
      const floodCpu = new ProcessSampler(activator.proc.pid);
      floodCpu.start();
      const firstStart = performance.now();
      const overflowsBefore = readListenOverflows();
      await flood.send(FLOOD_REQUESTS);
      const settled = async () => {
        const count = await flood.count();
        return refused(count) + count.failed >= FLOOD_REQUESTS - HELD_TOTAL_CAP;
      };
      await until(activator, 'the flood of A refused past the cap', HOLD_TIMEOUT_MS, settled);
      await waitForGauge(activator, QUEUED, REVISIONS.flooded, HELD_TOTAL_CAP);
      const atCap = await flood.count();
      const arrivalMs = performance.now() - firstStart;
      const cpuSeconds = floodCpu.stop().cpuSeconds;
      const overflowsAfter = readListenOverflows();
      progress(
        `fair holding: A holds ${HELD_TOTAL_CAP}, ${refused(atCap)} refused at once; B gets ${SMALL_REQUESTS}`,
      );
      const small = Array.from({ length: SMALL_REQUESTS }, () => heldGet(activator, REVISIONS.small));
      await waitForGauge(activator, QUEUED, REVISIONS.small, SMALL_REQUESTS);
      const heldBesideSmall = await gauge(activator, QUEUED, REVISIONS.flooded);
      const pod = await startPod(context, 'fair holding B', {}, pods);
      writeRevisionsFile(endpointsFile, revisions(pod));
      const writtenAt = performance.now();
      const smallHeads = await Promise.all(small);
      const smallAnswers = timedFrom(smallHeads, pod.readyAt);
      const afterSmall = await flood.count();
      await flood.close();
      await waitForGauge(activator, QUEUED, REVISIONS.flooded, 0);

      // (b) B's Pod ready: sequential requests alone, then from the start of a second flood.
      await sequential(client, REVISIONS.small, SEQUENTIAL_WARMUP);
      const alone = await sequential(client, REVISIONS.small, SEQUENTIAL_REQUESTS);
      const floodStart = performance.timeOrigin + performance.now();
      const second = flood.send(FLOOD_REQUESTS);
      const during = await sequential(client, REVISIONS.small, SEQUENTIAL_REQUESTS);
      await second;
      await until(activator, 'the second flood of A refused past the cap', HOLD_TIMEOUT_MS, settled);
      const last = (await flood.count()).lastAnswerAt;
      await flood.close();
      const duringFloodArrival = last === undefined ? 0 : during.endedAt.filter((at) => at <= last).length;

      writeRevisionsFile(endpointsFile, revisions());
      await waitForGauge(activator, USABLE, REVISIONS.small, 0);
      await Promise.all(pods.splice(0).map((p) => supervisor.stop(p)));
      return {
        heldTotalCap: HELD_TOTAL_CAP,
        flooded: {
          sent: FLOOD_REQUESTS,
          held: HELD_TOTAL_CAP,
          refusedAtOnce: refused(atCap),
          heldBesideSmall,
          refusedForSmall: refused(afterSmall) - refused(atCap),
          failed: afterSmall.failed,
          arrivalMs,
          cpuSeconds,
          listenOverflows:
            overflowsBefore === undefined || overflowsAfter === undefined
              ? undefined
              : overflowsAfter - overflowsBefore,
        },
        small: {
          sent: SMALL_REQUESTS,
          held: SMALL_REQUESTS,
          answers: smallAnswers,
          summary: summarize(smallAnswers),
          writtenToResponse: summarize(timedFrom(smallHeads, writtenAt)),
        },
        alone: alone.answers,
        duringFlood: during.answers,
        duringFloodArrival,
        floodArrivalMs: last === undefined ? undefined : last - floodStart,
        podStartMs: pod.startMs,
      };
    });
    return { ...result, otherCpuPercent };
  } finally {
    await client.close().catch(() => undefined);
    await flood.terminate();
    await Promise.all([...pods, activator.proc].map((p) => supervisor.stop(p)));
  }
}

/** Holds {@link WAKE_REQUESTS} for `revision` at zero, makes one crowded Pod ready, times each answer. */
async function wake(
  context: ScenarioContext,
  activator: RunningActivator,
  endpointsFile: string,
  entries: (revision: string, pod?: StartedPod) => RevisionEntry[],
  revision: string,
  slowStart: string | undefined,
): Promise<WakeRun> {
  const { supervisor, progress } = context;
  const held = Array.from({ length: WAKE_REQUESTS }, () => heldGet(activator, revision));
  await waitForGauge(activator, QUEUED, revision, WAKE_REQUESTS);
  const pods: ManagedProcess[] = [];
  try {
    const pod = await startPod(
      context,
      `paced wake ${revision}`,
      { HELLO_CROWDED_MS: String(CROWD.ms), HELLO_CROWDED_EXP: String(CROWD.exp) },
      pods,
    );
    writeRevisionsFile(endpointsFile, entries(revision, pod));
    const answers = timedFrom(await Promise.all(held), pod.readyAt);
    writeRevisionsFile(endpointsFile, entries(revision));
    await waitForGauge(activator, USABLE, revision, 0);
    const summary = summarize(answers);
    progress(
      `paced wake, slow start ${slowStart ?? `${DEFAULT_SLOW_START} (default)`}: p50 ${fixed(summary.p50, 0)} ms, ` +
        `p99 ${fixed(summary.p99, 0)} ms after ready, ${summary.non200} not 200`,
    );
    return { revision, slowStart, answers, summary, podStartMs: pod.startMs };
  } finally {
    await Promise.all(pods.map((p) => supervisor.stop(p)));
  }
}

/** One attempt at the paced-wake row: one activator, slow start on, then off, each with a new Pod. */
async function pacedWakeAttempt(context: ScenarioContext, endpointsFile: string): Promise<PacedWakeResult> {
  const off = { 'zerogate.dev/slow-start': '0s' };
  const entries = (revision: string, pod?: StartedPod): RevisionEntry[] => {
    const endpoints = (name: string) =>
      pod !== undefined && name === revision ? [{ address: pod.address, ready: false }] : [];
    return [
      { name: REVISIONS.paced, endpoints: endpoints(REVISIONS.paced) },
      { name: REVISIONS.unpaced, endpoints: endpoints(REVISIONS.unpaced), annotations: off },
    ];
  };
  writeRevisionsFile(endpointsFile, entries(''));
  context.progress(
    `paced wake: ${WAKE_REQUESTS} requests held at zero, a crowded app, slow start on and off`,
  );
  const activator = await startActivator(context, endpointsFile);
  try {
    const { result, otherCpuPercent } = await measuredWindow(activator, async () => ({
      on: await wake(context, activator, endpointsFile, entries, REVISIONS.paced, undefined),
      off: await wake(
        context,
        activator,
        endpointsFile,
        entries,
        REVISIONS.unpaced,
        off['zerogate.dev/slow-start'],
      ),
    }));
    return { requests: WAKE_REQUESTS, crowd: CROWD, ...result, otherCpuPercent };
  } finally {
    await context.supervisor.stop(activator.proc);
  }
}

/** Runs both rows, each keeping its quietest attempt. */
export async function measureHolding(
  context: ScenarioContext,
  endpointsFile: string,
): Promise<HoldingResult> {
  const fairness = await quietestRun(() => fairnessAttempt(context, endpointsFile), context.progress);
  const pacedWake = await quietestRun(() => pacedWakeAttempt(context, endpointsFile), context.progress);
  return { fairness, pacedWake };
}

/** Requests of B sent and refused (anything but 200) over the whole fair-holding row. */
export function smallRefused(fairness: FairnessResult): { readonly sent: number; readonly refused: number } {
  const all = [...fairness.small.answers, ...fairness.alone, ...fairness.duringFlood];
  return { sent: all.length, refused: all.filter((a) => a.status !== 200).length };
}

const count = (n: number) => n.toLocaleString('en');
const noneRefused = (s: AnswerSummary) => (s.non200 === 0 ? 'met' : 'MISSED');

/** The fair-holding table: A's flood and B's three measures beside it. */
export function fairnessTable(f: FairnessResult): Table {
  const { flooded, small } = f;
  const alone = summarize(f.alone);
  const during = summarize(f.duringFlood);
  const b = (label: string, s: AnswerSummary, held: string) => [
    label,
    count(s.count),
    held,
    count(s.ok),
    count(s.non200),
    fixed(s.p50, 3),
    fixed(s.p99, 3),
    noneRefused(s),
  ];
  return labelledTable(
    `Fair holding: revision A flooded at zero, revision B beside it (ACTIVATOR_MAX_HELD_TOTAL=${count(f.heldTotalCap)})`,
    ['revision', 'requests', 'held', '200', 'refused', 'p50 ms', 'p99 ms', 'no B refused'],
    [
      [
        'A: at zero, one connection each',
        count(flooded.sent),
        `${count(flooded.held)} (${count(flooded.heldBesideSmall)} beside B)`,
        NONE,
        `${count(flooded.refusedAtOnce + flooded.refusedForSmall)} (${count(flooded.refusedAtOnce)} at once, ${count(flooded.refusedForSmall)} for B)`,
        NONE,
        NONE,
        NONE,
      ],
      b('B: at zero during the flood, Pod ready → response', small.summary, count(small.held)),
      b('B: the same, endpoint written → response', small.writtenToResponse, count(small.held)),
      b('B: ready Pod, sequential, alone', alone, NONE),
      b('B: ready Pod, sequential, during a flood of A', during, NONE),
    ],
  );
}

/** The paced-wake table: slow start on and off, and on ÷ off. */
export function pacedWakeTable(p: PacedWakeResult): Table {
  const row = (label: string, run: WakeRun) => {
    const s = run.summary;
    return [
      label,
      count(s.count),
      count(s.ok),
      count(s.non200),
      fixed(s.p50, 1),
      fixed(s.p99, 1),
      fixed(s.max, 1),
    ];
  };
  const { on, off } = p;
  return labelledTable(
    `Paced wake: ${count(p.requests)} requests held at zero, one Pod of an app answering after ${p.crowd.ms} ms × in-flight^${p.crowd.exp}`,
    ['slow start', 'requests', '200', 'non-200', 'p50 ms', 'p99 ms', 'max ms'],
    [
      row(`on (default, ${DEFAULT_SLOW_START})`, on),
      row(`off (zerogate.dev/slow-start: ${off.slowStart ?? NONE})`, off),
      [
        'on ÷ off',
        NONE,
        NONE,
        NONE,
        times(ratio(on.summary.p50, off.summary.p50)),
        times(ratio(on.summary.p99, off.summary.p99)),
        times(ratio(on.summary.max, off.summary.max)),
      ],
    ],
  );
}

/** The rows this part adds to the targets table: measure, value, target, verdict. */
export function holdingTargetRows(result: HoldingResult): string[][] {
  const b = smallRefused(result.fairness);
  const { on, off } = result.pacedWake;
  const p99Ratio = ratio(on.summary.p99, off.summary.p99);
  const non200 = on.summary.non200 + off.summary.non200;
  return [
    [
      'no request of B refused during A’s flood',
      `${count(b.refused)} of ${count(b.sent)}`,
      '0',
      b.refused === 0 ? 'met' : 'MISSED',
    ],
    [
      'paced wake: p99 with slow start ÷ without',
      times(p99Ratio),
      '< 1.00×',
      p99Ratio === undefined ? NONE : p99Ratio < 1 ? 'met' : 'MISSED',
    ],
    [
      'paced wake: non-200 answers, slow start on and off',
      `${count(non200)} of ${count(on.summary.count + off.summary.count)}`,
      '0',
      non200 === 0 ? 'met' : 'MISSED',
    ],
  ];
}
