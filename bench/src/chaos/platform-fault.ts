/**
 * One fault on the one-machine platform under steady load: start the platform with the revision's
 * Pods up, load it with 20 clients, inject the fault, keep loading, then account every request around
 * the fault. The fault scenarios (a process killed, a drain, a scale-down, a mode flip) differ only in
 * what they start, what they do at the fault and how they count losses.
 */
import { performance } from 'node:perf_hooks';
import { sleep } from '../scenarios/common.js';
import type { ChaosContext, ChaosResult } from './chaos-scenario.js';
import { FAULT_CLIENTS } from './chaos-scenario.js';
import { type ChaosRow, type Check, faultRow } from './chaos-table.js';
import { ComponentSampler } from './component-sampler.js';
import {
  LocalPlatform,
  type PlatformProcess,
  type PlatformSpec,
  POD_PROBE_PERIOD_MS,
  SERVICE_HOST,
} from './local-platform.js';
import { accountFault, type LossRule } from './outcomes.js';
import { SteadyLoad, waitForSuccesses } from './steady-load.js';

/** One fault to inject. */
export interface PlatformFault {
  readonly scenario: string;
  readonly spec: PlatformSpec;
  /** Path and query of the load's requests. */
  readonly path?: string;
  readonly lossRule: LossRule;
  /** The component under test, whose memory and CPU are reported, and its cap. */
  readonly component: string;
  readonly rssCapKiB?: number;
  readonly target: (platform: LocalPlatform) => PlatformProcess;
  /** Injects the fault; `target` is what {@link target} chose. */
  readonly inject: (platform: LocalPlatform, target: PlatformProcess) => Promise<void>;
  /** Extra checks once the load stopped, with the platform still up. */
  readonly after?: (platform: LocalPlatform) => Promise<{ checks?: Check[]; details?: string[] }>;
}

/**
 * Log lines every process of the platform may write, together, while a fault plays out under load: a
 * handful per event (a process gone, restarted, a Pod replaced), far below one per request.
 */
const MAX_LOG_LINES = 200;

/** Lines written to each log file between two counts, and their sum. */
export function loggedSince(
  before: ReadonlyMap<string, number>,
  after: ReadonlyMap<string, number>,
): { total: number; text: string } {
  const grown = [...after]
    .map(([file, n]) => [file.replace(/\.log$/, ''), n - (before.get(file) ?? 0)] as const)
    .filter(([, n]) => n > 0);
  const total = grown.reduce((sum, [, n]) => sum + n, 0);
  return { total, text: grown.length === 0 ? 'none' : grown.map(([file, n]) => `${file} ${n}`).join(', ') };
}

/** Seconds of load before and after the fault. */
function phases(quick: boolean): { before: number; after: number } {
  return quick ? { before: 1, after: 4 } : { before: 2, after: 8 };
}

/** Runs `fault` and returns its row. */
export async function runPlatformFault(context: ChaosContext, fault: PlatformFault): Promise<ChaosResult> {
  const { before, after } = phases(context.quick);
  context.progress(`${fault.scenario}: starting the platform (${fault.spec.pods} Pods, ${fault.spec.mode})`);
  const platform = await LocalPlatform.start(context, fault.spec);
  try {
    const target = fault.target(platform);
    const sampler = new ComponentSampler(target.pid);
    const load = new SteadyLoad({
      origin: platform.origin,
      path: fault.path ?? '/',
      headers: { host: SERVICE_HOST },
      clients: FAULT_CLIENTS,
      timeoutMs: 10_000,
    });
    await waitForSuccesses(load, FAULT_CLIENTS, 10_000);
    const linesBefore = platform.logLineCounts();
    await sleep(before * 1000);
    context.progress(`${fault.scenario}: fault on ${fault.component} (pid ${target.pid})`);
    const faultAt = performance.now();
    await fault.inject(platform, target);
    await sleep(after * 1000 - (performance.now() - faultAt));
    const records = await load.stop();
    const usage = sampler.stop();
    const logged = loggedSince(linesBefore, platform.logLineCounts());
    const extra = (await fault.after?.(platform)) ?? {};
    const account = accountFault(records, faultAt, fault.lossRule);
    const row: ChaosRow = {
      ...faultRow(fault.scenario, fault.component, account, POD_PROBE_PERIOD_MS + 1000),
      peakRssKiB: usage.peakRssKiB,
      ...(fault.rssCapKiB === undefined ? {} : { rssCapKiB: fault.rssCapKiB }),
      cpuSeconds: usage.cpuSeconds,
      checks: [
        { name: `${logged.total} log lines`, pass: logged.total <= MAX_LOG_LINES },
        ...(extra.checks ?? []),
      ],
    };
    return {
      rows: [row],
      details: [
        `${account.failedInFlight} failed request(s) were in flight at the fault; ${before} s of load before it, ${after} s after; ` +
          `log lines written meanwhile: ${logged.text}`,
        ...(extra.details ?? []),
      ],
    };
  } finally {
    await platform.stop(context);
  }
}

/** Sends `signal` to one process; throws if it is already gone. */
export function signal(pid: number, name: NodeJS.Signals): void {
  process.kill(pid, name);
}
