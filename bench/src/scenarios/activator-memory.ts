/**
 * Part 3 of the `activator` scenario: the activator's memory idle and holding many requests at zero. A
 * fresh activator with the revision listed and no Pod is read once settled (idle), then sent
 * {@link HELD_REQUESTS} requests for the revision, one per keep-alive connection, all held; once its
 * metrics show them held it is read again. Each reading is the process's VmRSS, RssAnon and Pss.
 */
import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { httpGet } from '../http-get.js';
import { pinned } from '../pinning.js';
import { freePorts } from '../ports.js';
import { readTree } from '../proc-stats.js';
import { mebibytes } from '../ratios.js';
import type { ScenarioContext } from '../scenario.js';
import { fixed, type Table } from '../table.js';
import { revisionGauge } from './activator-held.js';
import {
  ACTIVATOR_PROBE_HEADERS,
  activatorArgv,
  activatorEnv,
  checkAlive,
  cpuOf,
  labelledTable,
  REVISION_HEADERS,
  SETTLE_MS,
  sleep,
  waitForHttp,
  writeEndpointsFile,
} from './common.js';

/** Requests held at once for the held reading. */
export const HELD_REQUESTS = 10_000;

/** Connections opened at once while the held requests are sent. */
const CONNECT_BATCH = 200;

/** The held requests must all be held within this long. */
export const HOLD_TIMEOUT_MS = 60_000;
const HOLD_POLL_MS = 200;

/**
 * Pause before each reading, beyond {@link SETTLE_MS}: start-up work (the compile cache, the first
 * reconnects to the absent autoscaler) and the burst of arrivals settle, as they would in a Pod.
 */
const READING_SETTLE_MS = 2_000;

/** One reading of the activator's memory, KiB. */
export interface MemoryFigures {
  readonly rssKiB: number;
  readonly rssAnonKiB: number;
  /** Undefined when `smaps_rollup` could not be read. */
  readonly pssKiB: number | undefined;
}

/** The activator's memory idle and holding {@link HELD_REQUESTS} requests. */
export interface MemoryResult {
  readonly idle: MemoryFigures;
  readonly held: MemoryFigures;
  readonly heldRequests: number;
}

function reading(pid: number): MemoryFigures {
  const { rssKiB, rssAnonKiB, pssKiB } = readTree(pid, true);
  return { rssKiB, rssAnonKiB, pssKiB };
}

/** Opens one connection and sends one request for the revision on it; resolves once it is written. */
function sendHeld(port: number, sockets: Socket[]): Promise<void> {
  const head =
    'GET / HTTP/1.1\r\nHost: hello.default.svc.cluster.local\r\n' +
    Object.entries(REVISION_HEADERS)
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('') +
    '\r\n';
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write(head);
      resolve();
    });
    socket.once('error', reject);
    sockets.push(socket);
  });
}

/**
 * Starts an activator with the revision at zero (no endpoints) that may hold {@link HELD_REQUESTS},
 * reads it idle, holds that many requests and reads it again; then closes every connection and stops it.
 */
export async function measureMemory(context: ScenarioContext, endpointsFile: string): Promise<MemoryResult> {
  const { settings, supervisor, progress } = context;
  writeEndpointsFile(endpointsFile, []);
  const [http, h2c, metrics, autoscaler] = (await freePorts(4)) as [number, number, number, number];
  progress('memory: starting an activator with the revision at zero');
  const proc = supervisor.start({
    name: 'activator (memory)',
    argv: pinned(settings.pin, cpuOf(settings, 'proxy'), activatorArgv(settings.repoRoot)),
    env: {
      ...activatorEnv({ http, metrics, autoscaler }, endpointsFile),
      ACTIVATOR_H2C_PORT: String(h2c),
      ACTIVATOR_MAX_HELD_REQUESTS: String(HELD_REQUESTS),
    },
    cwd: settings.repoRoot,
  });
  const sockets: Socket[] = [];
  try {
    await waitForHttp(proc, `http://127.0.0.1:${http}/`, ACTIVATOR_PROBE_HEADERS);
    await sleep(SETTLE_MS + READING_SETTLE_MS);
    const idle = reading(proc.pid);
    progress(
      `memory: idle RSS ${fixed(mebibytes(idle.rssKiB), 1)} MiB; sending ${HELD_REQUESTS} requests to hold`,
    );
    for (let sent = 0; sent < HELD_REQUESTS; sent += CONNECT_BATCH) {
      const batch = Math.min(CONNECT_BATCH, HELD_REQUESTS - sent);
      await Promise.all(Array.from({ length: batch }, () => sendHeld(http, sockets)));
    }
    const metricsUrl = `http://127.0.0.1:${metrics}/metrics`;
    const deadline = performance.now() + HOLD_TIMEOUT_MS;
    let heldRequests = 0;
    while (heldRequests < HELD_REQUESTS) {
      checkAlive([proc]);
      if (performance.now() > deadline) {
        throw new Error(
          `the activator held ${heldRequests} of ${HELD_REQUESTS} requests after ${HOLD_TIMEOUT_MS / 1000} s` +
            `\n--- stdout ---\n${proc.stdout() || '(empty)'}`,
        );
      }
      await sleep(HOLD_POLL_MS);
      const answer = await httpGet(metricsUrl, { timeoutMs: HOLD_TIMEOUT_MS });
      heldRequests = revisionGauge(answer.body, 'kn_revision_request_queued') ?? 0;
    }
    await sleep(SETTLE_MS + READING_SETTLE_MS);
    const held = reading(proc.pid);
    progress(`memory: ${heldRequests} held, RSS ${fixed(mebibytes(held.rssKiB), 1)} MiB`);
    return { idle, held, heldRequests };
  } finally {
    for (const socket of sockets) socket.destroy();
    await supervisor.stop(proc);
  }
}

const mib = (kib: number | undefined) => (kib === undefined ? undefined : mebibytes(kib));

/** The table of the memory readings, and what one held request costs. */
export function memoryTable(result: MemoryResult): Table {
  const { idle, held, heldRequests } = result;
  const per = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined ? undefined : (a - b) / heldRequests;
  return labelledTable(
    'Memory',
    ['activator', 'RSS MiB', 'RssAnon MiB', 'PSS MiB'],
    [
      [
        'idle, revision at zero',
        fixed(mib(idle.rssKiB), 1),
        fixed(mib(idle.rssAnonKiB), 1),
        fixed(mib(idle.pssKiB), 1),
      ],
      [
        `${heldRequests.toLocaleString('en')} requests held`,
        fixed(mib(held.rssKiB), 1),
        fixed(mib(held.rssAnonKiB), 1),
        fixed(mib(held.pssKiB), 1),
      ],
      [
        'per held request, KiB',
        fixed(per(held.rssKiB, idle.rssKiB), 1),
        fixed(per(held.rssAnonKiB, idle.rssAnonKiB), 1),
        fixed(per(held.pssKiB, idle.pssKiB), 1),
      ],
    ],
  );
}
