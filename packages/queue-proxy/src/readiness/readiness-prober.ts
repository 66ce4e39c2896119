/**
 * Readiness probing of the user container: runs the probes parsed from `SERVING_READINESS_PROBE` on
 * demand for the health handler. Mirrors `pkg/queue/readiness/probe.go` (`Probe.ProbeContainer`: probes in
 * parallel, one in-flight result shared by concurrent callers, nothing cached between runs).
 */

import { positive } from '@zerogate/core';
import { grpcProbe } from './grpc-probe.js';
import { httpProbe } from './http-probe.js';
import { linkAbort } from './link-abort.js';
import type { ProbeAttempt } from './probe-attempt.js';
import type { ProbeSpec } from './probe-spec.js';
import {
  AGGRESSIVE_ATTEMPT_TIMEOUT_MS,
  AGGRESSIVE_POLL_INTERVAL_MS,
  AGGRESSIVE_PROBE_TIMEOUT_MS,
  type PollTimings,
  type ProbeRun,
  scheduleProbe,
} from './schedule-probe.js';
import { tcpProbe } from './tcp-probe.js';

/** Options of a {@link ReadinessProber}; the timings exist so tests need not wait ten seconds. */
export interface ReadinessProberOptions {
  /** Try prior-knowledge h2c before HTTP/1.1 for `http` probes (Knative's `NewProbeWithHTTP2AutoDetection`). */
  readonly http2AutoDetect?: boolean;
  /** Pause between aggressive attempts; default {@link AGGRESSIVE_POLL_INTERVAL_MS}. */
  readonly pollIntervalMs?: number;
  /** Total time an aggressive probe polls before failing; default {@link AGGRESSIVE_PROBE_TIMEOUT_MS}. */
  readonly aggressiveTimeoutMs?: number;
  /** Timeout of one aggressive attempt; default {@link AGGRESSIVE_ATTEMPT_TIMEOUT_MS}. */
  readonly attemptTimeoutMs?: number;
  /** Told why a probe failed a check (the last attempt's error), once per probe per failed check. */
  readonly onFailure?: (err: Error, probe: ProbeSpec) => void;
}

/**
 * Runs the user container's readiness probes on demand. {@link ReadinessProber.check} resolves true iff
 * every probe passes; the probes run in parallel and the first failure cancels the rest. Concurrent
 * checks share one in-flight run, and nothing is cached between runs (`readiness/probe.go`'s gateValue).
 */
export class ReadinessProber {
  private readonly runs: readonly ProbeRun[];
  private readonly lifetime = new AbortController();
  private inFlight: Promise<boolean> | undefined;

  /** Builds each probe's attempt and schedule once; throws a RangeError naming a bad timing option. */
  constructor(probes: readonly ProbeSpec[], options: ReadinessProberOptions = {}) {
    const poll: PollTimings = {
      intervalMs: option(options.pollIntervalMs, AGGRESSIVE_POLL_INTERVAL_MS, 'pollIntervalMs'),
      totalMs: option(options.aggressiveTimeoutMs, AGGRESSIVE_PROBE_TIMEOUT_MS, 'aggressiveTimeoutMs'),
      attemptMs: option(options.attemptTimeoutMs, AGGRESSIVE_ATTEMPT_TIMEOUT_MS, 'attemptTimeoutMs'),
    };
    const http2AutoDetect = options.http2AutoDetect ?? false;
    const onFailure = options.onFailure;
    this.runs = probes.map((spec) =>
      scheduleProbe(spec, buildAttempt(spec, http2AutoDetect), poll, (err) => onFailure?.(err, spec)),
    );
  }

  /** Probes the user container; resolves true iff every probe passes (always true with no probes). */
  check(): Promise<boolean> {
    if (this.lifetime.signal.aborted) return Promise.resolve(false);
    if (this.runs.length === 0) return Promise.resolve(true);
    if (this.inFlight) return this.inFlight;
    const run = this.runAll().finally(() => {
      this.inFlight = undefined;
    });
    this.inFlight = run;
    return run;
  }

  /** Cancels any in-flight check (it resolves false), closing its sockets and timers; later checks fail. */
  close(): void {
    this.lifetime.abort(new Error('readiness prober closed'));
  }

  private async runAll(): Promise<boolean> {
    // Knative waits for every probe; once one has failed the answer is known, so cancel the others.
    const check = new AbortController();
    const unlink = linkAbort(this.lifetime.signal, check);
    try {
      const results = await Promise.all(
        this.runs.map(async (run) => {
          const ok = await run(check.signal);
          if (!ok) check.abort(new Error('another probe failed'));
          return ok;
        }),
      );
      return results.every(Boolean) && !this.lifetime.signal.aborted;
    } finally {
      unlink();
    }
  }
}

/** An option's value, checked positive, or its default. */
function option(v: number | undefined, fallback: number, name: string): number {
  return v === undefined ? fallback : positive(`ReadinessProber option ${name}`, v);
}

/** Builds the attempt of a probe once, by kind (`wrappedProbe.tcpProbe`, `httpProbe`, `grpcProbe`). */
function buildAttempt(spec: ProbeSpec, http2AutoDetect: boolean): ProbeAttempt {
  switch (spec.kind) {
    case 'tcp':
      return tcpProbe(spec);
    case 'grpc':
      return grpcProbe(spec);
    case 'http':
      return httpProbe(spec, http2AutoDetect);
  }
}
