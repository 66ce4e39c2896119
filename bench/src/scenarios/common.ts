/**
 * What the proxy scenarios share: the tunables of start-up and readiness, the headers the kubelet
 * and Knative's ingress send, the environment of a queue-proxy and of an activator as Knative would
 * set it, and starting those processes pinned to their CPUs.
 */
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ACTIVATOR_NODE_FLAGS } from '@zerogate/activator/node-flags';
import { sleep } from '@zerogate/core';
import { queueProxyEnv as buildQueueProxyEnv, QUEUE_PROXY_NODE_FLAGS } from '@zerogate/queue-proxy/env';
import { pinned } from '../pinning.js';
import { freePorts } from '../ports.js';
import { BackgroundLoad, idleRssKiB, ProcessSampler, type ProcessUsage } from '../process-sampler.js';
import { DISTURBED_PERCENT, DISTURBED_RETRIES, type Disturbable, quietestRun } from '../quiet-run.js';
import { coreUtilisation, cpuSecondsPer10k, mebibytes } from '../ratios.js';
import { waitUntilReady } from '../readiness.js';
import type { RunSettings, ScenarioContext } from '../scenario.js';
import type { ManagedProcess } from '../supervisor.js';
import { fixed, signed, type Table } from '../table.js';

/** Where the queue-proxy's built entry point lives, relative to the repository root. */
export const QUEUE_PROXY_ENTRY = 'packages/queue-proxy/dist/main.js';

/** The command line of our queue-proxy as it ships: Node, its flags, its entry point under `repoRoot`. */
export function queueProxyArgv(repoRoot: string): string[] {
  return [process.execPath, ...QUEUE_PROXY_NODE_FLAGS, join(repoRoot, QUEUE_PROXY_ENTRY)];
}

/** Where the activator's built entry point lives, relative to the repository root. */
export const ACTIVATOR_ENTRY = 'packages/activator/dist/main.js';

/** The command line of our activator as it ships: Node, its flags, its entry point under `repoRoot`. */
export function activatorArgv(repoRoot: string): string[] {
  return [process.execPath, ...ACTIVATOR_NODE_FLAGS, join(repoRoot, ACTIVATOR_ENTRY)];
}

/** Start-up: poll this often, give up after this long (a process that cannot start in 10 s is broken). */
export const READY_INTERVAL_MS = 50;
export const READY_TIMEOUT_MS = 10_000;

/** Pause between ready and the idle memory reading, so start-up garbage has settled. */
export const SETTLE_MS = 500;

/** The kubelet's readiness probe as the queue-proxy recognises it (Knative's `K-Network-Probe: queue`). */
export const KUBE_PROBE_HEADERS = { 'User-Agent': 'kube-probe/1.30', 'K-Network-Probe': 'queue' } as const;

/**
 * The activator answers `K-Network-Probe: activator` with 200 as soon as it listens. Its kubelet
 * health check would not do: it fails until an autoscaler connection was made, and none is here.
 */
export const ACTIVATOR_PROBE_HEADERS = { 'K-Network-Probe': 'activator' } as const;

/** The revision the activator serves, as Knative's ingress names it in the request headers. */
export const NAMESPACE = 'default';
export const REVISION = 'hello-00001';
export const REVISION_HEADERS = {
  'Knative-Serving-Revision': REVISION,
  'Knative-Serving-Namespace': NAMESPACE,
} as const;

/** `n thing(s)`: `count` and `noun`, with an `s` unless the count is 1. */
export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** `n connection(s)`, for titles and progress lines. */
export function connectionsLabel(connections: number): string {
  return plural(connections, 'connection');
}

/** The layout line of a run whose processes are not pinned. */
export const UNPINNED_LAYOUT = 'unpinned: every process may run on any CPU';

/** A table whose first column (the label) is left-aligned and every other one right-aligned. */
export function labelledTable(
  title: string,
  headers: readonly string[],
  rows: readonly (readonly string[])[],
): Table {
  return { title, headers, align: headers.map((_, i) => (i === 0 ? 'left' : 'right')), rows };
}

/** The rate, p50, p99 and added-p50 cells that open every row of a throughput table. */
export function latencyCells(
  rate: number,
  latencyMs: { readonly p50Ms: number; readonly p99Ms: number },
  addedP50Ms: number | undefined,
): string[] {
  return [fixed(rate, 0), fixed(latencyMs.p50Ms, 3), fixed(latencyMs.p99Ms, 3), signed(addedP50Ms, 3)];
}

