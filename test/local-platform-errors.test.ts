import { existsSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from './support/http.js';
import {
  example,
  platformProcesses,
  startTestPlatform,
  type TestPlatform,
  writeConfig,
} from './support/platform.js';
import { spawnNode } from './support/processes.js';

const started: TestPlatform[] = [];
const folders: string[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((p) => p.stop()));
  for (const dir of folders.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Runs the platform on `yaml` expecting it to refuse to start; returns its exit code and stderr. */
async function refused(yaml: string): Promise<{ code: number | null; stderr: string; file: string }> {
  const file = await writeConfig(yaml);
  const proc = spawnNode('packages/local/dist/main.js', {}, ['--config', file]);
  const code = await proc.exit();
  return { code, stderr: proc.stderr.join(''), file };
}

describe('one-machine platform: bad input', () => {
  it('a config with an unknown key, a missing command and a bad value exits 1 naming file, line, key and reason', async () => {
    const { code, stderr, file } = await refused(`ingress:
  port: 0
services:
  - name: app
    replicas: 3
    containerConcurrency: lots
  - name: other
    command: [node, x.mjs]
    annotations:
      autoscaling.knative.dev/max-scale: "-4"
`);
    expect(code).toBe(1);
    expect(stderr).toContain(`${file}:5: services[0].replicas: unknown key`);
    expect(stderr).toContain(
      `${file}:6: services[0].containerConcurrency: must be an integer in [0, 1000], got "lots"`,
    );
    expect(stderr).toContain('services[0].command: is required');
    expect(stderr).toMatch(/services\[1\]\.annotations\.autoscaling\.knative\.dev\/max-scale: /);
  });

  it('a config file that cannot be read exits 1 saying so', async () => {
    const proc = spawnNode('packages/local/dist/main.js', {}, ['--config', '/nonexistent/zerogate.yaml']);
    expect(await proc.exit()).toBe(1);
    expect(proc.stderr.join('')).toContain('/nonexistent/zerogate.yaml: cannot read: ENOENT');
  });

  it('an ingress port already in use exits 1 naming the port', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const { code, stderr } = await refused(`ingress: { port: ${port} }
services:
  - name: app
    command: [node, ${example('hello')}]
`);
      expect(code).toBe(1);
      expect(stderr).toContain(`ingress.port: port ${port} is already in use on 127.0.0.1`);
    } finally {
      blocker.close();
    }
  });

  it('an app that never opens its port: the Pod fails, held requests get 504 at the timeout, starts are retried with a growing backoff', async () => {
    // The app marks when each of its processes started (Node's time origin), then never listens.
    const folder = await mkdtemp(join(tmpdir(), 'zerogate-starts-'));
    folders.push(folder);
    const marks = join(folder, 'starts');
    const p = await startTestPlatform(`
ingress: { port: 0 }
pods: { startTimeoutSeconds: 2 }
services:
  - name: app
    command: [node, -e, "require('node:fs').appendFileSync(process.env.START_MARKS, performance.timeOrigin + ' '); setInterval(() => {}, 1000)"]
    env: { START_MARKS: "${marks}" }
    timeoutSeconds: 3
`);
    started.push(p);
    const failures = () => p.proc.stdout.filter((l) => l.includes('pod failed'));
    const starts = () =>
      existsSync(marks)
        ? readFileSync(marks, 'utf8')
            .split(' ')
            .filter((m) => m !== '')
            .map(Number)
        : [];
    const t0 = Date.now();
    const res = await p.get('app.default.localhost');
    const waited = Date.now() - t0;
    expect(res.status).toBe(504);
    expect(res.body).toBe('activator request timeout');
    expect(waited).toBeGreaterThanOrEqual(2900);
    expect(waited).toBeLessThan(6000);
    expect(await eventually(() => failures().length >= 1, 10_000)).toBe(true);
    expect(failures()[0]).toContain('not ready within 2 s');
    // Each Pod fails 2 s after its start; the next starts after a backoff of 1 s, then 2 s, then 4 s.
    // (The second failure makes the revision crash-loop, which answers 503 at once: it comes 5 s after
    // the request, well past the 3 s timeout the held request meets first.)
    expect(await eventually(() => starts().length >= 4, 25_000)).toBe(true);
    const [s1, s2, s3, s4] = starts() as [number, number, number, number];
    const gaps = [s2 - s1, s3 - s2, s4 - s3];
    expect(gaps[0]).toBeGreaterThanOrEqual(1000);
    expect(gaps[1]).toBeGreaterThanOrEqual(2000);
    expect(gaps[2]).toBeGreaterThanOrEqual(4000);
    expect(gaps[1]).toBeGreaterThan(gaps[0]!);
    expect(gaps[2]).toBeGreaterThan(gaps[1]!);
    expect(failures().length).toBeGreaterThanOrEqual(3);
  }, 60_000);

  it('restarts a crashed activator and autoscaler on the same ports, and goes on serving', async () => {
    const p = await startTestPlatform(`
ingress: { port: 0 }
services:
  - name: app
    command: [node, ${example('hello')}]
`);
    started.push(p);
    const pid = p.proc.child.pid!;
    for (const component of ['activator', 'autoscaler']) {
      expect(await eventually(() => startedPorts(p, component).length === 1)).toBe(true);
      const before = startedPorts(p, component);
      expect(Object.values(before[0]!).length).toBeGreaterThan(0);
      const [victim] = platformProcesses(pid, `${component}/dist/main.js`);
      expect(victim).toBeDefined();
      process.kill(victim!, 'SIGKILL');
      expect(
        await eventually(() => {
          const now = platformProcesses(pid, `${component}/dist/main.js`);
          return now.length === 1 && now[0] !== victim;
        }, 10_000),
      ).toBe(true);
      await p.proc.waitForLine((l) => l.includes(`${component} restarted`), 10_000);
      // The new process reports binding exactly the ports the old one had (its log is written behind).
      expect(await eventually(() => startedPorts(p, component).length === 2)).toBe(true);
      expect(startedPorts(p, component)).toEqual([before[0], before[0]]);
    }
    expect(p.proc.stdout.some((l) => l.includes('activator exited; restarting it'))).toBe(true);
    // From zero again: the new activator holds the request and pokes the new autoscaler.
    const res = await p.get('app.default.localhost');
    expect(res.status).toBe(200);
  });
});

/** The ports of every start of a platform component, from the `started` lines of its log. */
function startedPorts(p: TestPlatform, component: string): Record<string, number>[] {
  return readFileSync(join(p.logDir, `${component}.log`), 'utf8')
    .split('\n')
    .filter((l) => l.includes('"msg":"started"'))
    .map((l) => (JSON.parse(l) as { ports: Record<string, number> }).ports);
}
