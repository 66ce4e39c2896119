import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { eventually } from '../../../test/support/http.js';
import { ROOT } from '../../../test/support/processes.js';
import type { RevisionConfig } from './config.js';
import { Pod, podInProcessEnv, servingReadinessProbe } from './pod.js';
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
    terminationGracePeriodSeconds: 30,
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
  function start(
    command: string[],
    probePeriodMs = 1000,
    startTimeoutMs = 30_000,
    overrides: Partial<RevisionConfig> = {},
    onChange: (pod: Pod) => void = () => {},
  ): Pod {
    const logDir = mkdtempSync(join(tmpdir(), 'zerogate-pod-'));
    const dispatcher = new Agent();
    cleanup.push(() => rmSync(logDir, { recursive: true, force: true }));
    cleanup.push(() => dispatcher.close());
    const pod = new Pod(
      'app-00001-1',
      { ...revision({}), command, ...overrides },
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
      onChange,
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

  it("takes a ready Pod out after its probe's failureThreshold failures, probed every periodSeconds", async () => {
    // Passes the first probe, then answers 503.
    const app = `let n = 0; require('node:http').createServer((q, r) => { r.writeHead(n++ < 1 ? 200 : 503); r.end(); }).listen(+process.env.PORT, process.env.HOST)`;
    const seen: { phase: string; at: number; failures: number }[] = [];
    const pod = start(
      ['node', '-e', app],
      50,
      30_000,
      { readinessProbe: { tcpSocket: {}, periodSeconds: 1, failureThreshold: 2 } },
      (p) => seen.push({ phase: p.phase, at: Date.now(), failures: p.probeFailures }),
    );
    expect(await eventually(() => pod.phase === 'unready', 30_000), `phase ${pod.phase}`).toBe(true);
    const ready = seen.find((s) => s.phase === 'ready')!;
    const unready = seen.find((s) => s.phase === 'unready')!;
    // Two failures a second apart, not one after 50 ms (the platform's own period).
    expect(unready.failures).toBe(2);
    expect(unready.at - ready.at).toBeGreaterThanOrEqual(1900);
  }, 60_000);

  it('names the last readiness probe answer when it is not ready in time', async () => {
    const app = `require('node:http').createServer((q, r) => { r.writeHead(503); r.end(); }).listen(+process.env.PORT, process.env.HOST)`;
    const pod = start(['node', '-e', app], 1000, 1500);
    expect(await eventually(() => pod.phase === 'failed', 30_000), `phase ${pod.phase}`).toBe(true);
    expect(pod.reason).toBe('not ready within 1.5 s (last readiness probe: status 503)');
    expect(pod.exit).toBeUndefined();
  }, 60_000);
});

