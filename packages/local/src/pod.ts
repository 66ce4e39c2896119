/**
 * One Pod on this machine: the user app and its queue-proxy as two processes, started together on the
 * Pod's own loopback address, probed for readiness the way the kubelet probes a queue-proxy, and
 * stopped the way Kubernetes stops a Pod (the queue-proxy drains first, then the app goes). A revision
 * with `queueProxy: in-process` has Pods of the app alone: it carries the queue-proxy's contract itself
 * (`@zerogate/in-process`), so it is given the queue-proxy's variables, probed on its own port, and
 * drains on its own SIGTERM.
 */
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { queueProxyServerTiming } from '@zerogate/core';
import {
  inProcessEnv,
  QUEUE_PROXY_ENV,
  QUEUE_PROXY_NODE_FLAGS,
  queueProxyEnv,
} from '@zerogate/queue-proxy/env';
import { type Dispatcher, request } from 'undici';
import { Child, type ChildExit } from './child.js';
import type { ReadinessProbe, RevisionConfig } from './config.js';
import type { PodLease, PodNetwork } from './pod-network.js';

/** Where a Pod is in its life. */
export type PodPhase = 'starting' | 'ready' | 'unready' | 'stopping' | 'stopped' | 'failed';

/** The containers of a Pod; each has its own log file, `<Pod>.<container>.log`. */
export type ContainerName = 'app' | 'queue-proxy';

/** How a Pod's container ended, when its end failed the Pod. */
export interface ContainerExit {
  readonly container: ContainerName;
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

/** When each step of a Pod's start happened (ms since the epoch). */
export interface PodTimeline {
  readonly spawnedAt: number;
  /** The app printed a `listening` line (the example apps do); undefined for apps that don't. */
  appListeningAt?: number;
  /** The queue-proxy printed its `started` line; undefined in a Pod without one (`in-process`). */
  queueProxyStartedAt?: number;
  /** The first kubelet-style readiness probe passed. */
  readyAt?: number;
  /** It stopped or failed. */
  endedAt?: number;
}

/** Settings every Pod shares. */
export interface PodSettings {
  /** Folder of the per-process log files. */
  readonly logDir: string;
  readonly drainSeconds: number;
  readonly startTimeoutMs: number;
  /** Pause between readiness probes once ready. */
  readonly probePeriodMs: number;
  /** Sends the readiness probes. */
  readonly dispatcher: Dispatcher;
  /** Hands out each Pod's address and app port. */
  readonly network: PodNetwork;
}

const QUEUE_PROXY_MAIN = fileURLToPath(import.meta.resolve('@zerogate/queue-proxy/dist/main.js'));
/**
 * The least time a container gets between SIGTERM and SIGKILL, whatever is left of the grace period (the
 * kubelet's `minimumGracePeriodInSeconds`).
 */
const MIN_STOP_GRACE_MS = 2000;
/**
 * The kubelet's probe headers (docs/queue-proxy.md §4.1): a queue-proxy answers 200 once the app passes its
 * readiness probe.
 */
const KUBELET_PROBE_HEADERS = { 'user-agent': 'kube-probe/1.33', 'k-network-probe': 'queue' };
/** The kubelet's wait for a starting Pod's answer: the queue-proxy's aggressive probing (10 s) and a second. */
const STARTING_PROBE_TIMEOUT_MS = 11_000;

/**
 * A Pod. `onChange` is called whenever its phase or addresses change; the owner reads the fields.
 */
export class Pod {
  phase: PodPhase = 'starting';
  /** Why it failed, when it did. */
  failure: string | undefined;
  /** The container whose exit failed the Pod, with its code or signal. */
  exit: ContainerExit | undefined;
  /** Readiness probes failed in a row, and how the last one failed (`status 503`, `no answer`). */
  probeFailures = 0;
  lastProbeFailure: string | undefined;
  /**
   * Pods of its revision that failed in a row before this one was started to replace them. A failed Pod
   * is replaced by a new one rather than restarted in place, so this is what Kubernetes counts as a
   * container's restarts.
   */
  restarts = 0;
  readonly timeline: PodTimeline;
  /** The Pod's own address and its app's port, once it has them (given back once it stopped). */
  lease: PodLease | undefined;
  /**
   * `<Pod address>:<port>` of the queue-proxy's serving and stats endpoints, once it started; in an
   * `in-process` Pod, the app's own port and stats port, once the app answered a probe.
   */
  servingAddress: string | undefined;
  statsAddress: string | undefined;
  private app: Child | undefined;
  private queueProxy: Child | undefined;
  /** Where the readiness probes go: the queue-proxy once it started, or the in-process app's port. */
  private probeAddress: string | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private startTimer: NodeJS.Timeout | undefined;
  private stopping: Promise<void> | undefined;

