/**
 * The local platform's logs and failure reasons, end to end: every process's log kept in `--logs DIR`
 * after the platform stopped, a crash-looping revision's Pods with their exit codes, restarts and the
 * loop's count in the status, the tail of a Pod's log over HTTP, the dashboard's stream ended at
 * shutdown, and a `--logs` that cannot be written refused at start.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { eventually } from './support/http.js';
import { example, killPlatformProcesses, writeConfig } from './support/platform.js';
import { spawnNode, type TestProcess } from './support/processes.js';

interface PodLine {
  name: string;
  state: string;
  restarts: number;
  reason: string | null;
  exit: { container: string; code: number | null; signal: string | null } | null;
  logs: string[];
}
interface RevisionLine {
  name: string;
  readyPods: number;
  failures: number;
  consecutiveFailures: number;
  crashLooping: boolean;
  reason: string | null;
  target: number;
  metric: string;
  pods: PodLine[];
}

const folders: string[] = [];
const running: TestProcess[] = [];
const agent = new Agent({ connections: 8 });
afterEach(async () => {
  for (const proc of running.splice(0)) {
    proc.signal('SIGKILL');
    await proc.exit();
    killPlatformProcesses(proc.child.pid ?? -1);
  }
  for (const dir of folders.splice(0)) rmSync(dir, { recursive: true, force: true });
}, 60_000);

function folder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'zerogate-logs-test-'));
  folders.push(dir);
  return dir;
}

async function get(port: number, host: string, path = '/') {
  const res = await request(`http://127.0.0.1:${port}${path}`, {
    headers: { host },
    dispatcher: agent,
    headersTimeout: 0,
    bodyTimeout: 0,
  });
  return { status: res.statusCode, body: await res.body.text() };
}

describe('one-machine platform: logs and failure reasons', () => {
  it('keeps every log in --logs after it stops, shows a crash loop with exit codes and restarts, serves log tails, and ends the dashboard stream at shutdown', async () => {
    const logs = folder();
    const file = await writeConfig(`
ingress: { port: 0 }
services:
  - name: hello
    command: [node, ${example('hello')}]
  - name: crash
    command: "echo starting; echo 'oops: no database' >&2; exit 3"
    timeoutSeconds: 2
`);
    folders.push(join(file, '..'));
    const proc = spawnNode('packages/local/dist/main.js', {}, ['--config', file, '--logs', logs]);
    running.push(proc);
    const line = await proc.waitForLine((l) => l.includes('/zerogate/status'), 30_000);
    const port = Number(/127\.0\.0\.1:(\d+)\/zerogate\/status/.exec(line)?.[1]);
    const logsLine = await proc.waitForLine((l) => /^\s*logs:\s/.test(l));
    const runDir = logsLine.replace(/^\s*logs:\s+/, '').trimEnd();
    expect(runDir.startsWith(`${logs}/run-`)).toBe(true);
    expect(proc.stdout.some((l) => l.includes(`dashboard: http://127.0.0.1:${port}/zerogate/`))).toBe(true);

    const status = async () =>
      (JSON.parse((await get(port, '127.0.0.1', '/zerogate/status')).body) as { revisions: RevisionLine[] })
        .revisions;
    const revision = async (name: string) => (await status()).find((r) => r.name === name)!;

    expect((await get(port, 'hello.default.localhost')).status).toBe(200);
    // A request starts the crashing revision; no Pod ever gets ready, so it ends at its 2 s timeout or,
    // once the revision crash-loops, refused at once (docs/activator.md §10.1).
    const held = get(port, 'crash.default.localhost');
    expect(
      await eventually(async () => (await revision('crash-00001')).crashLooping, 60_000),
      JSON.stringify(await revision('crash-00001')),
    ).toBe(true);
    expect([502, 503, 504]).toContain((await held).status);

    const crash = await revision('crash-00001');
    expect(crash.consecutiveFailures).toBeGreaterThanOrEqual(2);
    expect(crash.failures).toBeGreaterThanOrEqual(crash.consecutiveFailures);
    expect(crash.reason).toMatch(
      /^CrashLoopBackOff: \d+ Pods failed in a row \(last: app exited \(code 3\)\)/,
    );
    const failed = crash.pods.filter((p) => p.state === 'failed');
    expect(failed.length).toBeGreaterThanOrEqual(2);
    for (const pod of failed) {
      expect(pod.exit).toEqual({ container: 'app', code: 3, signal: null });
      expect(pod.reason).toBe('app exited (code 3)');
    }
    // Newest first; each replacement counts the failures in a row before it.
    expect(failed[0]!.restarts).toBeGreaterThan(failed.at(-1)!.restarts);
    expect(failed.at(-1)!.name).toBe('crash-00001-1');
    expect(failed.at(-1)!.restarts).toBe(0);

    const hello = await revision('hello-00001');
    expect(hello.metric).toBe('concurrency');
    expect(hello.target).toBe(70);
    expect(hello.pods[0]).toMatchObject({ name: 'hello-00001-1', state: 'ready', reason: null, exit: null });

    // The tail of a failed Pod's log, over the ingress port.
    const tail = await get(port, '127.0.0.1', `/zerogate/logs/${failed.at(-1)!.logs[0]}`);
    expect(tail.status).toBe(200);
    expect(tail.body).toBe('starting\noops: no database\n');
    expect((await get(port, '127.0.0.1', '/zerogate/logs/no-such-pod.app')).status).toBe(404);
    expect((await get(port, '127.0.0.1', '/zerogate/logs/..%2F..%2Fetc%2Fpasswd')).status).toBe(400);

    // A dashboard stream open at shutdown is ended by it, and the platform exits 0.
    const stream = await request(`http://127.0.0.1:${port}/zerogate/events`, { dispatcher: agent });
    expect(stream.statusCode).toBe(200);
    let text = '';
    const ended = new Promise<void>((resolve, reject) => {
      stream.body.setEncoding('utf8');
      stream.body.on('data', (chunk: string) => {
        text += chunk;
      });
      stream.body.on('end', resolve);
      stream.body.on('error', reject);
    });
    expect(await eventually(() => text.includes('data: {'), 10_000)).toBe(true);
    proc.signal('SIGINT');
    await ended;
    expect(await proc.exit()).toBe(0);
    running.splice(running.indexOf(proc), 1);

    // Everything it wrote is still there: one file per Pod container and component.
    const kept = readdirSync(runDir);
    for (const name of [
      'platform.log',
      'activator.log',
      'autoscaler.log',
      'hello-00001-1.app.log',
      'hello-00001-1.queue-proxy.log',
      'crash-00001-1.app.log',
      'crash-00001-1.queue-proxy.log',
    ]) {
      expect(kept, name).toContain(name);
    }
    expect(readFileSync(join(runDir, 'hello-00001-1.app.log'), 'utf8')).toContain('"msg":"listening"');
    expect(readFileSync(join(runDir, 'crash-00001-1.app.log'), 'utf8')).toContain('oops: no database');
    expect(readFileSync(join(runDir, 'platform.log'), 'utf8')).toContain('pod failed');
    expect(existsSync(join(logs, 'latest', 'platform.log'))).toBe(true);
  }, 120_000);

  it('a --logs folder that cannot be made exits 1 naming --logs', async () => {
    const dir = folder();
    writeFileSync(join(dir, 'a-file'), '');
    const file = await writeConfig(`
ingress: { port: 0 }
services:
  - name: hello
    command: [node, ${example('hello')}]
`);
    folders.push(join(file, '..'));
    const proc = spawnNode('packages/local/dist/main.js', {}, [
      '--config',
      file,
      '--logs',
      join(dir, 'a-file', 'logs'),
    ]);
    expect(await proc.exit()).toBe(1);
    expect(proc.stderr.join('')).toContain(
      `zerogate: --logs: cannot write logs to ${join(dir, 'a-file', 'logs')}: ENOTDIR`,
    );

    const empty = spawnNode('packages/local/dist/main.js', {}, ['--config', file, '--logs=']);
    expect(await empty.exit()).toBe(2);
    expect(empty.stderr.join('')).toContain('--logs: must name a folder');
  });
});
