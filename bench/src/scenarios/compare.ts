/**
 * Other queue-proxies measured beside ours (`--compare`), Knative's own among them
 * (`--compare knative`): the options that name them, and ours ÷ Knative's figures with their tables.
 * The `queue-proxy` and `h2c` scenarios both use them.
 */
import { homedir } from 'node:os';
import { basename } from 'node:path';
import type { ParseArgsOptionsConfig } from 'node:util';
import { findKnativeQueue, KNATIVE_COMPARE, type KnativeQueue } from '../knative-queue.js';
import { ratio } from '../ratios.js';
import type { OptionValues, RunSettings } from '../scenario.js';
import { fixed, type Table, times } from '../table.js';
import { labelledTable } from './common.js';

/** The `--compare` and `--compare-name` options, as a scenario declares them. */
export const COMPARE_OPTIONS: ParseArgsOptionsConfig = {
  compare: { type: 'string', multiple: true },
  'compare-name': { type: 'string', multiple: true },
};

/** Usage lines of {@link COMPARE_OPTIONS}; `what` says what each compare is measured as. */
export function compareUsage(what: string): string[] {
  return [
    `--compare <cmd>        also measure this queue-proxy command, ${what} (repeatable);`,
    "                       `knative`: Knative's own, as `npm run knative:build` built it",
    '--compare-name <name>  label for the matching --compare (default: its first word)',
  ];
}

/** A label for a command: the base name of its first word (`/opt/knative/queue -v` → `queue`). */
export function commandLabel(command: string): string {
  const first = command.trim().split(/\s+/)[0] ?? '';
  return basename(first) || 'compare';
}

/** A queue-proxy measured beside ours. */
export interface Compare {
  /** The label of its rows. */
  readonly name: string;
  /** The command as shown in output. */
  readonly command: string;
  readonly argv: readonly string[];
  /** Set for Knative's own queue-proxy as `npm run knative:build` built it (`--compare knative`). */
  readonly knative?: KnativeQueue;
}

/** `path` with the home folder written `~`, for output that is committed. */
function shortPath(path: string): string {
  const home = homedir();
  return path.startsWith(`${home}/`) ? `~${path.slice(home.length)}` : path;
}

/**
 * Checks the `--compare` values and their `--compare-name` labels, returning the problems rather
 * than throwing so they are reported with the other options'. `knative` is Knative's queue-proxy
 * binary from `npm run knative:build`, found by `locateKnative` and run directly; anything else is a
 * command run through `sh -c`. `reserved` are the labels of the scenario's own targets.
 */
export function parseCompares(
  commands: readonly string[],
  names: readonly string[],
  locateKnative: () => KnativeQueue,
  reserved: readonly string[],
): { compares: Compare[]; problems: string[] } {
  const problems: string[] = [];
  if (names.length > commands.length) problems.push('--compare-name given more often than --compare');
  const compares: Compare[] = [];
  commands.forEach((command, i) => {
    if (command.trim() === KNATIVE_COMPARE) {
      try {
        const knative = locateKnative();
        compares.push({
          name: names[i] ?? KNATIVE_COMPARE,
          command: shortPath(knative.path),
          argv: [knative.path],
          knative,
        });
      } catch (err) {
        problems.push((err as Error).message);
      }
      return;
    }
    if (command.trim() === '') problems.push('--compare must be a command');
    compares.push({ name: names[i] ?? commandLabel(command), command, argv: ['sh', '-c', command] });
  });
  const labels = new Set(reserved);
  for (const { name } of compares) {
    if (labels.has(name))
      problems.push(
        `two targets are labelled ${JSON.stringify(name)}: give each --compare its own --compare-name`,
      );
    labels.add(name);
  }
  return { compares, problems };
}

/** An option's values as strings, whether given once, repeatedly or not at all. */
export function strings(value: OptionValues[string]): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}

/** {@link parseCompares} on a scenario's option values, finding Knative's binary in the repository's pin. */
export function parseCompareOptions(
  values: OptionValues,
  settings: RunSettings,
  reserved: readonly string[],
): { compares: Compare[]; problems: string[] } {
  return parseCompares(
    strings(values['compare']),
    strings(values['compare-name']),
    () => findKnativeQueue(settings.repoRoot),
    reserved,
  );
}

/** The setup line of a compare: its command, or what Knative's build is. */
export function compareSetupLine({ name, command, knative }: Compare): [string, string] {
  return [
    `Compared: ${name}`,
    knative === undefined
      ? command
      : `Knative Serving's queue-proxy, knative.dev/serving ${knative.version} cmd/queue (${command}, ` +
        '`npm run knative:build`); it also binds 8022 and 9090 on every interface',
  ];
}

/** One proxy's figures at one load, as compared with Knative's. */
export interface ProxyFigures {
  /** Requests (or calls) per second. */
  readonly rate: number;
  readonly cpuSecondsPer10k: number | undefined;
  readonly rssLoadedMiB: number | undefined;
  readonly rssAnonLoadedMiB: number | undefined;
  /** Highest proportional set size during the run. */
  readonly pssLoadedMiB: number | undefined;
  readonly rssIdleMiB: number | undefined;
}

