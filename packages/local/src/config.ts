/**
 * The platform's configuration file (`zerogate.yaml`): read and validated once, every problem named by
 * file, line, key and reason. Values the autoscaler reads (cluster defaults, annotations) are checked
 * with the autoscaler's own parsers, so a bad one fails here rather than in a child process.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import {
  CLUSTER_KEYS,
  loadConfig as loadAutoscalerConfig,
  resolveRevisionAutoscaling,
} from '@zerogate/autoscaler/config';
import { ConfigError, SERVER_TIMING_ANNOTATION, serverTimingSetting } from '@zerogate/core';
import type { QueueProxyTracing } from '@zerogate/queue-proxy/env';
import { isMap, isSeq, LineCounter, type Node, parseDocument } from 'yaml';

/** One revision of a service: what runs and how it is reached. */
export interface RevisionConfig {
  readonly namespace: string;
  readonly service: string;
  readonly name: string;
  /** argv of the user app; a single string runs through `/bin/sh -c` (see {@link shellCommand}). */
  readonly command: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** Directory the app runs in: the config file's. */
  readonly cwd: string;
  readonly containerConcurrency: number;
  readonly timeoutSeconds: number;
  readonly responseStartTimeoutSeconds: number;
  readonly idleTimeoutSeconds: number;
  /**
   * How long a Pod being stopped may take before it is killed (Kubernetes' `terminationGracePeriodSeconds`,
   * which Knative sets to the revision's `timeoutSeconds`, the default here too): requests and websockets
   * still open on it run until they end or this is nearly over.
   */
  readonly terminationGracePeriodSeconds: number;
  readonly annotations: Readonly<Record<string, string>>;
  /** Share of the service's untagged traffic, 0–100. */
  readonly traffic: number;
  /** Routes `<tag>-<service>.<namespace>.localhost` to this revision alone. */
  readonly tag: string | undefined;
  /** What carries the queue-proxy's contract in its Pods (see {@link QueueProxyMode}). */
  readonly queueProxy: QueueProxyMode;
  /** The platform's `tracing` block, which its queue-proxies are given (left out: tracing off). */
  readonly tracing?: QueueProxyTracing;
  /**
   * The app's readiness probe, as a Knative Service's container declares it; left out, Knative's
   * default: a TCP probe of the app's port, polled aggressively while the Pod starts.
   */
  readonly readinessProbe?: ReadinessProbe;
}

/**
 * A revision's `readinessProbe`: the part of Kubernetes' corev1.Probe the queue-proxy runs
 * (docs/queue-proxy.md §4.2), exactly one of `httpGet`, `tcpSocket` or `grpc`. No host: the platform probes
 * the Pod's own address, as Knative's reconciler points every probe at the Pod. A port left out is the
 * app's (`PORT`).
 */
export interface ReadinessProbe {
  readonly httpGet?: {
    /** The request target, `/` by default. */
    readonly path: string;
    readonly port?: number;
    readonly httpHeaders?: readonly { readonly name: string; readonly value: string }[];
  };
  readonly tcpSocket?: { readonly port?: number };
  readonly grpc?: {
    readonly port?: number;
    /** The service asked about (`grpc.health.v1`); '' (the default) asks about the server. */
    readonly service?: string;
  };
  /** Seconds between probes; 0 or left out, the queue-proxy polls aggressively (every 50 ms) until ready. */
  readonly periodSeconds?: number;
  /** Timeout of one probe of a periodic probe (at least 1, the queue-proxy's floor). */
  readonly timeoutSeconds?: number;
  /** Passes in a row an aggressive probe needs (default 1). */
  readonly successThreshold?: number;
  /** Failed probes in a row before a ready Pod is taken out of rotation (default 1). */
  readonly failureThreshold?: number;
}

/**
 * Who carries the queue-proxy's contract in a revision's Pods: `sidecar` (the default), a queue-proxy
 * process in front of the app, as Knative runs it; `in-process`, the app itself through
 * `@zerogate/in-process`, so a Pod is the app alone.
 */
export type QueueProxyMode = 'sidecar' | 'in-process';

/** Every value `queueProxy` takes, the default first. */
export const QUEUE_PROXY_MODES: readonly QueueProxyMode[] = ['sidecar', 'in-process'];

