import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Deployment, V1EndpointSlice } from '@kubernetes/client-node';
import {
  type Actuator,
  AutoscalerMetrics,
  type KpaDecision,
  loadConfig,
  type Mode,
  startAutoscaler as startInProcess,
} from '@zerogate/autoscaler';
import { emptyStat, encodeStat, encodeWireStatMessages, type Stat } from '@zerogate/core';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WebSocket as WsClient } from 'ws';
import { eventually } from './support/http.js';
import {
  activatorSlice,
  knativeRevision,
  privateSlice,
  revisionDeployment,
} from './support/knative-objects.js';
import { autoscalerEnv, spawnNode, startAutoscaler } from './support/processes.js';
import { TestApiServer } from './support/test-apiserver.js';

let api: TestApiServer | undefined;
let dir: string;
let kubeconfig: string;
const sockets: WsClient[] = [];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'autoscaler-test-'));
  api = await TestApiServer.start();
  kubeconfig = api.writeKubeConfig(join(dir, 'kubeconfig.json'));
});

afterEach(async () => {
  vi.restoreAllMocks();
  for (const ws of sockets.splice(0)) ws.terminate();
  await api?.close();
  api = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** An activator's report of requests in flight for `hello-00001`. */
function activatorReport(concurrency: number): Uint8Array {
  const stat: Stat = {
    podName: 'activator-test',
    averageConcurrentRequests: concurrency,
    averageProxiedConcurrentRequests: 0,
    requestCount: concurrency,
    proxiedRequestCount: 0,
    processUptime: 0,
    timestamp: BigInt(Date.now()) * 1_000_000n,
  };
  return encodeWireStatMessages([{ namespace: 'default', name: 'hello-00001', stat }]);
}

function openSocket(url: string): Promise<WsClient> {
  return new Promise((resolve, reject) => {
    const ws = new WsClient(url);
    sockets.push(ws);
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

/**
 * Watches the decisions of an autoscaler running in this process: each is recorded once in its
 * metrics, with the ready Pods it saw.
 */
function watchDecisions() {
  const record = vi.spyOn(AutoscalerMetrics.prototype, 'record');
  return {
    /** Waits for `n` decisions after those made so far. */
    async more(n: number): Promise<void> {
      const target = record.mock.calls.length + n;
      expect(await eventually(() => record.mock.calls.length >= target, 3000)).toBe(true);
    },
    /** Waits for a decision that saw `pods` ready Pods. */
    async seeing(pods: number): Promise<void> {
      expect(await eventually(() => record.mock.calls.some((c) => c[3] === pods), 3000)).toBe(true);
    },
  };
}

/** A revision at zero: its Revision (CC 1) and its Deployment with no replicas. */
function applyRevisionAtZero(server: TestApiServer): void {
  server.apply(knativeRevision('hello-00001', { containerConcurrency: 1 }));
  server.apply(revisionDeployment('hello-00001', 0));
}

const replicas = (server: TestApiServer) =>
  server.get<V1Deployment>('Deployment', 'default', 'hello-00001-deployment')?.spec?.replicas ?? 0;

describe('autoscaler process', () => {
  it('scales a revision from zero when an activator pokes it, and reports the desired scale', async () => {
    const server = api as TestApiServer;
    applyRevisionAtZero(server);
    const autoscaler = await startAutoscaler(autoscalerEnv(kubeconfig));
    const metricsUrl = `http://127.0.0.1:${autoscaler.metricsPort}/metrics`;
    const desired = /^autoscaler_desired_pods\{namespace="default",revision="hello-00001"\} (-?[0-9.]+)$/m;
    // The revision ran before the autoscaler started: it stays at zero until a request comes, through
    // the autoscaler's first decision about it.
    let text = '';
    expect(
      await eventually(async () => {
        text = await (await fetch(metricsUrl)).text();
        return desired.test(text);
      }, 5000),
      text,
    ).toBe(true);
    expect(replicas(server)).toBe(0);

    const ws = await openSocket(autoscaler.url);
    ws.send(activatorReport(1));
    expect(await eventually(() => replicas(server) >= 1, 2000)).toBe(true);

    const shown = await eventually(async () => {
      text = await (await fetch(metricsUrl)).text();
      return Number(desired.exec(text)?.[1] ?? 0) >= 1;
    }, 2000);
    expect(shown, text).toBe(true);

    autoscaler.proc.signal('SIGTERM');
    expect(await autoscaler.proc.exit()).toBe(0);
  });

  it('exits 1 naming the variable when the configuration is bad', async () => {
    const proc = spawnNode(
      'packages/autoscaler/dist/main.js',
      autoscalerEnv(kubeconfig, { AUTOSCALER_METRICS_PORT: 'nope' }),
    );
    expect(await proc.exit()).toBe(1);
    expect(proc.stderr.join('')).toContain('AUTOSCALER_METRICS_PORT');
  });
});

/** Records calls; the first `failures` scale calls reject. */
class RecordingActuator implements Actuator {
  readonly scales: number[] = [];
  readonly modes: { mode: Mode; numActivators: number }[] = [];
  inPath = true;

  constructor(private failures = 0) {}

  async scale(_rev: { namespace: string; name: string }, desiredPods: number): Promise<void> {
    if (this.failures > 0) {
      this.failures--;
      throw new Error('scale refused');
    }
    this.scales.push(desiredPods);
  }

  async setMode(_rev: { namespace: string; name: string }, mode: Mode, numActivators: number): Promise<void> {
    this.modes.push({ mode, numActivators });
  }

  async activatorInPath(): Promise<boolean> {
    return this.inPath;
  }
}

describe('startAutoscaler', () => {
  it('retries a failed scale on the next decision, sets the mode once per change, and never crashes', async () => {
    const server = api as TestApiServer;
    applyRevisionAtZero(server);
    const actuator = new RecordingActuator(1);
    const decisions = watchDecisions();
    const config = loadConfig({
      AUTOSCALER_BIND_ADDRESS: '127.0.0.1',
      AUTOSCALER_PORT: '0',
      AUTOSCALER_METRICS_PORT: '0',
    });
    const running = await startInProcess(config, pino({ level: 'silent' }), {
      kubeConfig: server.kubeConfig(),
      actuator,
      tickIntervalMs: 50,
    });
    try {
      const ws = await openSocket(`ws://127.0.0.1:${running.ports.stats}`);
      ws.send(activatorReport(1));
      // CC 1 at 70 % utilisation: one request in flight asks for 2 Pods.
      expect(await eventually(() => actuator.scales.length > 0, 2000)).toBe(true);
      // Several more decisions repeat the same scale.
      await decisions.more(4);
      // The failed call was retried, and one successful call made per change however many decisions repeat it.
      expect(actuator.scales).toEqual([2]);
      expect(actuator.modes.length).toBeGreaterThanOrEqual(1);
      expect(new Set(actuator.modes.map((m) => `${m.mode}/${m.numActivators}`)).size).toBe(
        actuator.modes.length,
      );
    } finally {
      await running.shutdown();
    }
  });
});

describe('startAutoscaler on Kubernetes: public endpoints follow what they point at', () => {
  /**
   * A revision kept at one Pod or more (`min-scale` 1) whose mode never changes: Serve with a target
   * burst capacity of 0, Proxy with -1. Its Pods answer no scrape (port 1).
   */
  async function start(server: TestApiServer, targetBurstCapacity: string) {
    server.apply(
      knativeRevision(
        'hello-00001',
        { containerConcurrency: 1 },
        { annotations: { 'autoscaling.knative.dev/min-scale': '1' } },
      ),
    );
    server.apply(revisionDeployment('hello-00001', 1));
    const config = loadConfig({
      AUTOSCALER_BIND_ADDRESS: '127.0.0.1',
      AUTOSCALER_PORT: '0',
      AUTOSCALER_METRICS_PORT: '0',
      AUTOSCALER_TARGET_BURST_CAPACITY: targetBurstCapacity,
      SYSTEM_NAMESPACE: 'zerogate-system',
    });
    return startInProcess(config, pino({ level: 'silent' }), {
      kubeConfig: server.kubeConfig(),
      statsPort: 1,
      tickIntervalMs: 50,
      watchBackoff: { initialMs: 10, maxMs: 100 },
    });
  }

  /** The addresses in the revision's public slices. */
  const publicIps = (server: TestApiServer) =>
    server
      .list<V1EndpointSlice>('EndpointSlice', 'default')
      .filter((s) => s.metadata?.labels?.['kubernetes.io/service-name'] === 'hello-00001')
      .flatMap((s) => s.endpoints ?? [])
      .flatMap((e) => e.addresses)
      .sort()
      .join();

  /** Waits until the public slices hold exactly `ips`, failing with what they hold. */
  async function expectPublic(server: TestApiServer, ips: string[]): Promise<void> {
    const ok = await eventually(() => publicIps(server) === ips.join(), 3000);
    expect(ok, `public endpoints: ${publicIps(server)}`).toBe(true);
  }

  it('in Serve mode, lists each Pod that becomes ready and drops each that goes, with no write when nothing changed', async () => {
    const server = api as TestApiServer;
    server.apply(activatorSlice(['10.1.0.1']));
    server.apply(privateSlice('hello-00001', ['10.0.0.1'], ['10.0.0.2']));
    const decisions = watchDecisions();
    const running = await start(server, '0');
    try {
      await expectPublic(server, ['10.0.0.1']);
      server.apply(privateSlice('hello-00001', ['10.0.0.1', '10.0.0.2']));
      await expectPublic(server, ['10.0.0.1', '10.0.0.2']);
      server.apply(privateSlice('hello-00001', ['10.0.0.2']));
      await expectPublic(server, ['10.0.0.2']);

      // Decisions keep coming every 50 ms; with nothing changed they cost no API call.
      server.requests.length = 0;
      await decisions.more(4);
      expect(server.requests.filter((r) => r.verb !== 'watch').map((r) => `${r.verb} ${r.path}`)).toEqual([]);
    } finally {
      await running.shutdown();
    }
  });

  it('in Proxy mode, follows the activators in SYSTEM_NAMESPACE as they are replaced', async () => {
    const server = api as TestApiServer;
    server.apply(activatorSlice(['10.1.0.1']));
    server.apply(privateSlice('hello-00001', ['10.0.0.1']));
    const decisions = watchDecisions();
    const running = await start(server, '-1');
    try {
      await expectPublic(server, ['10.1.0.1']);
      server.apply(activatorSlice(['10.1.0.2', '10.1.0.3']));
      await expectPublic(server, ['10.1.0.2', '10.1.0.3']);
      // A Pod becoming ready changes nothing here: the activators stay in the path.
      server.requests.length = 0;
      server.apply(privateSlice('hello-00001', ['10.0.0.1', '10.0.0.2']));
      // Once the autoscaler has seen the Pod and decided twice more, nothing was written.
      await decisions.seeing(2);
      await decisions.more(2);
      expect(publicIps(server)).toBe('10.1.0.2,10.1.0.3');
      expect(
        server.requests.filter((r) => r.verb !== 'watch' && r.verb !== 'get' && r.verb !== 'list'),
      ).toEqual([]);
      // With no activator left, the Pods take the traffic (the actuator's fallback), and get it back.
      server.apply(activatorSlice([]));
      await expectPublic(server, ['10.0.0.1', '10.0.0.2']);
      server.apply(activatorSlice(['10.1.0.4']));
      await expectPublic(server, ['10.1.0.4']);
    } finally {
      await running.shutdown();
    }
  });
});

function decision(overrides: Partial<KpaDecision>): KpaDecision {
  return {
    timeMs: 0,
    desiredPods: 1,
    recommendedPods: 1,
    stablePods: 1,
    want: 1,
    excessBurstCapacity: 0,
    numActivators: 2,
    mode: 'Serve',
    panic: false,
    stableConcurrency: 0,
    panicConcurrency: 0,
    state: 'active',
    ...overrides,
  };
}

describe('AutoscalerMetrics', () => {
  it('shows each decision per revision and adds up the time spent in panic', async () => {
    const m = new AutoscalerMetrics();
    m.record(
      'default',
      'hello',
      decision({ timeMs: 1000, desiredPods: 3, panic: true, stableConcurrency: 2.5 }),
      1,
    );
    m.record('default', 'hello', decision({ timeMs: 3000, desiredPods: 4, panic: true, mode: 'Proxy' }), 2);
    m.record('default', 'hello', decision({ timeMs: 5000, desiredPods: 4, panic: false, mode: 'Proxy' }), 4);
    m.record('default', 'hello', decision({ timeMs: 7000, desiredPods: 4, panic: false }), 4);
    const text = await m.registry.metrics();
    const labels = '{namespace="default",revision="hello"}';
    expect(text).toContain(`autoscaler_desired_pods${labels} 4`);
    expect(text).toContain(`autoscaler_actual_pods${labels} 4`);
    expect(text).toContain(`autoscaler_panic_mode${labels} 0`);
    expect(text).toContain(`autoscaler_serve_mode${labels} 1`);
    expect(text).toContain(`autoscaler_panic_seconds_total${labels} 4`);
    m.remove('default', 'hello');
    expect(await m.registry.metrics()).not.toContain('revision="hello"');
  });
});

describe('startAutoscaler on Kubernetes: Pod deletion costs', () => {
  const servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  });

  /** A queue-proxy's stats endpoint for Pod `name` on `host:port`, reporting `concurrency` in flight. */
  async function statsEndpoint(
    host: string,
    port: number,
    name: string,
    concurrency: number,
  ): Promise<number> {
    const body = encodeStat({ ...emptyStat(name), averageConcurrentRequests: concurrency });
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/protobuf' });
      res.end(body);
    });
    servers.push(server);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, resolve);
    });
    return (server.address() as AddressInfo).port;
  }

  it('writes each Pod’s requests in flight as its deletion cost while a scale-down is near, before scaling down', async () => {
    const server = api!;
    // Three Pods of an idle-ish revision (min-scale 1), on loopback addresses of their own sharing
    // one stats port; the second is busy.
    const hosts = ['127.79.0.1', '127.79.0.2', '127.79.0.3'];
    const port = await statsEndpoint(hosts[0]!, 0, 'p1', 0);
    await statsEndpoint(hosts[1]!, port, 'p2', 3);
    await statsEndpoint(hosts[2]!, port, 'p3', 0);
    server.apply(
      knativeRevision(
        'hello-00001',
        { containerConcurrency: 0 },
        { annotations: { 'autoscaling.knative.dev/min-scale': '1' } },
      ),
    );
    server.apply(revisionDeployment('hello-00001', 3));
    server.apply(privateSlice('hello-00001', hosts));
    for (const name of ['p1', 'p2', 'p3']) {
      server.apply({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace: 'default' },
        spec: { containers: [{ name: 'user-container', image: 'app' }] },
      });
    }
    const config = loadConfig({
      AUTOSCALER_BIND_ADDRESS: '127.0.0.1',
      AUTOSCALER_PORT: '0',
      AUTOSCALER_METRICS_PORT: '0',
      AUTOSCALER_STABLE_WINDOW: '6s',
    });
    const running = await startInProcess(config, pino({ level: 'silent' }), {
      kubeConfig: server.kubeConfig(),
      statsPort: port,
      watchBackoff: { initialMs: 10, maxMs: 100 },
    });
    try {
      const cost = (name: string) =>
        server.get<{ kind: string; metadata: { annotations?: Record<string, string> } }>(
          'Pod',
          'default',
          name,
        )?.metadata.annotations?.['controller.kubernetes.io/pod-deletion-cost'];
      // Running before the autoscaler started, the revision is held at 3 in panic for a stable window,
      // while its load (3) fits on one Pod: a scale-down is near.
      const written = await eventually(
        () => cost('p1') === '0' && cost('p2') === '3' && cost('p3') === '0',
        10_000,
      );
      expect(written, JSON.stringify(['p1', 'p2', 'p3'].map(cost))).toBe(true);
      expect(replicas(server)).toBe(3);
      expect(await eventually(() => replicas(server) === 1, 20_000)).toBe(true);
      // Every cost write came before the scale-down, and each Pod was written once (no change since).
      const writes = server.requests
        .filter((r) => r.verb === 'patch')
        .map((r) => (r.path.includes('/pods/') ? r.path.split('/').at(-1) : 'scale'));
      expect(writes).toEqual(['p2', 'p1', 'p3', 'scale']);
    } finally {
      await running.shutdown();
    }
  }, 40_000);
});
