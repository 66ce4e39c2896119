/**
 * The `cold-start` scenario: the time from a request for a revision at zero to its first response
 * byte on the one-machine platform, split into its stages. Each trial calls a revision of its own
 * (all hello apps, all at zero), so no trial waits for the previous one to scale back down.
 *
 * Stage times come from where each thing happens: the client's clock, the activator's and the
 * autoscaler's debug log lines (`request held`, `poked`, `held request forwarded`), and the
 * platform's Pod timeline (spawned, the app's `listening` line, the first passing readiness probe).
 * Every process runs on this machine, so their clocks agree to the millisecond.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Platform, type PodTimeline, parsePlatformConfig, startPlatform } from '@zerogate/local';
import { pino } from 'pino';
import { Agent, request } from 'undici';
import type { OptionValues, RunSettings, Scenario, ScenarioContext, ScenarioReport } from '../scenario.js';
import { fixed, type Table } from '../table.js';

const DEFAULT_TRIALS = 25;
/** Pause between trials, so one Pod's start does not overlap the next. */
const GAP_MS = 400;

/** One trial's timestamps (ms since the epoch), as kept in the run's JSON (`trials`). */
export interface Trial {
  sent: number;
  held?: number;
  poked?: number;
  pod?: PodTimeline;
  forwarded?: number;
  firstByte: number;
  status: number;
}

/** Stages, each from the previous mark to its own; the table's rows and the chart's waterfall. */
export const STAGES: readonly { name: string; span: (t: Trial) => number | undefined }[] = [
  { name: 'request sent → held by the activator', span: (t) => diff(t.held, t.sent) },
  { name: 'held → autoscaler poked', span: (t) => diff(t.poked, t.held) },
  { name: 'poked → Pod processes spawned', span: (t) => diff(t.pod?.spawnedAt, t.poked) },
  {
    name: "spawned → app listening (the app's own start)",
    span: (t) => diff(t.pod?.appListeningAt, t.pod?.spawnedAt),
  },
  { name: 'app listening → queue-proxy ready', span: (t) => diff(t.pod?.readyAt, t.pod?.appListeningAt) },
  { name: 'queue-proxy ready → activator forwards', span: (t) => diff(t.forwarded, t.pod?.readyAt) },
  { name: 'forwarded → first response byte', span: (t) => diff(t.firstByte, t.forwarded) },
];

function diff(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined ? undefined : a - b;
}

/** Nearest-rank percentile of `values` (sorted copy). */
function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** `revision → time` of each log line with message `msg` in a pino JSON log file. */
function logTimes(file: string, msg: string, key: 'revision' | 'name'): Map<string, number> {
  const times = new Map<string, number>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.includes(`"msg":"${msg}"`)) continue;
    const entry = JSON.parse(line) as { time: string } & Record<string, string>;
    const revision = entry[key];
    if (revision !== undefined && !times.has(revision)) times.set(revision, Date.parse(entry.time));
  }
  return times;
}

function configYaml(trials: number): string {
  const services = Array.from(
    { length: trials + 1 },
    (_, i) => `  - name: cold-${String(i).padStart(2, '0')}
    namespace: bench
    command: [node, examples/hello/server.mjs]
    containerConcurrency: 10`,
  );
  return `ingress: { port: 0 }
autoscaler:
  stable-window: 6s
  scale-to-zero-grace-period: 1s
services:
${services.join('\n')}
`;
}