  constructor(
    readonly name: string,
    readonly revision: RevisionConfig,
    private readonly settings: PodSettings,
    private readonly onChange: (pod: Pod) => void,
  ) {
    this.timeline = { spawnedAt: Date.now() };
  }

  /** Its containers, each with a log file `<Pod>.<container>.log`. */
  get containers(): readonly ContainerName[] {
    return this.revision.queueProxy === 'in-process' ? ['app'] : ['app', 'queue-proxy'];
  }

  /**
   * Why the Pod is not serving, in a few words: its failure, or the readiness probe failing on a Pod that
   * was ready (a Pod still starting fails its probes until its app listens, which is no fault); undefined
   * when nothing is wrong.
   */
  get reason(): string | undefined {
    if (this.failure !== undefined) return this.failure;
    if (this.probeFailures > 0 && this.phase === 'unready')
      return `readiness probe failing (${this.probeFailures} in a row, last: ${this.lastProbeFailure})`;
    return undefined;
  }

  /** Starts both processes; the Pod then moves on by itself (ready, or failed). */
  async start(): Promise<void> {
    const rev = this.revision;
    let lease: PodLease;
    try {
      lease = await this.settings.network.acquire({ statsPort: rev.queueProxy === 'in-process' });
    } catch (err) {
      this.fail(`no address for the Pod: ${(err as Error).message}`);
      return;
    }
    if (this.phase !== 'starting') {
      this.settings.network.release(lease);
      return;
    }
    this.lease = lease;
    const { address, appPort } = lease;
    const inProcess = rev.queueProxy === 'in-process';
    this.startTimer = setTimeout(() => void this.startTimedOut(), this.settings.startTimeoutMs);
    const contract = inProcess ? podInProcessEnv(this.name, rev, lease, this.settings.drainSeconds) : {};
    this.app = new Child({
      // `node` means the Node that runs the platform, whatever PATH finds first.
      argv: rev.command[0] === 'node' ? [process.execPath, ...rev.command.slice(1)] : rev.command,
      cwd: rev.cwd,
      env: {
        ...process.env,
        // The contract's settings; a variable the service's `env` sets itself wins, as on Kubernetes.
        ...contract,
        ...rev.env,
        // The Pod's own address and port; an app may also listen on all interfaces.
        HOST: address,
        PORT: String(appPort),
        K_SERVICE: rev.service,
        K_CONFIGURATION: rev.service,
        K_REVISION: rev.name,
        // Where the platform scrapes an in-process app's stats: not the service's to move.
        ...pick(contract, PLATFORM_WIRED_ENV),
      },
      logFile: join(this.settings.logDir, `${this.name}.app.log`),
      onLine: (line) => {
        if (this.timeline.appListeningAt === undefined && line.includes('"listening"'))
          this.timeline.appListeningAt = Date.now();
      },
    });
    this.app.exited.then((exit) => this.processExited('app', exit));
    if (inProcess) {
      // No queue-proxy to wait for: the app's own port answers the kubelet's probe once it listens.
      this.probeAddress = `${address}:${appPort}`;
      void this.probe();
      return;
    }
    this.queueProxy = new Child({
      argv: [process.execPath, ...QUEUE_PROXY_NODE_FLAGS, QUEUE_PROXY_MAIN],
      env: { ...process.env, ...podQueueProxyEnv(this.name, rev, lease, this.settings.drainSeconds) },
      logFile: join(this.settings.logDir, `${this.name}.queue-proxy.log`),
      onLine: (line) => this.queueProxyLine(line),
    });
    this.queueProxy.exited.then((exit) => this.processExited('queue-proxy', exit));
  }

