import { createServer } from 'node:net';
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
afterEach(async () => {
  await Promise.all(started.splice(0).map((p) => p.stop()));
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

  it('an app that never opens its port: the Pod fails, held requests get 504 at the timeout, starts are retried with backoff', async () => {
    const p = await startTestPlatform(`
ingress: { port: 0 }
pods: { startTimeoutSeconds: 1 }
services:
  - name: app
    command: [node, -e, "setInterval(() => {}, 1000)"]
    timeoutSeconds: 3
`);
    started.push(p);
    const failures = () => p.proc.stdout.filter((l) => l.includes('pod failed'));
    const t0 = Date.now();
    const res = await p.get('app.default.localhost');
    const waited = Date.now() - t0;
    expect(res.status).toBe(504);
    expect(waited).toBeGreaterThanOrEqual(2900);
    expect(waited).toBeLessThan(6000);
    // Failures at about 1 s (start timeout), then again after a 1 s and a 2 s backoff, each 1 s long.
    expect(await eventually(() => failures().length >= 2, 10_000)).toBe(true);
    expect(failures()[0]).toContain('not ready within 1 s');
  });

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
    }
    expect(p.proc.stdout.some((l) => l.includes('activator exited; restarting it'))).toBe(true);
    // From zero again: the new activator holds the request and pokes the new autoscaler.
    const res = await p.get('app.default.localhost');
    expect(res.status).toBe(200);
  });
});
