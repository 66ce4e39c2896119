/**
 * The one-machine platform as the chaos suite runs it: `node packages/local/dist/main.js --config <temp
 * file>` as a child process, exactly as `npm start` runs, with its processes found through `/proc`
 * (each carries `ZEROGATE_PLATFORM_PID`) so a scenario can kill one of them, and its control server
 * (the autoscaler's `AUTOSCALER_PLATFORM_URL`) used to force a scale-down or a mode flip.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import type { ScenarioContext } from '../scenario.js';
import { sleep } from '../scenarios/common.js';
import type { ManagedProcess } from '../supervisor.js';

const PLATFORM_ENTRY = 'packages/local/dist/main.js';
const CHAOS_APP = fileURLToPath(new URL('./chaos-app.js', import.meta.url));
/** The variable every process the platform starts carries (`packages/local/src/child.ts`). */
const PLATFORM_PID_VARIABLE = 'ZEROGATE_PLATFORM_PID';

/** Pids of every platform this process started, for {@link killPlatformLeftovers}. */
const started = new Set<number>();

/**
 * Kills every process a platform started by this process left behind (its Pods run in process groups
 * of their own, out of the supervisor's reach); synchronous, so it may run in an `exit` handler.
 */
export function killPlatformLeftovers(): void {
  if (started.size === 0) return;
  const markers = new Set([...started].map(String));
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const marker = readEnviron(pid)?.get(PLATFORM_PID_VARIABLE);
    if (marker === undefined || !markers.has(marker)) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/** The service every platform scenario runs: `chaos.default.localhost`, revision `chaos-00001`. */
export const SERVICE_HOST = 'chaos.default.localhost';
export const REVISION_NAME = 'chaos-00001';

/** The readiness probe period of a local Pod (`packages/local/src/platform.ts`, `probePeriodMs`). */
export const POD_PROBE_PERIOD_MS = 1000;

/** Where the revision's traffic should go once its Pods are up. */
export type PathMode = 'Serve' | 'Proxy';

/** What the revision looks like. */
export interface PlatformSpec {
  /** Pods kept running (min-scale and initial scale). */
  readonly pods: number;
  /** `Serve`: target burst capacity 0, the activator leaves the path; `Proxy`: -1, it stays in it. */
  readonly mode: PathMode;
  readonly containerConcurrency?: number;
  /** A stopping Pod's queue-proxy drain quiet period. */
  readonly drainSeconds?: number;
}

/** A process of the platform, found through `/proc`. */
export interface PlatformProcess {
  readonly pid: number;
  readonly role: 'app' | 'queue-proxy' | 'activator' | 'autoscaler' | 'other';
  /** The Pod a queue-proxy belongs to (`SERVING_POD`); for an app, its queue-proxy's Pod. */
  readonly pod?: string;
  /** An app's `HOST:PORT`, a queue-proxy's `QUEUE_USER_HOST:USER_PORT` (127.0.0.1 without a host). */
  readonly appAddress?: string;
  readonly env: ReadonlyMap<string, string>;
}

/** Reads a process's environment; undefined when it is gone or not readable. */
export function readEnviron(pid: number): Map<string, string> | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/environ`, 'latin1');
  } catch {
    return undefined;
  }
  const env = new Map<string, string>();
  for (const entry of text.split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0) env.set(entry.slice(0, eq), entry.slice(eq + 1));
  }
  return env;
}

/** The role of a platform process, from its environment. */
export function roleOf(env: ReadonlyMap<string, string>): PlatformProcess['role'] {
  if (env.has('SERVING_POD') && env.has('QUEUE_SERVING_PORT')) return 'queue-proxy';
  if (env.get('AUTOSCALER_ACTUATOR') === 'local') return 'autoscaler';
  if (env.has('ACTIVATOR_ENDPOINTS_SOURCE')) return 'activator';
  if (env.has('K_REVISION') && env.has('PORT')) return 'app';
  return 'other';
}

/** The platform's configuration file for `spec`. */
export function platformConfig(spec: PlatformSpec): string {
  return `ingress: { port: 0 }
autoscaler:
  stable-window: 6s
  scale-to-zero-grace-period: 1s
pods:
  drainSeconds: ${spec.drainSeconds ?? 1}
  startTimeoutSeconds: 20
services:
  - name: chaos
    namespace: default
    command: [node, ${JSON.stringify(CHAOS_APP)}]
    containerConcurrency: ${spec.containerConcurrency ?? 0}
    annotations:
      autoscaling.knative.dev/min-scale: "${spec.pods}"
      autoscaling.knative.dev/initial-scale: "${spec.pods}"
      autoscaling.knative.dev/target-burst-capacity: "${spec.mode === 'Serve' ? 0 : -1}"
`;
}

/** One revision's line of `GET /zerogate/status`. */
interface RevisionStatus {
  readonly name: string;
  readonly mode: PathMode;
  readonly desiredPods: number;
  readonly readyPods: number;
}

/** A running platform. */
export class LocalPlatform {
  private constructor(
    readonly proc: ManagedProcess,
    readonly ingressPort: number,
    readonly logDir: string,
    private readonly configDir: string,
  ) {}

  /** `http://127.0.0.1:<ingress port>`. */
  get origin(): string {
    return `http://127.0.0.1:${this.ingressPort}`;
  }

  /** Starts the platform and waits until the revision has `spec.pods` ready Pods in `spec.mode`. */
  static async start(context: ScenarioContext, spec: PlatformSpec): Promise<LocalPlatform> {
    const configDir = mkdtempSync(join(tmpdir(), 'zerogate-chaos-'));
    const file = join(configDir, 'zerogate.yaml');
    writeFileSync(file, platformConfig(spec));
    const proc = context.supervisor.start({
      name: 'platform',
      argv: [process.execPath, join(context.settings.repoRoot, PLATFORM_ENTRY), '--config', file],
      cwd: configDir,
    });
    started.add(proc.pid);
    const deadline = performance.now() + 20_000;
    let banner: RegExpExecArray | null = null;
    let logs: RegExpExecArray | null = null;
    while (performance.now() < deadline && proc.exitStatus === undefined) {
      const out = proc.stdout();
      banner = /status: curl http:\/\/127\.0\.0\.1:(\d+)\//.exec(out);
      logs = /logs: +(\S+)/.exec(out);
      if (banner && logs) break;
      await sleep(50);
    }
    if (!banner || !logs) {
      throw new Error(
        `the platform did not start\n--- stderr ---\n${proc.stderr()}\n--- stdout ---\n${proc.stdout()}`,
      );
    }
    const platform = new LocalPlatform(proc, Number(banner[1]), logs[1]!, configDir);
    // The revision is at zero until a request arrives; one request starts it, min-scale does the rest.
    await request(`${platform.origin}/`, {
      headers: { host: SERVICE_HOST },
      signal: AbortSignal.timeout(20_000),
    }).then((res) => res.body.dump());
    await platform.waitFor(
      (s) => s.readyPods >= spec.pods && s.mode === spec.mode,
      `${spec.pods} ready Pods in ${spec.mode} mode`,
      30_000,
    );
    return platform;
  }

  /** The revision's status line. */
  async status(): Promise<RevisionStatus> {
    const res = await request(`${this.origin}/zerogate/status`, { signal: AbortSignal.timeout(2000) });
    const body = (await res.body.json()) as { revisions: RevisionStatus[] };
    const status = body.revisions.find((r) => r.name === REVISION_NAME);
    if (status === undefined) throw new Error(`the platform's status has no ${REVISION_NAME}`);
    return status;
  }

  /** Polls the status until `predicate` holds; throws naming `what` after `timeoutMs`. */
  async waitFor(predicate: (s: RevisionStatus) => boolean, what: string, timeoutMs: number): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    let last: RevisionStatus | undefined;
    while (performance.now() < deadline) {
      if (this.proc.exitStatus !== undefined) break;
      try {
        last = await this.status();
        if (predicate(last)) return;
      } catch {
        // The status endpoint is briefly unavailable while the platform starts.
      }
      await sleep(100);
    }
    throw new Error(
      `the platform did not reach ${what} within ${timeoutMs / 1000} s (last: ${JSON.stringify(last)})`,
    );
  }

  /** Every live process the platform started. */
  processes(): PlatformProcess[] {
    const marker = String(this.proc.pid);
    const found: PlatformProcess[] = [];
    for (const entry of readdirSync('/proc')) {
      const pid = Number(entry);
      if (!Number.isInteger(pid)) continue;
      const env = readEnviron(pid);
      if (env?.get(PLATFORM_PID_VARIABLE) !== marker) continue;
      const role = roleOf(env);
      const appAddress =
        role === 'queue-proxy'
          ? `${env.get('QUEUE_USER_HOST') ?? '127.0.0.1'}:${env.get('USER_PORT')}`
          : `${env.get('HOST') ?? '127.0.0.1'}:${env.get('PORT')}`;
      found.push({
        pid,
        role,
        env,
        ...(role === 'queue-proxy' ? { pod: env.get('SERVING_POD') } : {}),
        ...(role === 'app' || role === 'queue-proxy' ? { appAddress } : {}),
      });
    }
    // An app's Pod is its queue-proxy's: the one in front of its address.
    return found.map((p) => {
      if (p.role !== 'app') return p;
      const pod = found.find((q) => q.role === 'queue-proxy' && q.appAddress === p.appAddress)?.pod;
      return pod === undefined ? p : { ...p, pod };
    });
  }

  /** The one process of `role` (the first, for Pods' roles); throws when there is none. */
  process(role: PlatformProcess['role']): PlatformProcess {
    const found = this.processes()
      .filter((p) => p.role === role)
      .sort((a, b) => (a.pod ?? '').localeCompare(b.pod ?? ''));
    if (found[0] === undefined) throw new Error(`the platform runs no ${role} process`);
    return found[0];
  }

  /** The control server's URL, from the autoscaler's environment. */
  controlUrl(): string {
    const url = this.process('autoscaler').env.get('AUTOSCALER_PLATFORM_URL');
    if (url === undefined) throw new Error('the autoscaler has no AUTOSCALER_PLATFORM_URL');
    return url;
  }

  /** `PUT /v1/revisions/default/<revision>/<what>` on the control server; throws unless 204. */
  async control(what: 'scale' | 'mode', body: object): Promise<void> {
    const res = await request(`${this.controlUrl()}/v1/revisions/default/${REVISION_NAME}/${what}`, {
      method: 'PUT',
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
      signal: AbortSignal.timeout(5000),
    });
    const text = await res.body.text();
    if (res.statusCode !== 204) throw new Error(`control ${what}: HTTP ${res.statusCode} ${text.trim()}`);
  }

  /** Lines in each log file of the run, by file name. */
  logLineCounts(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const file of readdirSync(this.logDir)) {
      try {
        const text = readFileSync(join(this.logDir, file), 'utf8');
        counts.set(file, text.split('\n').filter((line) => line !== '').length);
      } catch {
        // Removed meanwhile.
      }
    }
    return counts;
  }

  /** Lines of one process's log file containing `needle`. */
  logLines(file: string, needle: string): string[] {
    try {
      return readFileSync(join(this.logDir, file), 'utf8')
        .split('\n')
        .filter((line) => line.includes(needle));
    } catch {
      return [];
    }
  }

  /**
   * Stops the platform as Ctrl-C does (it drains), then kills whatever it started that is still there:
   * its Pods run in process groups of their own, which the supervisor's group kill does not reach.
   */
  async stop(context: ScenarioContext): Promise<void> {
    const leftovers = () => this.processes().map((p) => p.pid);
    this.proc.signalGroup('SIGTERM');
    const deadline = performance.now() + 15_000;
    while (this.proc.exitStatus === undefined && performance.now() < deadline) await sleep(100);
    const remaining = leftovers();
    await context.supervisor.stop(this.proc);
    for (const pid of remaining) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    }
    rmSync(this.configDir, { recursive: true, force: true });
  }
}
