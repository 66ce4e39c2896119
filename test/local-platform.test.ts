import { join } from 'node:path';
import {
  credentials,
  type GrpcObject,
  loadPackageDefinition,
  type ServiceClientConstructor,
} from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { describe, expect, it } from 'vitest';
import { settledFlag } from './support/activator-fixture.js';
import { eventually } from './support/http.js';
import {
  example,
  platformProcesses,
  type StatusDocument,
  startTestPlatform,
  stoppedAfterEach,
  type TestPlatform,
} from './support/platform.js';
import { ROOT } from './support/processes.js';

// End-to-end: the platform's own entry point, real example apps, real processes, on 127.0.0.1.
const started = stoppedAfterEach();

/** A platform running one service, `app`, on an example app with the given service settings. */
function appPlatform(
  app: 'hello' | 'slow' | 'streaming',
  settings: string,
  fastAutoscaler: boolean,
  autoscalerExtra = '',
): Promise<TestPlatform> {
  return platform(`ingress: { port: 0 }
${fastAutoscaler ? `${FAST_AUTOSCALER}${autoscalerExtra}` : ''}
services:
  - name: app
    command: [node, ${example(app)}]
${settings.replace(/^\n/, '')}`);
}

async function platform(yaml: string): Promise<TestPlatform> {
  const p = await startTestPlatform(yaml);
  started.push(p);
  return p;
}

/** Short autoscaler windows so a test sees scale-to-zero within seconds. */
const FAST_AUTOSCALER = `
autoscaler:
  stable-window: 6s
  scale-to-zero-grace-period: 1s
`;

const HOST = 'app.default.localhost';

/**
 * Runs `workers` loops of requests until `until()` is true; returns every status seen, also pushed to
 * `statuses` as they come.
 */
async function steadyLoad(
  p: TestPlatform,
  workers: number,
  path: string,
  until: () => boolean,
  maxMs = 60_000,
  statuses: number[] = [],
): Promise<number[]> {
  const end = Date.now() + maxMs;
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (!until() && Date.now() < end) {
        try {
          statuses.push((await p.get(HOST, path)).status);
        } catch {
          statuses.push(-1);
        }
      }
    }),
  );
  return statuses;
}

