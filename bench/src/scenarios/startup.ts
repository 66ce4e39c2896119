/**
 * The `startup` scenario: how long a proxy process takes from being spawned to answering ready, over
 * many starts. A sidecar starts beside its app on every cold start, so this is time a request at zero
 * may wait for; the queue-proxy's and the activator's target is {@link STARTUP_TARGET_MS}.
 *
 * Each start is timed from just before the spawn to the first readiness probe answered 200: the
 * kubelet's probe for a queue-proxy (the app it fronts already listens, so it is ready as soon as it
 * can tell), `K-Network-Probe: activator` for the activator. The probe is sent every
 * {@link PROBE_INTERVAL_MS}, each on a fresh connection, so a figure is late by at most that much.
 * One start of each is made first and not counted: it fills the file cache and the components' module
 * compile cache, as any start after a Pod's first on a node finds them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  findKnativeQueue,
  KNATIVE_QUEUE_PORTS,
  PORTS_FREE_TIMEOUT_MS,
  waitForFreePorts,
} from '../knative-queue.js';
import { freePorts } from '../ports.js';
import { clockTicksPerSecond, readReapedChildTicks } from '../proc-stats.js';
import { BackgroundLoad } from '../process-sampler.js';
import { DISTURBED_PERCENT } from '../quiet-run.js';
import { waitUntilReady } from '../readiness.js';
import type { OptionValues, RunSettings, Scenario, ScenarioContext, ScenarioReport } from '../scenario.js';
import { fixed, NONE, type Table } from '../table.js';
import {
  ACTIVATOR_ENTRY,
  ACTIVATOR_PROBE_HEADERS,
  activatorEnv,
  KUBE_PROBE_HEADERS,
  missingBuilds,
  QUEUE_PROXY_ENTRY,
  queueProxyArgv,
  queueProxyEnv,
  UNPINNED_LAYOUT,
  writeEndpointsFile,
} from './common.js';

/** The start-up target of the queue-proxy and the activator: process spawned → ready. */
export const STARTUP_TARGET_MS = 50;
const DEFAULT_TRIALS = 20;
/** Time between readiness probes while a process starts. */
export const PROBE_INTERVAL_MS = 2;
const START_TIMEOUT_MS = 10_000;

/** One kind of process started over and over. */
interface Subject {
  readonly label: string;
  /** Whether {@link STARTUP_TARGET_MS} applies to it. */
  readonly targeted: boolean;
  /** Starts one instance; resolves with spawn → ready in ms, once it has been stopped again. */
  readonly start: (context: ScenarioContext) => Promise<number>;
}

/** Nearest-rank percentile of `values`. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** `met` when the median is within the target, else `missed`; `–` where no target applies. */
export function verdict(median: number | undefined, targeted: boolean): string {
  if (!targeted || median === undefined) return NONE;
  return median <= STARTUP_TARGET_MS ? 'met' : 'missed';
}

/** Spawns `argv`, polls `url` with `headers` until 200, stops the process; spawn → 200 in ms. */
async function timeStart(
  context: ScenarioContext,
  name: string,
  argv: readonly string[],
  env: Record<string, string>,
  url: string,
  headers: Readonly<Record<string, string>>,
): Promise<number> {
  const { supervisor, settings } = context;
  const spawned = performance.now();
  const proc = supervisor.start({ name, argv, env, cwd: settings.repoRoot });
  try {
    await waitUntilReady(proc, url, { headers, intervalMs: PROBE_INTERVAL_MS, timeoutMs: START_TIMEOUT_MS });
    return performance.now() - spawned;
  } finally {
    await supervisor.stop(proc);
  }
}

function subjects(
  settings: RunSettings,
  appPort: number,
  endpointsFile: string,
  knative: string | undefined,
): Subject[] {
  const queueProxyStart = (name: string, argv: readonly string[]) => async (context: ScenarioContext) => {
    const [serving, tls, admin, stats, metrics] = (await freePorts(5)) as [
      number,
      number,
      number,
      number,
      number,
    ];
    const env = queueProxyEnv(0, appPort, { serving, tls, admin, stats, metrics });
    return timeStart(context, name, argv, env, `http://127.0.0.1:${serving}/`, KUBE_PROBE_HEADERS);
  };
  const list: Subject[] = [
    {
      label: 'queue-proxy',
      targeted: true,
      start: queueProxyStart('queue-proxy', queueProxyArgv(settings.repoRoot)),
    },
    {
      label: 'activator',
      targeted: true,
      start: async (context) => {
        const [http, h2c, metrics, autoscaler] = (await freePorts(4)) as [number, number, number, number];
        const argv = [process.execPath, join(settings.repoRoot, ACTIVATOR_ENTRY)];
        // Its h2c port too: the default (Knative's 8013) may be taken on a shared machine.
        const env = {
          ...activatorEnv({ http, metrics, autoscaler }, endpointsFile),
          ACTIVATOR_H2C_PORT: String(h2c),
        };
        return timeStart(
          context,
          'activator',
          argv,
          env,
          `http://127.0.0.1:${http}/`,
          ACTIVATOR_PROBE_HEADERS,
        );
      },
    },
  ];
  if (knative !== undefined) {
    const start = queueProxyStart('knative queue-proxy', [knative]);
    list.push({
      label: 'knative queue-proxy',
      targeted: false,
      // Its admin and stats ports are fixed: wait until the previous instance let go of them.
      start: async (context) => {
        await waitForFreePorts(KNATIVE_QUEUE_PORTS, PORTS_FREE_TIMEOUT_MS);
        return start(context);
      },
    });
  }
  return list;
}

