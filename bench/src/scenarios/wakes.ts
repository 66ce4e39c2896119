/**
 * The `wakes` scenario: many requests, each to a revision at zero Pods, on the one-machine platform;
 * every one must answer 2xx. Half go to the hello example; half to a fault-injected app (`wake-app.ts`)
 * whose port opens 0–2 s before its handler is ready, so the Pod's TCP readiness probe passes too
 * early: one kind resets every connection it accepts until then, the other leaves them unread.
 *
 * Revisions return to zero through the platform's own path: the autoscaler scales each to zero once
 * its stable window (6 s, Knative's least) and a 1 s grace period pass with no request. Many revisions
 * run side by side, and a wake goes to whichever revision is back at zero, so the run does not wait
 * out one revision's windows after another.
 *
 * Each wake's times come from the client's clock (a thread of its own, `wake-client.ts`, so that the
 * platform's spawns and writes in the main thread do not delay its readings) and the platform's Pod
 * timeline (the app's `listening` line, the first passing readiness probe); every process runs on this
 * machine, so their clocks agree to the millisecond.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import {
  type Platform,
  type PodTimeline,
  parsePlatformConfig,
  type RevisionPods,
  startPlatform,
} from '@zerogate/local';
import { pino } from 'pino';
import { percentile } from '../ratios.js';
import type { OptionValues, RunSettings, Scenario, ScenarioContext, ScenarioReport } from '../scenario.js';
import { fixed, type Table } from '../table.js';
import type { WakeAnswer, WakeOrder } from '../wake-client.js';
import { workerModule } from '../worker-module.js';

/** The apps woken: the hello example and the fault-injected app's three faults. */
export const WAKE_KINDS = ['hello', 'reset', 'unattached', 'path'] as const;
export type WakeKind = (typeof WAKE_KINDS)[number];
/** The fault-injected kinds, which share the fault-injected half of the wakes and revisions. */
const FAULT_KINDS = WAKE_KINDS.filter((k) => k !== 'hello');

/** Targets of the ready → response time, ms. */
export const TARGETS = { p50: 50, p99: 100 } as const;

const DEFAULT_WAKES = 1000;
const DEFAULT_REVISIONS = 50;
/**
 * Wakes in flight at once. The revisions' return to zero (stable window and grace) sets the pace: 8 at
 * once ran no more wakes a second than 4 (400 in 92 s either way on 2 CPUs), only more Pods starting
 * at once.
 */
const DEFAULT_PARALLEL = 4;
/** The client's limit on one wake; far above any wake, so a stuck one shows as a failure. */
const WAKE_TIMEOUT_MS = 30_000;

/** One wake, as kept in the run's JSON (`wakes`); times in ms since the epoch. */
export interface Wake {
  readonly kind: WakeKind;
  readonly revision: string;
  sent: number;
  firstByte?: number;
  status?: number;
  /** The start of a non-2xx body, or the client's error. */
  body?: string;
  pod?: PodTimeline;
  /** When the fault-injected app opened its port (its `socket open` line). */
  socketOpenAt?: number;
  /** The response's `Server-Timing` durations by metric name (`hold`, `throttle`, `proxy`, `queue`), ms. */
  timing?: Record<string, number>;
}

/** The durations of a `Server-Timing` value, by metric name (`name;dur=12.5, …`). */
export function serverTimingDurations(value: string | string[] | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const entry of [value ?? []].flat().join(',').split(',')) {
    const [name, ...params] = entry.split(';').map((p) => p.trim());
    const dur = params.find((p) => p.startsWith('dur='));
    if (name && dur !== undefined) out[name] = Number(dur.slice(4));
  }
  return out;
}

/** When the activator sent the request to the Pod it held it for (client clock, ms since the epoch). */
function activatorSentAt(w: Wake): number | undefined {
  const t = w.timing;
  if (t?.['hold'] === undefined) return undefined;
  return w.sent + t['hold'] + (t['throttle'] ?? 0);
}

/**
 * When the Pod was first ready: the platform's first passing readiness probe, or the latest the
 * activator can have sent the request to it (its `proxy` time before the first byte) when that came
 * first: the activator probes Pods itself, and the platform may read its own probe's answer late.
 */
