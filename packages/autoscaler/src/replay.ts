#!/usr/bin/env node
/**
 * `npm run autoscaler:replay -- trace.json`: prints the KPA's decision for every 2 s tick of a
 * load trace as one JSON line; exits 1 with a message for an unusable file.
 */
import { resolve } from 'node:path';
import { replayTraceFile } from './trace-replay.js';

const file = process.argv[2];
if (file === undefined || process.argv.length > 3) {
  process.stderr.write('usage: replay <trace.json>\n');
  process.exit(1);
}
try {
  // npm runs scripts from the repository root; INIT_CWD is where the user typed the command.
  const lines = replayTraceFile(resolve(process.env.INIT_CWD ?? process.cwd(), file));
  process.stdout.write(lines.map((l) => `${JSON.stringify(l)}\n`).join(''));
} catch (err) {
  process.stderr.write(`replay: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
