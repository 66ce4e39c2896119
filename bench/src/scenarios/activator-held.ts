/**
 * Part 2 of the `activator` scenario: the held-to-forwarded delay. A request arrives while the revision
 * has no Pod and is held; a Pod (app + queue-proxy) starts; from the moment its queue-proxy answers the
 * kubelet's readiness probe to the moment the held request's response arrives, over several trials
 * with one activator; and the table of what it found.
 */
import { performance } from 'node:perf_hooks';
import { httpGet } from '../http-get.js';
import { freePort } from '../ports.js';
import { clockTicksPerSecond, readReapedChildTicks } from '../proc-stats.js';
import { BackgroundLoad, ProcessSampler } from '../process-sampler.js';
import { quietestRun } from '../quiet-run.js';
import { percentile } from '../ratios.js';
import type { ScenarioContext } from '../scenario.js';
import { fixed, type Table } from '../table.js';
import { HELLO_APP, startPodQueueProxy } from './activator-pod.js';
import {
  checkAlive,
  labelledTable,
  NAMESPACE,
  plural,
  REVISION,
  REVISION_HEADERS,
  type RunningActivator,
  type StartedProxy,
  sleep,
  startActivator,
  startApp,
  waitForQueueProxy,
  writeEndpointsFile,
} from './common.js';

/**
 * How often a held trial's Pod is probed while it starts. The delay is measured from the probe that
 * first answers 200, so the interval does not bias it; it only spaces the probes.
 */
export const POD_PROBE_INTERVAL_MS = 10;

/** A held request must be answered within this long after it was sent. */
export const HELD_TIMEOUT_MS = 15_000;

/** The activator must reflect a change (a request held, an endpoint gone) within this long. */
export const STATE_TIMEOUT_MS = 3_000;
const STATE_INTERVAL_MS = 10;

/**
 * Reads a revision's sample (the benchmark revision's unless named) of a per-revision gauge
 * (`kn_revision_request_queued`, `kn_revision_pods_usable`) from a Prometheus text exposition;
 * undefined when it is absent.
 */
export function revisionGauge(exposition: string, metric: string, revision = REVISION): number | undefined {
  for (const line of exposition.split('\n')) {
    if (!line.startsWith(`${metric}{`)) continue;
    if (!line.includes(`kn_revision_name="${revision}"`)) continue;
    if (!line.includes(`k8s_namespace_name="${NAMESPACE}"`)) continue;
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) return value;
  }
  return undefined;
}

/** Polls the activator's metrics until `metric` has `expected` for the benchmark revision. */
async function waitForGauge(activator: RunningActivator, metric: string, expected: number): Promise<void> {
  const deadline = performance.now() + STATE_TIMEOUT_MS;
  let last: number | undefined;
  while (performance.now() < deadline) {
    checkAlive([activator.proc]);
    const answer = await httpGet(activator.metricsUrl, { timeoutMs: STATE_TIMEOUT_MS });
    last = revisionGauge(answer.body, metric);
    if (last === expected) return;
    await sleep(STATE_INTERVAL_MS);
  }
  throw new Error(
    `the activator's ${metric} stayed at ${last ?? 'absent'}, not ${expected}, for ${STATE_TIMEOUT_MS / 1000} s` +
      `\n--- stdout ---\n${activator.proc.stdout() || '(empty)'}`,
  );
}

/** One held trial's timings, milliseconds. */
export interface HeldTrial {
  readonly trial: number;
  /** Starting the Pod's two processes → its queue-proxy answering the readiness probe with 200. */
  readonly podStartMs: number;
  /** T_ready → the held request's response head: the measure. */
  readonly readyToResponseMs: number;
  /** The endpoints file renamed into place → the response head. */
  readonly endpointsToResponseMs: number;
}

/**
 * One held trial: a request held at zero, a Pod started, its endpoint written (not ready, so the
 * activator probes it itself) the moment its queue-proxy passes the kubelet's probe, the response
 * timed; then back to zero, the endpoint removed first and the Pod stopped after, as Kubernetes
 * takes a terminating Pod out of the endpoints.
 */
