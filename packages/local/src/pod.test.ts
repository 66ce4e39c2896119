import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from '../../../test/support/http.js';
import { ROOT } from '../../../test/support/processes.js';
import type { RevisionConfig } from './config.js';
import { Pod } from './pod.js';
import { PodNetwork } from './pod-network.js';

const APP = join(ROOT, 'examples', 'hello-in-process', 'server.mjs');

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

/** An in-process revision of the example app whose service `env` sets `env`. */
function revision(env: Record<string, string>): RevisionConfig {
  return {
    namespace: 'default',
    service: 'app',
    name: 'app-00001',
    command: ['node', APP],
    env,
    cwd: ROOT,
    containerConcurrency: 0,
    timeoutSeconds: 30,
    responseStartTimeoutSeconds: 0,
    idleTimeoutSeconds: 0,
    annotations: {},
    traffic: 100,
    tag: undefined,
    queueProxy: 'in-process',
  };
}

describe('an in-process Pod', () => {
  it("notes the app's listening line, lets the service's env win over the contract's variables, and keeps the stats address it scrapes", async () => {
    const logDir = mkdtempSync(join(tmpdir(), 'zerogate-pod-'));
    const dispatcher = new Agent();
    cleanup.push(() => rmSync(logDir, { recursive: true, force: true }));
    cleanup.push(() => dispatcher.close());
    const pod = new Pod(
      'app-00001-1',
      // The service asks for a 3 s drain (the platform's is 1 s) and tries to move the stats listener.
      revision({ QUEUE_DRAIN_QUIET_SECONDS: '3', QUEUE_STATS_PORT: '0', QUEUE_BIND_ADDRESS: '127.0.0.1' }),
      {
        logDir,
        drainSeconds: 1,
        startTimeoutMs: 30_000,
        probePeriodMs: 1000,
        dispatcher,
        network: new PodNetwork({
          firstAddress: '127.1.201.1',
          addresses: 200,
          firstPort: 28_000,
          ports: 500,
        }),
      },
      () => {},
    );
    cleanup.push(() => pod.stop());
    await pod.start();
    expect(await eventually(() => pod.phase === 'ready', 30_000), `phase ${pod.phase} ${pod.failure}`).toBe(
      true,
    );
    expect(pod.timeline.appListeningAt).toBeGreaterThanOrEqual(pod.timeline.spawnedAt);

    // The stats are where the platform registered them: its leased port on the Pod's address.
    expect(pod.statsAddress).toBe(`${pod.lease!.address}:${pod.lease!.statsPort}`);
    const stats = await request(`http://${pod.statsAddress}/metrics`, {
      headers: { accept: 'application/protobuf' },
      dispatcher,
    });
    await stats.body.dump();
    expect(stats.statusCode).toBe(200);

    await pod.stop();
    const log = readFileSync(join(logDir, 'app-00001-1.app.log'), 'utf8');
    expect(log).toContain('"quietSeconds":3');
  }, 60_000);
});

describe('a Pod that fails', () => {
  function start(command: string[], probePeriodMs = 1000, startTimeoutMs = 30_000): Pod {
    const logDir = mkdtempSync(join(tmpdir(), 'zerogate-pod-'));
    const dispatcher = new Agent();
    cleanup.push(() => rmSync(logDir, { recursive: true, force: true }));
    cleanup.push(() => dispatcher.close());
    const pod = new Pod(
      'app-00001-1',
      { ...revision({}), command },
      {
        logDir,
        drainSeconds: 0,
        startTimeoutMs,
        probePeriodMs,
        dispatcher,
        network: new PodNetwork({
          firstAddress: '127.1.202.1',
          addresses: 200,
          firstPort: 28_600,
          ports: 500,
        }),
      },
      () => {},
    );
    cleanup.push(() => pod.stop());
    void pod.start();
    return pod;
  }

  it('names the container and its exit code as the reason', async () => {
    const pod = start(['/bin/sh', '-c', 'echo bye; exit 3']);
    expect(await eventually(() => pod.phase === 'failed', 30_000)).toBe(true);
    expect(pod.exit).toEqual({ container: 'app', code: 3, signal: null });
    expect(pod.reason).toBe('app exited (code 3)');
    expect(pod.timeline.endedAt).toBeGreaterThanOrEqual(pod.timeline.spawnedAt);
    expect(pod.containers).toEqual(['app']);
  }, 60_000);

  it('names a failing readiness probe once a ready Pod stops passing it', async () => {
    // Passes the first probe, then answers 503.
    const app = `let n = 0; require('node:http').createServer((q, r) => { r.writeHead(n++ < 1 ? 200 : 503); r.end(); }).listen(+process.env.PORT, process.env.HOST)`;
    const pod = start(['node', '-e', app], 50);
    expect(await eventually(() => pod.phase === 'unready', 30_000), `phase ${pod.phase}`).toBe(true);
    expect(await eventually(() => pod.probeFailures >= 2, 10_000)).toBe(true);
    expect(pod.reason).toMatch(/^readiness probe failing \(\d+ in a row, last: status 503\)$/);
  }, 60_000);

  it('names the last readiness probe answer when it is not ready in time', async () => {
    const app = `require('node:http').createServer((q, r) => { r.writeHead(503); r.end(); }).listen(+process.env.PORT, process.env.HOST)`;
    const pod = start(['node', '-e', app], 1000, 1500);
    expect(await eventually(() => pod.phase === 'failed', 30_000), `phase ${pod.phase}`).toBe(true);
    expect(pod.reason).toBe('not ready within 1.5 s (last readiness probe: status 503)');
    expect(pod.exit).toBeUndefined();
  }, 60_000);
});
