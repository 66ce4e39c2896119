/**
 * Replays a recorded or hand-written load trace through the KPA on a fake clock, printing what
 * the autoscaler would decide every tick: a way to see a revision's scaling before deploying it.
 */

import { readFileSync } from 'node:fs';
import { type ClusterAutoscalerConfig, resolveRevisionAutoscaling } from './autoscaler-config.js';
import { Kpa, type SksMode, TICK_INTERVAL_MS } from './kpa.js';

/** One point of a trace: total in-flight requests (and optionally RPS) from `t` until the next sample. */
export interface TraceSample {
  /** Seconds from the start of the trace. */
  readonly t: number;
  /** Total requests in flight across the revision. */
  readonly concurrency: number;
  /** Requests per second (for `metric: rps`); 0 when absent. */
  readonly rps?: number;
}

/** A load trace for one revision. */
export interface Trace {
  /** The revision's annotations, e.g. `autoscaling.knative.dev/target`. */
  readonly annotations: Readonly<Record<string, string>>;
  /** The revision's `containerConcurrency` (0 = unlimited). */
  readonly containerConcurrency: number;
  /** Seconds from asking for a Pod to it being ready. */
  readonly podStartSeconds: number;
  /** Samples in increasing `t`; each value holds until the next sample. */
  readonly samples: readonly TraceSample[];
  /** Seconds to simulate; defaults to the last sample's `t`. */
  readonly durationSeconds?: number;
}

/** One printed line: the decision made at a tick. */
export interface ReplayLine {
  /** Seconds since the start of the trace. */
  readonly t: number;
  /** Pods the Deployment should have after this decision. */
  readonly desired: number;
  /** Ready Pods the decision saw. */
  readonly ready: number;
  readonly mode: SksMode;
  readonly panic: boolean;
  /** Stable-window average of the scaling metric. */
  readonly stable: number;
  /** Panic-window average of the scaling metric. */
  readonly panicConcurrency: number;
}