/** The disturbance-note entries of the runs disturbed by other processes: `<where> (<percent>%)`. */
export function disturbedRuns<T extends Disturbable>(
  runs: readonly T[],
  where: (run: T) => string,
): string[] {
  return runs
    .filter((run) => run.otherCpuPercent > DISTURBED_PERCENT)
    .map((run) => `${where(run)} (${run.otherCpuPercent.toFixed(0)}%)`);
}

/** The time budget of one measured cell: its warm-up and every attempt {@link quietestRun} may make. */
export function cellBudgetSeconds(settings: RunSettings): number {
  return settings.warmupSeconds + (1 + DISTURBED_RETRIES) * (settings.durationSeconds + 2) + 3;
}

/**
 * Measures one cell: announces it as `label`, warms up with `warmUp` (given the warm-up seconds) when a
 * warm-up is set, then keeps the quietest of `measure`'s attempts.
 */
export async function warmThenMeasure<T extends Disturbable>(
  context: ScenarioContext,
  label: string,
  warmUp: (seconds: number) => Promise<unknown>,
  measure: () => Promise<T>,
): Promise<T> {
  const { settings, progress } = context;
  progress(`${label}, warm-up ${settings.warmupSeconds} s, measuring ${settings.durationSeconds} s`);
  if (settings.warmupSeconds > 0) await warmUp(settings.warmupSeconds);
  return quietestRun(measure, progress);
}

/** Resolves after `ms` milliseconds (core's, here for the scenarios). */
export { sleep };

/** The CPU a role is pinned to (0 when unpinned, where it is not used). */
export function cpuOf(settings: RunSettings, role: 'app' | 'proxy'): number {
  return settings.pin.enabled ? settings.pin.roles[role] : 0;
}

/** Throws, with its stderr, when any of the processes has exited. */
export function checkAlive(procs: readonly (ManagedProcess | undefined)[]): void {
  for (const p of procs) {
    if (p !== undefined && p.exitStatus !== undefined) {
      throw new Error(`${p.name} exited (${p.exitStatus}) during the run\n--- stderr ---\n${p.stderr()}`);
    }
  }
}

/** One problem for each built entry point that is missing. */
export function missingBuilds(settings: RunSettings, entries: readonly string[]): string[] {
  return entries
    .filter((entry) => !existsSync(join(settings.repoRoot, entry)))
    .map((entry) => `${entry} does not exist: build it (npm run build)`);
}

/** A process's usage during one measured run. */
export interface ProcessFigures {
  readonly cpuSeconds: number;
  readonly cpuSecondsPer10k: number | undefined;
  /** Percent of one core. */
  readonly coreUtilisation: number | undefined;
  readonly rssLoadedKiB: number;
  /** The anonymous part of the resident memory, at its own highest sample. */
  readonly rssAnonLoadedKiB: number;
  /** The proportional set size at its own highest sample; undefined where the kernel gives none. */
  readonly pssLoadedKiB?: number | undefined;
}

/** A process's usage per `requests` (or calls). */
export function figures(usage: ProcessUsage, requests: number): ProcessFigures {
  return {
    cpuSeconds: usage.cpuSeconds,
    cpuSecondsPer10k: cpuSecondsPer10k(usage.cpuSeconds, requests),
    coreUtilisation: coreUtilisation(usage.cpuSeconds, usage.wallSeconds),
    rssLoadedKiB: usage.maxRssKiB,
    rssAnonLoadedKiB: usage.maxRssAnonKiB,
    pssLoadedKiB: usage.maxPssKiB,
  };
}

/** Polls `url` (with `headers`) until it answers 200, at the start-up interval and timeout. */
export function waitForHttp(
  proc: ManagedProcess,
  url: string,
  headers?: Readonly<Record<string, string>>,
): Promise<void> {
  return waitUntilReady(proc, url, {
    ...(headers === undefined ? {} : { headers }),
    intervalMs: READY_INTERVAL_MS,
    timeoutMs: READY_TIMEOUT_MS,
  });
}

/**
 * Starts a user container (`script`, a Node entry point listening on `PORT`) on the app CPU, with
 * `env` added to its environment (the hello app's crowded mode, for example).
 */
export function startApp(
  context: ScenarioContext,
  name: string,
  script: string,
  port: number,
  env: Readonly<Record<string, string>> = {},
): ManagedProcess {
  const { settings, supervisor } = context;
  return supervisor.start({
    name,
    argv: pinned(settings.pin, cpuOf(settings, 'app'), [process.execPath, script]),
    env: { ...env, PORT: String(port) },
    cwd: settings.repoRoot,
  });
}

