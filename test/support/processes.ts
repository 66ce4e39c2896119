import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { queueProxyEnv as buildQueueProxyEnv } from '@zerogate/queue-proxy/env';

/** The repository root. */
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** A child process with its output collected, for tests. */
export class TestProcess {
  readonly stdout: string[] = [];
  readonly stderr: string[] = [];
  private readonly exited: Promise<number | null>;
  private partial = '';
  private lineWaiters: { match: (line: string) => boolean; resolve: (line: string) => void }[] = [];

  constructor(readonly child: ChildProcess) {
    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      const lines = (this.partial + chunk).split('\n');
      this.partial = lines.pop() ?? '';
      for (const line of lines) {
        this.stdout.push(line);
        this.lineWaiters = this.lineWaiters.filter((w) => {
          if (!w.match(line)) return true;
          w.resolve(line);
          return false;
        });
      }
    });
    child.stderr?.on('data', (chunk: string) => this.stderr.push(chunk));
    // 'exit' can come before the last output was read; 'close' comes after it, unless a process the
    // child started still holds the pipes, so the wait for it is capped.
    const closed = once(child, 'close');
    this.exited = once(child, 'exit').then(async ([code]) => {
      let cap: NodeJS.Timeout | undefined;
      await Promise.race([closed, new Promise((r) => (cap = setTimeout(r, 2000)))]);
      clearTimeout(cap);
      return code as number | null;
    });
  }

  /** Resolves with the first stdout line (past or future) that matches. */
  waitForLine(match: (line: string) => boolean, timeoutMs = 10_000): Promise<string> {
    const seen = this.stdout.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolvePromise, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `no matching line within ${timeoutMs} ms; stdout:\n${this.stdout.join('\n')}\nstderr:\n${this.stderr.join('')}`,
            ),
          ),
        timeoutMs,
      );
      this.lineWaiters.push({
        match,
        resolve: (line) => {
          clearTimeout(timer);
          resolvePromise(line);
        },
      });
      this.exited.then(() => {
        clearTimeout(timer);
        reject(
          new Error(`process exited; stdout:\n${this.stdout.join('\n')}\nstderr:\n${this.stderr.join('')}`),
        );
      });
    });
  }

  /**
   * Resolves with when the process logged its first JSON line (past or future) with message `msg`, by
   * its own clock (the line's `time`, epoch ms): the moment of an event inside the process, free of the
   * delay with which the test reads the line.
   */
  async loggedAt(msg: string, timeoutMs?: number): Promise<number> {
    const line = await this.waitForLine((l) => l.includes(`"msg":${JSON.stringify(msg)}`), timeoutMs);
    return Date.parse((JSON.parse(line) as { time: string }).time);
  }

  /** Parsed JSON log lines. */
  logs(): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    for (const line of this.stdout) {
      try {
        out.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // Not a JSON line.
      }
    }
    return out;
  }

  /** Resolves with the exit code once the process ends. */
  exit(): Promise<number | null> {
    return this.exited;
  }

  /** Sends a signal. */
  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** Kills the process (SIGKILL) and waits for it to end. */
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }
}

/** Every process tests started, in order, so none outlives its test (see `test/support/setup.ts`). */
export const startedProcesses = new Set<TestProcess>();

