/**
 * The probe the autoscaler sends through a revision's public address before scaling it to zero, to make
 * sure the activator (not a Pod) now answers there (`pkg/reconciler/autoscaling/kpa/scaler.go`
 * `activatorProbe`, `pkg:network/prober`).
 */
import { sleep } from '@zerogate/core';
import { type Dispatcher, request } from 'undici';

/** The header naming who a probe is meant for (`pkg:network` `ProbeHeaderName`). */
export const PROBE_HEADER = 'K-Network-Probe';
/** The value asking whether the activator answers (`pkg/activator` `Name`); the activator echoes it as the body. */
export const ACTIVATOR_PROBE_VALUE = 'activator';
/** The User-Agent of the autoscaler's probes (`pkg:network` `AutoscalingUserAgent`). */
export const AUTOSCALING_PROBE_USER_AGENT = 'Knative-Autoscaling-Probe';

/** Options of {@link probeActivatorInPath}. */
export interface ActivatorProbeOptions {
  /** Time allowed for one probe request (default {@link DEFAULT_ACTIVATOR_PROBE.timeoutMs}). */
  readonly timeoutMs?: number;
  /** Pause between probes (default 1 s, Knative's `probePeriod`). */
  readonly intervalMs?: number;
  /** Give up after this long (default 45 s, Knative's `probeTimeout`). */
  readonly maxWaitMs?: number;
  /** Ends the probing early; the promise then resolves false. */
  readonly signal?: AbortSignal;
  /** The undici dispatcher to send with; default the global one. */
  readonly dispatcher?: Dispatcher;
}

/** Knative's probe period (1 s) and give-up time (45 s), with 1 s per request. */
export const DEFAULT_ACTIVATOR_PROBE = { timeoutMs: 1000, intervalMs: 1000, maxWaitMs: 45_000 } as const;

/**
 * Probes `<url>/healthz` until the activator answers: resolves true on a 200 whose body is exactly
 * `activator`, false once `maxWaitMs` passed (or `signal` aborted) without one. A queue-proxy answers
 * this probe 400 (`unexpected probe header value`), so a 200 proves the activator is in the path.
 * Errors and other answers are retried every `intervalMs`, the first probe going out at once
 * (`wait.PollImmediate` in `scaler.go`).
 */
export async function probeActivatorInPath(
  url: string,
  options: ActivatorProbeOptions = {},
): Promise<boolean> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_ACTIVATOR_PROBE.timeoutMs;
  const intervalMs = options.intervalMs ?? DEFAULT_ACTIVATOR_PROBE.intervalMs;
  const maxWaitMs = options.maxWaitMs ?? DEFAULT_ACTIVATOR_PROBE.maxWaitMs;
  if (!(timeoutMs > 0)) throw new RangeError('probeActivatorInPath option timeoutMs must be > 0');
  if (!(intervalMs > 0)) throw new RangeError('probeActivatorInPath option intervalMs must be > 0');
  if (!(maxWaitMs >= 0)) throw new RangeError('probeActivatorInPath option maxWaitMs must be >= 0');
  const target = new URL('healthz', url.endsWith('/') ? url : `${url}/`);
  const deadline = Date.now() + maxWaitMs;
  const { signal, dispatcher } = options;
  for (;;) {
    if (signal?.aborted) return false;
    const remaining = deadline - Date.now();
    if (await probeOnce(target, Math.max(1, Math.min(timeoutMs, remaining)), signal, dispatcher)) return true;
    const left = deadline - Date.now();
    if (left <= 0) return false;
    if (!(await sleep(Math.min(intervalMs, left), signal))) return false;
  }
}

/** One probe: true iff 200 with body exactly `activator` (`prober.ExpectsBody`, `ExpectsStatusCodes`). */
async function probeOnce(
  target: URL,
  timeoutMs: number,
  signal: AbortSignal | undefined,
  dispatcher: Dispatcher | undefined,
): Promise<boolean> {
  const timeout = AbortSignal.timeout(timeoutMs);
  try {
    const res = await request(target, {
      method: 'GET',
      headers: { [PROBE_HEADER]: ACTIVATOR_PROBE_VALUE, 'user-agent': AUTOSCALING_PROBE_USER_AGENT },
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      ...(dispatcher ? { dispatcher } : {}),
    });
    // The body is read either way so the connection can be reused.
    const body = await res.body.text();
    return res.statusCode === 200 && body === ACTIVATOR_PROBE_VALUE;
  } catch {
    // Refused, reset or timed out: the path is not ready yet; the next round retries.
    return false;
  }
}