export function podReadyAt(w: Wake): number | undefined {
  const platform = w.pod?.readyAt;
  const proxy = w.timing?.['proxy'];
  const activator = w.firstByte === undefined || proxy === undefined ? undefined : w.firstByte - proxy;
  if (platform === undefined || activator === undefined) return platform ?? activator;
  return Math.min(platform, activator);
}

/** Whether a wake answered 2xx. */
export function succeeded(w: Wake): boolean {
  return w.status !== undefined && w.status >= 200 && w.status < 300;
}

/**
 * The time from the later of the Pod's readiness and the app's handler accepting (its `listening`
 * line) to the first response byte: what the platform adds once the app can truly answer.
 */
export function readyToResponse(w: Wake): number | undefined {
  const ready = podReadyAt(w);
  const accepting = w.pod?.appListeningAt;
  if (w.firstByte === undefined || ready === undefined || accepting === undefined) return undefined;
  return w.firstByte - Math.max(ready, accepting);
}

/** Where in the wake a failure happened, from its timeline. */
export function failureStage(w: Wake): string {
  if (w.firstByte === undefined) return 'no response (client error)';
  const ready = podReadyAt(w);
  if (ready === undefined || w.firstByte < ready) return 'before the Pod was ready';
  if (w.pod?.appListeningAt === undefined || w.firstByte < w.pod.appListeningAt)
    return "Pod ready, app's handler not yet";
  return "after the app's handler was ready";
}

/** `met` or `missed` for a measured value against its upper bound; `–` when nothing was measured. */
export function verdict(value: number | undefined, target: number): string {
  if (value === undefined) return '–';
  return value <= target ? 'met' : 'missed';
}

/** The summary table: wakes, non-2xx, and the ready → response distribution per app kind. */
export function wakesTable(wakes: readonly Wake[]): Table {
  const rows = WAKE_KINDS.map((kind) => wakes.filter((w) => w.kind === kind))
    .filter((of) => of.length > 0)
    .map((of) => {
      const spans = of.flatMap((w) => {
        const v = succeeded(w) ? readyToResponse(w) : undefined;
        return v === undefined ? [] : [v];
      });
      const p50 = percentile(spans, 50);
      const p99 = percentile(spans, 99);
      return [
        of[0]!.kind,
        String(of.length),
        String(of.filter((w) => !succeeded(w)).length),
        fixed(p50, 1),
        verdict(p50, TARGETS.p50),
        fixed(p99, 1),
        verdict(p99, TARGETS.p99),
      ];
    });
  return {
    title: `Wakes: requests to revisions at zero (${wakes.length} wakes); ready → first response byte, ms`,
    headers: ['app', 'wakes', 'non-2xx', 'p50 ms', `p50 ≤ ${TARGETS.p50}`, 'p99 ms', `p99 ≤ ${TARGETS.p99}`],
    align: ['left', 'right', 'right', 'right', 'left', 'right', 'left'],
    rows,
  };
}

/** The stages of the wakes, per app kind: medians and p99s of each span. */
export function stagesTable(wakes: readonly Wake[]): Table {
  const spans: readonly { name: string; span: (w: Wake) => number | undefined }[] = [
    { name: 'request sent → Pod ready', span: (w) => diff(podReadyAt(w), w.sent) },
    { name: 'app port open → handler ready', span: (w) => diff(w.pod?.appListeningAt, w.socketOpenAt) },
    { name: 'Pod ready → first response byte', span: (w) => diff(w.firstByte, podReadyAt(w)) },
    {
      name: "platform's readiness probe → activator sends",
      span: (w) => diff(activatorSentAt(w), w.pod?.readyAt),
    },
    { name: 'activator sends → first byte from the Pod', span: (w) => w.timing?.['proxy'] },
    { name: "queue-proxy's breaker wait", span: (w) => w.timing?.['queue'] },
    {
      name: "app's handler ready → first response byte",
      span: (w) => diff(w.firstByte, w.pod?.appListeningAt),
    },
    { name: 'request sent → first response byte', span: (w) => diff(w.firstByte, w.sent) },
  ];
  const kinds = WAKE_KINDS.filter((kind) => wakes.some((w) => w.kind === kind));
  const rows = spans.flatMap(({ name, span }) =>
    kinds.flatMap((kind) => {
      const values = wakes
        .filter((w) => w.kind === kind && succeeded(w))
        .flatMap((w) => {
          const v = span(w);
          return v === undefined ? [] : [v];
        });
      if (values.length === 0) return [];
      return [[name, kind, fixed(percentile(values, 50), 1), fixed(percentile(values, 99), 1)]];
    }),
  );
  return {
    title: 'Wake stages (2xx wakes), ms',
    headers: ['span', 'app', 'p50', 'p99'],
    align: ['left', 'left', 'right', 'right'],
    rows,
  };
}