/** Knative's queue-proxy binary when `npm run knative:build` has built it; undefined otherwise. */
function knativeQueuePath(repoRoot: string): string | undefined {
  try {
    return findKnativeQueue(repoRoot).path;
  } catch {
    return undefined;
  }
}

/**
 * Starts the queue-proxy and the activator (and Knative's queue-proxy at `knative`, when given) `trials`
 * times each, after one uncounted start of each, and reports spawn → ready.
 */
export async function runStartup(
  trials: number,
  context: ScenarioContext,
  knative?: string,
): Promise<ScenarioReport> {
  // The app the queue-proxies front: its readiness probe is a TCP connect to it.
  const app: Server = createServer((_req, res) => res.end('hello'));
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  const appPort = (app.address() as { port: number }).port;
  const dir = mkdtempSync(join(tmpdir(), 'zerogate-bench-startup-'));
  const endpointsFile = join(dir, 'endpoints.json');
  writeEndpointsFile(endpointsFile, []);
  const list = subjects(context.settings, appPort, endpointsFile, knative);
  const times = new Map<string, number[]>(list.map((s) => [s.label, []]));
  // Other processes' CPU over the measured starts: the starts' own (reaped children) are left out.
  const background = new BackgroundLoad();
  let otherPercent = 0;
  try {
    for (const subject of list) await subject.start(context);
    background.start();
    const ownTicks = readReapedChildTicks();
    // Interleaved, so that a busy moment of the machine falls on every subject alike.
    for (let i = 1; i <= trials; i++) {
      for (const subject of list) times.get(subject.label)!.push(await subject.start(context));
      if (i % 5 === 0) context.progress(`${i}/${trials} starts`);
    }
    otherPercent = background.stop((readReapedChildTicks() - ownTicks) / clockTicksPerSecond());
  } finally {
    await new Promise((resolve) => app.close(resolve));
    rmSync(dir, { recursive: true, force: true });
  }

  const table: Table = {
    title: `Start-up: process spawned → ready (${trials} starts each)`,
    headers: ['process', 'median ms', 'p90 ms', 'min ms', 'max ms', `target ≤ ${STARTUP_TARGET_MS} ms`],
    align: ['left', 'right', 'right', 'right', 'right', 'left'],
    rows: list.map(({ label, targeted }) => {
      const ms = times.get(label)!;
      const median = percentile(ms, 50);
      return [
        label,
        fixed(median, 1),
        fixed(percentile(ms, 90), 1),
        fixed(Math.min(...ms), 1),
        fixed(Math.max(...ms), 1),
        verdict(median, targeted),
      ];
    }),
  };
  return {
    setup: [
      ['Layout', UNPINNED_LAYOUT],
      ['Starts', `${trials} of each, interleaved, after one uncounted start of each`],
      ['Ready', `first 200 to a readiness probe sent every ${PROBE_INTERVAL_MS} ms from the spawn on`],
      ['Other load', `${fixed(otherPercent, 0)} % of a core used by other processes during the starts`],
    ],
    tables: [table],
    notes: [
      `Target: the queue-proxy and the activator ready within ${STARTUP_TARGET_MS} ms of being spawned, at the median.`,
      'The queue-proxy runs with its own Node flags and the environment Knative gives it (TCP probe on an app already listening); the activator reads its revisions from a file.',
      ...(otherPercent > DISTURBED_PERCENT
        ? [
            `Other processes used ${fixed(otherPercent, 0)} % of a core meanwhile: the figures are slower than on a quiet machine.`,
          ]
        : []),
      ...(list.some((s) => !s.targeted)
        ? []
        : ["Knative's queue-proxy is not built (npm run knative:build), so it is not measured."]),
    ],
    data: {
      targetMs: STARTUP_TARGET_MS,
      probeIntervalMs: PROBE_INTERVAL_MS,
      otherCpuPercent: otherPercent,
      startsMs: Object.fromEntries(times),
    },
  };
}

export const startupScenario: Scenario = {
  name: 'startup',
  description: "the queue-proxy's and the activator's start-up: process spawned → ready, over many starts",
  options: { trials: { type: 'string' } },
  unpinned: true,
  usage: [`--trials N   starts of each process (default ${DEFAULT_TRIALS}, 5 to 100)`],
  prepare(values: OptionValues, settings: RunSettings) {
    const trials = values.trials === undefined ? DEFAULT_TRIALS : Number(values.trials);
    if (!Number.isInteger(trials) || trials < 5 || trials > 100) {
      throw new Error(`--trials must be an integer in [5, 100], got ${String(values.trials)}`);
    }
    const missing = missingBuilds(settings, [QUEUE_PROXY_ENTRY, ACTIVATOR_ENTRY]);
    if (missing.length > 0) throw new Error(missing.join('\n'));
    return {
      budgetSeconds: 60 + trials * 3 * (START_TIMEOUT_MS / 1000),
      run: (context: ScenarioContext) => runStartup(trials, context, knativeQueuePath(settings.repoRoot)),
    };
  },
};