/** Thrown for a trace that cannot be replayed; lists every problem found. */
export class TraceError extends Error {
  /** Stable code for logs and tests. */
  readonly code = 'INVALID_TRACE';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TraceError';
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isNonNegative(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0;
}

/** Validates parsed JSON as a {@link Trace}, throwing one {@link TraceError} naming every bad field. */
export function parseTrace(value: unknown): Trace {
  const problems: string[] = [];
  if (!isRecord(value)) throw new TraceError('trace must be a JSON object');

  const annotations: Record<string, string> = {};
  if (value.annotations !== undefined) {
    if (!isRecord(value.annotations)) problems.push('"annotations" must be an object of strings');
    else {
      for (const [k, v] of Object.entries(value.annotations)) {
        if (typeof v === 'string') annotations[k] = v;
        else
          problems.push(
            `annotation ${JSON.stringify(k)} must be a string (Kubernetes annotations are strings)`,
          );
      }
    }
  }
  const cc = value.containerConcurrency ?? 0;
  if (!Number.isInteger(cc) || (cc as number) < 0) {
    problems.push('"containerConcurrency" must be a non-negative integer');
  }
  const podStart = value.podStartSeconds ?? 0;
  if (!isNonNegative(podStart)) problems.push('"podStartSeconds" must be a non-negative number');
  const duration = value.durationSeconds;
  if (duration !== undefined && !isNonNegative(duration)) {
    problems.push('"durationSeconds" must be a non-negative number');
  }

  const samples: TraceSample[] = [];
  if (!Array.isArray(value.samples) || value.samples.length === 0) {
    problems.push('"samples" must be a non-empty array');
  } else {
    value.samples.forEach((s: unknown, i) => {
      if (!isRecord(s) || !isNonNegative(s.t) || !isNonNegative(s.concurrency)) {
        problems.push(`samples[${i}] must be {"t": seconds ≥ 0, "concurrency": number ≥ 0}`);
        return;
      }
      if (s.rps !== undefined && !isNonNegative(s.rps)) {
        problems.push(`samples[${i}].rps must be a non-negative number`);
        return;
      }
      const prev = samples[samples.length - 1];
      if (prev !== undefined && s.t <= prev.t)
        problems.push(`samples[${i}].t must be greater than the one before`);
      samples.push({ t: s.t, concurrency: s.concurrency, rps: (s.rps as number | undefined) ?? 0 });
    });
  }
  if (problems.length > 0)
    throw new TraceError(`invalid trace:\n${problems.map((p) => `  ${p}`).join('\n')}`);
  return {
    annotations,
    containerConcurrency: cc as number,
    podStartSeconds: podStart as number,
    samples,
    ...(duration === undefined ? {} : { durationSeconds: duration as number }),
  };
}

const round = (x: number): number => Math.round(x * 1000) / 1000;

/**
 * Simulates the trace second by second and returns one line per 2 s tick.
 *
 * Each second the held sample is recorded as that second's total concurrency, as the summed Pod
 * scrapes would report it; nothing is recorded while no Pod is ready and nothing is in flight
 * (nobody would report). When requests start while the activator is in the path after a quiet
 * second, the activator's poke comes first (one request) and the rest of that second's load
 * follows in its regular report. Pods become ready `podStartSeconds` after they are asked for;
 * a scale-down removes Pods at once, those still starting first.
 *
 * Throws {@link AutoscalingAnnotationError} for invalid annotations.
 */
export function replayTrace(trace: Trace, cluster?: Readonly<ClusterAutoscalerConfig>): ReplayLine[] {
  const config = resolveRevisionAutoscaling({
    annotations: trace.annotations,
    containerConcurrency: trace.containerConcurrency,
    ...(cluster === undefined ? {} : { cluster }),
  });
  const kpa = new Kpa(config);
  const lastT = (trace.samples[trace.samples.length - 1] as TraceSample).t;
  const end = Math.floor(trace.durationSeconds ?? lastT);
  const tickEvery = TICK_INTERVAL_MS / 1000;

  let ready = 0;
  let starting: number[] = []; // ready-at seconds of Pods asked for, oldest first
  const reconcile = (now: number, desired: number): void => {
    const have = ready + starting.length;
    if (desired > have) {
      for (let i = have; i < desired; i++) starting.push(now + trace.podStartSeconds);
    } else if (desired < have) {
      let remove = have - desired;
      const fromStarting = Math.min(remove, starting.length);
      starting = starting.slice(0, starting.length - fromStarting);
      remove -= fromStarting;
      ready -= remove;
    }
  };
  reconcile(0, kpa.desiredPods);

  const lines: ReplayLine[] = [];
  let next = 0; // index of the next sample to take effect
  let sample: TraceSample = { t: 0, concurrency: 0, rps: 0 };
  let previousConcurrency = 0;
  let mode: SksMode = 'Proxy';
  for (let s = 0; s <= end; s++) {
    const stillStarting = starting.filter((at) => at > s);
    ready += starting.length - stillStarting.length;
    starting = stillStarting;
    while (next < trace.samples.length && (trace.samples[next] as TraceSample).t <= s) {
      sample = trace.samples[next] as TraceSample;
      next++;
    }
    const { concurrency } = sample;
    const rps = sample.rps ?? 0;
    const nowMs = s * 1000;
    if (concurrency > 0 && previousConcurrency === 0 && mode === 'Proxy') {
      const decision = kpa.poke(nowMs, ready);
      if (decision !== undefined) {
        reconcile(s, decision.desiredPods);
        mode = decision.mode;
      }
      kpa.record(nowMs, Math.max(0, concurrency - 1), Math.max(0, rps - 1));
    } else if (ready > 0 || concurrency > 0) {
      kpa.record(nowMs, concurrency, rps);
    }
    previousConcurrency = concurrency;

    if (s % tickEvery === 0) {
      const d = kpa.decide(nowMs, ready);
      lines.push({
        t: s,
        desired: d.desiredPods,
        ready,
        mode: d.mode,
        panic: d.panic,
        stable: round(d.stableConcurrency),
        panicConcurrency: round(d.panicConcurrency),
      });
      reconcile(s, d.desiredPods);
      mode = d.mode;
    }
  }
  return lines;
}

/** Reads, validates and replays a trace file; throws {@link TraceError} for unreadable or malformed files. */
export function replayTraceFile(path: string, cluster?: Readonly<ClusterAutoscalerConfig>): ReplayLine[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new TraceError(`cannot read trace ${path}: ${(err as Error).message}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new TraceError(`trace ${path} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  return replayTrace(parseTrace(json), cluster);
}
