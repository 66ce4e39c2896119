import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '@zerogate/in-process';
import { parsePlatformConfig, podInProcessEnv } from '@zerogate/local';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { eventually } from './support/http.js';
import { platformProcesses, startTestPlatform, stoppedAfterEach, writeConfig } from './support/platform.js';
import { ROOT, spawnNode } from './support/processes.js';

// End-to-end: the platform's own entry point running a revision whose Pods are the app alone, with the
// queue-proxy's contract in the app's process (@zerogate/in-process).
const started = stoppedAfterEach();

const APP = join(ROOT, 'examples', 'hello-in-process', 'server.mjs');
const HOST = 'app.default.localhost';

/** The platform's autoscaler's Prometheus gauge `name` for revision app-00001. */
async function autoscalerGauge(logDir: string, name: string): Promise<number | undefined> {
  const started = readFileSync(join(logDir, 'autoscaler.log'), 'utf8')
    .split('\n')
    .find((line) => line.includes('"msg":"started"'));
  const port = started && (JSON.parse(started) as { ports: { metrics: number } }).ports.metrics;
  if (!port) return undefined;
  const res = await request(`http://127.0.0.1:${port}/metrics`);
  const text = await res.body.text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes('revision="app-00001"'));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('one-machine platform: queueProxy: in-process', () => {
  it('gives the app the variables the in-process mode reads: its stats port and address, CC, timeouts, drain, identity', () => {
    const config = parsePlatformConfig(
      `services:
  - name: app
    namespace: team
    command: [node, ${APP}]
    queueProxy: in-process
    containerConcurrency: 3
    timeoutSeconds: 40
    responseStartTimeoutSeconds: 20
    idleTimeoutSeconds: 10
`,
      join(ROOT, 'zerogate.yaml'),
    );
    const rev = config.services[0]!.revisions[0]!;
    const env = podInProcessEnv(
      'app-00001-1',
      rev,
      { address: '127.1.0.9', appPort: 20_004, statsPort: 20_005 },
      2,
    );
    expect(loadConfig(env)).toMatchObject({
      containerConcurrency: 3,
      revisionTimeoutMs: 40_000,
      responseStartTimeoutMs: 20_000,
      idleTimeoutMs: 10_000,
      bindAddress: '127.1.0.9',
      statsPort: 20_005,
      adminPort: 0,
      metricsPort: 0,
      drainQuietMs: 2000,
      namespace: 'team',
      service: 'app',
      configuration: 'app',
      revision: 'app-00001',
      pod: 'app-00001-1',
    });
    // Only what the app reads: the sidecar's own serving ports are not given to it.
    for (const sidecarOnly of ['QUEUE_SERVING_PORT', 'QUEUE_SERVING_TLS_PORT', 'USER_PORT'])
      expect(env).not.toHaveProperty(sidecarOnly);
  });

  it('a queueProxy other than sidecar or in-process exits 1 naming the setting', async () => {
    const file = await writeConfig(`ingress: { port: 0 }
services:
  - name: app
    command: [node, ${APP}]
    queueProxy: inprocess
`);
    const proc = spawnNode('packages/local/dist/main.js', {}, ['--config', file]);
    expect(await proc.exit()).toBe(1);
    expect(proc.stderr.join('')).toContain(
      `${file}:5: services[0].queueProxy: must be one of sidecar, in-process, got "inprocess"`,
    );
  });

  it('scales the app alone from zero on a request, feeds its in-flight stats to the autoscaler, and returns to zero', async () => {
    const p = await startTestPlatform(`ingress: { port: 0 }
autoscaler:
  stable-window: 6s
  scale-to-zero-grace-period: 1s
services:
  - name: app
    command: [node, ${APP}]
    queueProxy: in-process
    annotations:
      autoscaling.knative.dev/target-burst-capacity: "0"
`);
    started.push(p);
    const platformPid = p.proc.child.pid!;
    expect(await p.revision('app-00001')).toMatchObject({ desiredPods: 0, readyPods: 0, mode: 'Proxy' });

    const first = await p.get(HOST, '/');
    expect(first.status).toBe(200);
    expect(first.body).toContain('revision app-00001');
    expect(await p.revision('app-00001')).toMatchObject({ readyPods: 1 });
    // The Pod is the app alone: no queue-proxy was started for it.
    expect(platformProcesses(platformPid, 'hello-in-process')).toHaveLength(1);
    expect(platformProcesses(platformPid, 'queue-proxy')).toEqual([]);

    // Four loops of 100 ms requests. With no burst capacity to keep, the ingress sends them straight to
    // the Pod (Serve), so once a stable window passed in Serve, all the concurrency the autoscaler sees
    // is what it scraped from the app's stats port.
    let done = false;
    const statuses: number[] = [];
    const loops = Promise.all(
      Array.from({ length: 4 }, async () => {
        while (!done) statuses.push((await p.get(HOST, '/delay?ms=100')).status);
      }),
    );
    try {
      let serveSince: number | undefined;
      let stable: number | undefined;
      const fedByThePod = await eventually(async () => {
        const r = await p.revision('app-00001');
        if (r.mode !== 'Serve' || r.readyPods !== 1) {
          serveSince = undefined;
          return false;
        }
        serveSince ??= Date.now();
        if (Date.now() - serveSince < 7000) return false;
        stable = await autoscalerGauge(p.logDir, 'autoscaler_stable_request_concurrency');
        return stable !== undefined && stable >= 2;
      }, 40_000);
      expect(fedByThePod, `stable concurrency ${stable}`).toBe(true);
      expect(await autoscalerGauge(p.logDir, 'autoscaler_actual_pods')).toBe(1);
      expect(readFileSync(join(p.logDir, 'autoscaler.log'), 'utf8')).not.toContain('scraping pod failed');
    } finally {
      done = true;
      await loops;
    }
    expect(statuses.length).toBeGreaterThan(20);
    expect(statuses.filter((s) => s !== 200)).toEqual([]);

    // Idle: the stable window (6 s) and the grace (1 s) pass, then the Pod goes; the app drains itself
    // on SIGTERM (1 s quiet) and exits.
    expect(
      await eventually(async () => {
        const r = await p.revision('app-00001');
        return r.desiredPods === 0 && r.readyPods === 0 && r.mode === 'Proxy';
      }, 30_000),
    ).toBe(true);
    expect(
      await eventually(() => platformProcesses(platformPid, 'hello-in-process').length === 0, 15_000),
    ).toBe(true);
    // The app's last lines reach its log file just after it exited.
    const appLog = () => readFileSync(join(p.logDir, 'app-00001-1.app.log'), 'utf8');
    expect(await eventually(() => appLog().includes('"msg":"stopped"'), 5000)).toBe(true);
    expect(appLog()).toContain('"msg":"drained; closing the server"');
  }, 120_000);
});
