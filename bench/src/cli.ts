/**
 * `npm run bench -- <scenario> [options]`: runs one benchmark scenario, prints its tables, writes
 * its JSON to bench/results/ and regenerates its section of bench/RESULTS.md and its charts in
 * bench/charts/. `npm run bench -- --charts-only [result.json…]` draws the charts again from stored
 * runs (by default the newest summarised run of each scenario) without measuring anything.
 *
 * The command line owns what every scenario shares: option parsing, CPU pinning, a time budget,
 * and killing every child process at the end, on error, on Ctrl-C or when the budget runs out.
 */
import { fileURLToPath } from 'node:url';
import { type ParseArgsOptionsConfig, parseArgs } from 'node:util';
import { latestSummarisedRuns, readRun, type StoredRun, writeScenarioCharts } from './charts/chart-files.js';
import type { RunRecord } from './charts/chart-kinds.js';
import { inNetns, rerunInNetns } from './netns.js';
import { describePinning, pinSelf, planPinning } from './pinning.js';
import {
  describeMachine,
  machineLine,
  updateResultsCharts,
  updateResultsMarkdown,
  writeJsonResult,
} from './results.js';
import type { OptionValues, RunSettings, Scenario } from './scenario.js';
import { scenarios } from './scenarios/index.js';
import { COMMON_OPTIONS, COMMON_USAGE, parseCommonSettings } from './settings.js';
import { Supervisor } from './supervisor.js';
import { formatTextTable } from './table.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RESULTS_DIR = `${REPO_ROOT}bench/results`;
const RESULTS_MD = `${REPO_ROOT}bench/RESULTS.md`;
const CHARTS_DIR = `${REPO_ROOT}bench/charts`;
const CHARTS_ONLY = '--charts-only';

function usage(): string {
  const lines = [
    'Usage: npm run bench -- <scenario> [options]',
    `       npm run bench -- ${CHARTS_ONLY} [result.json ...]   draw bench/charts/ again from stored runs`,
    '',
    'Scenarios:',
  ];
  for (const scenario of scenarios.values())
    lines.push(`  ${scenario.name.padEnd(14)} ${scenario.description}`);
  lines.push('', 'Options:', ...COMMON_USAGE.map((line) => `  ${line}`));
  for (const scenario of scenarios.values()) {
    lines.push('', `${scenario.name} options:`, ...scenario.usage.map((line) => `  ${line}`));
  }
  return lines.join('\n');
}

function parse(argv: readonly string[]): { scenario: Scenario; values: OptionValues } | undefined {
  const name = argv.find((arg) => !arg.startsWith('-'));
  const scenario = name === undefined ? undefined : scenarios.get(name);
  if (scenario === undefined) {
    if (argv.includes('-h') || argv.includes('--help')) return undefined;
    throw new Error(name === undefined ? 'no scenario named' : `unknown scenario ${JSON.stringify(name)}`);
  }
  const options: ParseArgsOptionsConfig = { ...COMMON_OPTIONS, ...scenario.options };
  const { values, positionals } = parseArgs({
    args: [...argv],
    options,
    allowPositionals: true,
    allowNegative: true,
    strict: true,
  });
  if (values['help']) return undefined;
  if (positionals.length !== 1) throw new Error(`expected one scenario, got ${positionals.join(' ')}`);
  return { scenario, values };
}

/**
 * Draws the charts of stored runs again and links them from their RESULTS.md sections, leaving the
 * sections' tables as they are: `files`, or the newest summarised run of each scenario.
 */
function chartsOnly(files: readonly string[]): number {
  let runs: StoredRun[];
  try {
    runs = files.length > 0 ? files.map(readRun) : [...latestSummarisedRuns(RESULTS_DIR).values()];
  } catch (err) {
    console.error(`bench: ${(err as Error).message}`);
    return 2;
  }
  if (runs.length === 0) console.error(`bench: no stored runs in ${RESULTS_DIR.slice(REPO_ROOT.length)}`);
  for (const { file, record } of runs) {
    const links = writeScenarioCharts(CHARTS_DIR, record);
    const linked = updateResultsCharts(RESULTS_MD, record.scenario, links);
    console.log(
      `${record.scenario}: ${links.length} chart(s) from ${file.startsWith(REPO_ROOT) ? file.slice(REPO_ROOT.length) : file}` +
        (linked ? '' : ` (no ${record.scenario} section in RESULTS.md to link them from)`),
    );
  }
  return 0;
}