  /**
   * Drains the queue-proxy, then stops the app; resolves once both exited. An `in-process` app gets the
   * SIGTERM first and drains itself.
   */
  stop(): Promise<void> {
    if (!this.stopping) {
      this.stopping = this.drainAndStop();
    }
    return this.stopping;
  }

  private async drainAndStop(): Promise<void> {
    const failed = this.phase === 'failed';
    if (!failed) this.setPhase('stopping');
    this.clearTimers();
    // As the kubelet stops a Pod: SIGTERM, and SIGKILL once the termination grace period is over. The
    // queue-proxy drains, keeps requests and websockets in flight running until they end or the grace
    // period nearly is, and exits; then the app gets what is left of it (at least the kubelet's 2 s).
    const graceMs = this.revision.terminationGracePeriodSeconds * 1000;
    const killAt = Date.now() + graceMs;
    await this.queueProxy?.stop(graceMs);
    await this.app?.stop(Math.max(MIN_STOP_GRACE_MS, killAt - Date.now()));
    // Both processes are gone: the address and port may go to a later Pod.
    if (this.lease) this.settings.network.release(this.lease);
    if (!failed) this.setPhase('stopped');
  }

  /** Fails a Pod not ready in time, naming the likely cause when the app listens on 127.0.0.1 only. */
  private async startTimedOut(): Promise<void> {
    let reason = `not ready within ${this.settings.startTimeoutMs / 1000} s`;
    if (this.lastProbeFailure !== undefined) reason += ` (last readiness probe: ${this.lastProbeFailure})`;
    const lease = this.lease;
    if (lease && this.phase === 'starting' && (await accepts('127.0.0.1', lease.appPort))) {
      reason += `: the app listens on 127.0.0.1:${lease.appPort}, not on its Pod's address ${lease.address}; bind the address in HOST (or all interfaces)`;
    }
    this.fail(reason);
  }

  private queueProxyLine(line: string): void {
    if (this.servingAddress !== undefined || !line.includes('"msg":"started"')) return;
    let ports: { serving?: number; stats?: number } | undefined;
    try {
      ports = (JSON.parse(line) as { ports?: { serving?: number; stats?: number } }).ports;
    } catch {
      return;
    }
    if (!ports?.serving || !ports.stats) return;
    this.timeline.queueProxyStartedAt = Date.now();
    const address = this.lease?.address ?? '127.0.0.1';
    this.servingAddress = `${address}:${ports.serving}`;
    this.statsAddress = `${address}:${ports.stats}`;
    this.probeAddress = this.servingAddress;
    this.onChange(this);
    void this.probe();
  }

  /** Sends one kubelet-style readiness probe, moves the phase on its answer, and schedules the next. */
  private async probe(): Promise<void> {
    this.probeTimer = undefined;
    if (!this.probeAddress || !this.isLive()) return;
    // While the Pod starts, a queue-proxy polls the app itself for up to 10 s before answering, so one
    // call covers a whole start; once ready, the kubelet waits the app probe's timeout (default 1 s).
    const timeoutSeconds = this.revision.readinessProbe?.timeoutSeconds ?? 1;
    const status = await probeQueueProxy(
      this.probeAddress,
      this.settings.dispatcher,
      this.phase === 'starting' ? STARTING_PROBE_TIMEOUT_MS : timeoutSeconds * 1000,
    );
    if (!this.isLive()) return;
    if (status !== undefined && this.servingAddress === undefined && this.lease?.statsPort !== undefined) {
      // An in-process app answered: it listens, so it may be routed to and its stats scraped.
      this.servingAddress = this.probeAddress;
      this.statsAddress = `${this.lease.address}:${this.lease.statsPort}`;
      this.onChange(this);
    }
    const ok = status === 200;
    if (ok) this.probeFailures = 0;
    else {
      this.probeFailures++;
      this.lastProbeFailure = status === undefined ? 'no answer' : `status ${status}`;
    }
    // As the kubelet probes a queue-proxy with the app probe's timing (Knative hands it over): a ready Pod
    // leaves rotation after `failureThreshold` failures in a row, probed every `periodSeconds`.
    const probe = this.revision.readinessProbe;
    if (ok && this.phase !== 'ready') {
      if (this.timeline.readyAt === undefined) this.timeline.readyAt = Date.now();
      clearTimeout(this.startTimer);
      this.setPhase('ready');
    } else if (!ok && this.phase === 'ready' && this.probeFailures >= (probe?.failureThreshold ?? 1)) {
      this.setPhase('unready');
    }
    // A periodic probe is answered once per kubelet probe, so a starting Pod waits out its period too.
    const pause = probe?.periodSeconds
      ? probe.periodSeconds * 1000
      : this.phase === 'starting'
        ? 10
        : this.settings.probePeriodMs;
    this.probeTimer = setTimeout(() => void this.probe(), pause);
  }

