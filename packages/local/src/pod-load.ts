/**
 * A Pod's requests in flight, read from its stats endpoint, for the revision's scale-down to stop the
 * least busy Pods first (`revision-pods.ts`).
 */
import { decodeStat } from '@zerogate/core';
import { type Dispatcher, request } from 'undici';

/** Longest wait for a Pod's stats: a scale-down waits for the slowest Pod's answer. */
export const POD_LOAD_TIMEOUT_MS = 1000;

/** Largest stats body read; a `Stat` is a few hundred bytes. */
const MAX_STAT_BYTES = 4096;

/**
 * The requests in flight on the Pod whose stats endpoint is at `statsAddress` (`host:port`), as it last
 * reported them: the queue-proxy's average concurrency over its last second, what the autoscaler
 * scrapes, requests through the activator included. 0 when there is no endpoint yet or it does not
 * answer well within `timeoutMs`, so a Pod that cannot tell counts as idle.
 */
export async function podRequestsInFlight(
  statsAddress: string | undefined,
  dispatcher: Dispatcher,
  timeoutMs = POD_LOAD_TIMEOUT_MS,
): Promise<number> {
  if (statsAddress === undefined) return 0;
  try {
    const res = await request(`http://${statsAddress}/metrics`, {
      headers: { accept: 'application/protobuf' },
      dispatcher,
      signal: AbortSignal.timeout(timeoutMs),
    });
    const chunks: Buffer[] = [];
    let length = 0;
    for await (const chunk of res.body) {
      length += (chunk as Buffer).length;
      if (length > MAX_STAT_BYTES) {
        res.body.destroy();
        return 0;
      }
      chunks.push(chunk as Buffer);
    }
    if (res.statusCode !== 200) return 0;
    return decodeStat(Buffer.concat(chunks, length)).averageConcurrentRequests;
  } catch {
    return 0;
  }
}