async function main(argv: readonly string[]): Promise<number> {
  if (argv[0] === CHARTS_ONLY) return chartsOnly(argv.slice(1));
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    console.error(`bench: ${(err as Error).message}\n\n${usage()}`);
    return 2;
  }
  if (parsed === undefined) {
    console.log(usage());
    return 0;
  }
  const { scenario, values } = parsed;
  if (scenario.netns && !inNetns()) return rerunInNetns(fileURLToPath(import.meta.url), argv);
  const common = parseCommonSettings(values);
  const pin = planPinning(common.pin && scenario.unpinned !== true, common.roles);
  const settings: RunSettings = {
    durationSeconds: common.durationSeconds,
    warmupSeconds: common.warmupSeconds,
    connections: common.connections,
    pin,
    repoRoot: REPO_ROOT,
  };
  const prepared = scenario.prepare(values, settings);

  const supervisor = new Supervisor();
  // Last resort: whatever way this process ends, no child outlives it.
  process.on('exit', () => supervisor.killAllSync());
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const) {
    process.once(signal, () => {
      console.error(`\nbench: ${signal}, stopping every process`);
      supervisor.killAllSync();
      process.exit(code);
    });
  }
  const watchdog = setTimeout(() => {
    console.error(
      `bench: the run took longer than its ${Math.round(prepared.budgetSeconds)} s budget; aborting`,
    );
    supervisor.killAllSync();
    process.exit(1);
  }, prepared.budgetSeconds * 1000);
  watchdog.unref();

  pinSelf(pin, pin.enabled ? pin.roles.load : 0);
  const date = new Date();
  const machine = describeMachine();
  const progress = (message: string) => console.error(`[${scenario.name}] ${message}`);
  progress(`${describePinning(pin)}; budget ${Math.round(prepared.budgetSeconds)} s`);

  const report = await prepared.run({ settings, supervisor, progress }).finally(() => supervisor.stopAll());
  clearTimeout(watchdog);

  const setup: (readonly [string, string])[] = [
    ['Machine', machineLine(machine)],
    ['Node', machine.node],
    ['Date', date.toISOString()],
    ['Pinning', describePinning(pin)],
    [
      'Runs',
      `targets one after another; per connection count ${settings.warmupSeconds} s warm-up, ` +
        `${settings.durationSeconds} s measured`,
    ],
    ...report.setup,
  ];
  const width = Math.max(...setup.map(([key]) => key.length));
  console.log(`${scenario.name}\n`);
  for (const [key, value] of setup) console.log(`${`${key}:`.padEnd(width + 2)}${value}`);
  for (const table of report.tables) console.log(`\n${formatTextTable(table)}`);
  if (report.notes.length > 0) console.log(`\n${report.notes.map((note) => `* ${note}`).join('\n')}`);

  const record = {
    scenario: scenario.name,
    date: date.toISOString(),
    summary: common.summary,
    machine,
    pinning: pin,
    settings: {
      durationSeconds: settings.durationSeconds,
      warmupSeconds: settings.warmupSeconds,
      connections: settings.connections,
    },
    setup: Object.fromEntries(report.setup),
    ...(report.data as object),
  };
  const json = writeJsonResult(RESULTS_DIR, scenario.name, date, record);
  console.log(`\nJSON: ${json.slice(REPO_ROOT.length)}`);
  if (common.summary) {
    // Drawn from the record as stored, so `--charts-only` on the file draws the same charts.
    const charts = writeScenarioCharts(CHARTS_DIR, JSON.parse(JSON.stringify(record)) as RunRecord);
    updateResultsMarkdown(RESULTS_MD, {
      scenario: scenario.name,
      command: `npm run bench -- ${argv.join(' ')}`,
      date,
      setup: setup.filter(([key]) => key !== 'Date'),
      tables: report.tables,
      notes: report.notes,
      charts,
    });
    console.log(`Summary: ${RESULTS_MD.slice(REPO_ROOT.length)}`);
    if (charts.length > 0) console.log(`Charts: ${charts.map((c) => `bench/${c.path}`).join(', ')}`);
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`bench: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