/** Ports a queue-proxy instance listens on. */
export interface QueueProxyPorts {
  readonly serving: number;
  readonly tls: number;
  readonly admin: number;
  readonly stats: number;
  readonly metrics: number;
}

/** A TCP readiness probe on the app, the default of {@link queueProxyEnv}. */
export function tcpReadinessProbe(userPort: number): object {
  return { tcpSocket: { port: userPort, host: '127.0.0.1' }, successThreshold: 1 };
}

/**
 * The environment of a queue-proxy in front of the app: every variable Knative's revision reconciler
 * sets (`pkg/reconciler/revision/resources/queue.go`), with the values Knative's default config maps
 * give them, plus Zerogate's own port and bind-address variables, which Knative's queue-proxy ignores.
 * The readiness probe is a TCP probe on the app unless one is given.
 *
 * Two of those defaults matter to Knative's queue-proxy, which reads them through envconfig: without
 * `TRACING_CONFIG_BACKEND=none` it traces every request (an unset backend is not `none`), and with a
 * `SERVING_REQUEST_METRICS_BACKEND` it records request metrics; both queue-proxies run here with no
 * request metrics backend (config-observability's `metrics.request-metrics-backend-destination` set
 * to none), so neither records per-request metrics and what is measured is the proxy itself.
 */
export function queueProxyEnv(
  cc: number,
  userPort: number,
  ports: QueueProxyPorts,
  readinessProbe: object = tcpReadinessProbe(userPort),
): Record<string, string> {
  return buildQueueProxyEnv({
    revision: { name: 'hello-00001', configuration: 'hello', service: 'hello' },
    pod: { namespace: 'bench', name: 'hello-00001-pod', ip: '127.0.0.1' },
    containerConcurrency: cc,
    userPort,
    ports,
    bindAddress: '127.0.0.1',
    timeouts: { revisionSeconds: 300, responseStartSeconds: 0, idleSeconds: 0 },
    readinessProbe,
    multiContainerProbes: false,
    http2AutoDetection: false,
    logging: { level: 'info' },
    // Knative ≤ 1.18's variables, which the Knative queue-proxy the bench compares with reads.
    observability: {
      form: 'serving-variables',
      requestMetrics: false,
      requestLog: false,
      probeRequestLog: false,
    },
    systemNamespace: 'knative-serving',
    knativeOnly: { hostIp: '127.0.0.1' },
  });
}

/** How to start a proxy in front of the app. */
export interface ProxySpec {
  readonly name: string;
  /** The command; our queue-proxy's built entry point unless given. */
  readonly argv?: readonly string[];
  /** The proxy's environment, given its ports; {@link queueProxyEnv} at CC=0 unless given. */
  readonly env?: (ports: QueueProxyPorts) => Record<string, string>;
}

/** A started proxy and its serving port. */
export interface StartedProxy {
  readonly proc: ManagedProcess;
  readonly port: number;
  /** `http://127.0.0.1:<port>/`. */
  readonly url: string;
}

/**
 * Starts a proxy in front of the app on the proxy CPU, on fresh ports, without waiting for it (see
 * {@link waitForQueueProxy}).
 */
export async function startProxy(
  context: ScenarioContext,
  userPort: number,
  spec: ProxySpec,
): Promise<StartedProxy> {
  const { settings, supervisor } = context;
  const [serving, tls, admin, stats, metrics] = (await freePorts(5)) as [
    number,
    number,
    number,
    number,
    number,
  ];
  const ports = { serving, tls, admin, stats, metrics };
  const argv = spec.argv ?? queueProxyArgv(settings.repoRoot);
  const proc = supervisor.start({
    name: spec.name,
    argv: pinned(settings.pin, cpuOf(settings, 'proxy'), argv),
    env: spec.env === undefined ? queueProxyEnv(0, userPort, ports) : spec.env(ports),
    cwd: settings.repoRoot,
  });
  return { proc, port: serving, url: `http://127.0.0.1:${serving}/` };
}

/** Polls a queue-proxy with the kubelet's probe until it answers 200, i.e. it and the app are ready. */
export function waitForQueueProxy(proxy: StartedProxy, intervalMs = READY_INTERVAL_MS): Promise<void> {
  return waitUntilReady(proxy.proc, proxy.url, {
    headers: KUBE_PROBE_HEADERS,
    intervalMs,
    timeoutMs: READY_TIMEOUT_MS,
  });
}

/** One Pod address in the endpoints document. */
export interface PodEndpoint {
  /** `host:port` of the Pod's queue-proxy. */
  readonly address: string;
  /** Kubernetes' readiness; a Pod not ready yet is probed by the activator itself. */
  readonly ready: boolean;
}