/** Spawns `node <script>` with the given environment added to a minimal one. */
export function spawnNode(
  script: string,
  env: Record<string, string>,
  args: readonly string[] = [],
): TestProcess {
  const child = spawn(process.execPath, [resolve(ROOT, script), ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const proc = new TestProcess(child);
  startedProcesses.add(proc);
  void proc.exit().then(() => startedProcesses.delete(proc));
  return proc;
}

/**
 * Spawns a built component (`node <script>`) and waits for its startup line (`"msg":"started"`); returns
 * the process and the ports the line reports, by listener.
 */
export async function startComponent<Ports>(
  script: string,
  env: Record<string, string>,
  timeoutMs?: number,
): Promise<{ proc: TestProcess; ports: Ports }> {
  const proc = spawnNode(script, env);
  const line = await proc.waitForLine((l) => l.includes('"msg":"started"'), timeoutMs);
  return { proc, ports: (JSON.parse(line) as { ports: Ports }).ports };
}

/** A running test user container. */
export interface UserApp {
  readonly proc: TestProcess;
  readonly port: number;
  /** The app's own view of concurrency: in flight now, the most at once, and the total seen. */
  stats(): Promise<{ current: number; max: number; total: number }>;
  seen(): Promise<{ path: string; userAgent: string }[]>;
}

/** Starts `test/support/user-app.mjs` on a free port. */
export async function startUserApp(): Promise<UserApp> {
  const proc = spawnNode('test/support/user-app.mjs', { PORT: '0' });
  const line = await proc.waitForLine((l) => l.startsWith('{"port"'));
  const port = (JSON.parse(line) as { port: number }).port;
  const get = async (path: string) => (await fetch(`http://127.0.0.1:${port}${path}`)).json();
  return {
    proc,
    port,
    stats: () => get('/_stats') as Promise<{ current: number; max: number; total: number }>,
    seen: () => get('/_seen') as Promise<{ path: string; userAgent: string }[]>,
  };
}

/** A running queue-proxy process and the ports it bound. */
export interface RunningQueueProxy {
  readonly proc: TestProcess;
  readonly port: number;
  readonly adminPort: number;
  readonly statsPort: number;
  readonly metricsPort: number | undefined;
  readonly url: string;
}

/**
 * The environment Knative gives a queue-proxy, pointed at `userPort`, with every port picked freely, as
 * the queue-proxy's own builder writes it; `overrides` are raw variables put over it.
 */
export function queueProxyEnv(
  userPort: number,
  overrides: Record<string, string> = {},
): Record<string, string> {
  return {
    ...buildQueueProxyEnv({
      revision: { name: 'hello-00001', configuration: 'hello' },
      pod: { namespace: 'default', name: 'hello-00001-deployment-abc', ip: '127.0.0.1' },
      containerConcurrency: 0,
      userPort,
      ports: { serving: 0, tls: 8112, admin: 0, stats: 0, metrics: 0 },
      bindAddress: '127.0.0.1',
      timeouts: { revisionSeconds: 300 },
      readinessProbe: { tcpSocket: { port: userPort, host: '127.0.0.1' }, successThreshold: 1 },
      logging: { level: 'info' },
    }),
    ...overrides,
  };
}

/** Starts the built queue-proxy (`packages/queue-proxy/dist/main.js`) and waits for its startup line. */
export async function startQueueProxy(env: Record<string, string>): Promise<RunningQueueProxy> {
  const { proc, ports } = await startComponent<{
    serving: number;
    admin: number;
    stats: number;
    metrics?: number;
  }>('packages/queue-proxy/dist/main.js', env);
  return {
    proc,
    port: ports.serving,
    adminPort: ports.admin,
    statsPort: ports.stats,
    metricsPort: ports.metrics,
    url: `http://127.0.0.1:${ports.serving}`,
  };
}

/** A running activator process and the ports it bound. */
export interface RunningActivator {
  readonly proc: TestProcess;
  readonly port: number;
  /** The second serving port (Knative's 8013, for h2c revisions). */
  readonly h2cPort: number;
  readonly metricsPort: number;
  readonly url: string;
}

/** The environment of an activator reading endpoints from `file` and reporting to `autoscalerUrl`. */
export function activatorEnv(
  file: string,
  autoscalerUrl: string,
  overrides: Record<string, string> = {},
): Record<string, string> {
  return {
    POD_NAME: 'activator-test',
    POD_IP: '127.0.0.1',
    SYSTEM_NAMESPACE: 'knative-serving',
    ACTIVATOR_BIND_ADDRESS: '127.0.0.1',
    ACTIVATOR_HTTP_PORT: '0',
    ACTIVATOR_H2C_PORT: '0',
    ACTIVATOR_METRICS_PORT: '0',
    ACTIVATOR_ENDPOINTS_SOURCE: 'file',
    ACTIVATOR_ENDPOINTS_FILE: file,
    AUTOSCALER_URL: autoscalerUrl,
    ACTIVATOR_DRAIN_SECONDS: '0',
    ...overrides,
  };
}

/** Starts the built activator (`packages/activator/dist/main.js`) and waits for its startup line. */
export async function startActivator(env: Record<string, string>): Promise<RunningActivator> {
  const { proc, ports } = await startComponent<{ http: number; h2c: number; metrics: number }>(
    'packages/activator/dist/main.js',
    env,
  );
  return {
    proc,
    port: ports.http,
    h2cPort: ports.h2c,
    metricsPort: ports.metrics,
    url: `http://127.0.0.1:${ports.http}`,
  };
}

/** A running autoscaler process and the ports it bound. */
export interface RunningAutoscaler {
  readonly proc: TestProcess;
  /** The websocket stat server activators report to. */
  readonly statsPort: number;
  readonly metricsPort: number;
  /** `ws://127.0.0.1:<statsPort>`. */
  readonly url: string;
}

/** The environment of an autoscaler on free ports of 127.0.0.1, reading the cluster from `kubeconfig`. */
export function autoscalerEnv(
  kubeconfig: string,
  overrides: Record<string, string> = {},
): Record<string, string> {
  return {
    AUTOSCALER_BIND_ADDRESS: '127.0.0.1',
    AUTOSCALER_PORT: '0',
    AUTOSCALER_METRICS_PORT: '0',
    KUBECONFIG: kubeconfig,
    ...overrides,
  };
}

/** Starts the built autoscaler (`packages/autoscaler/dist/main.js`) and waits for its startup line. */
export async function startAutoscaler(env: Record<string, string>): Promise<RunningAutoscaler> {
  const { proc, ports } = await startComponent<{ stats: number; metrics: number }>(
    'packages/autoscaler/dist/main.js',
    env,
  );
  return {
    proc,
    statsPort: ports.stats,
    metricsPort: ports.metrics,
    url: `ws://127.0.0.1:${ports.stats}`,
  };
}

/** What a process preloaded with {@link loadedModulesEnv} had loaded: Node's built-in modules and files. */
export interface LoadedModules {
  /** Built-in module ids as Node lists them (`tls`, `internal/http2/core`, …). */
  readonly builtins: readonly string[];
  /**
   * `file:` URLs of every file loaded, by import or require; a file of the queue-proxy's bundle
   * (`packages/queue-proxy/dist/`, see its `bundle.mjs`) is followed by the sources it holds.
   */
  readonly files: readonly string[];
}

/** The queue-proxy bundle's outputs, each with the sources it holds, as `file:` URLs. */
function bundleSources(): Map<string, string[]> {
  const meta = JSON.parse(
    readFileSync(resolve(ROOT, 'packages/queue-proxy/dist/bundle-meta.json'), 'utf8'),
  ) as {
    outputs: Record<string, { inputs: Record<string, unknown> }>;
  };
  const url = (path: string) => pathToFileURL(resolve(ROOT, path)).href;
  return new Map(
    Object.entries(meta.outputs).map(([out, { inputs }]) => [url(out), Object.keys(inputs).map(url)]),
  );
}

/** Environment that preloads `test/support/loaded-modules.mjs`, for {@link loadedModules}. */
export function loadedModulesEnv(): Record<string, string> {
  return { NODE_OPTIONS: `--import=${resolve(ROOT, 'test/support/loaded-modules.mjs')}` };
}

/** Asks a process started with {@link loadedModulesEnv} (by SIGUSR2) what it has loaded so far. */
export async function loadedModules(proc: TestProcess): Promise<LoadedModules> {
  const before = proc.stdout.length;
  proc.signal('SIGUSR2');
  const line = await proc.waitForLine(
    (l) => l.startsWith('{"loadedModules"') && proc.stdout.indexOf(l, before) >= before,
  );
  const loaded = (JSON.parse(line) as { loadedModules: LoadedModules }).loadedModules;
  const bundled = bundleSources();
  return { ...loaded, files: loaded.files.flatMap((f) => [f, ...(bundled.get(f) ?? [])]) };
}