/** One service: its revisions, whose traffic shares sum to 100. */
export interface ServiceConfig {
  readonly namespace: string;
  readonly name: string;
  readonly revisions: readonly RevisionConfig[];
}

/** The whole platform. */
export interface PlatformConfig {
  /** Where the file was read from. */
  readonly file: string;
  readonly ingress: { readonly port: number; readonly bindAddress: string };
  /** `AUTOSCALER_<KEY>` variables for the autoscaler process (Knative's `config-autoscaler` keys). */
  readonly autoscalerEnv: Readonly<Record<string, string>>;
  readonly pods: {
    /** Quiet period of a queue-proxy's drain on scale-down (`QUEUE_DRAIN_QUIET_SECONDS`). */
    readonly drainSeconds: number;
    /** A Pod not ready this long after its start is failed and replaced. */
    readonly startTimeoutSeconds: number;
    /** Most Pods over all revisions; undefined = derived from the machine (`machinePodLimit`). */
    readonly maxPods: number | undefined;
  };
  readonly services: readonly ServiceConfig[];
  /**
   * Distributed tracing of the activator and every queue-proxy (docs/tracing.md), from the `tracing`
   * block; left out, off.
   */
  readonly tracing?: QueueProxyTracing;
}

/** Largest `terminationGracePeriodSeconds`: a day (the queue-proxy's bound). */
const MAX_TERMINATION_GRACE_SECONDS = 86_400;

/** Largest `pods.maxPods`: past this the platform's Pod address block (127.B.0.0/16) runs out first. */
export const MAX_PODS = 65_000;

/** Default of `ingress.port`. */
export const DEFAULT_INGRESS_PORT = 8080;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** The annotation that gives browsers the activator's waiting page (docs/activator.md §10.2). */
const WAITING_PAGE_ANNOTATION = 'zerogate.dev/waiting-page';

/** Collects problems with their place in the file. */
class Problems {
  readonly list: string[] = [];
  constructor(
    private readonly file: string,
    private readonly lines: LineCounter,
  ) {}

  add(path: string, node: Node | null | undefined, reason: string): void {
    const at = node?.range ? this.lines.linePos(node.range[0]) : undefined;
    this.list.push(`${this.file}${at ? `:${at.line}` : ''}: ${path}: ${reason}`);
  }
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** A typed view of one mapping of the document, reporting each bad key once. */
class MapReader {
  private readonly value: Record<string, Json>;

  constructor(
    private readonly node: Node | null | undefined,
    private readonly path: string,
    private readonly problems: Problems,
    known: readonly string[],
  ) {
    this.value = {};
    if (node === undefined || node === null) return;
    if (!isMap(node)) {
      problems.add(path, node, 'must be a mapping');
      return;
    }
    this.value = node.toJSON() as Record<string, Json>;
    for (const key of Object.keys(this.value)) {
      if (!known.includes(key)) {
        problems.add(this.at(key), this.child(key), `unknown key (expected one of: ${known.join(', ')})`);
      }
    }
  }

  at(key: string): string {
    return this.path === '' ? key : `${this.path}.${key}`;
  }

  child(key: string): Node | undefined {
    return isMap(this.node) ? (this.node.get(key, true) as Node | undefined) : undefined;
  }

  has(key: string): boolean {
    return this.value[key] !== undefined && this.value[key] !== null;
  }

  raw(key: string): Json | undefined {
    return this.value[key] ?? undefined;
  }

  string(key: string, fallback?: string): string | undefined {
    const v = this.raw(key);
    if (v === undefined) return fallback;
    if (typeof v !== 'string' || v === '') {
      this.problems.add(
        this.at(key),
        this.child(key),
        `must be a non-empty string, got ${JSON.stringify(v)}`,
      );
      return fallback;
    }
    return v;
  }

  name(key: string, fallback?: string): string | undefined {
    const v = this.string(key, fallback);
    if (v !== undefined && v !== fallback && !DNS_LABEL.test(v)) {
      this.problems.add(
        this.at(key),
        this.child(key),
        `must be a DNS label (lower-case letters, digits and '-'), got ${JSON.stringify(v)}`,
      );
    }
    return v;
  }

  int(key: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.raw(key);
    if (v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.problems.add(
        this.at(key),
        this.child(key),
        `must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`,
      );
      return fallback;
    }
    return v;
  }