/** One revision of the endpoints document. */
export interface RevisionEntry {
  /** The revision's name, in {@link NAMESPACE}. */
  readonly name: string;
  readonly endpoints: readonly PodEndpoint[];
  /** `containerConcurrency`; 0 (unlimited) unless given. */
  readonly containerConcurrency?: number;
  /** The revision's `zerogate.dev/` annotations (docs/activator.md §3.9), written only when given. */
  readonly annotations?: Readonly<Record<string, string>>;
}

/**
 * The endpoints document of the activator's `file` source with several revisions, each with a
 * timeout of 300 s, its Pods and, when given, its annotations.
 */
export function revisionsDocument(revisions: readonly RevisionEntry[]): string {
  return JSON.stringify({
    revisions: revisions.map(({ name, endpoints, containerConcurrency, annotations }) => ({
      namespace: NAMESPACE,
      name,
      containerConcurrency: containerConcurrency ?? 0,
      timeoutSeconds: 300,
      endpoints: endpoints.map(({ address, ready }) => ({ address, ready })),
      ...(annotations === undefined ? {} : { annotations: { ...annotations } }),
    })),
  });
}

/**
 * The endpoints document of the activator's `file` source: the one benchmark revision, CC=0, with
 * the given Pods.
 */
export function endpointsDocument(endpoints: readonly PodEndpoint[]): string {
  return revisionsDocument([{ name: REVISION, endpoints }]);
}

/**
 * Writes an endpoints document atomically (a temporary file renamed over it), so the activator,
 * which re-reads the file when its folder changes, never sees half a document.
 */
function writeAtomically(path: string, document: string): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, document);
  renameSync(tmp, path);
}

/** Writes the endpoints document of the one benchmark revision with the given Pods, atomically. */
export function writeEndpointsFile(path: string, endpoints: readonly PodEndpoint[]): void {
  writeAtomically(path, endpointsDocument(endpoints));
}

/** Writes the endpoints document of several revisions ({@link revisionsDocument}), atomically. */
export function writeRevisionsFile(path: string, revisions: readonly RevisionEntry[]): void {
  writeAtomically(path, revisionsDocument(revisions));
}

/** Ports of an activator instance. */
export interface ActivatorPorts {
  readonly http: number;
  readonly metrics: number;
  /** A port nothing listens on: the activator logs the failed connection and retries with backoff. */
  readonly autoscaler: number;
}

/** The environment of an activator reading its revisions from `endpointsFile`. */
export function activatorEnv(ports: ActivatorPorts, endpointsFile: string): Record<string, string> {
  return {
    POD_NAME: 'activator-bench',
    POD_IP: '127.0.0.1',
    ACTIVATOR_BIND_ADDRESS: '127.0.0.1',
    ACTIVATOR_HTTP_PORT: String(ports.http),
    // Any free port: the scenarios speak h2c to the HTTP port, and a fixed 8013 clashes with others.
    ACTIVATOR_H2C_PORT: '0',
    ACTIVATOR_METRICS_PORT: String(ports.metrics),
    ACTIVATOR_ENDPOINTS_SOURCE: 'file',
    ACTIVATOR_ENDPOINTS_FILE: endpointsFile,
    AUTOSCALER_URL: `ws://127.0.0.1:${ports.autoscaler}`,
    ACTIVATOR_DRAIN_SECONDS: '0',
  };
}

/** A running activator and where to reach it. */
export interface RunningActivator {
  readonly proc: ManagedProcess;
  readonly port: number;
  /** `http://127.0.0.1:<port>/`. */
  readonly url: string;
  readonly metricsUrl: string;
}

/**
 * Starts the activator on the proxy CPU, with `env` over {@link activatorEnv} (its held-request caps,
 * for example), and waits until it listens.
 */
export async function startActivator(
  context: ScenarioContext,
  endpointsFile: string,
  env: Readonly<Record<string, string>> = {},
): Promise<RunningActivator> {
  const { settings, supervisor } = context;
  const [http, metrics, autoscaler] = (await freePorts(3)) as [number, number, number];
  const proc = supervisor.start({
    name: 'activator',
    argv: pinned(settings.pin, cpuOf(settings, 'proxy'), activatorArgv(settings.repoRoot)),
    env: { ...activatorEnv({ http, metrics, autoscaler }, endpointsFile), ...env },
    cwd: settings.repoRoot,
  });
  const url = `http://127.0.0.1:${http}/`;
  await waitForHttp(proc, url, ACTIVATOR_PROBE_HEADERS);
  return { proc, port: http, url, metricsUrl: `http://127.0.0.1:${metrics}/metrics` };
}