/** Polls the status every 100 ms into `seen` until `stop()` is true. */
async function watchStatus(p: TestPlatform, seen: StatusDocument[], stop: () => boolean): Promise<void> {
  while (!stop()) {
    seen.push(await p.status());
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('one-machine platform', () => {
  it('serves a request at zero, scales 50 concurrent requests out with CC=1, then returns to zero', async () => {
    const p = await appPlatform(
      'slow',
      `
    env: { SERVICE_TIME_MS: "300" }
    containerConcurrency: 1
`,
      true,
    );
    expect(await p.revision('app-00001')).toMatchObject({ desiredPods: 0, readyPods: 0, mode: 'Proxy' });

    const first = await p.get(HOST, '/?ms=0');
    expect(first.status).toBe(200);
    expect(first.body).toContain('revision app-00001');

    const seen: StatusDocument[] = [];
    let done = false;
    const watching = watchStatus(p, seen, () => done).catch(() => {});
    const results = await Promise.all(Array.from({ length: 50 }, () => p.get(HOST)));
    done = true;
    await watching;
    expect(results.map((r) => r.status)).toEqual(Array(50).fill(200));
    const mostReady = Math.max(...seen.map((s) => s.revisions[0]!.readyPods));
    const mostDesired = Math.max(...seen.map((s) => s.revisions[0]!.desiredPods));
    expect(mostDesired).toBeGreaterThan(1);
    expect(mostReady).toBeGreaterThan(1);

    // Idle: the stable window (6 s) and the grace (1 s) pass, then the last Pod goes.
    expect(
      await eventually(async () => {
        const r = await p.revision('app-00001');
        return r.desiredPods === 0 && r.readyPods === 0 && r.mode === 'Proxy';
      }, 25_000),
    ).toBe(true);
    // The Pod's queue-proxy drains (1 s quiet), then its app is stopped.
    expect(
      await eventually(() => platformProcesses(p.proc.child.pid!, 'examples/slow').length === 0, 10_000),
    ).toBe(true);
  }, 60_000);

  it('switches Proxy → Serve → Proxy → Serve under steady load without losing a request', async () => {
    // One Pod at most, burst capacity 1: a Pod with room serves directly; a burst past its capacity
    // puts the activator back in the path until it passes.
    // A 3 s panic window (50 % of 6 s), so the burst shows in the panic average between scrapes.
    const p = await appPlatform(
      'slow',
      `
    env: { SERVICE_TIME_MS: "50" }
    containerConcurrency: 4
    annotations:
      autoscaling.knative.dev/max-scale: "1"
      autoscaling.knative.dev/target-burst-capacity: "1"
`,
      true,
      '  panic-window-percentage: 50\n',
    );
    const seen: StatusDocument[] = [];
    let phase = 0;
    const modes = () =>
      seen.map((s) => s.revisions[0]!.mode).filter((m, i, all) => i === 0 || m !== all[i - 1]);
    const watching = watchStatus(p, seen, () => phase === 3).catch(() => {});
    // Phase 0: one loop from zero until the Pod serves directly.
    const steady = steadyLoad(p, 1, '/', () => phase === 3);
    expect(await eventually(() => modes().join() === 'Proxy,Serve', 20_000)).toBe(true);
    // Phase 1: a burst of 8 more loops, past the Pod's capacity.
    phase = 1;
    const burst = steadyLoad(p, 8, '/', () => phase >= 2);
    expect(await eventually(() => modes().join() === 'Proxy,Serve,Proxy', 20_000)).toBe(true);
    phase = 2;
    const burstStatuses = await burst;
    expect(await eventually(() => modes().join() === 'Proxy,Serve,Proxy,Serve', 20_000)).toBe(true);
    phase = 3;
    const statuses = [...(await steady), ...burstStatuses];
    await watching;
    expect(statuses.length).toBeGreaterThan(50);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);
  }, 90_000);

  it('splits traffic 90/10 between two revisions that scale on their own (out under load, back to zero), and routes tags', async () => {
    // The same stream of requests, split 90/10: the first revision (CC=1, 9 of 10 loops' requests)
    // needs more than one Pod; the second (CC=10, 1 in 10) never needs more than one.
    const p = await appPlatform(
      'slow',
      `
    env: { SERVICE_TIME_MS: "20" }
    revisions:
      - name: app-00001
        traffic: 90
        containerConcurrency: 1
        annotations:
          autoscaling.knative.dev/max-scale: "3"
      - name: app-00002
        traffic: 10
        tag: canary
        containerConcurrency: 10
`,
      true,
    );
    const counts = new Map<string, number>();
    const seen: StatusDocument[] = [];
    const of = (s: StatusDocument, name: string) => s.revisions.find((r) => r.name === name)!;
    const most = (name: string, field: 'readyPods' | 'desiredPods') =>
      Math.max(0, ...seen.map((s) => of(s, name)[field]));
    let sent = 0;
    // At least 1000 requests, and on until the first revision ran more than one Pod.
    const enough = () => sent >= 1000 && most('app-00001', 'readyPods') > 1;
    const watching = watchStatus(p, seen, enough).catch(() => {});
    const end = Date.now() + 60_000;
    await Promise.all(
      Array.from({ length: 10 }, async () => {
        while (!enough() && Date.now() < end) {
          sent++;
          const res = await p.get(HOST);
          expect(res.status).toBe(200);
          const rev = /revision (app-\d+)/.exec(res.body)?.[1] ?? 'none';
          counts.set(rev, (counts.get(rev) ?? 0) + 1);
        }
      }),
    );
    await watching;
    const first = counts.get('app-00001') ?? 0;
    const second = counts.get('app-00002') ?? 0;
    const total = first + second;
    expect(total).toBe(sent);
    expect(total).toBeGreaterThanOrEqual(1000);
    expect(second / total).toBeGreaterThanOrEqual(0.07);
    expect(second / total).toBeLessThanOrEqual(0.13);
    // Each revision has its own Pods, as its own load asks.
    expect(most('app-00001', 'readyPods')).toBeGreaterThan(1);
    expect(most('app-00001', 'desiredPods')).toBeGreaterThan(1);
    expect(most('app-00002', 'readyPods')).toBe(1);
    expect(most('app-00002', 'desiredPods')).toBe(1);
    const status = await p.status();
    for (const r of status.revisions) expect(r.readyPods).toBeGreaterThanOrEqual(1);

    const tagged = await p.get(`canary-${HOST}`);
    expect(tagged.body).toContain('revision app-00002');
    expect((await p.get('nothing.default.localhost')).status).toBe(404);

    // Idle: both go back to zero.
    expect(
      await eventually(async () => {
        const now = await p.status();
        return now.revisions.every((r) => r.desiredPods === 0 && r.readyPods === 0);
      }, 30_000),
    ).toBe(true);
  }, 120_000);

  it("killing a Pod's app mid-load fails only requests in that Pod, and the Pod is replaced", async () => {
    const p = await appPlatform(
      'slow',
      `
    env: { SERVICE_TIME_MS: "100" }
    containerConcurrency: 2
    annotations:
      autoscaling.knative.dev/min-scale: "2"
      autoscaling.knative.dev/target-burst-capacity: "0"
`,
      true,
    );
    expect(
      await eventually(async () => {
        const r = await p.revision('app-00001');
        return r.readyPods === 2 && r.mode === 'Serve';
      }, 20_000),
    ).toBe(true);
    let stop = false;
    const workers = 4;
    const seen: number[] = [];
    const load = steadyLoad(p, workers, '/', () => stop, 60_000, seen);
    // The load is flowing through both Pods before one is killed.
    expect(await eventually(() => seen.filter((s) => s === 200).length >= 2 * workers, 20_000)).toBe(true);
    const apps = platformProcesses(p.proc.child.pid!, 'examples/slow');
    expect(apps.length).toBe(2);
    process.kill(apps[0]!, 'SIGKILL');
    expect(
      await eventually(async () => {
        const now = platformProcesses(p.proc.child.pid!, 'examples/slow');
        return now.length === 2 && !now.includes(apps[0]!) && (await p.revision('app-00001')).readyPods === 2;
      }, 20_000),
    ).toBe(true);
    stop = true;
    const statuses = await load;
    const failures = statuses.filter((s) => s !== 200);
    // Every loop had at most one request in flight, so at most `workers` were in the killed Pod.
    expect(failures.length).toBeLessThanOrEqual(workers);
    expect(failures.every((s) => s === 502 || s === 503)).toBe(true);
    expect(statuses.length - failures.length).toBeGreaterThan(20);
  }, 60_000);

  it('streams server-sent events through the ingress and the activator', async () => {
    const p = await appPlatform(
      'streaming',
      `
`,
      false,
    );
    const res = await p.get(HOST, '/?events=3&interval=50');
    expect(res.status).toBe(200);
    expect(res.body.match(/^data: \{/gm)?.length).toBe(3);
    expect(res.body).toContain('event: end');
  });

  it('carries gRPC over h2c from zero through the ingress, the activator and the queue-proxy', async () => {
    const p = await platform(`ingress: { port: 0 }
services:
  - name: app
    command: [node, ${join(ROOT, 'test/support/grpc-app.mjs')}]
`);
    const definition = loadSync(join(ROOT, 'test/support/grpc-test.proto'), {
      keepCase: true,
      defaults: true,
    });
    const Tester = ((loadPackageDefinition(definition).zerogate as GrpcObject).test as GrpcObject)
      .Tester as ServiceClientConstructor;
    const client = new Tester(`127.0.0.1:${p.port}`, credentials.createInsecure(), {
      'grpc.default_authority': HOST,
    });
    try {
      type Echo = (
        request: { text: string },
        options: { deadline: number },
        callback: (err: Error | null, value: { text: string; proxy: string }) => void,
      ) => void;
      const echo = (client as unknown as { Echo: Echo }).Echo.bind(client);
      const reply = await new Promise<{ text: string; proxy: string }>((resolve, reject) =>
        echo({ text: 'hi' }, { deadline: Date.now() + 10_000 }, (err, value) =>
          err ? reject(err) : resolve(value),
        ),
      );
      expect(reply.text).toBe('hi');
      expect(reply.proxy).toBe('activator');
    } finally {
      client.close();
    }
  });

  it('Ctrl-C drains: requests in flight finish with 200, then every process it started is stopped', async () => {
    const p = await appPlatform(
      'slow',
      `
`,
      false,
    );
    expect((await p.get(HOST, '/?ms=0')).status).toBe(200);
    const pid = p.proc.child.pid!;
    // Activator, autoscaler, the app and its queue-proxy.
    expect(platformProcesses(pid).length).toBe(4);
    const inFlight = Array.from({ length: 3 }, () => p.get(HOST, '/?ms=3000'));
    const settled = inFlight.map((r) => settledFlag(r));
    expect(await eventually(async () => (await p.revision('app-00001')).inFlight === 3, 10_000)).toBe(true);
    started.splice(started.indexOf(p), 1);
    p.proc.signal('SIGINT');
    await p.proc.waitForLine((l) => l.includes('draining and stopping'));
    expect(settled.some((s) => s())).toBe(false);
    const results = await Promise.all(inFlight);
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    for (const r of results) expect(r.body).toContain('slept 3000 ms (revision app-00001');
    expect(await p.proc.exit()).toBe(0);
    expect(platformProcesses(pid)).toEqual([]);
    expect(p.proc.stdout.join('\n')).toContain('stopped');
  });
});
