/**
 * Components started on their own, for the scenarios that aim at one component rather than the whole
 * platform: the chaos app with a queue-proxy in front (as the `queue-proxy` benchmark starts them), and
 * an activator reading its revisions from a file (as the `activator` benchmark starts it), with the
 * settings a scenario needs on top.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { httpGet } from '../http-get.js';
import { freePort, freePorts } from '../ports.js';
import {
  ACTIVATOR_PROBE_HEADERS,
  activatorArgv,
  activatorEnv,
  type PodEndpoint,
  queueProxyArgv,
  queueProxyEnv,
  REVISION_HEADERS,
  type StartedProxy,
  startApp,
  startProxy,
  waitForHttp,
  waitForQueueProxy,
  writeEndpointsFile,
} from '../scenarios/common.js';
import type { ManagedProcess } from '../supervisor.js';
import { type ChaosContext, RSS_CAPS_KIB } from './chaos-scenario.js';

const CHAOS_APP = fileURLToPath(new URL('./chaos-app.js', import.meta.url));

/** The app's counters (`GET /__chaos/state`, see `chaos-app.ts`). */
export interface AppState {
  readonly requests: number;
  readonly unexpected: number;
  readonly inFlight: number;
  readonly upgrades: number;
  readonly openSockets: number;
  readonly bodyBytes: number;
  /** The app's last unexpected requests, `<url> <X-Chaos-Case>`. */
  readonly unexpectedRequests: readonly string[];
}

/**
 * The argv that runs a Node entry point with its stdout written to `logFile`: `sh -c 'exec node …'`,
 * so the process keeps the shell's pid and its every log line can be counted afterwards (the
 * supervisor keeps only the last few KiB).
 */
function loggedArgv(argv: readonly string[], logFile: string): string[] {
  const quote = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;
  return ['sh', '-c', `exec ${argv.map(quote).join(' ')} > ${quote(logFile)}`];
}

/** Lines in a log file written by a component started here; 0 if it does not exist. */
export function countLogLines(logFile: string): number {
  try {
    return readFileSync(logFile, 'utf8')
      .split('\n')
      .filter((line) => line !== '').length;
  } catch {
    return 0;
  }
}

/** The chaos app and a queue-proxy in front of it. */
export interface StandalonePod {
  readonly app: ManagedProcess;
  readonly appPort: number;
  readonly queueProxy: StartedProxy;
  /** `http://127.0.0.1:<queue-proxy port>`. */
  readonly origin: string;
  /** The queue-proxy's log file. */
  readonly logFile: string;
  state(): Promise<AppState>;
  /** Removes the log file's folder. */
  cleanUp(): void;
}