/** One line per failed wake: its app, revision, status, body and stage. */
export function failureLines(wakes: readonly Wake[]): string[] {
  return wakes
    .filter((w) => !succeeded(w))
    .map(
      (w) =>
        `Failed wake: ${w.kind} ${w.revision}: ${w.status ?? 'no status'} ${JSON.stringify(w.body ?? '')}, ${failureStage(w)}`,
    );
}

function diff(a: number | undefined, b: number | undefined): number | undefined {
  return a === undefined || b === undefined ? undefined : a - b;
}

/** What a run does. */
export interface WakesPlan {
  /** Wakes of the hello app; the fault-injected app gets as many, split between its faults. */
  readonly wakes: number;
  /** Revisions side by side, split like the wakes. */
  readonly revisions: number;
  /** Wakes in flight at once. */
  readonly parallel: number;
  /** Folder to keep every process's log in, to look into failures; default removed at the end. */
  readonly logDir?: string;
}

/** `n` split evenly between the faults, the first ones taking what does not divide. */
function splitFaults(n: number): Record<Exclude<WakeKind, 'hello'>, number> {
  const share = Math.floor(n / FAULT_KINDS.length);
  const extra = n - share * FAULT_KINDS.length;
  return Object.fromEntries(FAULT_KINDS.map((k, i) => [k, share + (i < extra ? 1 : 0)])) as Record<
    Exclude<WakeKind, 'hello'>,
    number
  >;
}

/** Wakes of each kind: `n` of the hello app, and `n` of the fault-injected app split between its faults. */
export function wakesOfKinds(n: number): Record<WakeKind, number> {
  return { hello: n, ...splitFaults(n) };
}

/** Revisions of each kind: half hello, the other half split between the faults (hello gets what does not divide). */
export function revisionsOfKinds(n: number): Record<WakeKind, number> {
  const faults = Math.floor(n / 2);
  return { hello: n - faults, ...splitFaults(faults) };
}

/** The service's settings of a kind's revision, as zerogate.yaml lines. */
function appYaml(kind: WakeKind): string {
  if (kind === 'hello') return 'command: [node, examples/hello/server.mjs]';
  const app = `command: [node, bench/dist/wake-app.js]
    env: { WAKE_FAULT: ${kind}, WAKE_FAULT_DELAY_MS: "0-2000" }`;
  // Its readiness path answers before its handler does; the others are probed on their port.
  return kind === 'path' ? `${app}\n    readinessProbe: { httpGet: { path: /healthz } }` : app;
}

function serviceName(kind: WakeKind, i: number): string {
  return `wake-${kind}-${String(i).padStart(2, '0')}`;
}

function configYaml(revisions: Record<WakeKind, number>): string {
  const services = WAKE_KINDS.flatMap((kind) =>
    Array.from(
      { length: revisions[kind] },
      (_, i) => `  - name: ${serviceName(kind, i)}
    namespace: bench
    ${appYaml(kind)}
    containerConcurrency: 10`,
    ),
  );
  return `ingress: { port: 0 }
pods: { drainSeconds: 0, maxPods: 256 }
autoscaler:
  stable-window: 6s
  scale-to-zero-grace-period: 1s
services:
${services.join('\n')}
`;
}