async function heldTrial(
  context: ScenarioContext,
  activator: RunningActivator,
  endpointsFile: string,
  trial: number,
): Promise<HeldTrial> {
  const { supervisor } = context;
  const response = httpGet(activator.url, { headers: REVISION_HEADERS, timeoutMs: HELD_TIMEOUT_MS });
  // Awaited below; this only keeps an early failure elsewhere from leaving it unhandled.
  response.catch(() => undefined);
  await waitForGauge(activator, 'kn_revision_request_queued', 1);

  const appPort = await freePort();
  const podStarted = performance.now();
  const app = startApp(context, `trial ${trial} app`, HELLO_APP, appPort);
  let qp: StartedProxy | undefined;
  try {
    qp = await startPodQueueProxy(context, `trial ${trial} queue-proxy`, appPort);
    await waitForQueueProxy(qp, POD_PROBE_INTERVAL_MS);
    const readyAt = performance.now();
    writeEndpointsFile(endpointsFile, [{ address: `127.0.0.1:${qp.port}`, ready: false }]);
    const writtenAt = performance.now();
    const answer = await response;
    if (answer.status !== 200 || answer.body !== 'hello') {
      throw new Error(
        `the held request got ${answer.status} ${JSON.stringify(answer.body.slice(0, 200))}, not 200 "hello"` +
          `\n--- activator stdout ---\n${activator.proc.stdout() || '(empty)'}`,
      );
    }
    writeEndpointsFile(endpointsFile, []);
    await waitForGauge(activator, 'kn_revision_pods_usable', 0);
    return {
      trial,
      podStartMs: readyAt - podStarted,
      readyToResponseMs: answer.headAt - readyAt,
      endpointsToResponseMs: answer.headAt - writtenAt,
    };
  } finally {
    await Promise.all([supervisor.stop(app), ...(qp === undefined ? [] : [supervisor.stop(qp.proc)])]);
  }
}

/** Every held trial of one attempt, and how busy the machine was meanwhile. */
export interface HeldSet {
  readonly trials: HeldTrial[];
  /** CPU used by processes outside the benchmark during the trials, percent of one core. */
  readonly otherCpuPercent: number;
}

/**
 * Runs every held trial in a row. Other load is measured over the whole set, not per trial: a trial
 * lasts a few hundred milliseconds, a few clock ticks, too short for `/proc` to tell a busy machine
 * from rounding. Each trial's Pod is started and reaped within the window, so its whole CPU time,
 * exit included, is in this process's reaped-children counters.
 */
async function heldSet(
  context: ScenarioContext,
  activator: RunningActivator,
  endpointsFile: string,
  count: number,
): Promise<HeldSet> {
  const sampler = new ProcessSampler(activator.proc.pid);
  const background = new BackgroundLoad();
  const reapedBefore = readReapedChildTicks();
  sampler.start();
  background.start();
  const trials: HeldTrial[] = [];
  for (let trial = 1; trial <= count; trial++) {
    const result = await heldTrial(context, activator, endpointsFile, trial);
    context.progress(
      `held trial ${trial}/${count}: Pod ready after ${result.podStartMs.toFixed(0)} ms, ` +
        `response ${result.readyToResponseMs.toFixed(1)} ms after ready`,
    );
    trials.push(result);
  }
  const pods = (readReapedChildTicks() - reapedBefore) / clockTicksPerSecond();
  const otherCpuPercent = background.stop(sampler.stop().cpuSeconds + pods);
  return { trials, otherCpuPercent };
}

/** Runs the held trials, one activator for all of them, keeping the quietest attempt. */
export async function measureHeld(
  context: ScenarioContext,
  endpointsFile: string,
  count: number,
): Promise<HeldSet> {
  const { supervisor, progress } = context;
  writeEndpointsFile(endpointsFile, []);
  progress('starting the activator with the revision at zero (no endpoints)');
  const activator = await startActivator(context, endpointsFile);
  try {
    return await quietestRun(() => heldSet(context, activator, endpointsFile, count), progress);
  } finally {
    await supervisor.stop(activator.proc);
  }
}

/** Median, p99, min and max of some timings, milliseconds. */
export interface Spread {
  readonly median: number | undefined;
  readonly p99: number | undefined;
  readonly min: number | undefined;
  readonly max: number | undefined;
}

/** The spread of `values`, percentiles by nearest rank. */
export function spread(values: readonly number[]): Spread {
  return {
    median: percentile(values, 50),
    p99: percentile(values, 99),
    min: percentile(values, 0),
    max: percentile(values, 100),
  };
}

/** The table of the held trials: each interval's spread. */
export function heldTable(trials: readonly HeldTrial[]): Table {
  const headers = ['interval', 'median ms', 'p99 ms', 'min ms', 'max ms'];
  const row = (label: string, values: readonly number[]) => {
    const s = spread(values);
    return [label, fixed(s.median, 1), fixed(s.p99, 1), fixed(s.min, 1), fixed(s.max, 1)];
  };
  return labelledTable(`Held at zero → forwarded (${plural(trials.length, 'trial')})`, headers, [
    row(
      'Pod ready → response',
      trials.map((t) => t.readyToResponseMs),
    ),
    row(
      'endpoint written → response',
      trials.map((t) => t.endpointsToResponseMs),
    ),
    row(
      'Pod start → ready',
      trials.map((t) => t.podStartMs),
    ),
  ]);
}