/** Starts the chaos app and a queue-proxy (CC=0 unless `env` says otherwise) and waits until both are ready. */
export async function startPod(
  context: ChaosContext,
  env: Readonly<Record<string, string>> = {},
): Promise<StandalonePod> {
  const appPort = await freePort();
  const app = startApp(context, 'chaos-app', CHAOS_APP, appPort);
  await waitForHttp(app, `http://127.0.0.1:${appPort}/__chaos/state`);
  const dir = mkdtempSync(join(tmpdir(), 'zerogate-chaos-pod-'));
  const logFile = join(dir, 'queue-proxy.log');
  const queueProxy = await startProxy(context, appPort, {
    name: 'queue-proxy',
    argv: loggedArgv(queueProxyArgv(context.settings.repoRoot), logFile),
    env: (ports) => ({ ...queueProxyEnv(0, appPort, ports), ...env }),
  });
  await waitForQueueProxy(queueProxy);
  return {
    app,
    appPort,
    queueProxy,
    origin: `http://127.0.0.1:${queueProxy.port}`,
    logFile,
    state: () => appState(appPort),
    cleanUp: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Reads the chaos app's counters straight from the app. */
export async function appState(appPort: number): Promise<AppState> {
  const answer = await httpGet(`http://127.0.0.1:${appPort}/__chaos/state`, { timeoutMs: 5000 });
  return JSON.parse(answer.body) as AppState;
}

/** An activator reading its revisions from a file of its own. */
export interface StandaloneActivator {
  readonly proc: ManagedProcess;
  readonly port: number;
  /** `http://127.0.0.1:<port>`. */
  readonly origin: string;
  readonly metricsUrl: string;
  readonly endpointsFile: string;
  /** The activator's log file. */
  readonly logFile: string;
  /** Removes the endpoints file's and the log's folder. */
  cleanUp(): void;
}

/**
 * Starts an activator whose one revision (`default/hello-00001`, CC=0) has `endpoints`, with `env` on
 * top of the benchmark's activator environment, and waits until it listens.
 */
export async function startStandaloneActivator(
  context: ChaosContext,
  endpoints: readonly PodEndpoint[],
  env: Readonly<Record<string, string>> = {},
): Promise<StandaloneActivator> {
  const dir = mkdtempSync(join(tmpdir(), 'zerogate-chaos-activator-'));
  const endpointsFile = join(dir, 'endpoints.json');
  const logFile = join(dir, 'activator.log');
  writeEndpointsFile(endpointsFile, endpoints);
  const [http, metrics, autoscaler] = (await freePorts(3)) as [number, number, number];
  const proc = context.supervisor.start({
    name: 'activator',
    argv: loggedArgv(activatorArgv(context.settings.repoRoot), logFile),
    env: { ...activatorEnv({ http, metrics, autoscaler }, endpointsFile), ...env },
    cwd: context.settings.repoRoot,
  });
  const origin = `http://127.0.0.1:${http}`;
  await waitForHttp(proc, `${origin}/`, ACTIVATOR_PROBE_HEADERS);
  return {
    proc,
    port: http,
    origin,
    metricsUrl: `http://127.0.0.1:${metrics}/metrics`,
    endpointsFile,
    logFile,
    cleanUp: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The value of the first sample of `metric` in a Prometheus text page, or undefined. */
export function metricValue(page: string, metric: string): number | undefined {
  const match = new RegExp(`^${metric}(?:\\{[^}]*\\})?\\s+(\\S+)`, 'm').exec(page);
  return match ? Number(match[1]) : undefined;
}

/** A component raw requests go to: the queue-proxy itself, or the activator in front of it. */
export interface RawTarget {
  readonly name: 'queue-proxy' | 'activator';
  readonly port: number;
  readonly pid: number;
  /** Header lines (each ending CRLF) that route a request to the revision: none for the queue-proxy. */
  readonly routing: string;
  readonly logFile: string;
  /** The component's peak-memory cap, KiB. */
  readonly rssCapKiB: number;
}

/** A Pod with the activator in front of it (its one ready endpoint), both as raw-request targets. */
export interface PodBehindActivator {
  readonly pod: StandalonePod;
  readonly activator: StandaloneActivator;
  /** The queue-proxy, then the activator. */
  readonly targets: readonly RawTarget[];
  cleanUp(): void;
}

/** Starts the chaos app's Pod and an activator whose revision has that Pod ready. */
export async function startPodBehindActivator(context: ChaosContext): Promise<PodBehindActivator> {
  const pod = await startPod(context);
  const activator = await startStandaloneActivator(context, [
    { address: `127.0.0.1:${pod.queueProxy.port}`, ready: true },
  ]);
  const routing = Object.entries(REVISION_HEADERS)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  return {
    pod,
    activator,
    targets: [
      {
        name: 'queue-proxy',
        port: pod.queueProxy.port,
        pid: pod.queueProxy.proc.pid,
        routing: '',
        logFile: pod.logFile,
        rssCapKiB: RSS_CAPS_KIB['queue-proxy'],
      },
      {
        name: 'activator',
        port: activator.port,
        pid: activator.proc.pid,
        routing,
        logFile: activator.logFile,
        rssCapKiB: RSS_CAPS_KIB.activator,
      },
    ],
    cleanUp() {
      activator.cleanUp();
      pod.cleanUp();
    },
  };
}