  /** A mapping of string values (numbers and booleans are taken as their text). */
  strings(key: string): Record<string, string> {
    return this.asStrings(this.raw(key), this.at(key), this.child(key));
  }

  /** This whole mapping as string values. */
  allStrings(): Record<string, string> {
    return this.asStrings(this.value, this.path, this.node ?? undefined);
  }

  private asStrings(v: Json | undefined, path: string, node: Node | undefined): Record<string, string> {
    if (v === undefined) return {};
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      this.problems.add(path, node, 'must be a mapping of names to values');
      return {};
    }
    const out: Record<string, string> = {};
    for (const [k, item] of Object.entries(v)) {
      if (typeof item === 'string' || typeof item === 'number' || typeof item === 'boolean')
        out[k] = String(item);
      else this.problems.add(`${path}.${k}`, node, 'must be a string, number or boolean');
    }
    return out;
  }

  /** One of `values`; anything else is a problem naming them. */
  oneOf<T extends string>(key: string, values: readonly T[], fallback: T): T {
    const v = this.raw(key);
    if (v === undefined) return fallback;
    if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
      this.problems.add(
        this.at(key),
        this.child(key),
        `must be one of ${values.join(', ')}, got ${JSON.stringify(v)}`,
      );
      return fallback;
    }
    return v as T;
  }

  command(key: string): string[] | undefined {
    const v = this.raw(key);
    if (v === undefined) return undefined;
    if (typeof v === 'string' && v.trim() !== '') return shellCommand(v);
    if (Array.isArray(v) && v.length > 0 && v.every((a) => typeof a === 'string') && v[0] !== '') {
      return v as string[];
    }
    this.problems.add(
      this.at(key),
      this.child(key),
      'must be a non-empty string or a list of strings (the program and its arguments)',
    );
    return undefined;
  }
}

/** Characters that make a shell line more than one simple command (lists, pipes, groups, substitutions). */
const COMPOUND = /[;&|(){}!`\n]|\$\(/;
/** A leading `NAME=value` or shell keyword: `exec` in front would break it. */
const NOT_EXECABLE =
  /^\s*(?:[A-Za-z_][A-Za-z0-9_]*=|(?:if|then|else|elif|fi|for|while|until|case|do|done|exec)(?:\s|$))/;

/**
 * The argv that runs a command line as `/bin/sh` would. A single simple command (`node server.mjs
 * --port $PORT`) is exec'ed, so the app is the process the platform signals and waits for. Anything
 * else (`sleep 1; node app.js`, `a && b`, `X=1 node app.js`) runs whole under a shell that stays in
 * front: its SIGTERM handler only runs once the command in the foreground exited, so the shell lives
 * as long as the app, a stop's SIGTERM (sent to the whole process group) reaches the app, and no later
 * command of the line starts after it.
 */
export function shellCommand(line: string): string[] {
  if (!COMPOUND.test(line) && !NOT_EXECABLE.test(line)) return ['/bin/sh', '-c', `exec ${line}`];
  return ['/bin/sh', '-c', `trap 'exit 143' TERM\n${line}`];
}

const SERVICE_KEYS = [
  'name',
  'namespace',
  'command',
  'env',
  'containerConcurrency',
  'timeoutSeconds',
  'responseStartTimeoutSeconds',
  'idleTimeoutSeconds',
  'terminationGracePeriodSeconds',
  'annotations',
  'queueProxy',
  'readinessProbe',
  'revisions',
] as const;
const REVISION_KEYS = [
  ...SERVICE_KEYS.filter((k) => k !== 'namespace' && k !== 'revisions'),
  'traffic',
  'tag',
];

/** Knative's `config-autoscaler` key for each `AUTOSCALER_<KEY>` variable (`stable-window` …). */
const AUTOSCALER_KEYS = new Map(
  Object.values(CLUSTER_KEYS).map(([env]) => [
    env.slice('AUTOSCALER_'.length).toLowerCase().replaceAll('_', '-'),
    env,
  ]),
);

/** Reads and validates `file`; throws a {@link ConfigError} listing every problem. */
export function loadPlatformConfig(file: string): PlatformConfig {
  const path = resolve(file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([
      `${path}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    ]);
  }
  return parsePlatformConfig(text, path);
}