  private isLive(): boolean {
    return this.phase === 'starting' || this.phase === 'ready' || this.phase === 'unready';
  }

  private processExited(which: ContainerName, exit: ChildExit): void {
    if (!this.isLive()) return;
    const how = exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
    this.exit = { container: which, code: exit.code, signal: exit.signal };
    this.fail(`${which} exited (${how})`);
  }

  /** Marks the Pod failed and stops what still runs. */
  private fail(reason: string): void {
    if (!this.isLive()) return;
    this.failure = reason;
    this.setPhase('failed');
    void this.stop();
  }

  private clearTimers(): void {
    clearTimeout(this.probeTimer);
    clearTimeout(this.startTimer);
    this.probeTimer = undefined;
  }

  private setPhase(phase: PodPhase): void {
    if (this.phase === phase) return;
    this.phase = phase;
    if (phase === 'stopped' || phase === 'failed') this.timeline.endedAt = Date.now();
    this.onChange(this);
  }
}

/** The queue-proxy's environment, as Knative's revision reconciler sets it (docs/queue-proxy.md §2.1). */
function podQueueProxyEnv(
  pod: string,
  rev: RevisionConfig,
  { address, appPort }: PodLease,
  drainSeconds: number,
): Record<string, string> {
  // Every listener on the Pod's own address, on ports the kernel picks there: nothing else can hold them.
  return queueProxyEnv({
    revision: { name: rev.name, configuration: rev.service, service: rev.service },
    pod: { namespace: rev.namespace, name: pod, ip: address },
    containerConcurrency: rev.containerConcurrency,
    userPort: appPort,
    userHost: address,
    ports: { serving: 0, tls: 8112, admin: 0, stats: 0, metrics: 0 },
    bindAddress: address,
    timeouts: {
      revisionSeconds: rev.timeoutSeconds,
      responseStartSeconds: rev.responseStartTimeoutSeconds,
      idleSeconds: rev.idleTimeoutSeconds,
    },
    readinessProbe: servingReadinessProbe(rev.readinessProbe, address, appPort),
    // The revision's `zerogate.dev/server-timing: "false"` turns the queue-proxy's Server-Timing off too.
    serverTiming: queueProxyServerTiming(rev.annotations),
    logging: { level: 'info' },
    drain: { quietSeconds: drainSeconds, terminationGraceSeconds: rev.terminationGracePeriodSeconds },
    tracing: rev.tracing,
  });
}

/**
 * The in-process app's variables the platform itself relies on: it registers `QUEUE_BIND_ADDRESS`:
 * `QUEUE_STATS_PORT` with the autoscaler, so a service's `env` does not override them (as `HOST` and `PORT`).
 */
const PLATFORM_WIRED_ENV: readonly string[] = [QUEUE_PROXY_ENV.bindAddress, QUEUE_PROXY_ENV.statsPort];

function pick(env: Readonly<Record<string, string>>, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) if (env[name] !== undefined) out[name] = env[name];
  return out;
}

