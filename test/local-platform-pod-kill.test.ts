import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { describe, expect, it } from 'vitest';
import { eventually } from './support/http.js';
import { example, platformProcesses, startTestPlatform, stoppedAfterEach } from './support/platform.js';

// End-to-end: the platform's own entry point, two Pods in Serve mode, one Pod's process killed under load.
const started = stoppedAfterEach(60_000);

const HOST = 'app.default.localhost';
/** Clients sending GETs, one request at a time each. */
const WORKERS = 20;
/** How long the load goes on after the kill. */
const LOAD_AFTER_KILL_MS = 3000;

/** One request of the load: when it was sent, and its status (-1: no answer). */
interface Outcome {
  readonly sentAt: number;
  readonly status: number;
}

/** True once `pid` has exited (gone, or a zombie its parent has not reaped yet). */
function dead(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

/** The first argument of a process's command line. */
function argv0(pid: number): string {
  return readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0')[0] ?? '';
}

/**
 * The app, run by a shell that outlives it: the platform sees no exit when the app dies, so the Pod
 * stays ready until its readiness probe fails, as a Kubernetes endpoint lags a dead container.
 */
const WRAPPED_APP = JSON.stringify(['sh', '-c', `node ${example('hello')}; sleep 600`]);

/**
 * Starts a platform with two ready Pods in Serve mode, puts steady load on it, SIGKILLs the first of
 * the platform's processes whose command line includes `command` (a Node process, not a shell), and
 * returns the outcomes of the requests sent after the kill.
 */
async function killUnderLoad(command: string): Promise<Outcome[]> {
  // target-burst-capacity 0 takes the activator out of the path once the Pods are ready.
  const p = await startTestPlatform(`
ingress: { port: 0 }
services:
  - name: app
    command: ${WRAPPED_APP}
    annotations:
      autoscaling.knative.dev/min-scale: "2"
      autoscaling.knative.dev/initial-scale: "2"
      autoscaling.knative.dev/target-burst-capacity: "0"
`);
  started.push(p);
  expect(
    await eventually(async () => {
      const r = await p.revision('app-00001');
      return r.readyPods === 2 && r.mode === 'Serve';
    }, 60_000),
  ).toBe(true);

  const client = new Agent({ connections: WORKERS });
  const outcomes: Outcome[] = [];
  let stop = false;
  const worker = async () => {
    while (!stop) {
      const sentAt = performance.now();
      let status: number;
      try {
        const res = await request(`http://127.0.0.1:${p.port}/`, {
          headers: { host: HOST },
          dispatcher: client,
          headersTimeout: 0,
          bodyTimeout: 0,
        });
        await res.body.text();
        status = res.statusCode;
      } catch {
        status = -1;
        // A request that fails at once must not spin the loop without yielding to I/O.
        await new Promise((resolve) => setImmediate(resolve));
      }
      outcomes.push({ sentAt, status });
    }
  };
  const load = Promise.all(Array.from({ length: WORKERS }, worker));
  try {
    // Steady load first, spread over both Pods.
    expect(await eventually(() => outcomes.length >= 200, 20_000)).toBe(true);
    const [victim] = platformProcesses(p.proc.child.pid!, command).filter((pid) => argv0(pid) !== 'sh');
    expect(victim).toBeDefined();
    process.kill(victim!, 'SIGKILL');
    const deadAt = performance.now();
    expect(await eventually(() => dead(victim!), 10_000)).toBe(true);
    const countAtDeath = outcomes.length;
    await eventually(() => performance.now() - deadAt >= LOAD_AFTER_KILL_MS, LOAD_AFTER_KILL_MS + 1000);
    expect(outcomes.length).toBeGreaterThan(countAtDeath + 50);
    const after = outcomes.filter((o) => o.sentAt > deadAt);
    if (after.some((o) => o.status !== 200)) {
      const log = readFileSync(join(p.logDir, 'platform.log'), 'utf8');
      console.log(
        log
          .split('\n')
          .filter((l) => /error|unreachable|refused|exited/.test(l))
          .join('\n'),
      );
      console.log(
        JSON.stringify(after.filter((o) => o.status !== 200).map((o) => [o.status, o.sentAt - deadAt])),
      );
    }
    return after;
  } finally {
    stop = true;
    await load;
    await client.close();
  }
}

describe('one-machine platform: a Pod process killed under load (two Pods, Serve mode)', () => {
  it("loses no request sent after one Pod's app died: refused by the app, retried on the other Pod", async () => {
    const after = await killUnderLoad(example('hello'));
    expect(after.length).toBeGreaterThan(0);
    expect(after.filter((o) => o.status !== 200)).toEqual([]);
  }, 120_000);

  it("loses no request sent after one Pod's queue-proxy died: refused at connect, retried on the other Pod", async () => {
    const after = await killUnderLoad('queue-proxy/dist/main.js');
    expect(after.length).toBeGreaterThan(0);
    expect(after.filter((o) => o.status !== 200)).toEqual([]);
  }, 120_000);
});