/** Validates the text of a config file read from `file` (used in messages and as the apps' directory). */
export function parsePlatformConfig(text: string, file: string): PlatformConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  const problems = new Problems(file, lines);
  for (const err of doc.errors) {
    const at = lines.linePos(err.pos[0]);
    problems.list.push(`${file}:${at.line}: ${err.message.split('\n')[0]}`);
  }
  if (problems.list.length > 0) throw new ConfigError(problems.list);

  const top = new MapReader(doc.contents as Node | null, '', problems, [
    'ingress',
    'autoscaler',
    'pods',
    'services',
    'tracing',
  ]);
  const ingressReader = new MapReader(top.child('ingress'), 'ingress', problems, ['port', 'bindAddress']);
  const ingress = {
    port: ingressReader.int('port', DEFAULT_INGRESS_PORT, 0, 65535),
    bindAddress: ingressReader.string('bindAddress', '127.0.0.1') ?? '127.0.0.1',
  };
  const podsReader = new MapReader(top.child('pods'), 'pods', problems, [
    'drainSeconds',
    'startTimeoutSeconds',
    'maxPods',
  ]);
  const pods = {
    drainSeconds: podsReader.int('drainSeconds', 1, 0, 3600),
    startTimeoutSeconds: podsReader.int('startTimeoutSeconds', 30, 1, 3600),
    maxPods: podsReader.has('maxPods') ? podsReader.int('maxPods', 1, 1, MAX_PODS) : undefined,
  };
  const autoscalerEnv = readAutoscaler(top, problems);
  const cluster = clusterConfig(autoscalerEnv);

  const services: ServiceConfig[] = [];
  const servicesNode = top.child('services');
  if (!isSeq(servicesNode) || servicesNode.items.length === 0) {
    problems.add('services', servicesNode ?? (doc.contents as Node | null), 'must be a non-empty list');
  } else {
    const seen = new Set<string>();
    servicesNode.items.forEach((item, i) => {
      const service = readService(item as Node, `services[${i}]`, problems, dirname(file), cluster);
      if (!service) return;
      const key = `${service.namespace}/${service.name}`;
      if (seen.has(key)) problems.add(`services[${i}]`, item as Node, `${key} appears twice`);
      seen.add(key);
      services.push(service);
    });
  }
  const tracing = readTracing(top, problems);
  if (problems.list.length > 0) throw new ConfigError(problems.list);
  if (tracing === undefined) return Object.freeze({ file, ingress, autoscalerEnv, pods, services });
  // Every revision's queue-proxies trace as the activator does.
  const traced = services.map((s) => ({ ...s, revisions: s.revisions.map((r) => ({ ...r, tracing })) }));
  return Object.freeze({ file, ingress, autoscalerEnv, pods, services: traced, tracing });
}

/**
 * The `tracing` block: `exporter` (`zipkin`, `otlp` or `none`), `endpoint` (the URL spans are POSTed to),
 * `protocol` (OTLP's `http/protobuf`, the default, or `http/json`) and `sampleRate` (0–1, default 1).
 */
function readTracing(top: MapReader, problems: Problems): QueueProxyTracing | undefined {
  if (!top.has('tracing')) return undefined;
  const reader = new MapReader(top.child('tracing'), 'tracing', problems, [
    'exporter',
    'endpoint',
    'protocol',
    'sampleRate',
  ]);
  const exporter = reader.oneOf('exporter', ['zipkin', 'otlp', 'none'] as const, 'none');
  if (exporter === 'none') return undefined;
  const endpoint = reader.string('endpoint');
  if (endpoint === undefined)
    problems.add('tracing.endpoint', reader.child('endpoint') ?? top.child('tracing'), 'is required');
  else if (!/^https?:\/\/[^/]/.test(endpoint))
    problems.add(
      'tracing.endpoint',
      reader.child('endpoint'),
      `must be an http:// or https:// URL, got ${JSON.stringify(endpoint)}`,
    );
  const protocol = reader.oneOf('protocol', ['http/protobuf', 'http/json'] as const, 'http/protobuf');
  const rate = reader.raw('sampleRate');
  let sampleRate = 1;
  if (rate !== undefined) {
    if (typeof rate === 'number' && rate >= 0 && rate <= 1) sampleRate = rate;
    else
      problems.add(
        'tracing.sampleRate',
        reader.child('sampleRate'),
        `must be a number from 0 to 1, got ${JSON.stringify(rate)}`,
      );
  }
  return Object.freeze({ exporter, endpoint: endpoint ?? '', protocol, sampleRate });
}

