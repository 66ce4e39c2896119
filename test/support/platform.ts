import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Agent, request } from 'undici';
import { afterEach } from 'vitest';
import { ROOT, spawnNode, type TestProcess } from './processes.js';

/** The status document of `GET /zerogate/status`. */
export interface StatusDocument {
  revisions: {
    namespace: string;
    service: string;
    name: string;
    mode: 'Proxy' | 'Serve';
    desiredPods: number;
    readyPods: number;
    inFlight: number;
    held: number;
    rps: number;
  }[];
}

/** A platform process (`packages/local/dist/main.js`) started on a test config. */
export interface TestPlatform {
  readonly proc: TestProcess;
  readonly port: number;
  /** The folder of every process's log (the platform's banner names it); removed when it stops. */
  readonly logDir: string;
  status(): Promise<StatusDocument>;
  /** One revision's status line. */
  revision(name: string): Promise<StatusDocument['revisions'][number]>;
  /** A request through the ingress with `host`; never throws for HTTP errors. */
  get(host: string, path?: string): Promise<{ status: number; body: string }>;
  /** SIGINT, then waits for the exit; returns the exit code. */
  stop(): Promise<number | null>;
}

/**
 * The platforms a test file starts, each stopped after its test: `const started = stoppedAfterEach();`
 * at the file's top, then `started.push(p)`.
 */
export function stoppedAfterEach(timeoutMs?: number): TestPlatform[] {
  const started: TestPlatform[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((p) => p.stop()));
  }, timeoutMs);
  return started;
}

/** A Pod of a revision as the status document shows it. */
export interface PodLine {
  name: string;
  state: string;
}

/** The Pods of `revision` as the platform's status shows them. */
export async function podsOf(p: TestPlatform, revision: string): Promise<PodLine[]> {
  const doc = (await p.status()) as unknown as { revisions: { name: string; pods: PodLine[] }[] };
  return doc.revisions.find((r) => r.name === revision)?.pods ?? [];
}

/** `host:port` of a Pod's queue-proxy, from its `started` log line; undefined until it started. */
export function queueProxyAddress(p: TestPlatform, pod: string): string | undefined {
  let log: string;
  try {
    log = readFileSync(join(p.logDir, `${pod}.queue-proxy.log`), 'utf8');
  } catch {
    return undefined;
  }
  for (const line of log.split('\n')) {
    if (!line.includes('"msg":"started"')) continue;
    const started = JSON.parse(line) as { podIp?: string; ports?: { serving?: number } };
    if (started.podIp && started.ports?.serving) return `${started.podIp}:${started.ports.serving}`;
  }
  return undefined;
}

/** An example app's path, for configs (the platform runs apps in the config file's folder). */
export function example(name: 'hello' | 'slow' | 'streaming'): string {
  return join(ROOT, 'examples', name, 'server.mjs');
}

/** Writes `yaml` to a temporary `zerogate.yaml` and returns its path. */
export async function writeConfig(yaml: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'zerogate-test-'));
  const file = join(dir, 'zerogate.yaml');
  await writeFile(file, yaml);
  return file;
}

const agent = new Agent({ connections: 64 });

/** Starts the platform on `yaml` and waits for its banner. */
export async function startTestPlatform(yaml: string): Promise<TestPlatform> {
  const file = await writeConfig(yaml);
  const proc = spawnNode('packages/local/dist/main.js', {}, ['--config', file]);
  const line = await proc.waitForLine((l) => l.includes('/zerogate/status'), 30_000);
  const port = Number(/127\.0\.0\.1:(\d+)\/zerogate\/status/.exec(line)?.[1]);
  const logs = await proc.waitForLine((l) => /^\s*logs:\s/.test(l));
  const logDir = logs.replace(/^\s*logs:\s+/, '').trimEnd();
  const get = async (host: string, path = '/') => {
    const res = await request(`http://127.0.0.1:${port}${path}`, {
      headers: { host },
      dispatcher: agent,
      headersTimeout: 0,
      bodyTimeout: 0,
    });
    return { status: res.statusCode, body: await res.body.text() };
  };
  const status = async () => JSON.parse((await get('127.0.0.1', '/zerogate/status')).body) as StatusDocument;
  return {
    proc,
    port,
    logDir,
    get,
    status,
    revision: async (name) => {
      const found = (await status()).revisions.find((r) => r.name === name);
      if (!found) throw new Error(`no revision ${name} in the status`);
      return found;
    },
    stop: async () => {
      proc.signal('SIGINT');
      const code = await proc.exit();
      killPlatformProcesses(proc.child.pid ?? -1);
      // The config's folder holds the logs (`.zerogate/logs` beside the config file): they go with it.
      rmSync(dirname(file), { recursive: true, force: true });
      return code;
    },
  };
}

/** Pids of live processes the platform with pid `platformPid` started (marked in their environment). */
export function platformProcesses(platformPid: number, commandIncludes = ''): number[] {
  const marker = `ZEROGATE_PLATFORM_PID=${platformPid}\0`;
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!readFileSync(`/proc/${entry}/environ`, 'latin1').includes(marker)) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
      if (stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z')) continue;
      if (commandIncludes && !readFileSync(`/proc/${entry}/cmdline`, 'latin1').includes(commandIncludes))
        continue;
      found.push(Number(entry));
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}

/** Kills whatever the platform left behind (a test that failed before stopping it). */
export function killPlatformProcesses(platformPid: number): void {
  for (const pid of platformProcesses(platformPid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}