/** Runs `trials` cold starts (plus a warm-up) and reports their stages. */
export async function runColdStart(trials: number, context: ScenarioContext): Promise<ScenarioReport> {
  const { settings, progress } = context;
  const config = parsePlatformConfig(configYaml(trials), join(settings.repoRoot, 'zerogate.yaml'));
  const timelines = new Map<string, PodTimeline>();
  const platform: Platform = await startPlatform(config, pino({ level: 'silent' }), {
    componentLogLevel: 'debug',
    onPodChange: (revision, pod) => {
      if (!timelines.has(revision.name)) timelines.set(revision.name, pod.timeline);
    },
  });
  const agent = new Agent({ connections: 1 });
  const results = new Map<string, Trial>();
  try {
    // Trial 0 warms the file cache and the components' code paths; it is not counted.
    for (let i = 0; i <= trials; i++) {
      const service = `cold-${String(i).padStart(2, '0')}`;
      const sent = Date.now();
      const res = await request(`http://127.0.0.1:${platform.ingressPort}/`, {
        headers: { host: `${service}.bench.localhost` },
        dispatcher: agent,
      });
      const firstByte = Date.now();
      await res.body.dump();
      if (i > 0) results.set(`${service}-00001`, { sent, firstByte, status: res.statusCode });
      if (i > 0 && i % 5 === 0) progress(`${i}/${trials} trials`);
      await new Promise((r) => setTimeout(r, GAP_MS));
    }
    const logs = join(platform.runDir, 'logs');
    const held = logTimes(join(logs, 'activator.log'), 'request held', 'revision');
    const forwarded = logTimes(join(logs, 'activator.log'), 'held request forwarded', 'revision');
    const poked = logTimes(join(logs, 'autoscaler.log'), 'poked', 'name');
    for (const [revision, trial] of results) {
      trial.held = held.get(revision);
      trial.forwarded = forwarded.get(revision);
      trial.poked = poked.get(revision);
      trial.pod = timelines.get(revision);
    }
  } finally {
    await agent.close();
    await platform.shutdown();
  }

  const all = [...results.values()];
  const failed = all.filter((t) => t.status !== 200).length;
  const row = (name: string, values: (number | undefined)[]) => {
    const known = values.filter((v): v is number => v !== undefined);
    return [name, fixed(percentile(known, 50), 1), fixed(percentile(known, 99), 1), String(known.length)];
  };
  const total = all.map((t) => t.firstByte - t.sent);
  const appStart = all.map((t) => diff(t.pod?.appListeningAt, t.pod?.spawnedAt));
  const overhead = appStart.map((start, i) => (start === undefined ? undefined : total[i]! - start));
  const table: Table = {
    title: `Cold start: request at zero → first response byte (${all.length} trials, hello app)`,
    headers: ['Stage', 'median ms', 'p99 ms', 'trials'],
    align: ['left', 'right', 'right', 'right'],
    rows: [
      ...STAGES.map((stage) => row(stage.name, all.map(stage.span))),
      row('total', total),
      row("total less the app's own start", overhead),
    ],
  };
  const medianOverhead = percentile(
    overhead.filter((v): v is number => v !== undefined),
    50,
  );
  return {
    setup: [
      [
        'Platform',
        'npm start’s platform in-process: ingress, activator and autoscaler processes, hello Pods',
      ],
      ['Trials', `${trials} (plus one warm-up), ${GAP_MS} ms apart, each on a revision of its own at zero`],
    ],
    tables: [table],
    notes: [
      `Target: everything but the app's own start ≤ 100 ms at the median; measured ${fixed(medianOverhead, 1)} ms.`,
      'The queue-proxy starts alongside the app; "app listening → queue-proxy ready" is what its start adds past the app\'s.',
      ...(failed > 0 ? [`${failed} trial(s) did not answer 200.`] : []),
    ],
    data: { trials: all },
  };
}

export const coldStartScenario: Scenario = {
  name: 'cold-start',
  description: 'time from a request at zero to its first byte on the one-machine platform, by stage',
  options: { trials: { type: 'string' } },
  unpinned: true,
  usage: [`--trials N   trials, each on its own revision at zero (default ${DEFAULT_TRIALS}, at least 20)`],
  prepare(values: OptionValues, _settings: RunSettings) {
    const trials = values.trials === undefined ? DEFAULT_TRIALS : Number(values.trials);
    if (!Number.isInteger(trials) || trials < 20 || trials > 60) {
      throw new Error(`--trials must be an integer in [20, 60], got ${String(values.trials)}`);
    }
    return {
      budgetSeconds: 60 + trials * 10,
      run: (context: ScenarioContext) => runColdStart(trials, context),
    };
  },
};