describe('a Pod being stopped', () => {
  /** An app that echoes websocket messages, on the Pod's address. */
  const WS_APP = `const http = require('node:http'); const { WebSocketServer } = require('ws');
const server = http.createServer((q, r) => r.end('ok'));
new WebSocketServer({ server }).on('connection', (ws) => ws.on('message', (m) => ws.send(String(m))));
server.listen(+process.env.PORT, process.env.HOST);
process.on('SIGTERM', () => process.exit(0));`;

  async function readyPod(graceSeconds: number, base: number): Promise<Pod> {
    const logDir = mkdtempSync(join(tmpdir(), 'zerogate-pod-'));
    const dispatcher = new Agent();
    cleanup.push(() => rmSync(logDir, { recursive: true, force: true }));
    cleanup.push(() => dispatcher.close());
    const pod = new Pod(
      'app-00001-1',
      {
        ...revision({}),
        command: ['node', '-e', WS_APP],
        queueProxy: 'sidecar',
        terminationGracePeriodSeconds: graceSeconds,
      },
      {
        logDir,
        drainSeconds: 0,
        startTimeoutMs: 30_000,
        probePeriodMs: 1000,
        dispatcher,
        network: new PodNetwork({
          firstAddress: `127.1.${base}.1`,
          addresses: 200,
          firstPort: 29_000 + base,
          ports: 50,
        }),
      },
      () => {},
    );
    cleanup.push(() => pod.stop());
    await pod.start();
    expect(await eventually(() => pod.phase === 'ready', 30_000), `phase ${pod.phase} ${pod.failure}`).toBe(
      true,
    );
    return pod;
  }

  async function openSocket(pod: Pod): Promise<WebSocket> {
    const ws = new WebSocket(`ws://${pod.servingAddress}/`);
    cleanup.push(() => ws.terminate());
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    return ws;
  }

  function echo(ws: WebSocket, text: string): Promise<string> {
    return new Promise((resolve) => {
      ws.once('message', (data) => resolve(String(data)));
      ws.send(text);
    });
  }

  it('keeps a websocket open within its grace period and stops as soon as it closed', async () => {
    const pod = await readyPod(300, 203);
    const ws = await openSocket(pod);
    const stopped = pod.stop();
    expect(pod.phase).toBe('stopping');
    for (let i = 0; i < 4; i++) {
      expect(await echo(ws, `message ${i}`)).toBe(`message ${i}`);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    expect(pod.phase).toBe('stopping');
    const closing = Date.now();
    ws.close();
    await stopped;
    expect(pod.phase).toBe('stopped');
    expect(Date.now() - closing).toBeLessThan(10_000);
  }, 60_000);

  it('closes a websocket with 1001 before its grace period ends, then stops', async () => {
    const GRACE_SECONDS = 4;
    const pod = await readyPod(GRACE_SECONDS, 204);
    const ws = await openSocket(pod);
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    const stopping = Date.now();
    await pod.stop();
    expect(await closed).toBe(1001);
    expect(Date.now() - stopping).toBeLessThan(GRACE_SECONDS * 1000 + 2000);
  }, 60_000);
});

describe('servingReadinessProbe', () => {
  const POD = '127.1.0.5';

  it("is Knative's default TCP probe of the app's port on the Pod's address without a readinessProbe", () => {
    expect(servingReadinessProbe(undefined, POD, 8080)).toEqual({ tcpSocket: { port: 8080, host: POD } });
  });

  it("points the revision's probe at the Pod's address and the app's port, as Knative's reconciler does", () => {
    expect(servingReadinessProbe({ httpGet: { path: '/healthz' } }, POD, 8080)).toEqual({
      httpGet: { path: '/healthz', port: 8080, host: POD, scheme: 'HTTP' },
      successThreshold: 1,
    });
    expect(
      JSON.stringify(
        servingReadinessProbe(
          {
            httpGet: { path: '/ready', port: 9000, httpHeaders: [{ name: 'X-Probe', value: 'a' }] },
            periodSeconds: 5,
            successThreshold: 2,
            failureThreshold: 4,
          },
          POD,
          8080,
        ),
      ),
    ).toBe(
      '{"httpGet":{"path":"/ready","port":9000,"host":"127.1.0.5","scheme":"HTTP","httpHeaders":[{"name":"X-Probe","value":"a"}]},' +
        '"timeoutSeconds":1,"periodSeconds":5,"successThreshold":2,"failureThreshold":4}',
    );
    expect(servingReadinessProbe({ tcpSocket: {}, timeoutSeconds: 3 }, POD, 8080)).toEqual({
      tcpSocket: { port: 8080, host: POD },
      timeoutSeconds: 3,
      successThreshold: 1,
    });
    expect(servingReadinessProbe({ grpc: {} }, POD, 8080)).toEqual({
      grpc: { port: 8080, service: '' },
      successThreshold: 1,
    });
    expect(servingReadinessProbe({ grpc: { port: 50051, service: 'app' } }, POD, 8080)).toEqual({
      grpc: { port: 50051, service: 'app' },
      successThreshold: 1,
    });
  });

  it("is in an in-process app's environment too", () => {
    const lease = { address: POD, appPort: 8080, statsPort: 9090 };
    const rev = { ...revision({}), readinessProbe: { httpGet: { path: '/healthz' } } };
    expect(JSON.parse(podInProcessEnv('app-00001-1', rev, lease, 1)['SERVING_READINESS_PROBE']!)).toEqual({
      httpGet: { path: '/healthz', port: 8080, host: POD, scheme: 'HTTP' },
      successThreshold: 1,
    });
    expect(
      JSON.parse(podInProcessEnv('app-00001-1', revision({}), lease, 1)['SERVING_READINESS_PROBE']!),
    ).toEqual({ tcpSocket: { port: 8080, host: POD } });
  });
});