/** The `at` of an app log's `socket open` line. */
function socketOpenAt(logDir: string, pod: string): number | undefined {
  try {
    const line = readFileSync(join(logDir, `${pod}.app.log`), 'utf8')
      .split('\n')
      .find((l) => l.includes('"socket open"'));
    return line === undefined ? undefined : (JSON.parse(line) as { at: number }).at;
  } catch {
    return undefined;
  }
}

/** The client thread (`wake-client.ts`): sends each wake and answers when its response came. */
class WakeClient {
  private readonly worker = new Worker(workerModule('../wake-client', import.meta.url));
  private readonly waiting = new Map<number, (answer: WakeAnswer) => void>();
  private next = 0;

  constructor() {
    this.worker.on('message', (answer: WakeAnswer) => {
      this.waiting.get(answer.id)?.(answer);
      this.waiting.delete(answer.id);
    });
  }

  wake(url: string, host: string, timeoutMs: number): Promise<WakeAnswer> {
    const order: WakeOrder = { id: this.next++, url, host, timeoutMs };
    return new Promise((resolve) => {
      this.waiting.set(order.id, resolve);
      this.worker.postMessage(order);
    });
  }

  async close(): Promise<void> {
    this.worker.postMessage('close');
    await new Promise((resolve) => this.worker.once('exit', resolve));
  }
}

/** Runs the wakes of `plan` and reports them. */
export async function runWakes(plan: WakesPlan, context: ScenarioContext): Promise<ScenarioReport> {
  const { settings, progress } = context;
  const wakesOf = wakesOfKinds(plan.wakes);
  const config = parsePlatformConfig(
    configYaml(revisionsOfKinds(plan.revisions)),
    join(settings.repoRoot, 'zerogate.yaml'),
  );
  let changed: () => void = () => {};
  const podNames = new Map<Wake, string>();
  const current = new Map<string, Wake>();
  const platform: Platform = await startPlatform(config, pino({ level: 'silent' }), {
    ...(plan.logDir === undefined ? {} : { logDir: plan.logDir }),
    onPodChange: (revision, pod) => {
      const wake = current.get(revision.name);
      if (wake && wake.pod === undefined && pod.timeline.spawnedAt >= wake.sent) {
        wake.pod = pod.timeline;
        podNames.set(wake, pod.name);
      }
      changed();
    },
  });
  const client = new WakeClient();
  const wakes: Wake[] = [];
  let answered = 0;
  const total = WAKE_KINDS.reduce((sum, k) => sum + wakesOf[k], 0);
  const left = { ...wakesOf };
  const kindOf = (r: RevisionPods) => WAKE_KINDS.find((k) => r.name.startsWith(`wake-${k}-`))!;
  const serviceOf = (r: RevisionPods) => r.name.replace(/-\d+$/, '');
  const wakeOne = async (revision: RevisionPods): Promise<void> => {
    // `sent` is the client thread's; this one only picks the Pod that started after it.
    const wake: Wake = { kind: kindOf(revision), revision: revision.name, sent: Date.now() };
    current.set(revision.name, wake);
    wakes.push(wake);
    try {
      const answer = await client.wake(
        `http://127.0.0.1:${platform.ingressPort}/`,
        `${serviceOf(revision)}.bench.localhost`,
        WAKE_TIMEOUT_MS,
      );
      wake.sent = answer.sent;
      if (answer.firstByte !== undefined) wake.firstByte = answer.firstByte;
      if (answer.status !== undefined) wake.status = answer.status;
      if (answer.body !== undefined) wake.body = answer.body;
      wake.timing = serverTimingDurations(answer.serverTiming);
    } finally {
      current.delete(revision.name);
    }
    if (++answered % 100 === 0) progress(`${answered}/${total} wakes answered`);
  };

  try {
    const inFlight = new Set<Promise<void>>();
    const busy = new Set<RevisionPods>();
    while (WAKE_KINDS.some((k) => left[k] > 0)) {
      // A revision at zero: no Pod at all, not even one stopping, and none wanted.
      const idle = platform.revisions.filter(
        (r) => !busy.has(r) && r.pods.length === 0 && r.desired === 0 && left[kindOf(r)] > 0,
      );
      // The kind furthest behind its share goes first, so the kinds run side by side.
      idle.sort((a, b) => left[kindOf(b)] / wakesOf[kindOf(b)] - left[kindOf(a)] / wakesOf[kindOf(a)]);
      const next = idle[0];
      if (next && inFlight.size < plan.parallel) {
        left[kindOf(next)]--;
        busy.add(next);
        const done: Promise<void> = wakeOne(next).finally(() => {
          inFlight.delete(done);
          busy.delete(next);
          changed();
        });
        inFlight.add(done);
        continue;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        changed = () => {
          clearTimeout(timer);
          changed = () => {};
          resolve();
        };
      });
    }
    await Promise.all(inFlight);
    for (const [wake, pod] of podNames) {
      if (wake.kind !== 'hello') {
        const at = socketOpenAt(platform.logDir, pod);
        if (at !== undefined) wake.socketOpenAt = at;
      }
    }
  } finally {
    await client.close();
    await platform.shutdown();
  }

  const failures = failureLines(wakes);
  const nonOk = wakes.filter((w) => !succeeded(w)).length;
  return {
    setup: [
      ['Platform', 'npm start’s platform in-process: ingress, activator and autoscaler processes, Pods'],
      [
        'Apps',
        `hello example; a fault-injected app whose port opens 0–2 s before its handler: "reset" resets each connection until then, "unattached" leaves them unread (both probed on their port, the platform's TCP probe), "path" answers its readiness path /healthz at once and resets every other request until then`,
      ],
      [
        'Wakes',
        `${total} (${WAKE_KINDS.map((k) => `${wakesOf[k]} ${k}`).join(', ')}), each a GET to a revision with zero Pods, ${plan.parallel} at once over ${plan.revisions} revisions; the autoscaler brings each back to zero (stable window 6 s, grace 1 s)`,
      ],
    ],
    tables: [wakesTable(wakes), stagesTable(wakes)],
    notes: [
      `Non-2xx: ${nonOk} of ${wakes.length} (expected 0).`,
      `Ready → response runs from the later of the Pod's readiness (the platform's first passing probe, or the activator's send to the Pod when that came first) and the app's handler accepting to the first response byte; targets p50 ≤ ${TARGETS.p50} ms, p99 ≤ ${TARGETS.p99} ms.`,
      ...failures.slice(0, 50),
      ...(failures.length > 50 ? [`… and ${failures.length - 50} more failures (all in the JSON).`] : []),
    ],
    data: { targets: TARGETS, wakes },
  };
}

