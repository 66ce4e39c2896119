/**
 * A revision's `readinessProbe` on the one-machine platform: its queue-proxy runs the app's HTTP probe,
 * so a Pod whose port is open but whose `/healthz` still answers 503 is not ready and gets no request;
 * a revision without one keeps the TCP probe of the app's port. Needs `npm run build`.
 */
import { rmSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from './support/http.js';
import { startTestPlatform, type TestPlatform, writeConfig } from './support/platform.js';
import { ROOT, spawnNode } from './support/processes.js';

/**
 * Listens at once; `/healthz` answers 503 for its first second, then 200; any other path answers 200 with
 * how long after the listen it came and how often `/healthz` answered each way until then.
 */
const APP = `import { createServer } from 'node:http';
const NOT_READY_MS = 1000;
let listenedAt = 0;
const healthz = { 503: 0, 200: 0 };
const server = createServer((req, res) => {
  const sinceListenMs = Date.now() - listenedAt;
  if (req.url === '/healthz') {
    const status = sinceListenMs >= NOT_READY_MS ? 200 : 503;
    healthz[status]++;
    res.writeHead(status).end();
    return;
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ sinceListenMs, healthz503: healthz[503], healthz200: healthz[200] }));
});
server.listen(Number(process.env.PORT), process.env.HOST, () => {
  listenedAt = Date.now();
  console.log(JSON.stringify({ msg: 'listening' }));
});
`;

/** What the app tells of the first request it answered. */
interface FirstAnswer {
  sinceListenMs: number;
  healthz503: number;
  healthz200: number;
}

const started: TestPlatform[] = [];
const folders: string[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((p) => p.stop()));
  for (const dir of folders.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('one-machine platform: a revision’s readinessProbe', () => {
  it('an httpGet probe keeps the Pod unready until /healthz answers 200; the TCP default passes on the open port', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'zerogate-readiness-'));
    folders.push(dir);
    const app = join(dir, 'healthz-app.mjs');
    await writeFile(app, APP);
    const p = await startTestPlatform(`ingress: { port: 0 }
services:
  - name: probed
    command: [node, ${app}]
    readinessProbe:
      httpGet: { path: /healthz }
  - name: plain
    command: [node, ${app}]
`);
    started.push(p);

    // At zero: the activator holds each request until the Pod is ready, then sends it there.
    const [probed, plain] = await Promise.all([
      p.get('probed.default.localhost', '/'),
      p.get('plain.default.localhost', '/'),
    ]);
    expect(probed.status, probed.body).toBe(200);
    const first = JSON.parse(probed.body) as FirstAnswer;
    // The queue-proxy polled /healthz while it answered 503, and the Pod became ready on its 200: the
    // request came a second after the port opened, when a TCP probe would have passed at once.
    expect(first.healthz503).toBeGreaterThan(0);
    expect(first.healthz200).toBeGreaterThan(0);
    expect(first.sinceListenMs).toBeGreaterThanOrEqual(1000);
    expect((await p.revision('probed-00001')).readyPods).toBe(1);

    // Without a readinessProbe the queue-proxy probes the app's port: /healthz is never asked.
    expect(plain.status, plain.body).toBe(200);
    expect(JSON.parse(plain.body)).toMatchObject({ healthz503: 0, healthz200: 0 });

    // The Pod stays ready, its probes passing /healthz once a second, and goes on answering.
    expect(
      await eventually(async () => {
        const again = await p.get('probed.default.localhost', '/');
        return again.status === 200 && (JSON.parse(again.body) as FirstAnswer).healthz200 > first.healthz200;
      }, 30_000),
    ).toBe(true);
    expect((await p.revision('probed-00001')).readyPods).toBe(1);
  }, 120_000);

  it('a grpc probe goes to the Pod’s own address, where the app listens, and passes', async () => {
    const p = await startTestPlatform(`ingress: { port: 0 }
services:
  - name: grpc
    command: [node, ${join(ROOT, 'test', 'support', 'grpc-app.mjs')}]
    annotations: { autoscaling.knative.dev/min-scale: "1" }
    readinessProbe:
      grpc: {}
`);
    started.push(p);
    // The app binds its Pod's address alone (HOST): a probe dialled at 127.0.0.1 would never pass.
    expect(await eventually(async () => (await p.revision('grpc-00001')).readyPods === 1, 30_000)).toBe(true);
  }, 60_000);

  it('a bad readinessProbe exits 1 at start naming the setting’s path', async () => {
    const file = await writeConfig(`ingress: { port: 0 }
services:
  - name: app
    command: [node, app.mjs]
    revisions:
      - traffic: 100
        readinessProbe: { httpGet: { path: healthz, scheme: HTTPS } }
`);
    folders.push(join(file, '..'));
    const proc = spawnNode('packages/local/dist/main.js', {}, ['--config', file]);
    expect(await proc.exit()).toBe(1);
    const stderr = proc.stderr.join('');
    expect(stderr).toContain(
      `${file}:7: services[0].revisions[0].readinessProbe.httpGet.path: must start with /`,
    );
    expect(stderr).toContain(
      `${file}:7: services[0].revisions[0].readinessProbe.httpGet.scheme: must be one of HTTP, got "HTTPS"`,
    );
  }, 60_000);
});
