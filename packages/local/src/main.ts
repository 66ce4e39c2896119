#!/usr/bin/env node
/**
 * `npm start`: the one-machine platform. Reads `zerogate.yaml` (or `--config FILE`), starts everything,
 * prints the URLs to call and a live status table (plain log lines when stdout is not a terminal),
 * keeps every process's log in `--logs DIR` (default `.zerogate/logs` beside the config file), and on
 * Ctrl-C drains and stops every process it started.
 */
import { dirname, join, resolve } from 'node:path';
import { ConfigError, ListenError } from '@zerogate/core';
import { pino } from 'pino';
import { AddressBlocksExhaustedError } from './address-block.js';
import { ComponentStartError } from './component.js';
import { loadPlatformConfig, type PlatformConfig } from './config.js';
import { DEFAULT_LOG_DIR, LogDirError, prepareLogDir } from './log-dir.js';
import { LogSink } from './log-sink.js';
import { DASHBOARD_PATH, type Platform, STATUS_PATH, startPlatform } from './platform.js';
import { type PlatformStatus, statusTable } from './status.js';

const USAGE = `usage: zerogate [--config FILE] [--logs DIR]
  --config FILE  the platform's configuration (default: zerogate.yaml in the current directory)
  --logs DIR     where every process's log is kept, a folder per run (default: ${DEFAULT_LOG_DIR} beside the config file)
`;

/** The command line: the config file and the log folder (undefined: the default beside the config). */
function parseArgs(argv: readonly string[]): { file: string; logs: string | undefined } {
  let file = 'zerogate.yaml';
  let logs: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--config' && argv[i + 1] !== undefined) file = argv[++i]!;
    else if (arg.startsWith('--config=')) file = arg.slice('--config='.length);
    else if (arg === '--logs' && argv[i + 1] !== undefined) logs = argv[++i]!;
    else if (arg.startsWith('--logs=')) logs = arg.slice('--logs='.length);
    else if (arg === '--help' || arg === '-h') {
      process.stdout.write(USAGE);
      process.exit(0);
    } else {
      process.stderr.write(`zerogate: unknown argument ${JSON.stringify(arg)}\n${USAGE}`);
      process.exit(2);
    }
  }
  if (logs === '') {
    process.stderr.write(`zerogate: --logs: must name a folder\n${USAGE}`);
    process.exit(2);
  }
  return { file, logs };
}

function banner(config: PlatformConfig, port: number, logDir: string, maxPods: number): string {
  const lines = ['', `Zerogate is running (config ${config.file}).`, ''];
  for (const service of config.services) {
    const host = `${service.name}.${service.namespace}.localhost`;
    lines.push(`  ${service.namespace}/${service.name}:  curl http://${host}:${port}/`);
    lines.push(`      (or: curl -H 'Host: ${host}' http://127.0.0.1:${port}/)`);
    for (const rev of service.revisions) {
      if (rev.tag) lines.push(`      tag ${rev.tag}: curl http://${rev.tag}-${host}:${port}/`);
    }
  }
  lines.push(
    '',
    `  status: curl http://127.0.0.1:${port}${STATUS_PATH}`,
    `  dashboard: http://127.0.0.1:${port}${DASHBOARD_PATH}`,
    `  logs:   ${logDir}`,
    `  Pods:   at most ${maxPods} over all revisions (pods.maxPods${config.pods.maxPods === undefined ? ', derived from this machine' : ''})`,
  );
  lines.push(
    '',
    'Revisions start at zero Pods: the first request starts one. Ctrl-C drains and stops everything.',
    '',
  );
  return `${lines.join('\n')}\n`;
}

/** Redraws the table in place: moves up over what it drew last time and clears below. */
class LiveTable {
  private drawn = 0;

  constructor(private readonly sink: LogSink) {}

  draw(status: PlatformStatus): void {
    const lines = [...statusTable(status), '', 'recent events:', ...this.sink.recent.map((l) => `  ${l}`)];
    const width = process.stdout.columns ?? 120;
    const text = lines.map((l) => (l.length > width ? `${l.slice(0, width - 1)}…` : l)).join('\n');
    process.stdout.write(`${this.drawn > 0 ? `\x1b[${this.drawn}F` : ''}\x1b[J${text}\n`);
    this.drawn = lines.length;
  }
}

/** Plain mode: a status line per revision whenever its mode or Pod counts change. */
class StatusLines {
  private readonly last = new Map<string, string>();

  print(status: PlatformStatus): void {
    for (const r of status.revisions) {
      const key = `${r.namespace}/${r.name}`;
      const wants = r.wantedPods > r.desiredPods ? ` wanted=${r.wantedPods}` : '';
      const summary = `mode=${r.mode} desired=${r.desiredPods}${wants} ready=${r.readyPods}`;
      if (this.last.get(key) === summary) continue;
      this.last.set(key, summary);
      process.stdout.write(
        `${new Date().toISOString().slice(11, 19)} STATUS ${key} ${summary} inFlight=${r.inFlight} held=${r.held} rps=${r.rps}\n`,
      );
    }
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  let config: PlatformConfig;
  try {
    config = loadPlatformConfig(args.file);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const problem of err.problems) process.stderr.write(`zerogate: ${problem}\n`);
    process.exit(1);
  }
  let logDir: string;
  try {
    logDir = prepareLogDir(args.logs ?? resolve(dirname(config.file), DEFAULT_LOG_DIR));
  } catch (err) {
    if (!(err instanceof LogDirError)) throw err;
    process.stderr.write(`zerogate: ${err.message}\n`);
    process.exit(1);
  }
  const tty = process.stdout.isTTY === true;
  const sink = new LogSink(!tty);
  // From the first line on, so the components' start is in the file too.
  sink.appendTo(join(logDir, 'platform.log'));
  const logger = pino(
    {
      level: 'info',
      base: { component: 'platform' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    sink,
  );
  // Signals are handled from here on, so a Ctrl-C while the platform starts still stops what it started.
  let platform: Platform | undefined;
  let refresh: NodeJS.Timeout | undefined;
  let stopping = false;
  const shutdown = (running: Platform) => {
    clearInterval(refresh);
    process.stdout.write('\nzerogate: draining and stopping every process…\n');
    running.shutdown().then(
      () => {
        process.stdout.write('zerogate: stopped\n');
        process.exit(0);
      },
      (err: unknown) => {
        process.stderr.write(`zerogate: shutdown failed: ${(err as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  const stop = () => {
    if (stopping) {
      process.stderr.write('zerogate: still draining; it ends once requests in flight finish\n');
      return;
    }
    stopping = true;
    if (platform) shutdown(platform);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

  try {
    platform = await startPlatform(config, logger, { logDir });
  } catch (err) {
    const refused =
      err instanceof ListenError ||
      err instanceof ComponentStartError ||
      err instanceof AddressBlocksExhaustedError;
    if (!refused) throw err;
    process.stderr.write(`zerogate: ${err.message}\n`);
    process.exit(1);
  }
  if (stopping) {
    shutdown(platform);
    return;
  }
  process.stdout.write(banner(config, platform.ingressPort, platform.logDir, platform.maxPods));

  const running = platform;
  const table = tty ? new LiveTable(sink) : undefined;
  const lines = tty ? undefined : new StatusLines();
  refresh = setInterval(
    () => {
      const status = running.status();
      if (table) table.draw(status);
      else lines?.print(status);
    },
    tty ? 500 : 250,
  );
}

await main();
