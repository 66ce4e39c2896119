/**
 * `held-flood`: floods of a revision at zero through the activator. First ten times its held-request
 * cap (`ACTIVATOR_MAX_HELD_REQUESTS`) at once; then bodies worth ten times its held-body cap
 * (`ACTIVATOR_MAX_HELD_BYTES`). The activator must hold up to its cap and refuse the rest at once with
 * `503` and `Retry-After`, with its memory bounded.
 */

import { httpGet } from '../http-get.js';
import { REVISION_HEADERS, sleep } from '../scenarios/common.js';
import {
  type ChaosContext,
  type ChaosResult,
  type ChaosScenario,
  IMMEDIATE_MS,
  RSS_CAPS_KIB,
} from './chaos-scenario.js';
import type { ChaosRow } from './chaos-table.js';
import { ComponentSampler } from './component-sampler.js';
import { Flood, openFileLimit } from './flood.js';
import { badRefusals, HELD, type RequestRecord, refusalFaults, tally } from './outcomes.js';
import { metricValue, startStandaloneActivator } from './standalone.js';

/** Held-request cap of the count flood. */
const HELD_CAP = { quick: 100, full: 1000 } as const;
/** Held-body cap of the bytes flood, and each request's body. */
const BYTES_CAP = { quick: 2 * 1024 * 1024, full: 8 * 1024 * 1024 } as const;
const BODY_BYTES = 64 * 1024;
/** The most a held body reserves of the byte cap (README, activator: `min(Content-Length, 128 KiB)`). */
const MAX_HELD_RESERVATION_BYTES = 128 * 1024;
/** What one of this flood's bodies reserves. */
const HELD_RESERVATION_BYTES = Math.min(BODY_BYTES, MAX_HELD_RESERVATION_BYTES);
/** How long after the last request is sent the flood is read: a refusal due at once has come by then. */
const SETTLE_MS = 3000;

/** Held and refused requests of one flood. */
export interface FloodAccount {
  readonly held: number;
  /** Refusals that were not an immediate 503 with Retry-After. */
  readonly badRefusals: number;
  /** Held below what the cap allows: requests refused although there was room. */
  readonly lost: number;
}

/**
 * Accounts a flood's records against the number of requests the cap allows to be held. `gauge` is the
 * activator's own count of held requests when it could be read: a request the client still waits on
 * may be one whose refusal is late rather than one held.
 */
export function accountFlood(
  records: readonly RequestRecord[],
  allowed: number,
  gauge?: number,
): FloodAccount {
  const held = gauge ?? records.filter((r) => r.outcome === HELD).length;
  return {
    held,
    badRefusals: badRefusals(records, IMMEDIATE_MS),
    lost: Math.max(0, Math.min(allowed, records.length) - held),
  };
}

async function floodOnce(
  context: ChaosContext,
  label: string,
  env: Record<string, string>,
  count: number,
  allowed: number,
  body: Buffer | undefined,
): Promise<{ row: ChaosRow; detail: string }> {
  const activator = await startStandaloneActivator(context, [], env);
  try {
    const sampler = new ComponentSampler(activator.proc.pid);
    context.progress(`held-flood: ${label}`);
    const flood = await Flood.send({
      port: activator.port,
      headers: REVISION_HEADERS,
      count,
      ...(body ? { body } : {}),
    });
    await sleep(SETTLE_MS);
    const records = flood.records();
    const metrics = await httpGet(activator.metricsUrl, { timeoutMs: 5000 }).catch(() => undefined);
    const queued = metrics ? metricValue(metrics.body, 'kn_revision_request_queued') : undefined;
    flood.abort();
    const usage = sampler.stop();
    const account = accountFlood(records, allowed, queued);
    const refusalTimes = records.filter((r) => r.outcome === '503').map((r) => r.doneAt - r.sentAt);
    const slowest = refusalTimes.length > 0 ? Math.max(...refusalTimes) : undefined;
    const faults = refusalFaults(records, IMMEDIATE_MS);
    return {
      row: {
        scenario: `held flood: ${label}`,
        component: 'activator',
        sent: count,
        outcomes: tally(records.map((r) => r.outcome)),
        lost: account.lost,
        peakRssKiB: usage.peakRssKiB,
        rssCapKiB: RSS_CAPS_KIB.activator,
        cpuSeconds: usage.cpuSeconds,
        checks: [
          { name: '503+Retry-After', pass: account.badRefusals === 0 },
          { name: `held ${account.held} > ${allowed}`, pass: account.held <= allowed },
        ],
      },
      detail: `${label}: ${account.held} held by the activator's gauge (${records.filter((r) => r.outcome === HELD).length} unanswered), room for ${allowed}; slowest 503 ${slowest === undefined ? '–' : slowest.toFixed(0)} ms; ${account.badRefusals} refusal(s) not an immediate 503 with Retry-After (${faults.otherAnswer} another answer or none, ${faults.noRetryAfter} without Retry-After, ${faults.late} later than ${IMMEDIATE_MS} ms)`,
    };
  } finally {
    await context.supervisor.stop(activator.proc);
    activator.cleanUp();
  }
}

export const heldFlood: ChaosScenario = {
  name: 'held-flood',
  description: "10× the activator's held-request cap at zero, then 10× its held-body cap in bodies",
  lossDefinition:
    'requests refused although the cap had room: the cap (requests; for bodies, the byte cap over what each held body reserves, min(Content-Length, 128 KiB)) less those held',
  budgetSeconds: 90,
  async run(context: ChaosContext): Promise<ChaosResult> {
    // Each request is a connection here and one in the activator; keep both under the file limit.
    const fdRoom = Math.max(100, Math.floor((openFileLimit() - 500) / 2));
    const cap = context.quick ? HELD_CAP.quick : HELD_CAP.full;
    const count = Math.min(10 * cap, fdRoom);
    const byCount = await floodOnce(
      context,
      `${count} requests, cap ${cap}`,
      { ACTIVATOR_MAX_HELD_REQUESTS: String(cap) },
      count,
      cap,
      undefined,
    );
    const bytesCap = context.quick ? BYTES_CAP.quick : BYTES_CAP.full;
    const bodies = Math.min(Math.ceil((10 * bytesCap) / BODY_BYTES), fdRoom);
    const byBytes = await floodOnce(
      context,
      `${bodies} × 64 KiB bodies, cap ${bytesCap / 1024 / 1024} MiB`,
      { ACTIVATOR_MAX_HELD_REQUESTS: String(100_000), ACTIVATOR_MAX_HELD_BYTES: String(bytesCap) },
      bodies,
      Math.floor(bytesCap / HELD_RESERVATION_BYTES),
      Buffer.alloc(BODY_BYTES, 0x61),
    );
    return { rows: [byCount.row, byBytes.row], details: [byCount.detail, byBytes.detail] };
  },
};