/** Ours ÷ Knative's queue-proxy, figure by figure. */
export interface KnativeRatios {
  /** Throughput: above 1 is ours faster. */
  readonly throughput: number | undefined;
  /** CPU per request (or call): below 1 is ours cheaper. */
  readonly cpuPerRequest: number | undefined;
  /** Highest resident memory during the run. */
  readonly rssLoaded: number | undefined;
  /** Highest anonymous resident memory during the run. */
  readonly rssAnonLoaded: number | undefined;
  /** Highest proportional set size during the run. */
  readonly pssLoaded: number | undefined;
  /** Resident memory once started, before any load. */
  readonly rssIdle: number | undefined;
}

/** Divides our figures by Knative's; a figure missing on either side gives no ratio. */
export function knativeRatios(ours: ProxyFigures, knative: ProxyFigures): KnativeRatios {
  return {
    throughput: ratio(ours.rate, knative.rate),
    cpuPerRequest: ratio(ours.cpuSecondsPer10k, knative.cpuSecondsPer10k),
    rssLoaded: ratio(ours.rssLoadedMiB, knative.rssLoadedMiB),
    rssAnonLoaded: ratio(ours.rssAnonLoadedMiB, knative.rssAnonLoadedMiB),
    pssLoaded: ratio(ours.pssLoadedMiB, knative.pssLoadedMiB),
    rssIdle: ratio(ours.rssIdleMiB, knative.rssIdleMiB),
  };
}

/** CPU seconds per 10,000 requests as CPU microseconds per request. */
export function microsecondsPerRequest(cpuSecondsPer10k: number | undefined): number | undefined {
  return cpuSecondsPer10k === undefined ? undefined : cpuSecondsPer10k * 100;
}

/** One row of the Knative table: the cells that say where it was measured, and both sides. */
export interface KnativeTableRow {
  readonly lead: readonly string[];
  readonly ours: ProxyFigures;
  readonly knative: ProxyFigures;
  readonly ratios: KnativeRatios;
}

/**
 * The tables of ours ÷ Knative's queue-proxy: throughput and CPU in one, memory in another (RSS,
 * RssAnon and PSS, so that neither table is too wide to read). `leadHeaders` name the cells that say
 * where a row was measured (connections and CC; calls in flight); `unit` is what a load counts
 * (`req`, `call`).
 */
export function knativeTables(
  leadHeaders: readonly string[],
  unit: 'req' | 'call',
  rows: readonly KnativeTableRow[],
): Table[] {
  const rate = unit === 'req' ? 'req/s' : 'calls/s';
  const cpu = labelledTable(
    'Ours ÷ Knative’s queue-proxy',
    [...leadHeaders, `${rate} ×kn`, `CPU µs/${unit} ours`, `CPU µs/${unit} kn`, 'CPU ×kn'],
    rows.map(({ lead, ours, knative, ratios }) => [
      ...lead,
      times(ratios.throughput),
      fixed(microsecondsPerRequest(ours.cpuSecondsPer10k), 1),
      fixed(microsecondsPerRequest(knative.cpuSecondsPer10k), 1),
      times(ratios.cpuPerRequest),
    ]),
  );
  const memory = labelledTable(
    'Ours ÷ Knative’s queue-proxy: memory under load, MiB',
    [
      ...leadHeaders,
      'RSS ours',
      'RSS kn',
      'RSS ×kn',
      'RssAnon ours',
      'RssAnon kn',
      'RssAnon ×kn',
      'PSS ours',
      'PSS kn',
      'PSS ×kn',
    ],
    rows.map(({ lead, ours, knative, ratios }) => [
      ...lead,
      fixed(ours.rssLoadedMiB, 1),
      fixed(knative.rssLoadedMiB, 1),
      times(ratios.rssLoaded),
      fixed(ours.rssAnonLoadedMiB, 1),
      fixed(knative.rssAnonLoadedMiB, 1),
      times(ratios.rssAnonLoaded),
      fixed(ours.pssLoadedMiB, 1),
      fixed(knative.pssLoadedMiB, 1),
      times(ratios.pssLoaded),
    ]),
  );
  return [cpu, memory];
}

/** The note under the Knative tables; `where` says what both sides shared (`connection count and CC`). */
export function knativeNote(where: string, unit: 'request' | 'call'): string {
  const rate = unit === 'request' ? 'req/s' : 'calls/s';
  return (
    `×kn: ours ÷ Knative’s queue-proxy at the same ${where}, both started with the same environment, app ` +
    `and CPU (CPU per ${unit} and memory: below 1 is ours smaller; ${rate}: above 1 is ours faster). RSS, ` +
    'RssAnon and PSS are the highest sampled during the run; RssAnon leaves out file-backed pages (the node or ' +
    'Go executable and its libraries); PSS counts each page shared with other processes in part, so a node ' +
    'process’s is lower the more other node processes run on the machine.'
  );
}