function readAutoscaler(top: MapReader, problems: Problems): Record<string, string> {
  const reader = new MapReader(top.child('autoscaler'), 'autoscaler', problems, [...AUTOSCALER_KEYS.keys()]);
  top.raw('autoscaler');
  const values = reader.allStrings();
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(values)) {
    const name = AUTOSCALER_KEYS.get(key);
    if (name !== undefined) env[name] = value;
  }
  // The autoscaler's own parser judges the values; its messages name variables, ours name keys.
  try {
    loadAutoscalerConfig({ ...env, AUTOSCALER_PORT: '0', AUTOSCALER_METRICS_PORT: '0' });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const problem of err.problems) {
      const variable = problem.split(':')[0] ?? '';
      const key = [...AUTOSCALER_KEYS].find(([, v]) => v === variable)?.[0] ?? variable;
      problems.add(`autoscaler.${key}`, reader.child(key), problem.slice(variable.length + 2));
    }
  }
  return env;
}

function clusterConfig(env: Record<string, string>) {
  try {
    return loadAutoscalerConfig({ ...env, AUTOSCALER_PORT: '0', AUTOSCALER_METRICS_PORT: '0' }).cluster;
  } catch {
    return undefined;
  }
}

function readService(
  node: Node,
  path: string,
  problems: Problems,
  cwd: string,
  cluster: ReturnType<typeof clusterConfig>,
): ServiceConfig | undefined {
  const r = new MapReader(node, path, problems, SERVICE_KEYS);
  const name = r.name('name');
  if (name === undefined && !r.has('name')) problems.add(`${path}.name`, node, 'is required');
  const namespace = r.name('namespace', 'default') ?? 'default';
  const base = revisionSettings(r, path, problems, cwd, undefined, cluster);
  const revisionsNode = r.child('revisions');
  r.raw('revisions');
  if (name === undefined) return undefined;
  let revisions: RevisionConfig[];
  if (revisionsNode === undefined || revisionsNode === null) {
    if (base.command === undefined) problems.add(`${path}.command`, node, 'is required');
    revisions = [
      {
        ...base,
        command: base.command ?? [],
        namespace,
        service: name,
        name: `${name}-00001`,
        traffic: 100,
        tag: undefined,
      },
    ];
  } else if (!isSeq(revisionsNode) || revisionsNode.items.length === 0) {
    problems.add(`${path}.revisions`, revisionsNode, 'must be a non-empty list');
    return undefined;
  } else {
    revisions = [];
    const names = new Set<string>();
    const tags = new Set<string>();
    revisionsNode.items.forEach((item, i) => {
      const where = `${path}.revisions[${i}]`;
      const rr = new MapReader(item as Node, where, problems, REVISION_KEYS);
      const revName = rr.name('name') ?? `${name}-${String(i + 1).padStart(5, '0')}`;
      if (names.has(revName)) problems.add(`${where}.name`, rr.child('name'), `${revName} appears twice`);
      names.add(revName);
      const own = revisionSettings(rr, where, problems, cwd, base, cluster);
      const command = own.command ?? base.command;
      if (command === undefined)
        problems.add(`${where}.command`, item as Node, `is required (here or in ${path})`);
      const tag = rr.name('tag');
      if (tag !== undefined) {
        if (tags.has(tag)) problems.add(`${where}.tag`, rr.child('tag'), `${tag} appears twice`);
        tags.add(tag);
      }
      const traffic = rr.int('traffic', revisionsNode.items.length === 1 ? 100 : 0, 0, 100);
      revisions.push({
        ...own,
        command: command ?? [],
        namespace,
        service: name,
        name: revName,
        traffic,
        tag,
      });
    });
    const total = revisions.reduce((sum, rev) => sum + rev.traffic, 0);
    if (total !== 100)
      problems.add(`${path}.revisions`, revisionsNode, `traffic must add up to 100, got ${total}`);
  }
  return { namespace, name, revisions };
}

type Settings = Omit<RevisionConfig, 'namespace' | 'service' | 'name' | 'traffic' | 'tag' | 'command'> & {
  readonly command: readonly string[] | undefined;
};