/** Both proxies' memory once started and settled, KiB. */
export interface IdleRss {
  readonly activator: number;
  readonly queueProxy: number;
}

/** The setup line of {@link IdleRss}. */
export function idleRssLine(idle: IdleRss): [string, string] {
  return [
    'Idle RSS',
    `activator ${fixed(mebibytes(idle.activator), 1)} MiB, queue-proxy ${fixed(mebibytes(idle.queueProxy), 1)} MiB`,
  ];
}

/**
 * Starts the activator with `queueProxy` as the revision's one ready Pod (pushing it onto `started`),
 * waits until `reachThrough` got an answer all the way through it, so the Pod is known and reachable
 * before any load, lets start-up settle, and reads both proxies' idle memory.
 */
export async function startActivatorInFront(
  context: ScenarioContext,
  endpointsFile: string,
  queueProxy: StartedProxy,
  started: ManagedProcess[],
  reachThrough: (activator: RunningActivator) => Promise<void>,
): Promise<{ readonly activator: RunningActivator; readonly rssIdleKiB: IdleRss }> {
  writeEndpointsFile(endpointsFile, [{ address: `127.0.0.1:${queueProxy.port}`, ready: true }]);
  context.progress('starting the activator with the queue-proxy as the revision’s one ready Pod');
  const activator = await startActivator(context, endpointsFile);
  started.push(activator.proc);
  await reachThrough(activator);
  await sleep(SETTLE_MS);
  const rssIdleKiB = {
    activator: idleRssKiB(activator.proc.pid),
    queueProxy: idleRssKiB(queueProxy.proc.pid),
  };
  return { activator, rssIdleKiB };
}

/** The long-running processes of a scenario with the activator in front of a queue-proxy. */
export interface PodProcesses {
  readonly app: ManagedProcess;
  readonly queueProxy: ManagedProcess;
  readonly activator: ManagedProcess;
  /** Other queue-proxies in front of the same app (`--compare`), idle unless their path is measured. */
  readonly compared?: readonly ManagedProcess[];
}

/** One measured load run with every process of {@link PodProcesses} sampled around it. */
export interface SampledRun<L> {
  readonly load: L;
  /** Idle unless the path goes through it; sampled anyway, so its CPU is not counted as another process's. */
  readonly activator: ProcessFigures;
  readonly queueProxy: ProcessFigures;
  /** The app's own usage, for reference. */
  readonly app: ProcessFigures;
  /** Each of {@link PodProcesses.compared}, in order; present only when there are any. */
  readonly compared?: readonly ProcessFigures[];
  /** CPU used by processes outside the benchmark during the run, percent of one core. */
  readonly otherCpuPercent: number;
}

/**
 * Runs `load` with the activator, queue-proxy and app sampled around it, and checks they all lived
 * through it; `served` counts the load's answered requests (or calls), the unit of CPU per 10k.
 */
export async function sampledRun<L>(
  procs: PodProcesses,
  load: () => Promise<L>,
  served: (load: L) => number,
): Promise<SampledRun<L>> {
  const activator = new ProcessSampler(procs.activator.pid);
  const queueProxy = new ProcessSampler(procs.queueProxy.pid);
  const app = new ProcessSampler(procs.app.pid);
  const compared = (procs.compared ?? []).map((proc) => new ProcessSampler(proc.pid));
  const background = new BackgroundLoad();
  for (const sampler of [activator, queueProxy, app, ...compared]) sampler.start();
  background.start();
  const result = await load();
  const usage = { activator: activator.stop(), queueProxy: queueProxy.stop(), app: app.stop() };
  const comparedUsage = compared.map((sampler) => sampler.stop());
  const otherCpuPercent = background.stop(
    usage.activator.cpuSeconds +
      usage.queueProxy.cpuSeconds +
      usage.app.cpuSeconds +
      comparedUsage.reduce((sum, u) => sum + u.cpuSeconds, 0),
  );
  checkAlive([procs.activator, procs.queueProxy, procs.app, ...(procs.compared ?? [])]);
  const count = served(result);
  return {
    load: result,
    activator: figures(usage.activator, count),
    queueProxy: figures(usage.queueProxy, count),
    app: figures(usage.app, count),
    ...(comparedUsage.length === 0 ? {} : { compared: comparedUsage.map((u) => figures(u, count)) }),
    otherCpuPercent,
  };
}