/**
 * The environment of an app that carries the queue-proxy's contract itself (`@zerogate/in-process`):
 * the variables it shares with the queue-proxy, by the queue-proxy's own builder, as Knative's revision
 * reconciler sets them, with its side listeners on the Pod's address. The stats port is the one leased for
 * it, so the platform can register it with the autoscaler; the admin and metrics ports are the kernel's
 * pick, as nothing here calls them.
 */
export function podInProcessEnv(
  pod: string,
  rev: RevisionConfig,
  { address, appPort, statsPort }: PodLease,
  drainSeconds: number,
): Record<string, string> {
  if (statsPort === undefined) throw new TypeError('podInProcessEnv: the lease has no stats port');
  const env = inProcessEnv({
    revision: { name: rev.name, configuration: rev.service, service: rev.service },
    pod: { namespace: rev.namespace, name: pod, ip: address },
    containerConcurrency: rev.containerConcurrency,
    ports: { admin: 0, stats: statsPort, metrics: 0 },
    bindAddress: address,
    timeouts: {
      revisionSeconds: rev.timeoutSeconds,
      responseStartSeconds: rev.responseStartTimeoutSeconds,
      idleSeconds: rev.idleTimeoutSeconds,
    },
    logging: { level: 'info' },
    drain: { quietSeconds: drainSeconds },
    serverTiming: queueProxyServerTiming(rev.annotations),
  });
  // The contract's builder leaves the sidecar's probe out; the app is given its revision's all the same,
  // pointed at its own port, for an app that reads it.
  env[QUEUE_PROXY_ENV.readinessProbe] = JSON.stringify(
    servingReadinessProbe(rev.readinessProbe, address, appPort),
  );
  return env;
}

/**
 * The `SERVING_READINESS_PROBE` of a revision's Pod: its `readinessProbe` as Knative's revision reconciler
 * rewrites a container's (`queue.go` applyReadinessProbeDefaults, as the injector does): the host the
 * Pod's address (the app's loopback on Kubernetes), the port the app's unless the probe names one, scheme
 * HTTP, `successThreshold` 1 unless set, and a periodic probe's timeout at least 1 s. Without one, Knative's
 * default: a TCP probe of the app's port, run aggressively. A gRPC action has no host (corev1's), so the
 * queue-proxy dials it on 127.0.0.1.
 */
export function servingReadinessProbe(
  probe: ReadinessProbe | undefined,
  address: string,
  appPort: number,
): Record<string, unknown> {
  if (probe === undefined) return { tcpSocket: { port: appPort, host: address } };
  const out: Record<string, unknown> = {};
  if (probe.httpGet) {
    const { path, port, httpHeaders } = probe.httpGet;
    out['httpGet'] = {
      path,
      port: port ?? appPort,
      host: address,
      scheme: 'HTTP',
      ...(httpHeaders?.length
        ? { httpHeaders: httpHeaders.map(({ name, value }) => ({ name, value })) }
        : {}),
    };
  } else if (probe.grpc) {
    out['grpc'] = { port: probe.grpc.port ?? appPort, service: probe.grpc.service ?? '' };
  } else {
    out['tcpSocket'] = { port: probe.tcpSocket?.port ?? appPort, host: address };
  }
  const period = probe.periodSeconds ?? 0;
  const timeout = period > 0 ? Math.max(probe.timeoutSeconds ?? 0, 1) : probe.timeoutSeconds;
  if (timeout) out['timeoutSeconds'] = timeout;
  if (period) out['periodSeconds'] = period;
  out['successThreshold'] = probe.successThreshold ?? 1;
  if (probe.failureThreshold) out['failureThreshold'] = probe.failureThreshold;
  return out;
}

/**
 * Sends the kubelet's readiness probe and returns the status of the answer, undefined when none came
 * within `timeoutMs`. An in-process app answers at once once it listens.
 */
async function probeQueueProxy(
  address: string,
  dispatcher: Dispatcher,
  timeoutMs: number,
): Promise<number | undefined> {
  try {
    const res = await request(`http://${address}/`, {
      headers: KUBELET_PROBE_HEADERS,
      dispatcher,
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.body.dump();
    return res.statusCode;
  } catch {
    return undefined;
  }
}

/** Whether something accepts TCP connections on `host:port` now. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 1000 });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}