/** The settings a service gives its revisions and a revision may override. */
function revisionSettings(
  r: MapReader,
  path: string,
  problems: Problems,
  cwd: string,
  base: Settings | undefined,
  cluster: ReturnType<typeof clusterConfig>,
): Settings {
  const containerConcurrency = r.int('containerConcurrency', base?.containerConcurrency ?? 0, 0, 1000);
  const timeoutSeconds = r.int('timeoutSeconds', base?.timeoutSeconds ?? 300, 1, 3600);
  const annotations = { ...base?.annotations, ...r.strings('annotations') };
  // The activator takes only "true" as on (docs/activator.md §10.2): anything else here is a typo.
  const waitingPage = annotations[WAITING_PAGE_ANNOTATION];
  if (waitingPage !== undefined && waitingPage !== 'true' && waitingPage !== 'false') {
    problems.add(
      `${path}.annotations.${WAITING_PAGE_ANNOTATION}`,
      r.child('annotations'),
      `must be "true" or "false", got ${JSON.stringify(waitingPage)}`,
    );
  }
  // The activator ignores any other value with a warning; here it is a typo the file can fix.
  if (serverTimingSetting(annotations).problem !== undefined) {
    problems.add(
      `${path}.annotations.${SERVER_TIMING_ANNOTATION}`,
      r.child('annotations'),
      `must be "true" or "false", got ${JSON.stringify(annotations[SERVER_TIMING_ANNOTATION])}`,
    );
  }
  if (cluster !== undefined && r.has('annotations')) {
    try {
      resolveRevisionAutoscaling({ annotations, containerConcurrency, cluster });
    } catch (err) {
      const list = (err as { problems?: { annotation: string; value: string; message: string }[] }).problems;
      if (!list) throw err;
      for (const p of list)
        problems.add(`${path}.annotations.${p.annotation}`, r.child('annotations'), p.message);
    }
  }
  return {
    command: r.command('command') ?? base?.command,
    env: { ...base?.env, ...r.strings('env') },
    cwd,
    containerConcurrency,
    timeoutSeconds,
    responseStartTimeoutSeconds: r.int(
      'responseStartTimeoutSeconds',
      base?.responseStartTimeoutSeconds ?? 0,
      0,
      3600,
    ),
    idleTimeoutSeconds: r.int('idleTimeoutSeconds', base?.idleTimeoutSeconds ?? 0, 0, 3600),
    terminationGracePeriodSeconds: r.int(
      'terminationGracePeriodSeconds',
      base?.terminationGracePeriodSeconds ?? timeoutSeconds,
      0,
      MAX_TERMINATION_GRACE_SECONDS,
    ),
    annotations,
    queueProxy: r.oneOf('queueProxy', QUEUE_PROXY_MODES, base?.queueProxy ?? 'sidecar'),
    // A revision's probe replaces the service's whole, as a container's readinessProbe does.
    readinessProbe: r.has('readinessProbe')
      ? readReadinessProbe(r.child('readinessProbe'), r.at('readinessProbe'), problems)
      : base?.readinessProbe,
  };
}

