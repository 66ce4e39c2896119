/**
 * Waits for a started server to answer, and fails with the server's own words when it does not.
 */
import { request } from 'node:http';
import { sleep } from '@zerogate/core';
import type { ManagedProcess } from './supervisor.js';

/** How to poll for readiness. */
export interface ReadinessOptions {
  /** Headers sent with every probe, e.g. the kubelet's `User-Agent`. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Time between probes. Default 50 ms. */
  readonly intervalMs?: number;
  /** Give up after this long. Default 10 s. */
  readonly timeoutMs?: number;
}

/** Sends one GET and resolves with the status code, or 0 if the connection failed. */
function probe(url: URL, headers: Readonly<Record<string, string>>, timeoutMs: number): Promise<number> {
  return new Promise((resolve) => {
    // No agent: each probe uses its own connection and closes it, leaving nothing open behind it.
    const req = request(url, { method: 'GET', headers, agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
      res.on('error', () => resolve(0));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
    req.end();
  });
}

/**
 * Polls `url` until it answers 200. Throws if the process exits first or the time runs out; the
 * error carries the last status seen and the tail of the process's stderr and stdout.
 */
export async function waitUntilReady(
  proc: ManagedProcess,
  url: string,
  options: ReadinessOptions = {},
): Promise<void> {
  const { headers = {}, intervalMs = 50, timeoutMs = 10_000 } = options;
  const target = new URL(url);
  const deadline = Date.now() + timeoutMs;
  let last = 0;
  while (Date.now() < deadline) {
    if (proc.exitStatus !== undefined) break;
    last = await probe(target, headers, Math.max(intervalMs, deadline - Date.now()));
    if (last === 200) return;
    await sleep(intervalMs);
  }
  const why =
    proc.exitStatus !== undefined
      ? `exited (${proc.exitStatus}) before it was ready`
      : `was not ready after ${timeoutMs / 1000} s (last answer: ${last === 0 ? 'no connection' : `HTTP ${last}`})`;
  throw new Error(
    `${proc.name} ${why} at ${url}\n--- stderr ---\n${proc.stderr() || '(empty)'}\n--- stdout ---\n${proc.stdout() || '(empty)'}`,
  );
}
