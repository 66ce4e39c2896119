/**
 * `npm run chaos [-- --only <name>[,<name>…]] [--quick] [--no-summary]`: runs the chaos suite (faults,
 * floods and bad input against the built components on 127.0.0.1), prints its table, writes its JSON
 * to bench/results/ and regenerates the `chaos` section of bench/RESULTS.md and its charts in
 * bench/charts/.
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeScenarioCharts } from '../charts/chart-files.js';
import type { RunRecord } from '../charts/chart-kinds.js';
import { inNetns, rerunInNetns } from '../netns.js';
import { describeMachine, machineLine, updateResultsMarkdown, writeJsonResult } from '../results.js';
import { Supervisor } from '../supervisor.js';
import { formatTextTable } from '../table.js';
import { parseChaosOptions, renderReport } from './chaos-report.js';
import { clusterBuilt, clusterFaults } from './cluster-faults.js';
import { chaosScenarios } from './index.js';
import { killPlatformLeftovers } from './local-platform.js';
import { runScenarios, scenarioBudgetSeconds } from './runner.js';

const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const RESULTS_DIR = `${REPO_ROOT}bench/results`;
const RESULTS_MD = `${REPO_ROOT}bench/RESULTS.md`;
const CHARTS_DIR = `${REPO_ROOT}bench/charts`;

function usage(): string {
  return [
    'Usage: npm run chaos -- [--only <name>[,<name>…]] [--quick] [--no-summary]',
    '',
    '  --only <names>   run only these scenarios (repeatable or comma-separated)',
    '  --quick          smaller counts and shorter phases',
    '  --no-summary     leave bench/RESULTS.md and bench/charts/ alone',
    '',
    'Scenarios:',
    ...chaosScenarios.map((s) => `  ${s.name.padEnd(22)} ${s.description}`),
  ].join('\n');
}

async function main(argv: readonly string[]): Promise<number> {
  let options: ReturnType<typeof parseChaosOptions>;
  try {
    const { values } = parseArgs({
      args: [...argv],
      options: {
        only: { type: 'string', multiple: true },
        quick: { type: 'boolean', default: false },
        summary: { type: 'boolean', default: true },
        help: { type: 'boolean', short: 'h', default: false },
      },
      allowNegative: true,
      strict: true,
    });
    if (values.help) {
      console.log(usage());
      return 0;
    }
    options = parseChaosOptions(
      values,
      chaosScenarios.map((s) => s.name),
    );
  } catch (err) {
    console.error(`chaos: ${(err as Error).message}\n\n${usage()}`);
    return 2;
  }
  const selected = chaosScenarios.filter((s) => options.only === undefined || options.only.includes(s.name));
  if (selected.includes(clusterFaults) && clusterBuilt() && !inNetns())
    return rerunInNetns(fileURLToPath(import.meta.url), argv);
  const budgetSeconds = selected.reduce((sum, s) => sum + scenarioBudgetSeconds(s, options.quick), 30);

  const supervisor = new Supervisor();
  process.on('exit', () => {
    supervisor.killAllSync();
    killPlatformLeftovers();
  });
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const) {
    process.once(signal, () => {
      console.error(`\nchaos: ${signal}, stopping every process`);
      process.exit(code);
    });
  }
  const watchdog = setTimeout(() => {
    console.error(`chaos: the run took longer than its ${budgetSeconds} s budget; aborting`);
    process.exit(1);
  }, budgetSeconds * 1000);
  watchdog.unref();

  const date = new Date();
  const machine = describeMachine();
  const progress = (message: string) => console.error(`[chaos] ${message}`);
  const started = performance.now();
  const run = await runScenarios(selected, {
    settings: {
      durationSeconds: 0,
      warmupSeconds: 0,
      connections: [],
      pin: { enabled: false, reason: 'the chaos suite runs unpinned' },
      repoRoot: REPO_ROOT,
    },
    supervisor,
    progress,
    quick: options.quick,
  });
  clearTimeout(watchdog);
  const seconds = (performance.now() - started) / 1000;

  const report = renderReport(run, selected, {
    machine: machineLine(machine),
    node: machine.node,
    quick: options.quick,
    seconds,
  });
  console.log('chaos\n');
  for (const [key, value] of report.setup) console.log(`${key}: ${value}`);
  for (const table of report.tables) console.log(`\n${formatTextTable(table)}`);
  console.log(`\n${report.notes.map((note) => `* ${note}`).join('\n')}`);

  const record = {
    scenario: 'chaos',
    date: date.toISOString(),
    summary: options.summary,
    machine,
    quick: options.quick,
    seconds,
    rows: run.rows.map((row) => ({ ...row, outcomes: Object.fromEntries(row.outcomes) })),
    details: run.details,
  };
  const json = writeJsonResult(RESULTS_DIR, 'chaos', date, record);
  console.log(`\nJSON: ${json.slice(REPO_ROOT.length)}`);
  if (options.summary) {
    // Drawn from the record as stored, as `npm run bench -- --charts-only` draws them.
    const charts = writeScenarioCharts(CHARTS_DIR, JSON.parse(JSON.stringify(record)) as RunRecord);
    updateResultsMarkdown(RESULTS_MD, {
      scenario: 'chaos',
      command: `npm run chaos${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}`,
      date,
      setup: report.setup,
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
    console.error(`chaos: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    process.exit(1);
  },
);