/** The probe kinds the queue-proxy runs; `exec` stays with the kubelet in Knative, and there is none here. */
const PROBE_HANDLERS = ['httpGet', 'tcpSocket', 'grpc'] as const;
const PROBE_TIMINGS = ['periodSeconds', 'timeoutSeconds', 'successThreshold', 'failureThreshold'] as const;
/** An RFC 9110 token, which a header name must be (the queue-proxy's own rule). */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Reads a `readinessProbe` mapping (Kubernetes' corev1.Probe, the fields the queue-proxy honours) and
 * checks it as the queue-proxy's `SERVING_READINESS_PROBE` parser would, so a bad probe fails the start
 * naming its key rather than a Pod's queue-proxy.
 */
function readReadinessProbe(
  node: Node | undefined,
  path: string,
  problems: Problems,
): ReadinessProbe | undefined {
  const before = problems.list.length;
  const r = new MapReader(node, path, problems, [...PROBE_HANDLERS, ...PROBE_TIMINGS]);
  const handlers = PROBE_HANDLERS.filter((k) => r.has(k));
  // Not a mapping, or an unknown key (`exec`, `initialDelaySeconds`) already named: that is the problem.
  if (handlers.length !== 1 && problems.list.length === before) {
    const got = handlers.length === 0 ? 'none' : handlers.join(', ');
    problems.add(path, node, `must set exactly one of httpGet, tcpSocket or grpc, got ${got}`);
  }
  const timing = {
    periodSeconds: r.has('periodSeconds') ? r.int('periodSeconds', 0, 0, 3600) : undefined,
    timeoutSeconds: r.has('timeoutSeconds') ? r.int('timeoutSeconds', 1, 1, 3600) : undefined,
    successThreshold: r.has('successThreshold') ? r.int('successThreshold', 1, 1, 1000) : undefined,
    failureThreshold: r.has('failureThreshold') ? r.int('failureThreshold', 1, 1, 1000) : undefined,
  };
  let probe: ReadinessProbe | undefined;
  if (handlers[0] === 'httpGet') {
    const h = new MapReader(r.child('httpGet'), r.at('httpGet'), problems, [
      'path',
      'port',
      'httpHeaders',
      'scheme',
    ]);
    const target = h.string('path', '/') ?? '/';
    if (!/^\/[\x21-\x7e]*$/.test(target))
      problems.add(
        h.at('path'),
        h.child('path'),
        `must start with / and hold no spaces or control characters, got ${JSON.stringify(target)}`,
      );
    // The app serves plain HTTP on its Pod: the queue-proxy's HTTPS probe has nothing to reach here.
    h.oneOf('scheme', ['HTTP'] as const, 'HTTP');
    const httpHeaders = readProbeHeaders(h, problems);
    probe = { httpGet: { path: target, ...probePort(h), ...(httpHeaders ? { httpHeaders } : {}) } };
  } else if (handlers[0] === 'tcpSocket') {
    const t = new MapReader(r.child('tcpSocket'), r.at('tcpSocket'), problems, ['port']);
    probe = { tcpSocket: probePort(t) };
  } else if (handlers[0] === 'grpc') {
    const g = new MapReader(r.child('grpc'), r.at('grpc'), problems, ['port', 'service']);
    const service = g.raw('service');
    if (service !== undefined && typeof service !== 'string')
      problems.add(g.at('service'), g.child('service'), `must be a string, got ${JSON.stringify(service)}`);
    probe = { grpc: { ...probePort(g), ...(typeof service === 'string' ? { service } : {}) } };
  }
  if (probe === undefined || problems.list.length > before) return undefined;
  const set = Object.entries(timing).filter(([, v]) => v !== undefined);
  return Object.freeze({ ...probe, ...Object.fromEntries(set) });
}

/** A probe's `port`, left out when not given (the app's port then). */
function probePort(r: MapReader): { port?: number } {
  return r.has('port') ? { port: r.int('port', 1, 1, 65535) } : {};
}

/** `httpGet.httpHeaders`: a list of `{name, value}`, each a header the queue-proxy can send. */
function readProbeHeaders(h: MapReader, problems: Problems): { name: string; value: string }[] | undefined {
  const raw = h.raw('httpHeaders');
  if (raw === undefined) return undefined;
  const path = h.at('httpHeaders');
  if (!Array.isArray(raw)) {
    problems.add(path, h.child('httpHeaders'), 'must be a list of {name, value}');
    return undefined;
  }
  const headers: { name: string; value: string }[] = [];
  raw.forEach((item, i) => {
    const entry = typeof item === 'object' && item !== null && !Array.isArray(item) ? item : undefined;
    const name = entry?.['name'];
    const value = entry?.['value'] ?? '';
    const extra = entry ? Object.keys(entry).filter((k) => k !== 'name' && k !== 'value') : [];
    if (typeof name !== 'string' || !HEADER_NAME.test(name))
      problems.add(
        `${path}[${i}].name`,
        h.child('httpHeaders'),
        `must be a header name, got ${JSON.stringify(name)}`,
      );
    else if (typeof value !== 'string' || /[\r\n\0]/.test(value))
      problems.add(`${path}[${i}].value`, h.child('httpHeaders'), 'must be a string without CR, LF or NUL');
    else if (extra.length > 0)
      problems.add(
        `${path}[${i}]`,
        h.child('httpHeaders'),
        `unknown key ${extra.join(', ')} (expected name, value)`,
      );
    else headers.push({ name, value });
  });
  return headers;
}