export const wakesScenario: Scenario = {
  name: 'wakes',
  description: 'requests to revisions at zero, hello and fault-injected apps: every one must answer 2xx',
  options: { wakes: { type: 'string' }, revisions: { type: 'string' }, parallel: { type: 'string' } },
  unpinned: true,
  usage: [
    `--wakes N      wakes of the hello app, and as many of the fault-injected app (default ${DEFAULT_WAKES})`,
    `--revisions N  revisions side by side (default ${DEFAULT_REVISIONS})`,
    `--parallel N   wakes in flight at once (default ${DEFAULT_PARALLEL})`,
  ],
  prepare(values: OptionValues, _settings: RunSettings) {
    const read = (name: string, fallback: number, min: number, max: number): number => {
      const raw = values[name];
      const n = raw === undefined ? fallback : Number(raw);
      if (!Number.isInteger(n) || n < min || n > max) {
        throw new Error(`--${name} must be an integer in [${min}, ${max}], got ${String(raw)}`);
      }
      return n;
    };
    const plan: WakesPlan = {
      wakes: read('wakes', DEFAULT_WAKES, 2, 5000),
      revisions: read('revisions', DEFAULT_REVISIONS, 2 * WAKE_KINDS.length - 2, 120),
      parallel: read('parallel', DEFAULT_PARALLEL, 1, 32),
    };
    return {
      budgetSeconds: 120 + plan.wakes,
      run: (context: ScenarioContext) => runWakes(plan, context),
    };
  },
};
